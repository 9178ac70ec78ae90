//! The type of each column of the annotation table, inferred from every value it holds, as
//! loading the JSONL file as an Arrow table infers it (FORMAT.md §2).

use std::collections::HashMap;

use crate::value::{Object, Value};

/// The inferred type of one column (or nested field) of the annotation table, from every value
/// it holds; nulls say nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Only nulls.
    Unknown,
    /// Objects: the union of their keys, in first-seen order.
    Object(Vec<(String, Shape)>),
    List(Box<Shape>),
    /// Numbers; integers become floats when any value is a float.
    Number {
        any_float: bool,
    },
    Bool,
    Text,
    /// Values of different kinds. The table is still normalised by the first kind seen (values
    /// of another kind are left as they are), which is what the shape inside says.
    Mixed(Box<Shape>),
}

impl Shape {
    /// An empty shape of `value`'s kind.
    fn kind_of(value: &Value) -> Shape {
        match value {
            Value::Null => Shape::Unknown,
            Value::Object(_) => Shape::Object(Vec::new()),
            Value::List(_) => Shape::List(Box::new(Shape::Unknown)),
            Value::Int(_) => Shape::Number { any_float: false },
            Value::Float(_) => Shape::Number { any_float: true },
            Value::Bool(_) => Shape::Bool,
            Value::Str(_) | Value::Timestamp(_) => Shape::Text,
        }
    }

    /// True when `value` is of this shape's kind.
    fn accepts(&self, value: &Value) -> bool {
        matches!(
            (self, value),
            (Shape::Object(_), Value::Object(_))
                | (Shape::List(_), Value::List(_))
                | (Shape::Number { .. }, Value::Int(_) | Value::Float(_))
                | (Shape::Bool, Value::Bool(_))
                | (Shape::Text, Value::Str(_) | Value::Timestamp(_))
        )
    }

    pub(super) fn absorb(&mut self, value: &Value) {
        if value.is_null() {
            return;
        }
        if let Shape::Unknown = self {
            *self = Shape::kind_of(value);
        }
        if let Shape::Mixed(first) = self {
            if first.accepts(value) {
                first.absorb(value);
            }
            return;
        }
        if !self.accepts(value) {
            let first = std::mem::replace(self, Shape::Unknown);
            *self = Shape::Mixed(Box::new(first));
            return;
        }
        match (self, value) {
            (Shape::Object(fields), Value::Object(object)) => {
                for (key, item) in object.iter() {
                    match fields.iter_mut().find(|(name, _)| name == key) {
                        Some((_, field)) => field.absorb(item),
                        None => {
                            let mut field = Shape::Unknown;
                            field.absorb(item);
                            fields.push((key.to_owned(), field));
                        }
                    }
                }
            }
            (Shape::List(element), Value::List(items)) => {
                for item in items {
                    element.absorb(item);
                }
            }
            (Shape::Number { any_float }, Value::Float(_)) => *any_float = true,
            _ => {}
        }
    }

    pub(super) fn has_field(&self, name: &str) -> bool {
        matches!(self, Shape::Object(fields) if fields.iter().any(|(field, _)| field == name))
    }

    pub(super) fn normalize(&self, value: Value) -> Value {
        match (self, value) {
            (Shape::Object(fields), Value::Object(object)) => {
                let mut entries: HashMap<String, Value> = object.into_iter().collect();
                let mut normalized = Object::with_capacity(fields.len());
                for (name, field) in fields {
                    let item = entries.remove(name).unwrap_or(Value::Null);
                    normalized.push(name.clone(), field.normalize(item));
                }
                Value::Object(normalized)
            }
            (Shape::List(element), Value::List(items)) => Value::List(
                items
                    .into_iter()
                    .map(|item| element.normalize(item))
                    .collect(),
            ),
            (Shape::Number { any_float: true }, Value::Int(i)) => Value::Float(i as f64),
            (Shape::Mixed(first), value) => first.normalize(value),
            (_, value) => value,
        }
    }
}
