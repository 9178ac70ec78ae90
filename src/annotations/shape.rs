//! The annotation table's column types (FORMAT.md §2), inferred from every value as the
//! reference's table reader infers them, and the layout records are read back with.

use std::collections::HashMap;

use crate::value::Value;
use crate::value::json::Layout;

/// The inferred type of one column (or nested field) of the annotation table, from every value
/// it holds; nulls say nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Only nulls.
    Unknown,
    /// Objects: the union of their keys, in first-seen order.
    Object(Keys),
    List(Box<Shape>),
    /// Numbers: integers that fit 64 bits, unless any value is a float (or an integer that does
    /// not fit, `NaN` or an infinity), which makes them all floats.
    Number {
        any_float: bool,
    },
    Bool,
    Text,
    /// Values of different kinds. The table is still laid out by the first kind seen (values
    /// of another kind are read as they are), which is what the shape inside says.
    Mixed(Box<Shape>),
}

/// An object column's keys in first-seen order, each with its shape, found through an index:
/// a record may have tens of thousands of keys.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    list: Vec<(String, Shape)>,
    positions: HashMap<String, usize>,
}

impl PartialEq for Keys {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl Keys {
    pub fn iter(&self) -> std::slice::Iter<'_, (String, Shape)> {
        self.list.iter()
    }

    pub fn as_slice(&self) -> &[(String, Shape)] {
        &self.list
    }

    fn absorb(&mut self, key: &str, value: &Value) {
        let position = match self.positions.get(key) {
            Some(&position) => position,
            None => {
                self.positions.insert(key.to_owned(), self.list.len());
                self.list.push((key.to_owned(), Shape::Unknown));
                self.list.len() - 1
            }
        };
        self.list[position].1.absorb(value);
    }
}

impl Shape {
    /// An empty shape of `value`'s kind.
    fn kind_of(value: &Value) -> Shape {
        match value {
            Value::Null => Shape::Unknown,
            Value::Object(_) => Shape::Object(Keys::default()),
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
            (Shape::Object(keys), Value::Object(object)) => {
                for (key, item) in object.iter() {
                    keys.absorb(key, item);
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
        matches!(self, Shape::Object(keys) if keys.positions.contains_key(name))
    }

    /// The shape that lays values out: a mixed column's first kind.
    fn laid_out(&self) -> &Shape {
        match self {
            Shape::Mixed(first) => first,
            shape => shape,
        }
    }
}

/// Records are read back laid out by the table's types (FORMAT.md §2): every key of an object
/// column, integers of a float column as floats.
impl Layout for Shape {
    fn keys(&self) -> Option<&[(String, Shape)]> {
        match self.laid_out() {
            Shape::Object(keys) => Some(&keys.list),
            _ => None,
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        match self.laid_out() {
            Shape::Object(keys) => keys.positions.get(key).copied(),
            _ => None,
        }
    }

    fn items(&self) -> Option<&Shape> {
        match self.laid_out() {
            Shape::List(items) => Some(items),
            _ => None,
        }
    }

    fn floats(&self) -> Option<bool> {
        match self.laid_out() {
            Shape::Number { any_float } => Some(*any_float),
            _ => None,
        }
    }
}
