//! The ordered value model shared by every stage: a record is what Python's `datasets` hands the
//! reference generator (a `dict` keeping insertion order), so objects are ordered key lists.

pub mod json;

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// A JSON-like value as the reference sees it after loading Arrow data into Python objects.
/// Its serde form is the spool's record codec (`in_order`), not JSON: JSON is read by [`json`]
/// as the reference reads it and written by `pyjson`.
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

    /// [`Object::get`] for keys asked in the object's own order, some perhaps absent (as a
    /// schema's fields ask a record whose nulls were dropped): the entry at `cursor` is the
    /// one looked at first, and `cursor` moves past it when it is the key.
    pub fn get_in_order(&self, key: &str, cursor: &mut usize) -> Option<&Value> {
        match self.entries.get(*cursor) {
            Some((k, v)) if k == key => {
                *cursor += 1;
                Some(v)
            }
            _ => self.get(key),
        }
    }

    /// Drops the entries whose value is null, for an object whose reader takes a missing key
    /// as null.
    pub(crate) fn drop_nulls(&mut self) {
        self.entries.retain(|(_, value)| !value.is_null());
        self.entries.shrink_to_fit();
    }

    /// `dict[key] = value`: an existing key keeps its position and takes the new value; a new
    /// key is appended.
    pub fn set(&mut self, key: String, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Room for `additional` more entries, and no more: records wait in memory by the
    /// hundred on their way out, and a doubled buffer of tens of thousands of keys is a
    /// megabyte each.
    pub(crate) fn reserve_exact(&mut self, additional: usize) {
        self.entries.reserve_exact(additional);
    }

    /// `dict.update(other)`: [`Object::set`] for each entry of `other` in its order, the keys found
    /// through an index, so that a record of many keys costs time in proportion to its keys
    /// (FORMAT.md §4).
    pub fn update(&mut self, other: &Object) {
        let targets: Vec<usize> = {
            let mut positions: HashMap<&str, usize> =
                HashMap::with_capacity(self.len() + other.len());
            for (position, (key, _)) in self.entries.iter().enumerate() {
                positions.entry(key).or_insert(position);
            }
            let mut next = self.entries.len();
            other
                .entries
                .iter()
                .map(|(key, _)| match positions.entry(key) {
                    Entry::Occupied(position) => *position.get(),
                    Entry::Vacant(slot) => {
                        next += 1;
                        *slot.insert(next - 1)
                    }
                })
                .collect()
        };
        // Exactly the room the new keys need: many records wait in memory on their way out.
        let appended = targets
            .iter()
            .filter(|&&target| target >= self.entries.len());
        self.entries.reserve_exact(appended.count());
        for ((key, value), target) in other.entries.iter().zip(targets) {
            match self.entries.get_mut(target) {
                Some(entry) => entry.1 = value.clone(),
                None => self.entries.push((key.clone(), value.clone())),
            }
        }
    }

    /// A key held twice, if any: through an index once the object is large.
    pub fn first_repeated_key(&self) -> Option<&str> {
        if self.entries.len() <= 16 {
            return self
                .entries
                .iter()
                .enumerate()
                .find_map(|(position, (key, _))| {
                    self.entries[..position]
                        .iter()
                        .any(|(earlier, _)| earlier == key)
                        .then_some(key.as_str())
                });
        }
        let mut seen = HashSet::with_capacity(self.entries.len());
        self.entries
            .iter()
            .map(|(key, _)| key.as_str())
            .find(|key| !seen.insert(*key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
    /// What kind of JSON value it is, for messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Str(_) | Value::Timestamp(_) => "string",
            Value::List(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// One JSON value as the annotation reader reads it ([`json`]), without a table's layout.
    #[cfg(test)]
    pub fn from_json(text: &str) -> Result<Value, json::JsonError> {
        json::read_raw(text)
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn object(entries: &[(&str, i64)]) -> Object {
        let mut object = Object::default();
        for (key, value) in entries {
            object.push((*key).to_owned(), Value::Int(*value));
        }
        object
    }

    fn entries(object: &Object) -> Vec<(&str, &Value)> {
        object.iter().collect()
    }

    #[test]
    fn update_is_set_for_each_entry_in_order() {
        let mut row = object(&[("a", 1), ("b", 2)]);
        row.update(&object(&[("c", 3), ("a", 4), ("d", 5), ("c", 6)]));
        assert_eq!(
            entries(&row),
            [
                ("a", &Value::Int(4)),
                ("b", &Value::Int(2)),
                ("c", &Value::Int(6)),
                ("d", &Value::Int(5)),
            ]
        );
    }

    #[test]
    fn update_through_its_index_matches_set_key_by_key() {
        let keys: Vec<String> = (0..4_000).map(|i| format!("k{i}")).collect();
        let mut row = Object::default();
        for key in keys.iter().step_by(2) {
            row.push(key.clone(), Value::Null);
        }
        let mut annotation = Object::default();
        for (i, key) in keys.iter().enumerate().rev() {
            annotation.push(key.clone(), Value::Int(i as i64));
        }
        let mut expected = row.clone();
        for (key, value) in annotation.iter() {
            expected.set(key.to_owned(), value.clone());
        }
        row.update(&annotation);
        assert_eq!(row, expected);
    }

    #[test]
    fn a_repeated_key_is_found_in_small_and_large_objects() {
        assert_eq!(object(&[("a", 1), ("b", 2)]).first_repeated_key(), None);
        assert_eq!(
            object(&[("a", 1), ("b", 2), ("a", 3)]).first_repeated_key(),
            Some("a")
        );
        let mut large = Object::default();
        for i in 0..100 {
            large.push(format!("k{i}"), Value::Null);
        }
        assert_eq!(large.first_repeated_key(), None);
        large.push("k42".into(), Value::Null);
        assert_eq!(large.first_repeated_key(), Some("k42"));
    }
}
