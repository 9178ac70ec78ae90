use super::*;

fn raw(text: &str) -> Value {
    read_raw(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn problem(text: &str) -> Problem {
    read_raw(text).expect_err(text).problem
}

/// A layout for tests: `F` a float column, `I` an integer column, `L` a list, `O` an object.
#[derive(Debug)]
enum Test {
    F,
    I,
    L(Box<Test>),
    O(Vec<(String, Test)>),
}

impl Layout for Test {
    fn keys(&self) -> Option<&[(String, Self)]> {
        match self {
            Test::O(keys) => Some(keys),
            _ => None,
        }
    }
    fn position(&self, key: &str) -> Option<usize> {
        self.keys()?.iter().position(|(name, _)| name == key)
    }
    fn items(&self) -> Option<&Self> {
        match self {
            Test::L(items) => Some(items),
            _ => None,
        }
    }
    fn floats(&self) -> Option<bool> {
        match self {
            Test::F => Some(true),
            Test::I => Some(false),
            _ => None,
        }
    }
}

#[test]
fn objects_keep_key_order_and_a_repeated_key_is_refused() {
    let value = raw(r#"{"b": 1, "a": [1.5, null, "x", true, false, {}]}"#);
    let keys: Vec<&str> = value.as_object().unwrap().iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(
        problem(r#"{"b": 1, "a": 2, "b": true}"#),
        Problem::DuplicateKey("b".into())
    );
    assert_eq!(
        problem(r#"{"o": {"k": 1, "k": 2}}"#),
        Problem::DuplicateKey("k".into())
    );
}

#[test]
fn numbers_are_integers_when_they_fit_64_bits_else_floats() {
    assert_eq!(raw("-0"), Value::Int(0));
    assert_eq!(raw("21"), Value::Int(21));
    assert_eq!(raw("9223372036854775807"), Value::Int(i64::MAX));
    assert_eq!(raw("-9223372036854775808"), Value::Int(i64::MIN));
    assert_eq!(
        raw("9223372036854775808"),
        Value::Float(9.223372036854776e18)
    );
    assert_eq!(
        raw("18446744073709551615"),
        Value::Float(1.8446744073709552e19)
    );
    assert_eq!(
        raw("-9223372036854775809"),
        Value::Float(-9.223372036854776e18)
    );
    assert_eq!(
        raw(&format!("1{}", "0".repeat(400))),
        Value::Float(f64::INFINITY)
    );
    assert_eq!(raw("1.0"), Value::Float(1.0));
    assert_eq!(raw("1E2"), Value::Float(100.0));
    assert_eq!(raw("-0.0e0"), Value::Float(-0.0));
    assert!(matches!(raw("-0.0"), Value::Float(z) if z == 0.0 && z.is_sign_negative()));
    assert_eq!(raw("1e-400"), Value::Float(0.0));
    assert_eq!(raw("1e-99999999999999999999"), Value::Float(0.0));
}

#[test]
fn nan_and_infinities_are_read_as_rapidjson_spells_them() {
    for (text, expected) in [
        ("Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
    ] {
        assert_eq!(raw(text), Value::Float(expected), "{text}");
    }
    for text in ["NaN", "-NaN"] {
        assert!(matches!(raw(text), Value::Float(x) if x.is_nan()), "{text}");
    }
    for text in ["nan", "infinity", "Infinit", "+1", "NaNx", "-", ".5", "01"] {
        assert!(read_raw(text).is_err(), "{text}");
    }
}

#[test]
fn exponents_are_refused_where_rapidjson_refuses_them() {
    // RapidJSON allows an exponent up to 308 plus the fraction digits it counted.
    assert_eq!(raw("1e308"), Value::Float(1e308));
    assert_eq!(raw("2e308"), Value::Float(f64::INFINITY));
    assert_eq!(raw("1.5e309"), Value::Float(f64::INFINITY));
    assert_eq!(raw("1000e306"), Value::Float(f64::INFINITY));
    assert_eq!(raw("0.00001e310"), Value::Float(1e305));
    assert_eq!(
        raw("0.0000000000000000000000000001e330"),
        Value::Float(1e302)
    );
    for text in ["1e309", "1e400", "-1e400", "1.5e310"] {
        assert_eq!(problem(text), Problem::NumberTooBig, "{text}");
    }
    assert_eq!(problem("1."), Problem::MissingFraction);
    assert_eq!(problem("1e"), Problem::MissingExponent);
    assert_eq!(problem("1e+"), Problem::MissingExponent);
}

#[test]
fn a_layout_reads_numbers_as_their_column_and_objects_with_the_table_keys() {
    let layout = Test::O(vec![
        ("f".into(), Test::F),
        ("i".into(), Test::I),
        ("l".into(), Test::L(Box::new(Test::F))),
        ("missing".into(), Test::I),
    ]);
    let value = read_with(
        r#"{"l": [-0, 3, 9007199254740993, NaN], "i": -0, "extra": -0, "f": -0}"#,
        &layout,
    )
    .unwrap();
    let object = value.as_object().unwrap();
    let keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["f", "i", "l", "missing", "extra"]);
    assert!(matches!(object.get("f"), Some(Value::Float(z)) if z.is_sign_negative()));
    assert_eq!(object.get("i"), Some(&Value::Int(0)));
    assert_eq!(object.get("missing"), Some(&Value::Null));
    assert_eq!(object.get("extra"), Some(&Value::Int(0)));
    let Some(Value::List(items)) = object.get("l") else {
        panic!("{object:?}")
    };
    assert!(matches!(items[0], Value::Float(z) if z == 0.0 && z.is_sign_negative()));
    assert_eq!(items[1], Value::Float(3.0));
    assert_eq!(items[2], Value::Float(9007199254740992.0));
    assert!(matches!(items[3], Value::Float(x) if x.is_nan()));
    // A value of another kind than its column is read as it is written.
    let value = read_with(r#"{"f": "text", "l": {"k": 1}, "i": [2]}"#, &layout).unwrap();
    let object = value.as_object().unwrap();
    assert_eq!(object.get("f"), Some(&Value::Str("text".into())));
    assert_eq!(object.get("i"), Some(&Value::List(vec![Value::Int(2)])));
    let error = read_with(r#"{"i": 1, "i": 2}"#, &layout).unwrap_err();
    assert_eq!(error.problem, Problem::DuplicateKey("i".into()));
}

#[test]
fn documents_follow_one_another_over_any_whitespace() {
    let text = "{\"a\": 1}\r{\"a\": 2}\r\n\r\n {\"a\": 3}{\"a\": 4}\n\t[5]\n";
    let read: Vec<_> = documents(text).map(Result::unwrap).collect();
    let ranges: Vec<&str> = read.iter().map(|(r, _)| &text[r.clone()]).collect();
    assert_eq!(
        ranges,
        [
            "{\"a\": 1}",
            "{\"a\": 2}",
            "{\"a\": 3}",
            "{\"a\": 4}",
            "[5]"
        ]
    );
    assert_eq!(documents(" \r\n\t").count(), 0);
    // Only RapidJSON's four whitespace characters separate values.
    let mut after_form_feed = documents("{}\n\u{c}\n{}");
    assert!(after_form_feed.next().unwrap().is_ok());
    let error = after_form_feed.next().unwrap().unwrap_err();
    assert_eq!((error.offset, error.problem), (3, Problem::ExpectedValue));
    assert!(after_form_feed.next().is_none());
}

#[test]
fn strings_unescape_and_refuse_what_json_refuses() {
    assert_eq!(
        raw(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é""#),
        Value::Str("a\"\\/\u{8}\u{c}\n\r\té😀é".into())
    );
    assert_eq!(problem("\"a"), Problem::UnclosedString);
    assert_eq!(problem("\"a\nb\""), Problem::ControlCharacter);
    assert_eq!(problem(r#""\x""#), Problem::InvalidEscape);
    assert_eq!(problem(r#""\u12g4""#), Problem::InvalidEscape);
    assert_eq!(problem(r#""\ud83d""#), Problem::LoneSurrogate);
    assert_eq!(problem(r#""\ud83d\u0041""#), Problem::LoneSurrogate);
    assert_eq!(problem(r#""\ude00""#), Problem::LoneSurrogate);
}

#[test]
fn malformed_containers_and_deep_nesting_are_refused() {
    assert_eq!(problem("{\"a\": 1,}"), Problem::ExpectedKey);
    assert_eq!(problem("{\"a\" 1}"), Problem::ExpectedColon);
    assert_eq!(
        problem("{\"a\": 1 \"b\": 2}"),
        Problem::ExpectedCommaOrBrace
    );
    assert_eq!(problem("[1 2]"), Problem::ExpectedCommaOrBracket);
    assert_eq!(problem("[1,]"), Problem::ExpectedValue);
    assert_eq!(problem("nul"), Problem::ExpectedValue);
    assert_eq!(problem("{} x"), Problem::TrailingText);
    assert_eq!(problem(""), Problem::ExpectedValue);
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(read_raw(&deep(MAX_DEPTH)).is_ok());
    assert_eq!(problem(&deep(MAX_DEPTH + 1)), Problem::TooDeep);
    assert_eq!(problem(&"[".repeat(100_000)), Problem::TooDeep);
}
