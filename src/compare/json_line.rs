//! One JSONL line read as Python's `json.loads` reads it. The artifacts' JSONL is `json.dumps`
//! output, which spells non-finite floats `NaN`, `Infinity` and `-Infinity` (FORMAT.md §5); no
//! JSON crate reads those, so this small parser does, into the shared value model. Objects keep
//! their key order, and a repeated key keeps its first position and takes the last value, as a
//! `dict` does.

use crate::value::{Object, Value};

/// Deeper nesting than this is refused rather than risking the stack (Python's own limit is
/// about a thousand).
const MAX_DEPTH: usize = 512;

/// Why a line is not JSON: what was wrong, at which byte (from 1, as a column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at column {column}")]
pub struct JsonError {
    pub problem: &'static str,
    pub column: usize,
}

pub fn parse(line: &str) -> Result<Value, JsonError> {
    let mut parser = Parser {
        bytes: line.as_bytes(),
        text: line,
        at: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.whitespace();
    if parser.at < parser.bytes.len() {
        return Err(parser.error("extra data after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, problem: &'static str) -> JsonError {
        JsonError {
            problem,
            column: self.at + 1,
        }
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        let found = self.bytes[self.at..].starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        self.whitespace();
        let value = match self.bytes.get(self.at) {
            None => return Err(self.error("expected a value")),
            Some(b'{') => self.nested(Parser::object)?,
            Some(b'[') => self.nested(Parser::list)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(_) if self.eat("null") => Value::Null,
            Some(_) if self.eat("true") => Value::Bool(true),
            Some(_) if self.eat("false") => Value::Bool(false),
            Some(_) if self.eat("NaN") => Value::Float(f64::NAN),
            Some(_) if self.eat("Infinity") => Value::Float(f64::INFINITY),
            Some(_) if self.eat("-Infinity") => Value::Float(f64::NEG_INFINITY),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.error("expected a value")),
        };
        Ok(value)
    }

    fn nested(
        &mut self,
        read: fn(&mut Self) -> Result<Value, JsonError>,
    ) -> Result<Value, JsonError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.depth += 1;
        self.at += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    /// After `{`.
    fn object(&mut self) -> Result<Value, JsonError> {
        let mut object = Object::default();
        self.whitespace();
        if self.eat("}") {
            return Ok(Value::Object(object));
        }
        loop {
            self.whitespace();
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error("expected a key in double quotes"));
            }
            let key = self.string()?;
            self.whitespace();
            if !self.eat(":") {
                return Err(self.error("expected ':'"));
            }
            let value = self.value()?;
            object.set(key, value);
            self.whitespace();
            if self.eat("}") {
                return Ok(Value::Object(object));
            }
            if !self.eat(",") {
                return Err(self.error("expected ',' or '}'"));
            }
        }
    }

    /// After `[`.
    fn list(&mut self) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        self.whitespace();
        if self.eat("]") {
            return Ok(Value::List(items));
        }
        loop {
            items.push(self.value()?);
            self.whitespace();
            if self.eat("]") {
                return Ok(Value::List(items));
            }
            if !self.eat(",") {
                return Err(self.error("expected ',' or ']'"));
            }
        }
    }

    /// At `"`.
    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut text = String::new();
        loop {
            let run = self.at;
            while let Some(&byte) = self.bytes.get(self.at) {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The run ends at an ASCII byte or the end, so it is whole UTF-8.
            text.push_str(&self.text[run..self.at]);
            match self.bytes.get(self.at) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(text);
                }
                Some(b'\\') => text.push(self.escape()?),
                Some(_) => return Err(self.error("control character in a string")),
            }
        }
    }

    /// At `\`.
    fn escape(&mut self) -> Result<char, JsonError> {
        self.at += 1;
        let Some(&byte) = self.bytes.get(self.at) else {
            return Err(self.error("unterminated string"));
        };
        self.at += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => {
                self.at -= 1;
                return Err(self.error("invalid escape"));
            }
        })
    }

    /// After `\u`: a character, or a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        if !(0xd800..0xdc00).contains(&first) {
            return char::from_u32(first).ok_or_else(|| self.error("lone surrogate"));
        }
        if !self.eat("\\u") {
            return Err(self.error("lone surrogate"));
        }
        let second = self.hex4()?;
        if !(0xdc00..0xe000).contains(&second) {
            return Err(self.error("lone surrogate"));
        }
        let code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
        char::from_u32(code).ok_or_else(|| self.error("lone surrogate"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .filter(|digits| digits.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.at += 4;
        Ok(digits.iter().fold(0, |code, &digit| {
            code * 16 + (digit as char).to_digit(16).unwrap_or(0)
        }))
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`: an integer without a fraction or an
    /// exponent, else a float.
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        self.eat("-");
        let digits = |parser: &mut Self| {
            let from = parser.at;
            while parser.bytes.get(parser.at).is_some_and(u8::is_ascii_digit) {
                parser.at += 1;
            }
            parser.at - from
        };
        if !self.eat("0") && digits(self) == 0 {
            return Err(self.error("expected a digit"));
        }
        let mut float = false;
        if self.eat(".") {
            float = true;
            if digits(self) == 0 {
                return Err(self.error("expected a digit after '.'"));
            }
        }
        if self.eat("e") || self.eat("E") {
            float = true;
            if !self.eat("-") {
                self.eat("+");
            }
            if digits(self) == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let text = &self.text[start..self.at];
        if float {
            // Overflow gives ±inf, as Python's float() does.
            text.parse()
                .map(Value::Float)
                .map_err(|_| self.error("invalid number"))
        } else {
            text.parse()
                .map(Value::Int)
                .map_err(|_| self.error("integer does not fit in 64 bits"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_json_dumps_writes() {
        let line = r#"{"a": [1, -2.5, 1e-05, NaN, Infinity, -Infinity], "b": "\u00e9\ud83d\ude00\n\"\\", "c": {"d": null, "e": true, "f": false}, "g": 0}"#;
        let value = parse(line).unwrap();
        let object = value.as_object().unwrap();
        let keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "c", "g"]);
        let a = object.get("a").unwrap().as_list().unwrap();
        assert_eq!(
            a[..3],
            [Value::Int(1), Value::Float(-2.5), Value::Float(1e-5)]
        );
        assert!(matches!(a[3], Value::Float(f) if f.is_nan()));
        assert_eq!(
            a[4..],
            [Value::Float(f64::INFINITY), Value::Float(f64::NEG_INFINITY)]
        );
        assert_eq!(object.get("b").unwrap().as_str(), Some("é😀\n\"\\"));
        assert_eq!(object.get("g"), Some(&Value::Int(0)));
        let mut written = Vec::new();
        crate::record::pyjson::write_value(&mut written, &value);
        assert_eq!(String::from_utf8(written).unwrap(), line);
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_takes_the_last_value() {
        let value = parse(r#" {"b": 1, "a": 2, "b": 3} "#).unwrap();
        let entries: Vec<_> = value.as_object().unwrap().iter().collect();
        assert_eq!(entries, [("b", &Value::Int(3)), ("a", &Value::Int(2))]);
    }

    #[test]
    fn what_json_loads_refuses_is_refused_with_its_column() {
        for (line, problem, column) in [
            ("", "expected a value", 1),
            ("{oops", "expected a key in double quotes", 2),
            ("{\"a\" 1}", "expected ':'", 6),
            ("[1 2]", "expected ',' or ']'", 4),
            ("{\"a\": 1,}", "expected a key in double quotes", 9),
            ("\"abc", "unterminated string", 5),
            ("\"a\tb\"", "control character in a string", 3),
            ("\"\\x\"", "invalid escape", 3),
            ("\"\\ud800\"", "lone surrogate", 8),
            ("\"\\u12\"", "invalid \\u escape", 4),
            ("01", "extra data after the value", 2),
            ("-", "expected a digit", 2),
            ("1.", "expected a digit after '.'", 3),
            ("1e+", "expected a digit in the exponent", 4),
            ("-NaN", "expected a digit", 2),
            (
                "99999999999999999999",
                "integer does not fit in 64 bits",
                21,
            ),
            ("{} {}", "extra data after the value", 4),
        ] {
            assert_eq!(parse(line), Err(JsonError { problem, column }), "{line}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let line = "[".repeat(100_000);
        assert_eq!(parse(&line).unwrap_err().problem, "nested too deeply");
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&fine).is_ok());
    }
}
