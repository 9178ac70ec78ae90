//! The JSONL record's shape (FORMAT.md §4): the source row, overlaid with the annotation,
//! then the dataset version.

use crate::value::{Object, Value};

/// Starts from the source row, applies the annotation key by key (an existing key keeps its
/// position and takes the new value, a new key is appended), then sets `dataset_version`.
/// Keys are matched through an index: an annotation may have tens of thousands.
pub(super) fn overlay(mut row: Object, annotation: &Object, version: &str) -> Object {
    row.update(annotation);
    row.reserve_exact(1);
    row.set("dataset_version".to_owned(), Value::Str(version.to_owned()));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_overrides_in_place_and_appends_the_rest() {
        let mut row = Object::default();
        row.push("conversation_id".into(), Value::Str("x".into()));
        row.push("turn".into(), Value::Int(1));
        let mut annotation = Object::default();
        annotation.push("conversation_id".into(), Value::Str("x2".into()));
        annotation.push("web_url".into(), Value::Null);
        let merged = overlay(row, &annotation, "2.0.0");
        let entries: Vec<_> = merged.iter().collect();
        assert_eq!(
            entries,
            [
                ("conversation_id", &Value::Str("x2".into())),
                ("turn", &Value::Int(1)),
                ("web_url", &Value::Null),
                ("dataset_version", &Value::Str("2.0.0".into())),
            ]
        );
    }
}
