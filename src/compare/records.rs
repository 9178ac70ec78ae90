//! The conversations of one side of `diff`, by source and ID: an annotation file's index
//! (FORMAT.md §2, the later record winning), or the records of an artifacts JSONL as written.
//! Records are kept as their lines and parsed when compared, so memory stays near the files'
//! size.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::error::CompareError;
use super::json_line;
use crate::annotations::AnnotationIndex;
use crate::annotations::{AnnotationVersion, selection};
use crate::source::Source;
use crate::value::{Object, Value};

pub enum Records {
    /// An annotation version's records, as the reference loads them.
    Annotations(AnnotationIndex),
    /// An artifacts JSONL's records (source text included), as written.
    Jsonl(JsonlRecords),
}

impl Records {
    /// An annotation version's file (read from the Hugging Face cache).
    pub fn annotation_file(
        version: AnnotationVersion,
        path: &Path,
    ) -> Result<Records, CompareError> {
        let index = AnnotationIndex::from_jsonl(read_text(path)?).map_err(|source| {
            CompareError::Annotations {
                version,
                path: path.to_owned(),
                source,
            }
        })?;
        Ok(Records::Annotations(index))
    }

    /// An artifacts JSONL file.
    pub fn jsonl(path: &Path) -> Result<Records, CompareError> {
        JsonlRecords::parse(path, read_text(path)?).map(Records::Jsonl)
    }

    /// The IDs of `source`, in file order.
    pub fn ids(&self, source: Source) -> Vec<&str> {
        match self {
            Records::Annotations(index) => index.ids_in_order(source).collect(),
            Records::Jsonl(records) => records.ids(source).collect(),
        }
    }

    /// The record of a conversation.
    pub fn get(&self, id: &str) -> Option<Object> {
        match self {
            Records::Annotations(index) => index.get(id).map(|annotation| annotation.record),
            Records::Jsonl(records) => records.get(id),
        }
    }

    /// True when the records hold the source text.
    pub fn has_text(&self) -> bool {
        matches!(self, Records::Jsonl(_))
    }
}

/// The records of a JSONL file, selected as FORMAT.md §2 selects annotations.
pub struct JsonlRecords {
    text: String,
    by_id: HashMap<String, (Source, Range<usize>)>,
    /// IDs in the order they first appear.
    order: Vec<String>,
}

impl JsonlRecords {
    /// Reads `text`, the contents of `path`: blank lines skipped, a byte-order mark ignored,
    /// every other line a JSON object as `json.loads` reads it.
    pub fn parse(path: &Path, text: String) -> Result<JsonlRecords, CompareError> {
        let mut by_id: HashMap<String, (Source, Range<usize>)> = HashMap::new();
        let mut order = Vec::new();
        let (mut lines, mut has_id_keys) = (0, false);
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (index, line) in body.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            lines += 1;
            let value = json_line::parse(line).map_err(|source| CompareError::NotJson {
                path: path.to_owned(),
                line: index + 1,
                source,
            })?;
            let Value::Object(record) = value else {
                return Err(CompareError::NotAnObject {
                    path: path.to_owned(),
                    line: index + 1,
                    found: value.kind_name(),
                });
            };
            has_id_keys |=
                record.get("conversation_id").is_some() && record.get("dataset_source").is_some();
            let Some((id, source)) = selection(&record) else {
                continue;
            };
            let start = line.as_ptr() as usize - text.as_ptr() as usize;
            if by_id
                .insert(id.to_owned(), (source, start..start + line.len()))
                .is_none()
            {
                order.push(id.to_owned());
            }
        }
        if lines > 0 && !has_id_keys {
            return Err(CompareError::NotHealthChat {
                path: path.to_owned(),
            });
        }
        Ok(JsonlRecords { text, by_id, order })
    }

    fn ids(&self, source: Source) -> impl Iterator<Item = &str> {
        self.order
            .iter()
            .filter(move |id| {
                self.by_id
                    .get(id.as_str())
                    .is_some_and(|(s, _)| *s == source)
            })
            .map(String::as_str)
    }

    fn get(&self, id: &str) -> Option<Object> {
        let (_, line) = self.by_id.get(id)?;
        match json_line::parse(&self.text[line.clone()]) {
            Ok(Value::Object(record)) => Some(record),
            _ => unreachable!("every line was parsed as an object when the file was read"),
        }
    }
}

/// The file's text; a byte that is not UTF-8 is an error naming its line.
fn read_text(path: &Path) -> Result<String, CompareError> {
    let bytes = std::fs::read(path).map_err(|source| CompareError::Read {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        CompareError::NotUtf8 {
            path: PathBuf::from(path),
            line: 1 + valid.iter().filter(|b| **b == b'\n').count(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonl(text: &str) -> Result<JsonlRecords, CompareError> {
        JsonlRecords::parse(Path::new("x.jsonl"), text.to_owned())
    }

    #[test]
    fn records_are_selected_and_the_later_one_wins() {
        let records = jsonl(concat!(
            "\u{feff}",
            r#"{"conversation_id": "a", "dataset_source": "lmsys", "n": 1}"#,
            "\n\n",
            r#"{"conversation_id": "", "dataset_source": "lmsys"}"#,
            "\n",
            r#"{"conversation_id": "s", "dataset_source": "sharegpt"}"#,
            "\n",
            r#"{"conversation_id": "b", "dataset_source": "wildchat", "x": NaN}"#,
            "\n",
            r#"{"conversation_id": "a", "dataset_source": "lmsys", "n": 2}"#,
            "\n",
        ))
        .unwrap();
        assert_eq!(records.ids(Source::Lmsys).collect::<Vec<_>>(), ["a"]);
        assert_eq!(records.ids(Source::Wildchat).collect::<Vec<_>>(), ["b"]);
        assert_eq!(records.get("a").unwrap().get("n"), Some(&Value::Int(2)));
        assert!(records.get("s").is_none());
    }

    #[test]
    fn bad_lines_are_named() {
        let error = jsonl("{\"conversation_id\": \"a\", \"dataset_source\": \"lmsys\"}\n\n{oops\n")
            .err()
            .unwrap();
        assert!(
            matches!(error, CompareError::NotJson { line: 3, .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("line 3 of x.jsonl is not valid JSON")
        );
        let error = jsonl("[1]\n").err().unwrap();
        assert!(matches!(
            error,
            CompareError::NotAnObject {
                line: 1,
                found: "array",
                ..
            }
        ));
        let error = jsonl("{\"id\": 1}\n").err().unwrap();
        assert!(matches!(error, CompareError::NotHealthChat { .. }));
        assert!(jsonl("\n").is_ok(), "an empty file holds no conversations");
    }

    #[test]
    fn text_that_is_not_utf8_is_named_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, b"{}\n{\"a\": \"\xff\"}\n").unwrap();
        let error = read_text(&path).unwrap_err();
        assert!(
            matches!(error, CompareError::NotUtf8 { line: 2, .. }),
            "{error}"
        );
        let error = read_text(&dir.path().join("missing.jsonl")).unwrap_err();
        assert!(matches!(error, CompareError::Read { .. }));
    }
}
