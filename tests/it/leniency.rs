//! The annotation file read as leniently, and as strictly, as the reference reads it (FORMAT.md
//! §2): each case is planted in a copy of the golden Hub, run through the real binary, and
//! checked against what CPython's `datasets` and `json.dumps` make of the same file.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::*;
use tempfile::TempDir;

const VERSION: &str = "2.0.0";

/// Loads the annotation file as the reference does (`datasets`, a table), then checks every
/// record of the JSONL artifact: it is `json.dumps` output, each annotation key holds
/// `json.dumps` of the table's value, in the table's order, with `dataset_version` last; and
/// each full-review row's Specialty is the reference's lookup of that value. Prints the checked
/// `key: value` texts of the records named on the command line.
const CHECK: &str = r#"
import csv, json, logging, sys
import datasets
datasets.disable_progress_bars()
logging.disable(logging.WARNING)
annotations, jsonl, full_review, cache = sys.argv[1:5]
shown = set(sys.argv[5:])
SPECIALTY = {1: "General Health", 2: "Mental Health", 3: "Allergy and Immunology",
    4: "Cardiology", 5: "Dermatology", 6: "Endocrinology", 7: "Gastroenterology",
    8: "Hematology/Oncology", 9: "Infectious Disease", 10: "Nephrology", 11: "Neurology",
    12: "Obstetrics and Gynecology (OB/GYN)", 13: "Ophthalmology",
    14: "Fitness/Orthopedics/Sports Medicine", 15: "Otolaryngology (ENT)", 16: "Pediatrics",
    17: "Pulmonology", 18: "Rheumatology", 19: "Urology", 20: "Dentistry",
    21: "Diet and Nutrition", 22: "Not a Health Conversation"}
table = datasets.load_dataset("json", data_files=annotations, split="train", cache_dir=cache)
by_id = {}
for row in table:
    cid = row.get("conversation_id")
    if isinstance(cid, str) and cid and row.get("dataset_source") in ("lmsys", "wildchat"):
        by_id[cid] = row
records = 0
for line in open(jsonl, encoding="ascii"):
    line = line.rstrip("\n")
    record = json.loads(line)
    assert json.dumps(record) == line, line[:200]
    annotation = by_id[record["conversation_id"]]
    ours = {key: json.dumps(value) for key, value in record.items()}
    for key, value in annotation.items():
        assert ours[key] == json.dumps(value), (key, ours[key], json.dumps(value))
        if record["conversation_id"] in shown:
            print(json.dumps(key) + ": " + json.dumps(value))
    assert [k for k in record if k in annotation] == list(annotation), list(record)
    assert list(record)[-1] == "dataset_version"
    records += 1
rows = 0
with open(full_review, newline="", encoding="utf-8") as f:
    for row in list(csv.reader(f))[1:]:
        value = by_id[row[0]]["specialty_conversation_classification"]
        assert row[2] == SPECIALTY.get(value, "N/A"), (row[0], row[2], value)
        rows += 1
assert records > 0 and rows > 0
print(f"checked {records} records and {rows} rows")
"#;

/// Whether the reference's loader reads `path`: `ok` and its row count, or the error's type.
const LOADS: &str = r#"
import logging, sys
import datasets
datasets.disable_progress_bars()
logging.disable(logging.CRITICAL)
try:
    table = datasets.load_dataset("json", data_files=sys.argv[1], split="train", cache_dir=sys.argv[2])
    print("ok", len(table))
except Exception as error:
    print("fails", type(error).__name__)
"#;

fn annotation_path(tree: &Path) -> PathBuf {
    tree.join("datasets/yahskapar/HealthChat-11K").join(format!(
        "HealthChat-11K_master_annotations_v{VERSION}.jsonl"
    ))
}

fn golden_annotations() -> String {
    std::fs::read_to_string(annotation_path(&fixtures().join("hub"))).unwrap()
}

/// The conversations the golden run emits, in annotation-file order: the records worth changing.
fn emitted_lines(annotations: &str) -> Vec<usize> {
    let expected = fixtures().join(format!(
        "expected/v{VERSION}/HealthChat-11K_v{VERSION}.jsonl"
    ));
    let emitted: Vec<String> = std::fs::read_to_string(expected)
        .unwrap()
        .lines()
        .map(|line| id_of(line).to_owned())
        .collect();
    annotations
        .lines()
        .enumerate()
        .filter(|(_, line)| emitted.iter().any(|id| id == id_of(line)))
        .map(|(number, _)| number)
        .collect()
}

/// The `conversation_id` of a record as the fixtures write it.
fn id_of(line: &str) -> &str {
    let key = "\"conversation_id\": \"";
    line.find(key)
        .map(|at| &line[at + key.len()..])
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
}

/// A record with `fields` (JSON text, written as is) added before its closing brace.
fn with_fields(line: &str, fields: &str) -> String {
    let body = line
        .trim_end()
        .strip_suffix('}')
        .expect("a record ends in }");
    format!("{body}, {fields}}}")
}

/// A copy of the golden Hub whose annotation file is `annotations`, and a run of `generate`.
fn generate_with(annotations: &[u8]) -> (TempDir, Workspace, Output) {
    let tree = hub_tree_copy();
    std::fs::write(annotation_path(tree.path()), annotations).unwrap();
    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", VERSION],
    );
    (tree, workspace, output)
}

/// Runs [`CHECK`] over a run's artifacts; the checked fields of `shown` records.
fn check_against_datasets(tree: &Path, workspace: &Workspace, shown: &[&str]) -> String {
    let python = python_with(&["datasets"]);
    let cache = tempfile::tempdir().unwrap();
    let artifacts = workspace.artifacts(VERSION);
    let output = std::process::Command::new(python)
        .args(["-c", CHECK])
        .arg(annotation_path(tree))
        .arg(artifacts.join(format!("HealthChat-11K_v{VERSION}.jsonl")))
        .arg(artifacts.join(format!("HealthChat-11K_v{VERSION}_full_review.csv")))
        .arg(cache.path())
        .args(shown)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn reference_loads(path: &Path) -> String {
    let python = python_with(&["datasets"]);
    let cache = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(python)
        .args(["-c", LOADS])
        .arg(path)
        .arg(cache.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn numbers_the_reference_reads_are_written_as_it_writes_them() {
    let golden = golden_annotations();
    let emitted = emitted_lines(&golden);
    let (a, b, c) = (emitted[0], emitted[1], emitted[2]);
    let mut lines: Vec<String> = golden.lines().map(str::to_owned).collect();
    let specialty = "\"specialty_conversation_classification\": ";
    let at = lines[a].find(specialty).unwrap() + specialty.len();
    let digits = lines[a][at..].find([',', '}']).unwrap();
    lines[a].replace_range(at..at + digits, "-0");
    lines[a] = with_fields(
        &lines[a],
        r#""minus_zero": -0, "big": 9223372036854775808, "odd": NaN, "items": [{"x": -0}]"#,
    );
    lines[b] = with_fields(
        &lines[b],
        r#""minus_zero": 2.5, "big": 18446744073709551615, "odd": Infinity, "items": [{"x": 7}, {"x": -Infinity}]"#,
    );
    lines[c] = with_fields(&lines[c], r#""big": 7, "odd": -Infinity"#);
    let (tree, workspace, output) = generate_with(lines.join("\n").as_bytes());
    assert_success(&output);

    let ids = [id_of(&lines[a]), id_of(&lines[b]), id_of(&lines[c])];
    let fields = check_against_datasets(tree.path(), &workspace, &ids);
    for expected in [
        // `-0` among integers is the integer 0; among floats it is -0.0.
        r#""specialty_conversation_classification": 0"#,
        r#""minus_zero": -0.0"#,
        r#""minus_zero": 2.5"#,
        // An integer past 2^63 makes its column floats.
        r#""big": 9.223372036854776e+18"#,
        r#""big": 1.8446744073709552e+19"#,
        r#""big": 7.0"#,
        r#""odd": NaN"#,
        r#""odd": Infinity"#,
        r#""odd": -Infinity"#,
        r#""items": [{"x": -0.0}]"#,
        r#""items": [{"x": 7.0}, {"x": -Infinity}]"#,
    ] {
        assert!(
            fields.lines().any(|line| line == expected),
            "{expected} is not what datasets gives:\n{fields}"
        );
    }
}

#[test]
fn cr_only_line_ends_give_the_reference_bytes() {
    let golden = golden_annotations();
    let text = golden.replace('\n', "\r");
    let (tree, workspace, output) = generate_with(text.as_bytes());
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts(VERSION), VERSION);
    check_against_datasets(tree.path(), &workspace, &[]);
}

#[test]
fn a_file_without_records_is_an_error_as_it_is_for_the_reference() {
    for text in ["", "\n\n", " \r\n\t\r\n"] {
        let (tree, workspace, output) = generate_with(text.as_bytes());
        assert!(
            reference_loads(&annotation_path(tree.path())).starts_with("fails"),
            "{text:?}"
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let message = stderr(&output);
        assert!(
            message.contains(&format!(
                "HealthChat-11K_master_annotations_v{VERSION}.jsonl cannot be used"
            )),
            "{message}"
        );
        assert!(message.contains("holds no records"), "{message}");
        assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
    }
}

#[test]
fn a_key_twice_in_a_record_is_an_error_as_it_is_for_the_reference() {
    let golden = golden_annotations();
    let mut lines: Vec<String> = golden.lines().map(str::to_owned).collect();
    lines[3] = with_fields(&lines[3], r#""web_url": null"#);
    let (tree, workspace, output) = generate_with(lines.join("\n").as_bytes());
    assert!(reference_loads(&annotation_path(tree.path())).starts_with("fails"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("line 4"), "{message}");
    assert!(message.contains("`web_url` appears twice"), "{message}");
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}

/// Runs `generate` (with `extra` arguments) under CPython, which reports the binary's peak
/// resident set size (in KiB, as `getrusage` gives it on Linux) once it has exited: a measure
/// of this run alone.
fn generate_measured(
    annotations: &[u8],
    extra: &[&str],
) -> (TempDir, Workspace, Output, u64, Duration) {
    const MEASURE: &str = "import resource, subprocess, sys\n\
        code = subprocess.run(sys.argv[1:]).returncode\n\
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
        sys.exit(code)\n";
    let tree = hub_tree_copy();
    std::fs::write(annotation_path(tree.path()), annotations).unwrap();
    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();
    let workspace = Workspace::new();
    let started = Instant::now();
    let output = workspace
        .command_for("python3", &hub, Some(GRANTED_TOKEN))
        .args(["-c", MEASURE])
        .arg(healthchat_binary())
        .args(["generate", "--version", VERSION])
        .args(extra)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let message = stderr(&output);
    let peak_kib = message
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS reported:\n{message}"));
    (tree, workspace, output, peak_kib, elapsed)
}

/// The golden annotation file with `keys` more keys in the first record the run emits, and the
/// line of that record.
fn with_many_keys(keys: usize) -> (Vec<String>, usize) {
    let golden = golden_annotations();
    let emitted = emitted_lines(&golden);
    let mut lines: Vec<String> = golden.lines().map(str::to_owned).collect();
    let keys: Vec<String> = (0..keys)
        .map(|i| format!("\"extra_{i:05}\": {i}"))
        .collect();
    let many = emitted[0];
    lines[many] = with_fields(&lines[many], &keys.join(", "));
    (lines, many)
}

#[test]
fn ten_thousand_keys_in_a_record_take_seconds_and_little_memory() {
    let (lines, many) = with_many_keys(10_000);
    let (tree, workspace, output, peak_kib, elapsed) =
        generate_measured(lines.join("\n").as_bytes(), &[]);
    assert_success(&output);
    println!(
        "10,000 keys: {:.1} s, peak RSS {} MiB",
        elapsed.as_secs_f64(),
        peak_kib / 1024
    );
    assert!(peak_kib <= 256 * 1024, "peak RSS {peak_kib} KiB");
    let fields = check_against_datasets(tree.path(), &workspace, &[id_of(&lines[many])]);
    assert!(fields.lines().any(|line| line == r#""extra_09999": 9999"#));
    let jsonl = std::fs::read_to_string(
        workspace
            .artifacts(VERSION)
            .join(format!("HealthChat-11K_v{VERSION}.jsonl")),
    )
    .unwrap();
    // Every other record has the 10,000 keys too, as nulls.
    assert!(
        jsonl
            .lines()
            .all(|line| line.contains(r#""extra_05000": "#))
    );
    // And so do the Parquet files' rows: the column's one value is the record's.
    assert_eq!(
        parquet_values(&workspace.artifacts(VERSION), "extra_09999"),
        [9999]
    );
}

/// The values of the integer column `column`, nulls left out, over the directory's Parquet files.
fn parquet_values(dir: &Path, column: &str) -> Vec<i64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut values = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let file = std::fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let array = batch.column_by_name(column).unwrap();
            values.extend(array.as_primitive::<Int64Type>().iter().flatten());
        }
    }
    values
}

#[test]
fn more_keys_than_a_parquet_file_holds_stop_the_run_before_any_shard_byte() {
    let (lines, _) = with_many_keys(40_000);
    let annotations = lines.join("\n");
    let (_tree, workspace, output, _, _) = generate_measured(annotations.as_bytes(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("more than the 16384"), "{message}");
    assert!(message.contains("--reference-only"), "{message}");
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
    // Without the Parquet files, the reference's files are written, in little memory.
    let (_tree, workspace, output, peak_kib, _) =
        generate_measured(annotations.as_bytes(), &["--reference-only"]);
    assert_success(&output);
    println!(
        "40,000 keys, reference files: peak RSS {} MiB",
        peak_kib / 1024
    );
    assert!(peak_kib <= 256 * 1024, "peak RSS {peak_kib} KiB");
    assert!(workspace.artifacts(VERSION).join("manifest.json").is_file());
}
