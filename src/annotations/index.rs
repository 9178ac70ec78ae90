//! The annotation file as the reference loads it (FORMAT.md §2): a JSONL file read as a table
//! (its columns' types inferred by `shape`), then an index of target conversations per source.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use thiserror::Error;

use super::shape::Shape;
use crate::source::Source;
use crate::value::json::{self, JsonError};
use crate::value::{Object, Value};

#[derive(Debug, Error)]
pub enum AnnotationError {
    #[error(
        "the record that starts on line {record_line} of the annotation file cannot be read as \
         JSON (at line {line}, column {column})"
    )]
    Json {
        record_line: usize,
        line: usize,
        column: usize,
        #[source]
        source: JsonError,
    },
    #[error(
        "line {line} of the annotation file holds a JSON {found} where a record (an object) \
         must be"
    )]
    NotAnObject { line: usize, found: &'static str },
    #[error(
        "the annotation file holds no records (it is empty or only whitespace), and the \
         reference's loader fails on such a file too"
    )]
    Empty,
    #[error(
        "the annotation file has no `{column}` column: it does not look like a HealthChat-11K \
         master annotation file"
    )]
    MissingColumn { column: &'static str },
}

impl AnnotationError {
    /// What the user can do about it.
    pub(crate) fn next_step(&self) -> Option<String> {
        let step = match self {
            AnnotationError::Json { .. } | AnnotationError::NotAnObject { .. } => {
                "download the file again, or fix it there."
            }
            AnnotationError::Empty | AnnotationError::MissingColumn { .. } => {
                "download it again, or choose another version with --version."
            }
        };
        Some(step.to_owned())
    }
}

/// The annotations that select conversations, keyed by conversation ID. Records are kept as
/// their JSON lines and parsed again when their conversation is found, so memory stays close to
/// the file's size.
#[derive(Debug)]
pub struct AnnotationIndex {
    text: String,
    shape: Shape,
    by_id: HashMap<String, Entry>,
    /// IDs in the order their winning record first appeared, for stable missing-ID reports.
    order: Vec<String>,
    /// Records read, including those that selected nothing.
    pub records_read: usize,
}

#[derive(Debug)]
struct Entry {
    source: Source,
    /// The record's bytes in `text`.
    record: Range<usize>,
}

#[derive(Debug)]
pub struct Annotation {
    pub source: Source,
    pub record: Object,
}

impl AnnotationIndex {
    /// Reads a JSONL annotation file as the reference's table reader does (FORMAT.md §2): records
    /// separated by whitespace of any line ending; every record gets every key seen anywhere in
    /// the file, in first-seen order (missing keys are `null`), and a number column's values
    /// take its type.
    pub fn from_jsonl(text: impl Into<String>) -> Result<Self, AnnotationError> {
        let text = text.into();
        let mut records = Vec::new();
        let mut shape = Shape::Unknown;
        let body_start = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let body = &text[body_start..];
        for document in json::documents(body) {
            let (range, value) = document.map_err(|source| {
                let (line, column) = line_and_column(body, source.offset);
                AnnotationError::Json {
                    record_line: line_and_column(body, source.start).0,
                    line,
                    column,
                    source,
                }
            })?;
            let Value::Object(record) = &value else {
                return Err(AnnotationError::NotAnObject {
                    line: line_and_column(body, range.start).0,
                    found: value.kind_name(),
                });
            };
            // The table's types change numbers and fill in missing keys, neither of which
            // changes what a record selects.
            let selects = selection(record).map(|(id, source)| (id.to_owned(), source));
            shape.absorb(&value);
            records.push((body_start + range.start..body_start + range.end, selects));
        }
        if records.is_empty() {
            return Err(AnnotationError::Empty);
        }
        for column in ["conversation_id", "dataset_source"] {
            if !shape.has_field(column) {
                return Err(AnnotationError::MissingColumn { column });
            }
        }

        let records_read = records.len();
        let mut by_id: HashMap<String, Entry> = HashMap::new();
        let mut order = Vec::new();
        for (record, selects) in records {
            let Some((id, source)) = selects else {
                continue;
            };
            if by_id.insert(id.clone(), Entry { source, record }).is_none() {
                order.push(id);
            }
        }
        Ok(Self {
            text,
            shape,
            by_id,
            order,
            records_read,
        })
    }

    /// The annotation of a conversation, laid out by the table's types.
    pub fn get(&self, id: &str) -> Option<Annotation> {
        let entry = self.by_id.get(id)?;
        let record = json::read_with(&self.text[entry.record.clone()], &self.shape)
            .expect("the record was read when the index was built");
        let Value::Object(record) = record else {
            unreachable!("the record was an object when the index was built")
        };
        Some(Annotation {
            source: entry.source,
            record,
        })
    }

    /// The IDs wanted from `source`.
    pub fn targets(&self, source: Source) -> HashSet<String> {
        self.by_id
            .iter()
            .filter(|(_, annotation)| annotation.source == source)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The annotation columns in first-seen order, each with the shape its values take across
    /// the whole file.
    pub(crate) fn columns(&self) -> &[(String, Shape)] {
        match &self.shape {
            Shape::Object(columns) => columns.as_slice(),
            _ => &[],
        }
    }

    /// The IDs of `source`, in annotation-file order.
    pub fn ids_in_order(&self, source: Source) -> impl Iterator<Item = &str> {
        self.order
            .iter()
            .filter(move |id| self.by_id[id.as_str()].source == source)
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The conversation a record selects (FORMAT.md §2): a non-empty `conversation_id` of a known
/// `dataset_source`. A directory's JSONL records (`diff`) select theirs the same way.
pub(crate) fn selection(record: &Object) -> Option<(&str, Source)> {
    let id = record.get("conversation_id").and_then(Value::as_str)?;
    let source = record
        .get("dataset_source")
        .and_then(Value::as_str)
        .and_then(Source::from_dataset_source)?;
    (!id.is_empty()).then_some((id, source))
}

/// The line (from 1) and column (in characters, from 1) of a byte of the file, counting `\n`,
/// `\r\n` and a lone `\r` each as one line end, as the reference's reader does.
fn line_and_column(body: &str, offset: usize) -> (usize, usize) {
    let before = &body.as_bytes()[..offset.min(body.len())];
    let mut line = 1;
    let mut line_start = 0;
    for (position, byte) in before.iter().enumerate() {
        let ends_line = match byte {
            b'\n' => true,
            b'\r' => body.as_bytes().get(position + 1) != Some(&b'\n'),
            _ => false,
        };
        if ends_line {
            line += 1;
            line_start = position + 1;
        }
    }
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(object: &Object) -> Vec<&str> {
        object.iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn records_get_every_column_in_first_seen_order() {
        let index = AnnotationIndex::from_jsonl(concat!(
            r#"{"conversation_id": "a", "dataset_source": "lmsys", "x": 1}"#,
            "\n",
            r#"{"dataset_source": "wildchat", "y": [{"p": 1}, {"q": 2}], "conversation_id": "b"}"#,
            "\n\n",
        ))
        .unwrap();
        let a = &index.get("a").unwrap().record;
        assert_eq!(keys(a), ["conversation_id", "dataset_source", "x", "y"]);
        assert_eq!(a.get("y"), Some(&Value::Null));
        let b = &index.get("b").unwrap().record;
        assert_eq!(keys(b), ["conversation_id", "dataset_source", "x", "y"]);
        let items = b.get("y").unwrap().as_list().unwrap();
        assert_eq!(keys(items[0].as_object().unwrap()), ["p", "q"]);
        assert_eq!(items[0].as_object().unwrap().get("q"), Some(&Value::Null));
        assert_eq!(items[1].as_object().unwrap().get("p"), Some(&Value::Null));
    }

    #[test]
    fn integers_in_a_float_column_become_floats() {
        let index = AnnotationIndex::from_jsonl(concat!(
            r#"{"conversation_id": "a", "dataset_source": "lmsys", "score": 1}"#,
            "\n",
            r#"{"conversation_id": "b", "dataset_source": "lmsys", "score": 0.5}"#,
        ))
        .unwrap();
        assert_eq!(
            index.get("a").unwrap().record.get("score"),
            Some(&Value::Float(1.0))
        );
    }

    #[test]
    fn a_column_of_mixed_kinds_is_normalised_by_its_first_kind() {
        let index = AnnotationIndex::from_jsonl(concat!(
            r#"{"conversation_id": "a", "dataset_source": "lmsys", "score": 1}"#,
            "\n",
            r#"{"conversation_id": "b", "dataset_source": "lmsys", "score": "high"}"#,
            "\n",
            r#"{"conversation_id": "c", "dataset_source": "lmsys", "score": 0.5}"#,
        ))
        .unwrap();
        let score = |id| index.get(id).unwrap().record.get("score").cloned();
        assert_eq!(score("a"), Some(Value::Float(1.0)));
        assert_eq!(score("b"), Some(Value::Str("high".into())));
        assert_eq!(
            index.columns()[2],
            (
                "score".to_owned(),
                Shape::Mixed(Box::new(Shape::Number { any_float: true }))
            )
        );
    }

    #[test]
    fn only_valid_ids_and_sources_enter_and_the_later_record_wins() {
        let index = AnnotationIndex::from_jsonl(concat!(
            r#"{"conversation_id": "a", "dataset_source": "lmsys", "n": 1}"#,
            "\n",
            r#"{"conversation_id": "", "dataset_source": "lmsys", "n": 2}"#,
            "\n",
            r#"{"conversation_id": null, "dataset_source": "lmsys", "n": 3}"#,
            "\n",
            r#"{"conversation_id": "c", "dataset_source": "sharegpt", "n": 4}"#,
            "\n",
            r#"{"conversation_id": 5, "dataset_source": "lmsys", "n": 5}"#,
            "\n",
            r#"{"conversation_id": "d", "dataset_source": "wildchat", "n": 6}"#,
            "\n",
            r#"{"conversation_id": "a", "dataset_source": "wildchat", "n": 7}"#,
        ))
        .unwrap();
        assert_eq!(index.records_read, 7);
        assert_eq!(index.len(), 2);
        let a = index.get("a").unwrap();
        assert_eq!(a.source, Source::Wildchat);
        assert_eq!(a.record.get("n"), Some(&Value::Int(7)));
        assert!(index.targets(Source::Lmsys).is_empty());
        assert_eq!(
            index.ids_in_order(Source::Wildchat).collect::<Vec<_>>(),
            ["a", "d"]
        );
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        let error =
            AnnotationIndex::from_jsonl("{\"conversation_id\": \"a\"}\n{oops\n").unwrap_err();
        assert!(
            matches!(
                error,
                AnnotationError::Json {
                    line: 2,
                    column: 2,
                    ..
                }
            ),
            "{error}"
        );
        // A record cut short reads on into the next line, as the reference's reader does.
        let error =
            AnnotationIndex::from_jsonl("{}\n{\"a\": \n{\"b\": 1}\n{\"c\": 2}\n").unwrap_err();
        assert!(
            matches!(
                error,
                AnnotationError::Json {
                    record_line: 2,
                    line: 4,
                    column: 1,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("the record that starts on line 2 of the annotation file"),
            "{error}"
        );
        let error = AnnotationIndex::from_jsonl("[1, 2]\n").unwrap_err();
        assert!(matches!(
            error,
            AnnotationError::NotAnObject {
                line: 1,
                found: "array"
            }
        ));
    }

    #[test]
    fn a_file_without_the_id_columns_is_rejected() {
        let error = AnnotationIndex::from_jsonl("{\"id\": \"a\", \"dataset_source\": \"lmsys\"}\n")
            .unwrap_err();
        assert!(matches!(
            error,
            AnnotationError::MissingColumn {
                column: "conversation_id"
            }
        ));
    }

    fn values(text: &str, id_key: &str) -> Vec<Value> {
        let index = AnnotationIndex::from_jsonl(text).unwrap();
        let ids: Vec<String> = index
            .ids_in_order(Source::Lmsys)
            .map(str::to_owned)
            .collect();
        ids.iter()
            .map(|id| index.get(id).unwrap().record.get(id_key).unwrap().clone())
            .collect()
    }

    fn records(values: &[&str]) -> String {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{{\"conversation_id\": \"{i}\", \"dataset_source\": \"lmsys\", \"v\": {v}}}\n"
                )
            })
            .collect()
    }

    #[test]
    fn minus_zero_is_an_integer_unless_its_column_holds_floats() {
        assert_eq!(
            values(&records(&["1", "-0", "21"]), "v"),
            [Value::Int(1), Value::Int(0), Value::Int(21)]
        );
        let floats = values(&records(&["-0", "1.5", "[-0]"]), "v");
        assert!(matches!(floats[0], Value::Float(z) if z == 0.0 && z.is_sign_negative()));
        assert_eq!(floats[1], Value::Float(1.5));
    }

    #[test]
    fn integers_beyond_64_bits_and_non_finite_numbers_make_a_float_column() {
        assert_eq!(
            values(
                &records(&["1", "9223372036854775808", "18446744073709551615"]),
                "v"
            ),
            [
                Value::Float(1.0),
                Value::Float(9.223372036854776e18),
                Value::Float(1.8446744073709552e19)
            ]
        );
        let non_finite = values(&records(&["2", "NaN", "Infinity", "-Infinity"]), "v");
        assert_eq!(non_finite[0], Value::Float(2.0));
        assert!(matches!(non_finite[1], Value::Float(x) if x.is_nan()));
        assert_eq!(
            non_finite[2..],
            [Value::Float(f64::INFINITY), Value::Float(f64::NEG_INFINITY)]
        );
    }

    #[test]
    fn records_may_end_in_cr_and_errors_count_cr_lines() {
        let text = records(&["1", "2"]).replace('\n', "\r");
        assert_eq!(values(&text, "v"), [Value::Int(1), Value::Int(2)]);
        let error =
            AnnotationIndex::from_jsonl("\u{feff}{}\r{}\r\n\r\n  {\"é\": x}\n").unwrap_err();
        assert!(
            matches!(
                error,
                AnnotationError::Json {
                    line: 4,
                    column: 9,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_file_without_records_is_refused_as_the_reference_refuses_it() {
        for text in ["", "\u{feff}", "\n\n", " \r\n\t\r"] {
            let error = AnnotationIndex::from_jsonl(text).unwrap_err();
            assert!(matches!(error, AnnotationError::Empty), "{text:?}: {error}");
        }
    }

    #[test]
    fn a_key_twice_in_a_record_is_refused_with_its_line() {
        let error =
            AnnotationIndex::from_jsonl(records(&["1", "{\"k\": 1, \"k\": 2}"])).unwrap_err();
        assert!(
            matches!(error, AnnotationError::Json { line: 2, .. }),
            "{error:?}"
        );
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert!(
            cause
                .as_deref()
                .is_some_and(|cause| cause.contains("`k` appears twice")),
            "{error}: {cause:?}"
        );
    }

    #[test]
    fn a_record_of_many_keys_is_indexed_and_read_back_quickly() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("\"key{i}\": {i}")).collect();
        let text = format!(
            "{{\"conversation_id\": \"a\", \"dataset_source\": \"lmsys\", {}}}\n",
            keys.join(", ")
        );
        let index = AnnotationIndex::from_jsonl(text).unwrap();
        assert_eq!(index.columns().len(), 10_002);
        let record = index.get("a").unwrap().record;
        assert_eq!(record.len(), 10_002);
        assert_eq!(record.get("key9999"), Some(&Value::Int(9999)));
    }
}
