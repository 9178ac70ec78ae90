//! Values compared as Python compares what `json.loads` gives: a `dict` equals another with the
//! same items in any order, `1 == 1.0 == True`, and lists compare item by item. A [`Key`] is a
//! value in that canonical form, so that equal values have equal keys, and keys can be sorted
//! (for multisets) and hashed. One departure: NaN equals NaN, so that a record compares equal to
//! itself.

use crate::record::pyjson;
use crate::value::{Timestamp, Value};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key<'a> {
    Null,
    /// Integers, booleans (`True == 1`) and floats with an integral value that fits.
    Int(i64),
    /// Any other float, by its bits (every NaN as one).
    Float(u64),
    Text(&'a str),
    /// Microseconds since the epoch, and whether the point is UTC.
    Timestamp(i64, bool),
    List(Vec<Key<'a>>),
    /// Items sorted by name.
    Object(Vec<(&'a str, Key<'a>)>),
}

/// Floats in this range with no fractional part equal an `i64` (2⁶³ is the first that does not).
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

impl<'a> Key<'a> {
    pub fn of(value: &'a Value) -> Key<'a> {
        match value {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Int(i64::from(*b)),
            Value::Int(i) => Key::Int(*i),
            Value::Float(f) => float(*f),
            Value::Str(s) => Key::Text(s),
            Value::Timestamp(t) => Key::Timestamp(t.micros, t.utc),
            Value::List(items) => Key::List(items.iter().map(Key::of).collect()),
            Value::Object(object) => {
                Key::object(object.iter().map(|(name, item)| (name, Key::of(item))))
            }
        }
    }

    /// An object from its items in any order.
    pub fn object(items: impl Iterator<Item = (&'a str, Key<'a>)>) -> Key<'a> {
        let mut items: Vec<(&str, Key)> = items.collect();
        items.sort();
        Key::Object(items)
    }

    /// How the value reads in a report: text as it is, anything else as compact JSON.
    pub fn display(&self) -> String {
        match self {
            Key::Text(text) => (*text).to_owned(),
            other => other.json(),
        }
    }

    /// JSON as `json.dumps` writes it (object keys sorted).
    fn json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Key::Null => out.extend_from_slice(b"null"),
            Key::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Key::Float(bits) => pyjson::write_float(out, f64::from_bits(*bits)),
            Key::Text(text) => pyjson::write_str(out, text),
            Key::Timestamp(micros, utc) => {
                let (micros, utc) = (*micros, *utc);
                pyjson::write_str(out, &pyjson::isoformat(Timestamp { micros, utc }));
            }
            Key::List(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    item.write_json(out);
                }
                out.push(b']');
            }
            Key::Object(items) => {
                out.push(b'{');
                for (i, (name, item)) in items.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    pyjson::write_str(out, name);
                    out.extend_from_slice(b": ");
                    item.write_json(out);
                }
                out.push(b'}');
            }
        }
    }
}

fn float<'a>(f: f64) -> Key<'a> {
    if f.fract() == 0.0 && (-I64_BOUND..I64_BOUND).contains(&f) {
        // Exact: the value is integral and within range.
        Key::Int(f as i64)
    } else if f.is_nan() {
        Key::Float(f64::NAN.to_bits())
    } else {
        Key::Float(f.to_bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(json: &str) -> Key<'static> {
        let value = Box::leak(Box::new(Value::from_json(json).unwrap()));
        Key::of(value)
    }

    #[test]
    fn equal_as_python_compares() {
        assert_eq!(key_of("4"), key_of("4.0"));
        assert_eq!(key_of("1"), key_of("true"));
        assert_eq!(key_of("0"), key_of("-0.0"));
        assert_eq!(
            key_of(r#"{"a": 1, "b": [2, null]}"#),
            key_of(r#"{"b": [2.0, null], "a": true}"#)
        );
        assert_eq!(Key::of(&Value::Float(f64::NAN)), float(-f64::NAN));
    }

    #[test]
    fn different_as_python_tells_apart() {
        assert_ne!(key_of("4"), key_of("4.5"));
        assert_ne!(key_of("\"4\""), key_of("4"));
        assert_ne!(key_of("null"), key_of("0"));
        assert_ne!(key_of("[1, 2]"), key_of("[2, 1]"));
        assert_ne!(key_of(r#"{"a": null}"#), key_of("{}"));
        assert_ne!(key_of("1e300"), key_of("1e299"));
    }

    #[test]
    fn displayed_as_text_or_compact_json() {
        assert_eq!(key_of("\"Y\"").display(), "Y");
        assert_eq!(key_of("null").display(), "null");
        assert_eq!(key_of("2.0").display(), "2");
        assert_eq!(key_of("0.5").display(), "0.5");
        assert_eq!(Key::of(&Value::Float(f64::NAN)).display(), "NaN");
        assert_eq!(
            key_of(r#"{"b": ["x\"y"], "a": {}}"#).display(),
            r#"{"a": {}, "b": ["x\"y"]}"#
        );
    }
}
