//! JSON text as the reference reads an annotation file (FORMAT.md §2): pyarrow's JSON reader,
//! which is RapidJSON with `NaN`/`Inf`/`Infinity` allowed and numbers kept as text until the
//! column's type is known. No crate reads that dialect (serde_json refuses `NaN` and reads `-0`
//! as a float), so this module owns it.

use std::ops::Range;

use thiserror::Error;

use super::{Object, Value};

/// Deeper nesting is refused rather than read with a deeper stack; serde_json's limit too.
const MAX_DEPTH: usize = 128;

#[derive(Debug, Error)]
#[error("{problem}")]
pub struct JsonError {
    /// Where in the text the value being read began, in bytes.
    pub start: usize,
    /// Where in the text the problem was found, in bytes.
    pub offset: usize,
    pub problem: Problem,
}

#[derive(Debug, Error, PartialEq)]
pub enum Problem {
    #[error("a JSON value was expected")]
    ExpectedValue,
    #[error("an object key (a string in double quotes) was expected")]
    ExpectedKey,
    #[error("`:` was expected after an object key")]
    ExpectedColon,
    #[error("`,` or `}}` was expected after an object member")]
    ExpectedCommaOrBrace,
    #[error("`,` or `]` was expected after an array item")]
    ExpectedCommaOrBracket,
    #[error("a string is not closed")]
    UnclosedString,
    #[error("a string holds a control character that JSON requires escaped")]
    ControlCharacter,
    #[error("a string holds an invalid escape sequence")]
    InvalidEscape,
    #[error("a `\\u` escape is half of a UTF-16 surrogate pair")]
    LoneSurrogate,
    #[error("a number has no digit after its decimal point")]
    MissingFraction,
    #[error("a number has no digit in its exponent")]
    MissingExponent,
    #[error("a number is too big to be stored in a double (the reference refuses it too)")]
    NumberTooBig,
    #[error("the key `{0}` appears twice in one object (the reference's reader refuses that too)")]
    DuplicateKey(String),
    #[error("values are nested more than {MAX_DEPTH} deep")]
    TooDeep,
    #[error("text follows the JSON value")]
    TrailingText,
}

/// What a table's column types say of a value about to be read: an object gets the table's keys
/// in the table's order (a key it lacks is `null`), and a number is read as its column's type,
/// from its text (`-0` in a float column is `-0.0`). FORMAT.md §2.
pub trait Layout: Sized {
    /// For an object column: its keys in order, each with its own layout.
    fn keys(&self) -> Option<&[(String, Self)]>;
    /// For an object column: the position of `key` in [`Layout::keys`].
    fn position(&self, key: &str) -> Option<usize>;
    /// For a list column: the layout of its items.
    fn items(&self) -> Option<&Self>;
    /// For a number column: whether it holds floats.
    fn floats(&self) -> Option<bool>;
}

/// No layout: values as they are written, an integer that fits 64 bits being an integer. It has
/// no values; it only names the type of an absent layout.
enum Raw {}

impl Layout for Raw {
    fn keys(&self) -> Option<&[(String, Self)]> {
        match *self {}
    }
    fn position(&self, _: &str) -> Option<usize> {
        match *self {}
    }
    fn items(&self) -> Option<&Self> {
        match *self {}
    }
    fn floats(&self) -> Option<bool> {
        match *self {}
    }
}

/// The values of a text one after another, with the byte range of each: whitespace (space, tab,
/// `\n`, `\r`) or nothing between them, as the reference's reader takes a JSONL file, so CR-only
/// line ends and blank lines are fine. Stops after the first error.
pub fn documents(text: &str) -> Documents<'_> {
    Documents {
        reader: Reader::new(text),
    }
}

pub struct Documents<'a> {
    reader: Reader<'a>,
}

impl Iterator for Documents<'_> {
    type Item = Result<(Range<usize>, Value), JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = &mut self.reader;
        reader.skip_whitespace();
        if reader.pos >= reader.bytes.len() {
            return None;
        }
        reader.start = reader.pos;
        let value = reader.value(None::<&Raw>, 0);
        if value.is_err() {
            reader.pos = reader.bytes.len();
        }
        Some(value.map(|value| (reader.start..reader.pos, value)))
    }
}

/// One JSON value (surrounded by whitespace at most), read with `layout`.
pub fn read_with<L: Layout>(text: &str, layout: &L) -> Result<Value, JsonError> {
    read(text, Some(layout))
}

/// One JSON value (surrounded by whitespace at most), as it is written.
#[cfg(test)]
pub fn read_raw(text: &str) -> Result<Value, JsonError> {
    read(text, None::<&Raw>)
}

fn read<L: Layout>(text: &str, layout: Option<&L>) -> Result<Value, JsonError> {
    let mut reader = Reader::new(text);
    reader.skip_whitespace();
    reader.start = reader.pos;
    let value = reader.value(layout, 0)?;
    reader.skip_whitespace();
    if reader.pos < reader.bytes.len() {
        return Err(reader.error(Problem::TrailingText));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Where the value being read began.
    start: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            start: 0,
        }
    }

    fn error(&self, problem: Problem) -> JsonError {
        JsonError {
            start: self.start,
            offset: self.pos,
            problem,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    fn eat_digit(&mut self) -> Option<u8> {
        let digit = self.peek().filter(u8::is_ascii_digit)?;
        self.pos += 1;
        Some(digit - b'0')
    }

    fn expect_word(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error(Problem::ExpectedValue))
        }
    }

    /// RapidJSON's whitespace: no other character separates values.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value<L: Layout>(&mut self, layout: Option<&L>, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') | Some(b'[') if depth >= MAX_DEPTH => Err(self.error(Problem::TooDeep)),
            Some(b'{') => self.object(layout, depth + 1),
            Some(b'[') => self.list(layout.and_then(L::items), depth + 1),
            Some(b'"') => self.string().map(Value::Str),
            Some(b'n') => self.expect_word(b"null").map(|()| Value::Null),
            Some(b't') => self.expect_word(b"true").map(|()| Value::Bool(true)),
            Some(b'f') => self.expect_word(b"false").map(|()| Value::Bool(false)),
            _ => self.number(layout.and_then(L::floats)),
        }
    }

    fn object<L: Layout>(&mut self, layout: Option<&L>, depth: usize) -> Result<Value, JsonError> {
        let start = self.pos;
        self.pos += 1;
        let keys = layout.and_then(|layout| Some((layout, layout.keys()?)));
        let mut slots: Vec<Option<Value>> = match keys {
            Some((_, keys)) => std::iter::repeat_with(|| None).take(keys.len()).collect(),
            None => Vec::new(),
        };
        // Keys the layout does not know (all of them without one), in their order.
        let mut others = Object::default();
        self.skip_whitespace();
        if !self.eat(b'}') {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.error(Problem::ExpectedKey));
                }
                let key = self.string()?;
                self.skip_whitespace();
                if !self.eat(b':') {
                    return Err(self.error(Problem::ExpectedColon));
                }
                self.skip_whitespace();
                match keys.and_then(|(layout, keys)| Some((layout.position(&key)?, keys))) {
                    Some((position, keys)) => {
                        let value = self.value(Some(&keys[position].1), depth)?;
                        if slots[position].replace(value).is_some() {
                            return Err(JsonError {
                                offset: start,
                                ..self.error(Problem::DuplicateKey(key))
                            });
                        }
                    }
                    None => {
                        let value = self.value(None::<&L>, depth)?;
                        others.push(key, value);
                    }
                }
                self.skip_whitespace();
                if self.eat(b',') {
                    self.skip_whitespace();
                } else if self.eat(b'}') {
                    break;
                } else {
                    return Err(self.error(Problem::ExpectedCommaOrBrace));
                }
            }
        }
        if let Some(key) = others.first_repeated_key() {
            return Err(JsonError {
                offset: start,
                ..self.error(Problem::DuplicateKey(key.to_owned()))
            });
        }
        let Some((_, keys)) = keys else {
            return Ok(Value::Object(others));
        };
        let mut object = Object::with_capacity(keys.len() + others.len());
        for ((name, _), slot) in keys.iter().zip(slots) {
            object.push(name.clone(), slot.unwrap_or(Value::Null));
        }
        for (key, value) in others {
            object.push(key, value);
        }
        Ok(Value::Object(object))
    }

    fn list<L: Layout>(&mut self, items: Option<&L>, depth: usize) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut list = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Ok(Value::List(list));
        }
        loop {
            list.push(self.value(items, depth)?);
            self.skip_whitespace();
            if self.eat(b',') {
                self.skip_whitespace();
            } else if self.eat(b']') {
                return Ok(Value::List(list));
            } else {
                return Err(self.error(Problem::ExpectedCommaOrBracket));
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            // Runs end only at ASCII bytes, so they are whole characters.
            while matches!(self.peek(), Some(byte) if byte >= 0x20 && byte != b'"' && byte != b'\\')
            {
                self.pos += 1;
            }
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self.escape()?;
                    out.push(escaped);
                }
                Some(_) => return Err(self.error(Problem::ControlCharacter)),
                None => return Err(self.error(Problem::UnclosedString)),
            }
        }
    }

    fn escape(&mut self) -> Result<char, JsonError> {
        let byte = self
            .peek()
            .ok_or_else(|| self.error(Problem::UnclosedString))?;
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xd800..=0xdbff => {
                        let low = if self.bytes[self.pos..].starts_with(b"\\u") {
                            self.pos += 2;
                            self.hex4()?
                        } else {
                            return Err(self.error(Problem::LoneSurrogate));
                        };
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(self.error(Problem::LoneSurrogate));
                        }
                        0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                    }
                    0xdc00..=0xdfff => return Err(self.error(Problem::LoneSurrogate)),
                    _ => unit,
                };
                char::from_u32(code).ok_or_else(|| self.error(Problem::LoneSurrogate))?
            }
            _ => return Err(self.error(Problem::InvalidEscape)),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
            .ok_or_else(|| self.error(Problem::InvalidEscape))?;
        self.pos += 4;
        Ok(digits)
    }

    /// A number, read as RapidJSON reads it (its bookkeeping of significant digits decides which
    /// exponents it refuses), then converted from its text: a float column's value, else an
    /// integer when it fits 64 bits, as pyarrow's column inference does.
    fn number(&mut self, floats: Option<bool>) -> Result<Value, JsonError> {
        let start = self.pos;
        let minus = self.eat(b'-');
        match self.peek() {
            Some(b'N') => {
                self.expect_word(b"NaN")?;
                return Ok(Value::Float(f64::NAN));
            }
            Some(b'I') => {
                self.expect_word(b"Inf")?;
                if self.peek() == Some(b'i') {
                    self.expect_word(b"inity")?;
                }
                return Ok(Value::Float(if minus {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }));
            }
            _ => {}
        }
        let Some(first) = self.eat_digit() else {
            return Err(self.error(Problem::ExpectedValue));
        };
        // RapidJSON's `i64`, `d`, `significandDigit` and `expFrac`.
        let mut exact = u64::from(first);
        let mut is_exact = true;
        let mut approximate = 0.0f64;
        let mut significant = 0u32;
        let mut fraction_digits = 0i64;
        if first != 0 {
            let (limit, last) = if minus {
                (922_337_203_685_477_580, 8)
            } else {
                (1_844_674_407_370_955_161, 5)
            };
            while let Some(digit) = self.eat_digit() {
                if is_exact && exact >= limit && (exact != limit || digit > last) {
                    is_exact = false;
                    approximate = exact as f64;
                }
                if is_exact {
                    exact = exact * 10 + u64::from(digit);
                    significant += 1;
                } else {
                    approximate = approximate * 10.0 + f64::from(digit);
                }
            }
        }
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            if self.peek().is_none_or(|byte| !byte.is_ascii_digit()) {
                return Err(self.error(Problem::MissingFraction));
            }
            if is_exact {
                while exact < 1 << 53 {
                    let Some(digit) = self.eat_digit() else { break };
                    exact = exact * 10 + u64::from(digit);
                    fraction_digits += 1;
                    significant += u32::from(exact != 0);
                }
                approximate = exact as f64;
            }
            while let Some(digit) = self.eat_digit() {
                if significant < 17 {
                    approximate = approximate * 10.0 + f64::from(digit);
                    fraction_digits += 1;
                    significant += u32::from(approximate > 0.0);
                }
            }
        }
        if self.eat(b'e') || self.eat(b'E') {
            integer = false;
            let negative = !self.eat(b'+') && self.eat(b'-');
            if self.peek().is_none_or(|byte| !byte.is_ascii_digit()) {
                return Err(self.error(Problem::MissingExponent));
            }
            let max_exponent = 308 + fraction_digits;
            let mut exponent = 0i64;
            while let Some(digit) = self.eat_digit() {
                exponent = exponent * 10 + i64::from(digit);
                if !negative && exponent > max_exponent {
                    return Err(JsonError {
                        offset: start,
                        ..self.error(Problem::NumberTooBig)
                    });
                }
                // A negative exponent is never refused; its size stops mattering long before.
                exponent = exponent.min(i64::from(i32::MAX));
            }
        }
        let text = &self.text[start..self.pos];
        let as_integer = if integer && floats != Some(true) {
            text.parse::<i64>().ok()
        } else {
            None
        };
        Ok(match as_integer {
            Some(integer) => Value::Int(integer),
            None => Value::Float(
                text.parse()
                    .expect("a JSON number is also a Rust float literal"),
            ),
        })
    }
}

#[cfg(test)]
mod tests;
