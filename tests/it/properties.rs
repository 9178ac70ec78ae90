//! Property tests of the three formats whose bytes must match the reference: the JSON writer,
//! the CSV writer and the annotation parser. Each property runs `CASES` generated cases; the
//! JSON writer is also compared with Python's own `json.dumps` on `PYTHON_CASES` values.

use std::borrow::Cow;
use std::io::Write;
use std::process::{Command, Stdio};

use healthchat::annotations::AnnotationIndex;
use healthchat::artifacts::encode_csv;
use healthchat::record::pyjson::{write_float, write_value};
use healthchat::record::review::Row;
use healthchat::source::Source;
use healthchat::value::{Object, Value};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const CASES: u32 = 2000;
const PYTHON_CASES: usize = 3000;

/// Strings that favour what writers get wrong: quotes, separators, line ends, control
/// characters, non-ASCII and astral characters.
fn tricky_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_owned()),
        Just(",".to_owned()),
        Just("\r".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\\".to_owned()),
        Just(" ".to_owned()),
        Just("\u{7f}".to_owned()),
        Just("é".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("😀".to_owned()),
        "[\\x00-\\x1f]",
        "[a-zA-Z0-9 ]{0,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 1000.0),
        (-30i32..30).prop_map(|e| 10f64.powi(e)),
        Just(1e16),
        Just(9_999_999_999_999_998.0),
        Just(0.0001),
        Just(-0.0),
        Just(5e-324),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any_float().prop_map(Value::Float),
        tricky_string().prop_map(Value::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec((tricky_string(), inner), 0..6).prop_map(|entries| {
                let mut object = Object::default();
                for (key, value) in entries {
                    object.set(key, value);
                }
                Value::Object(object)
            }),
        ]
    })
}

/// The same value in serde_json's model, for parsing the writer's output back.
fn to_serde(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Value::from(*f),
        Value::Str(s) => serde_json::Value::from(s.as_str()),
        Value::Timestamp(_) => unreachable!("not generated"),
        Value::List(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
        Value::Object(object) => serde_json::Value::Object(
            object
                .iter()
                .map(|(k, v)| (k.to_owned(), to_serde(v)))
                .collect(),
        ),
    }
}

fn json(value: &Value) -> String {
    let mut out = Vec::new();
    write_value(&mut out, value);
    String::from_utf8(out).expect("the writer emits ASCII")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn json_is_ascii_and_parses_back_to_the_value(value in any_value()) {
        let text = json(&value);
        prop_assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)), "{text}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(parsed, to_serde(&value));
    }

    #[test]
    fn floats_are_the_shortest_text_that_reads_back_exactly(x in any_float()) {
        let mut out = Vec::new();
        write_float(&mut out, x);
        let text = String::from_utf8(out).unwrap();
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{}", text);
        prop_assert!(text.contains('.') || text.contains('e'), "{}", text);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, ""));
        let digits = mantissa
            .trim_start_matches('-')
            .replace('.', "")
            .trim_start_matches('0')
            .trim_end_matches('0')
            .len()
            .max(1);
        if digits > 1 {
            let shorter = format!("{:.*e}", digits - 2, x);
            prop_assert_ne!(shorter.parse::<f64>().unwrap().to_bits(), x.to_bits());
        }
        if !exponent.is_empty() {
            let magnitude = x.abs();
            prop_assert!(!(1e-4..1e16).contains(&magnitude), "{}", text);
            prop_assert!(exponent.starts_with('+') || exponent.starts_with('-'));
            prop_assert!(exponent.len() >= 3, "two exponent digits at least: {}", text);
        }
    }

    #[test]
    fn csv_rows_are_python_csv_writer_rows(fields in prop::array::uniform7(tricky_string())) {
        let row: Row = fields.clone().map(Cow::Owned);
        let encoded = encode_csv([&row]);
        let expected: Vec<String> = fields
            .iter()
            .map(|field| {
                if field.contains([',', '"', '\r', '\n']) {
                    format!("\"{}\"", field.replace('"', "\"\""))
                } else {
                    field.clone()
                }
            })
            .collect();
        prop_assert_eq!(
            String::from_utf8(encoded.clone()).unwrap(),
            format!("{}\r\n", expected.join(","))
        );
        // After a first row: a CSV reader drops a byte-order mark at the start of its input.
        let input = [b"first\r\n".as_slice(), &encoded].concat();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input.as_slice());
        let record = reader.records().next().unwrap().unwrap();
        let read: Vec<&str> = record.iter().collect();
        prop_assert_eq!(read, fields.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn annotation_parsing_never_panics(lines in prop::collection::vec(
        prop_oneof![
            tricky_string(),
            any_value().prop_map(|v| json(&v)),
            Just("{\"conversation_id\": \"x\", \"dataset_source\": \"lmsys\"}".to_owned()),
        ],
        0..12,
    )) {
        let _ = AnnotationIndex::from_jsonl(lines.join("\n"));
    }

    #[test]
    fn annotations_index_first_appearances_and_fill_every_key(
        records in prop::collection::vec(
            (
                "[a-d]{0,2}",
                prop_oneof![Just("lmsys"), Just("wildchat"), Just("other")],
                prop::collection::vec(("[p-s]", any_value()), 0..3),
            ),
            1..20,
        ),
        broken_line in any::<prop::sample::Index>(),
    ) {
        let mut lines = Vec::new();
        let mut keys: Vec<String> = vec!["conversation_id".into(), "dataset_source".into()];
        // An ID names one source's conversation; the same ID under two sources is another matter.
        let records: Vec<_> = records
            .into_iter()
            .map(|(id, source, extra)| {
                let id = if id.is_empty() { id } else { format!("{source}-{id}") };
                (id, source, extra)
            })
            .collect();
        for (id, source, extra) in &records {
            let mut object = Object::default();
            object.set("conversation_id".into(), Value::Str(id.clone()));
            object.set("dataset_source".into(), Value::Str((*source).to_owned()));
            for (key, value) in extra {
                object.set(key.clone(), value.clone());
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
            lines.push(json(&Value::Object(object)));
        }
        let index = AnnotationIndex::from_jsonl(lines.join("\n")).unwrap();
        prop_assert_eq!(index.records_read, records.len());
        for source in Source::ALL {
            let mut expected: Vec<&str> = Vec::new();
            for (id, name, _) in &records {
                if *name == source.name() && !id.is_empty() && !expected.contains(&id.as_str()) {
                    expected.push(id);
                }
            }
            prop_assert_eq!(index.ids_in_order(source).collect::<Vec<_>>(), expected);
        }
        for (id, _, _) in &records {
            if let Some(annotation) = index.get(id) {
                let record_keys: Vec<&str> = annotation.record.iter().map(|(k, _)| k).collect();
                prop_assert_eq!(record_keys, keys.iter().map(String::as_str).collect::<Vec<_>>());
            }
        }

        let at = broken_line.index(lines.len() + 1);
        lines.insert(at, "{\"conversation_id\": ".to_owned());
        let message = AnnotationIndex::from_jsonl(lines.join("\n")).unwrap_err().to_string();
        prop_assert!(message.contains(&format!("line {} ", at + 1)), "{}", message);
    }
}

/// The writer's bytes are a fixed point of CPython's `json.dumps(json.loads(...))` for generated
/// values: Python reads the exact value back (the round-trip property above) and writes the same
/// bytes, so the floats, escapes and separators are Python's.
#[test]
fn json_matches_python_json_dumps() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = any_value();
    let values: Vec<Value> = (0..PYTHON_CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let mut python = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfor line in sys.stdin:\n    print(json.dumps(json.loads(line)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is installed (the CI script checks)");
    let mut input = python.stdin.take().unwrap();
    let lines: Vec<String> = values.iter().map(json).collect();
    let writer = std::thread::spawn(move || {
        for line in lines {
            writeln!(input, "{line}").unwrap();
        }
    });
    let output = python.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());
    let expected = String::from_utf8(output.stdout).unwrap();
    let mut checked = 0;
    for (value, python_line) in values.iter().zip(expected.lines()) {
        assert_eq!(json(value), python_line);
        checked += 1;
    }
    assert_eq!(checked, PYTHON_CASES);
}

/// serde_json's default float parsing can be one unit in the last place off (it read `1e-24`
/// as 1.0000000000000001e-24); annotation values must come back as Python reads them.
#[test]
fn annotation_floats_are_read_exactly() {
    let index = AnnotationIndex::from_jsonl(
        "{\"conversation_id\": \"a\", \"dataset_source\": \"lmsys\", \"score\": 1e-24}",
    )
    .unwrap();
    let record = index.get("a").unwrap().record;
    assert_eq!(json(record.get("score").unwrap()), "1e-24");
}
