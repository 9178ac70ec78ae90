//! The columns of a source's Parquet file (FORMAT.md §10): the source's own columns with their
//! own types, then the annotation columns typed from the shapes the annotation file really
//! takes, then `dataset_version`, in the JSONL record's key order.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::annotations::{AnnotationIndex, Shape};

/// The Arrow type of an annotation column's shape. Only nulls: a string column of nulls, which
/// every reader takes. Values of different kinds: text, as `str()` of each value.
fn data_type(shape: &Shape) -> DataType {
    match shape {
        Shape::Unknown | Shape::Text | Shape::Mixed(_) => DataType::Utf8,
        Shape::Bool => DataType::Boolean,
        Shape::Number { any_float: false } => DataType::Int64,
        Shape::Number { any_float: true } => DataType::Float64,
        Shape::List(item) => DataType::List(Arc::new(Field::new("item", data_type(item), true))),
        Shape::Object(fields) => DataType::Struct(
            fields
                .iter()
                .map(|(name, shape)| Field::new(name, data_type(shape), true))
                .collect::<Fields>(),
        ),
    }
}

/// The annotation columns, in first-seen order, typed from the shapes the annotation file's
/// values take (FORMAT.md §10).
pub(super) fn annotation_fields(index: &AnnotationIndex) -> Vec<Field> {
    index
        .columns()
        .iter()
        .map(|(name, shape)| Field::new(name, data_type(shape), true))
        .collect()
}

/// The leaf columns a field's values are written as.
pub(super) fn leaves(data_type: &DataType) -> usize {
    match data_type {
        DataType::List(item) => leaves(item.data_type()),
        DataType::Struct(fields) => fields.iter().map(|f| leaves(f.data_type())).sum(),
        _ => 1,
    }
}

/// The source's columns overlaid with the annotation's, then `dataset_version`, as a record's
/// keys are (FORMAT.md §4): an annotation column the source has takes its place, and its type,
/// since its values come from the annotation.
pub(super) fn record_schema(source: &Schema, annotation: &[Field]) -> SchemaRef {
    let mut fields: Vec<Field> = source
        .fields()
        .iter()
        .map(|field| field.as_ref().clone().with_nullable(true))
        .collect();
    let version = Field::new("dataset_version", DataType::Utf8, true);
    for field in annotation.iter().chain([&version]) {
        match fields
            .iter_mut()
            .find(|existing| existing.name() == field.name())
        {
            Some(existing) => *existing = field.clone(),
            None => fields.push(field.clone()),
        }
    }
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_columns_take_the_type_of_every_value_they_hold() {
        let index = AnnotationIndex::from_jsonl(concat!(
            r#"{"conversation_id": "a", "dataset_source": "lmsys", "n": 1, "codes": null, "flag": true, "lqs": [{"i": 1, "c": "Y"}]}"#,
            "\n",
            r#"{"conversation_id": "b", "dataset_source": "wildchat", "n": 2.5, "codes": ["x"], "mixed": 1, "lqs": [{"i": null, "c": null, "extra": 2}]}"#,
            "\n",
            r#"{"conversation_id": "c", "dataset_source": "wildchat", "mixed": "one", "empty": null}"#,
            "\n",
        ))
        .unwrap();
        let fields = annotation_fields(&index);
        let types: Vec<(&str, DataType)> = fields
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone()))
            .collect();
        let item = |data_type| DataType::List(Arc::new(Field::new("item", data_type, true)));
        assert_eq!(
            types,
            [
                ("conversation_id", DataType::Utf8),
                ("dataset_source", DataType::Utf8),
                ("n", DataType::Float64),
                ("codes", item(DataType::Utf8)),
                ("flag", DataType::Boolean),
                (
                    "lqs",
                    item(DataType::Struct(Fields::from(vec![
                        Field::new("i", DataType::Int64, true),
                        Field::new("c", DataType::Utf8, true),
                        Field::new("extra", DataType::Int64, true),
                    ])))
                ),
                ("mixed", DataType::Utf8),
                ("empty", DataType::Utf8),
            ]
        );
    }

    #[test]
    fn a_record_schema_follows_the_records_key_order() {
        let source = Schema::new(vec![
            Field::new("conversation_id", DataType::Utf8, false),
            Field::new("turn", DataType::Int64, false),
        ]);
        let annotation = [
            Field::new("conversation_id", DataType::Utf8, true),
            Field::new("specialty", DataType::Int64, true),
        ];
        let schema = record_schema(&source, &annotation);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["conversation_id", "turn", "specialty", "dataset_version"]
        );
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
    }
}
