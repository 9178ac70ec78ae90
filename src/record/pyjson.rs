//! Byte-exact `json.dumps(record)` with Python's defaults (FORMAT.md §5): `", "` and `": "`
//! separators, `ensure_ascii` escapes, float `repr`, and datetimes as `isoformat()`.
//!
//! No crate writes these bytes (serde_json differs on escapes, floats and spacing), so this module
//! owns them.

use std::io::Write;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};

use crate::value::{Object, Timestamp, Value};

/// Serialises `value` as one line of the JSONL artifact (without the newline).
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => write_str(out, s),
        Value::Timestamp(t) => {
            out.push(b'"');
            out.extend_from_slice(isoformat(*t).as_bytes());
            out.push(b'"');
        }
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(object) => write_object(out, object),
    }
}

pub fn write_object(out: &mut Vec<u8>, object: &Object) {
    out.push(b'{');
    for (i, (key, item)) in object.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_str(out, key);
        out.extend_from_slice(b": ");
        write_value(out, item);
    }
    out.push(b'}');
}

/// A JSON string with `ensure_ascii=True`: printable ASCII as is, the short escapes, everything
/// else as `\uXXXX` (lowercase hex), astral characters as a surrogate pair.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 1);
    let mut run_start = 0;
    let mut i = 0;
    // Byte by byte: printable ASCII, nearly all of the text, is passed over without decoding.
    while i < bytes.len() {
        if matches!(bytes[i], b' '..=b'~') && bytes[i] != b'"' && bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[run_start..i]);
        let c = s[i..].chars().next().expect("i is at a character boundary");
        i += c.len_utf8();
        run_start = i;
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write_u_escape(out, *unit);
                }
            }
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

fn write_u_escape(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional when the decimal
/// exponent is in [-4, 16), scientific otherwise (`1e-05`, `1.5e+17`).
pub fn write_float(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    // Rust's `{:e}` prints the shortest round-trip digits, e.g. "-1.2345e-7" or "5e-324": at
    // most 17 digits, a sign, a point and "e-324", so 32 bytes on the stack hold it.
    let mut scientific = [0u8; 32];
    let mut unwritten = &mut scientific[..];
    write!(unwritten, "{x:e}").expect("LowerExp output fits in 32 bytes");
    let written = 32 - unwritten.len();
    let scientific = &scientific[..written];
    let e = scientific
        .iter()
        .position(|&b| b == b'e')
        .expect("LowerExp output always has an exponent");
    let (mantissa, exponent) = (&scientific[..e], &scientific[e + 1..]);
    let exponent: i32 = std::str::from_utf8(exponent)
        .ok()
        .and_then(|exponent| exponent.parse().ok())
        .expect("LowerExp exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let mut digits = [0u8; 20];
    let mut count = 0;
    for &byte in mantissa.iter().filter(|&&byte| byte != b'.') {
        digits[count] = byte;
        count += 1;
    }
    let digits = &digits[..count];
    if negative {
        out.push(b'-');
    }
    if (-4..16).contains(&exponent) {
        if exponent < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exponent - 1) as usize));
            out.extend_from_slice(digits);
        } else {
            let integer_len = exponent as usize + 1;
            if digits.len() > integer_len {
                out.extend_from_slice(&digits[..integer_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[integer_len..]);
            } else {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', integer_len - digits.len()));
                out.extend_from_slice(b".0");
            }
        }
    } else {
        out.extend_from_slice(&digits[..1]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        write!(out, "e{sign}{:02}", exponent.abs()).expect("writing to a Vec does not fail");
    }
}

/// `datetime.isoformat()`: `YYYY-MM-DDTHH:MM:SS[.ffffff][+00:00]`, the fraction only when the
/// microseconds are not zero, the offset only for timezone-aware values.
pub fn isoformat(timestamp: Timestamp) -> String {
    let datetime = DateTime::from_timestamp_micros(timestamp.micros)
        .map(|d| d.naive_utc())
        .unwrap_or(NaiveDateTime::MIN);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        datetime.year(),
        datetime.month(),
        datetime.day(),
        datetime.hour(),
        datetime.minute(),
        datetime.second()
    );
    let micros = timestamp.micros.rem_euclid(1_000_000);
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    if timestamp.utc {
        text.push_str("+00:00");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(x: f64) -> String {
        let mut out = Vec::new();
        write_float(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    fn string(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (9.999999999999999e-05, "9.999999999999999e-05"),
            (1e-05, "1e-05"),
            (2.5e-05, "2.5e-05"),
            (1.2345e-07, "1.2345e-07"),
            (-1.5e-07, "-1.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123456789.123, "123456789.123"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e17, "1.5e+17"),
            (1e22, "1e+22"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, expected) in cases {
            assert_eq!(float(x), expected, "repr({x:?})");
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        assert_eq!(string("plain text ~"), "\"plain text ~\"");
        assert_eq!(string("\"\\/"), r#""\"\\/""#);
        assert_eq!(string("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(string("\u{0}\u{1f}\u{7f}"), r#""\u0000\u001f\u007f""#);
        assert_eq!(string("é\u{2028}中"), r#""\u00e9\u2028\u4e2d""#);
        assert_eq!(string("😀"), r#""\ud83d\ude00""#);
        assert_eq!(
            string("a🧑‍🤝‍🧑b"),
            r#""a\ud83e\uddd1\u200d\ud83e\udd1d\u200d\ud83e\uddd1b""#
        );
        assert_eq!(string(""), "\"\"");
    }

    #[test]
    fn timestamps_use_isoformat() {
        let at = |micros, utc| isoformat(Timestamp { micros, utc });
        assert_eq!(at(1_712_864_140_000_000, true), "2024-04-11T19:35:40+00:00");
        assert_eq!(
            at(1_712_864_140_000_060, true),
            "2024-04-11T19:35:40.000060+00:00"
        );
        assert_eq!(
            at(1_712_864_140_123_456, false),
            "2024-04-11T19:35:40.123456"
        );
        assert_eq!(at(-1, true), "1969-12-31T23:59:59.999999+00:00");
        assert_eq!(
            at(-30_610_224_000_000_000 - 1_000_000, true),
            "0999-12-31T23:59:59+00:00"
        );
    }

    #[test]
    fn containers_use_python_separators() {
        let mut inner = Object::default();
        inner.push("k".into(), Value::List(vec![]));
        inner.push("e".into(), Value::Object(Object::default()));
        let mut record = Object::default();
        record.push("a".into(), Value::Int(-3));
        record.push(
            "b".into(),
            Value::List(vec![Value::Bool(true), Value::Null, Value::Float(2.0)]),
        );
        record.push("ü".into(), Value::Object(inner));
        let mut out = Vec::new();
        write_value(&mut out, &Value::Object(record));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a": -3, "b": [true, null, 2.0], "\u00fc": {"k": [], "e": {}}}"#
        );
    }
}
