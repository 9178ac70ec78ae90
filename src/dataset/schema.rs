//! The columns of a source's Parquet file (FORMAT.md §10): the source's own columns with their
//! own types, then the annotation columns typed from the shapes the annotation file really
//! takes, then `dataset_version`, in the JSONL record's key order.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::annotations::AnnotationIndex;
use crate::value::{Object, Value};

/// What one annotation column (or nested field) holds across the whole file.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Only nulls so far.
    Null,
    Bool,
    Int,
    /// Floats, or integers and floats (which the table makes floats).
    Float,
    Text,
    List(Box<Kind>),
    Object(Vec<(String, Kind)>),
    /// Scalars of different kinds: written as text.
    Mixed,
}

impl Kind {
    fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Str(_) | Value::Timestamp(_) => Kind::Text,
            Value::List(items) => Kind::List(Box::new(
                items.iter().map(Kind::of).fold(Kind::Null, Kind::merge),
            )),
            Value::Object(object) => Kind::Object(fields_of(object)),
        }
    }

    fn merge(self, other: Kind) -> Kind {
        match (self, other) {
            (Kind::Null, kind) | (kind, Kind::Null) => kind,
            (a, b) if a == b => a,
            (Kind::Int | Kind::Float, Kind::Int | Kind::Float) => Kind::Float,
            (Kind::List(a), Kind::List(b)) => Kind::List(Box::new(a.merge(*b))),
            (Kind::Object(mut a), Kind::Object(b)) => {
                for (name, kind) in b {
                    match a.iter_mut().find(|(field, _)| *field == name) {
                        Some((_, existing)) => {
                            *existing = std::mem::replace(existing, Kind::Null).merge(kind);
                        }
                        None => a.push((name, kind)),
                    }
                }
                Kind::Object(a)
            }
            _ => Kind::Mixed,
        }
    }

    /// Only nulls: a text column of nulls, which every reader takes. Mixed scalars: text, as
    /// `str()` of each value.
    fn data_type(&self) -> DataType {
        match self {
            Kind::Null | Kind::Text | Kind::Mixed => DataType::Utf8,
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::List(item) => {
                DataType::List(Arc::new(Field::new("item", item.data_type(), true)))
            }
            Kind::Object(fields) => DataType::Struct(struct_fields(fields)),
        }
    }
}

fn fields_of(object: &Object) -> Vec<(String, Kind)> {
    object
        .iter()
        .map(|(name, value)| (name.to_owned(), Kind::of(value)))
        .collect()
}

fn struct_fields(fields: &[(String, Kind)]) -> Fields {
    fields
        .iter()
        .map(|(name, kind)| Field::new(name, kind.data_type(), true))
        .collect()
}

/// The annotation columns, in first-seen order, each typed from every record of the file.
pub fn annotation_fields(index: &AnnotationIndex) -> Vec<Field> {
    let columns = index
        .records()
        .map(|record| Kind::Object(fields_of(&record)))
        .fold(Kind::Null, Kind::merge);
    match columns {
        Kind::Object(fields) => struct_fields(&fields)
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
        _ => Vec::new(),
    }
}

/// The source's columns overlaid with the annotation's, then `dataset_version`, as a record's
/// keys are (FORMAT.md §4): an annotation column the source has takes its place, and its type,
/// since its values come from the annotation.
pub fn record_schema(source: &Schema, annotation: &[Field]) -> SchemaRef {
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
