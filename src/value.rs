//! The ordered value model shared by every stage: a record is what Python's `datasets` hands the
//! reference generator (a `dict` keeping insertion order), so objects are ordered key lists.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A JSON-like value as the reference sees it after loading Arrow data into Python objects.
/// Its serde form is the spool's record codec (`in_order`), not JSON: JSON is read with
/// [`Value::from_json`] and written by `pyjson`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Timestamp(Timestamp),
    List(Vec<Value>),
    Object(Object),
}

/// A point in time as Python's `datetime` holds it: microseconds since the Unix epoch, and whether
/// the value is timezone-aware (always UTC here) or naive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    pub micros: i64,
    pub utc: bool,
}

/// An insertion-ordered map, like a Python `dict`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

impl Object {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// [`Object::get`], looking first at `position`: where the key is when the object follows
    /// the schema being read, as records and rows of one source do.
    pub fn get_near(&self, key: &str, position: usize) -> Option<&Value> {
        match self.entries.get(position) {
            Some((k, v)) if k == key => Some(v),
            _ => self.get(key),
        }
    }

    /// `dict[key] = value`: an existing key keeps its position and takes the new value; a new
    /// key is appended.
    pub fn set(&mut self, key: String, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Appends without looking for an existing key; for callers that know the keys are distinct
    /// (Arrow struct fields, columns of a schema).
    pub fn push(&mut self, key: String, value: Value) {
        self.entries.push((key, value));
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Value {
    /// Parses JSON keeping object key order, as Python's `json.loads` does; a repeated key keeps
    /// its first position and takes the last value, like `dict` assignment.
    pub fn from_json(text: &str) -> serde_json::Result<Value> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let value = JsonValue.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A JSON value, read in document order.
struct JsonValue;

impl<'de> DeserializeSeed<'de> for JsonValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer {v} does not fit in 64 bits")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(JsonValue)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::default();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(JsonValue)?;
            object.set(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_keeps_key_order_and_last_duplicate_wins_in_first_position() {
        let value = Value::from_json(r#"{"b": 1, "a": [1.5, null, "x"], "b": true}"#).unwrap();
        let object = value.as_object().unwrap();
        let keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(object.get("b"), Some(&Value::Bool(true)));
        assert_eq!(
            object.get("a"),
            Some(&Value::List(vec![
                Value::Float(1.5),
                Value::Null,
                Value::Str("x".into())
            ]))
        );
    }

    #[test]
    fn set_replaces_in_place_and_appends_new_keys() {
        let mut object = Object::default();
        object.push("x".into(), Value::Int(1));
        object.push("y".into(), Value::Int(2));
        object.set("x".into(), Value::Int(3));
        object.set("z".into(), Value::Null);
        let entries: Vec<_> = object.iter().collect();
        assert_eq!(
            entries,
            [
                ("x", &Value::Int(3)),
                ("y", &Value::Int(2)),
                ("z", &Value::Null)
            ]
        );
    }
}
