//! The annotation file as the reference loads it (FORMAT.md §2): a JSONL file read as a table
//! (its columns' types inferred by `shape`), then an index of target conversations per source.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use thiserror::Error;

use super::shape::Shape;
use crate::source::Source;
use crate::value::{Object, Value};

#[derive(Debug, Error)]
pub enum AnnotationError {
    #[error("line {line} of the annotation file is not valid JSON")]
    Json {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("line {line} of the annotation file is a JSON {found}, not an object")]
    NotAnObject { line: usize, found: &'static str },
    #[error(
        "the annotation file has no `{column}` column: it does not look like a HealthChat-11K \
         master annotation file"
    )]
    MissingColumn { column: &'static str },
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
    /// The record's line in `text`.
    line: Range<usize>,
}

#[derive(Debug)]
pub struct Annotation {
    pub source: Source,
    pub record: Object,
}

impl AnnotationIndex {
    /// Reads a JSONL annotation file. Every record gets every key seen anywhere in the file, in
    /// first-seen order (missing keys are `null`), and integers in a column that also holds floats
    /// become floats: that is what loading the file as an Arrow table does to it.
    pub fn from_jsonl(text: impl Into<String>) -> Result<Self, AnnotationError> {
        let text = text.into();
        let mut records = Vec::new();
        let mut shape = Shape::Unknown;
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (index, line) in body.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let line_number = index + 1;
            let value = Value::from_json(line).map_err(|source| AnnotationError::Json {
                line: line_number,
                source,
            })?;
            let Value::Object(record) = &value else {
                return Err(AnnotationError::NotAnObject {
                    line: line_number,
                    found: kind_name(&value),
                });
            };
            // The table's semantics change numbers and fill in missing keys, neither of which
            // changes what a record selects.
            let selects = selection(record);
            shape.absorb(&value);
            let start = line.as_ptr() as usize - text.as_ptr() as usize;
            records.push((start..start + line.len(), selects));
        }
        for column in ["conversation_id", "dataset_source"] {
            if !records.is_empty() && !shape.has_field(column) {
                return Err(AnnotationError::MissingColumn { column });
            }
        }

        let records_read = records.len();
        let mut by_id: HashMap<String, Entry> = HashMap::new();
        let mut order = Vec::new();
        for (line, selects) in records {
            let Some((id, source)) = selects else {
                continue;
            };
            if by_id.insert(id.clone(), Entry { source, line }).is_none() {
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

    /// The annotation of a conversation, with the table's semantics applied.
    pub fn get(&self, id: &str) -> Option<Annotation> {
        let entry = self.by_id.get(id)?;
        let Value::Object(record) = self
            .shape
            .normalize(Value::Object(parse_record(&self.text[entry.line.clone()])))
        else {
            unreachable!("the shape of an object is an object")
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
            Shape::Object(columns) => columns,
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

/// The conversation a record selects: a non-empty `conversation_id` of a known `dataset_source`.
fn selection(record: &Object) -> Option<(String, Source)> {
    let id = record.get("conversation_id").and_then(Value::as_str)?;
    let source = record
        .get("dataset_source")
        .and_then(Value::as_str)
        .and_then(Source::from_dataset_source)?;
    (!id.is_empty()).then(|| (id.to_owned(), source))
}

/// A line already checked to be a JSON object.
fn parse_record(line: &str) -> Object {
    match Value::from_json(line) {
        Ok(Value::Object(record)) => record,
        _ => unreachable!("lines are parsed and checked when the index is built"),
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::Float(_) => "number",
        Value::Str(_) | Value::Timestamp(_) => "string",
        Value::List(_) => "array",
        Value::Object(_) => "object",
    }
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
            matches!(error, AnnotationError::Json { line: 2, .. }),
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
}
