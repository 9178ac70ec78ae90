//! The artifacts directory as a Hugging Face dataset: loaded by the real `datasets`, Polars and
//! DuckDB, every row equal to its JSONL record; `--sources` subsets; `--reference-only`.

use std::path::Path;

use crate::support::*;

/// Python's value of a row as the JSONL holds it: a datetime as its ISO text (a prefix of the
/// scripts below).
const PLAIN: &str = include_str!("support/rows.py");

/// Loads every config of the card with `datasets` (offline), and each Parquet file with Polars
/// and DuckDB; compares each row with its JSONL record (timestamps as their ISO text, which is
/// what the JSONL holds), keys in order. Prints `config rows` per config.
const LOAD_EVERYWHERE: &str = r#"
import json, sys
import duckdb, polars
from datasets import load_dataset

directory, jsonl = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in open(f"{directory}/{jsonl}", encoding="utf-8")]

configs = {}
for line in open(f"{directory}/README.md", encoding="utf-8"):
    if line.startswith("- config_name: "):
        name = line.split(": ", 1)[1].strip()
    elif line.strip().startswith("path: "):
        configs[name] = line.split(": ", 1)[1].strip()
for name, parquet in configs.items():
    expected = [r for r in records if r["dataset_source"] == name]
    rows = [plain(row) for row in load_dataset(directory, name, split="train")]
    if len(rows) != len(expected):
        sys.exit(f"{name}: {len(rows)} rows, {len(expected)} records")
    for row, record in zip(rows, expected):
        if list(row) != list(record) or row != record:
            sys.exit(f"{name}: row {row.get('conversation_id')} differs from its JSONL record")
    frame = polars.read_parquet(f"{directory}/{parquet}")
    if frame.height != len(expected):
        sys.exit(f"polars read {frame.height} rows of {parquet}")
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{directory}/{parquet}')").fetchall()[0][0]
    if count != len(expected):
        sys.exit(f"duckdb read {count} rows of {parquet}")
    print(name, len(rows))
"#;

fn load_everywhere(artifacts: &Path, jsonl: &str) -> String {
    let python = python_with(&["datasets", "polars", "duckdb"]);
    let cache = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(python)
        .args(["-c", &format!("{PLAIN}{LOAD_EVERYWHERE}")])
        .arg(artifacts)
        .arg(jsonl)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HOME", cache.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn manifest(artifacts: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(artifacts.join("manifest.json")).unwrap()).unwrap()
}

fn artifact_names(manifest: &serde_json::Value) -> Vec<String> {
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_version_loads_with_datasets_polars_and_duckdb_row_for_row() {
    let hub = golden_hub();
    for version in VERSIONS {
        let workspace = Workspace::new();
        workspace.generate_golden(&hub, version);
        let artifacts = workspace.artifacts(version);
        let loaded = load_everywhere(&artifacts, &format!("HealthChat-11K_v{version}.jsonl"));
        assert!(
            loaded.contains("lmsys ") && loaded.contains("wildchat "),
            "{loaded}"
        );

        let names = artifact_names(&manifest(&artifacts));
        for name in [
            format!("HealthChat-11K_v{version}_lmsys.parquet"),
            format!("HealthChat-11K_v{version}_wildchat.parquet"),
            "README.md".to_owned(),
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        let card = std::fs::read_to_string(artifacts.join("README.md")).unwrap();
        let licences = if version == "2.1.0" {
            "license:\n- cc-by-nc-sa-4.0\n- odc-by\n"
        } else {
            "license:\n- cc-by-nc-sa-4.0\ntags:"
        };
        assert!(card.contains(licences), "{card}");
        assert!(card.contains(&testhub::commit_of(LMSYS)));

        // verify checks the dataset's files too.
        assert_success(&workspace.run(&hub, None, &["verify", artifacts.to_str().unwrap()]));
    }
}

#[test]
fn verify_catches_a_changed_parquet_file() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    workspace.generate_golden(&hub, "2.1.0");
    let artifacts = workspace.artifacts("2.1.0");
    let parquet = artifacts.join("HealthChat-11K_v2.1.0_wildchat.parquet");
    let mut bytes = std::fs::read(&parquet).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&parquet, bytes).unwrap();
    let output = workspace.run(&hub, None, &["verify", artifacts.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("MISMATCH  HealthChat-11K_v2.1.0_wildchat.parquet")
    );
}

/// The CSV records of a file (header first), fields parsed.
fn csv_records(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn wildchat_alone_needs_no_token_never_asks_for_lmsys_and_is_named_as_a_subset() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        None,
        &["generate", "--version", "2.1.0", "--sources", "wildchat"],
    );
    assert_success(&output);
    assert!(
        hub.requests().iter().all(|r| !r.path.contains("lmsys")),
        "lmsys-chat-1m was never asked for"
    );
    let artifacts = workspace
        .dir
        .path()
        .join("HealthChat-11K_v2.1.0_wildchat_artifacts");
    assert_eq!(
        workspace.entries(),
        ["HealthChat-11K_v2.1.0_wildchat_artifacts"]
    );

    // Exactly the full set's lines and rows for those conversations, in the same order.
    let golden = fixtures().join("expected/v2.1.0");
    let full_jsonl = std::fs::read_to_string(golden.join("HealthChat-11K_v2.1.0.jsonl")).unwrap();
    let expected: Vec<&str> = full_jsonl
        .lines()
        .filter(|line| line.contains("\"dataset_source\": \"wildchat\""))
        .collect();
    let subset_jsonl =
        std::fs::read_to_string(artifacts.join("HealthChat-11K_v2.1.0_wildchat.jsonl")).unwrap();
    assert_eq!(subset_jsonl.lines().collect::<Vec<_>>(), expected);
    assert!(subset_jsonl.ends_with('\n'));
    let ids: Vec<String> = expected
        .iter()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["conversation_id"].as_str().unwrap().to_owned()
        })
        .collect();
    for review in ["full_review", "sycophancy_review"] {
        let full = csv_records(&golden.join(format!("HealthChat-11K_v2.1.0_{review}.csv")));
        let subset =
            csv_records(&artifacts.join(format!("HealthChat-11K_v2.1.0_wildchat_{review}.csv")));
        let mut wanted = vec![full[0].clone()];
        wanted.extend(
            full[1..]
                .iter()
                .filter(|row| ids.contains(&row[0]))
                .cloned(),
        );
        assert_eq!(subset, wanted, "{review}");
    }

    let manifest = manifest(&artifacts);
    assert_eq!(
        manifest["included_sources"],
        serde_json::json!(["wildchat"])
    );
    let sources = manifest["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["source"], "wildchat");
    let card = std::fs::read_to_string(artifacts.join("README.md")).unwrap();
    assert!(card.contains("license:\n- odc-by\ntags:"), "{card}");
    assert!(!card.contains("config_name: lmsys"), "{card}");
    assert!(card.contains("the wildchat subset only"), "{card}");
    let loaded = load_everywhere(&artifacts, "HealthChat-11K_v2.1.0_wildchat.jsonl");
    assert_eq!(loaded.trim(), format!("wildchat {}", expected.len()));
}

#[test]
fn without_lmsys_access_the_error_points_to_wildchat_alone() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, None, &["generate", "--version", "2.1.0"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--sources wildchat"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn reference_only_writes_the_reference_files_and_the_manifest() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0", "--reference-only"],
    ));
    let artifacts = workspace.artifacts("2.0.0");
    assert_matches_golden(&artifacts, "2.0.0");
    let mut files: Vec<String> = std::fs::read_dir(&artifacts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "HealthChat-11K_v2.0.0.jsonl",
            "HealthChat-11K_v2.0.0_full_review.csv",
            "HealthChat-11K_v2.0.0_sycophancy_review.csv",
            "manifest.json",
        ]
    );
}

#[test]
fn an_unknown_source_is_a_usage_error() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, None, &["generate", "--sources", "sharegpt"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("lmsys, wildchat"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn inputs_the_reference_repairs_do_not_break_the_dataset() {
    let tree = hub_tree_copy();
    let annotations = annotation_file(tree.path(), "2.1.0");
    let text = std::fs::read_to_string(&annotations).unwrap();
    let repairs = [
        serde_json::json!({"taxonomy_messages_classified": null}),
        serde_json::json!({"leading_question_classifications": [
            null,
            {"user_message_original_turn_index": -1, "classification": "Y"},
            {"user_message_original_turn_index": null, "classification": null},
        ]}),
        serde_json::json!({"taxonomy_messages_classified": [
            null, {"taxonomy_codes": null}, {"taxonomy_codes": ["B", null, "A"]},
        ]}),
    ];
    let mut lines = Vec::new();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for line in text.lines() {
        let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
        let source = record["dataset_source"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let count = seen.entry(source).or_default();
        if let Some(repair) = repairs.get(*count) {
            for (key, value) in repair.as_object().unwrap() {
                record[key] = value.clone();
            }
        }
        *count += 1;
        lines.push(record.to_string());
    }
    std::fs::write(&annotations, lines.join("\n") + "\n").unwrap();

    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0"],
    );
    assert_success(&output);
    assert!(stderr(&output).contains("warnings"), "{}", stderr(&output));
    let loaded = load_everywhere(&workspace.artifacts("2.1.0"), "HealthChat-11K_v2.1.0.jsonl");
    assert!(
        loaded.contains("lmsys ") && loaded.contains("wildchat "),
        "{loaded}"
    );
}

/// The reference's JSONL with floats planted in some records, derived independently: CPython's
/// `json.loads` and `json.dumps` (which writes `NaN`, `Infinity` and `-Infinity`) on the golden
/// file, planting as `plant_non_finite_floats` does. Arguments: the golden file, planted IDs.
const PLANT_IN_JSONL: &str = r#"
import json, sys
planted = set(sys.argv[2:])
VALUES = [float("nan"), float("inf"), float("-inf")]

def plant(value):
    if isinstance(value, dict):
        for position, (key, item) in enumerate(list(value.items())):
            if isinstance(item, float):
                value[key] = VALUES[position % 3]
            else:
                plant(item)
    elif isinstance(value, list):
        for item in value:
            plant(item)

for line in open(sys.argv[1], encoding="utf-8"):
    record = json.loads(line)
    if record["conversation_id"] in planted:
        plant(record["openai_moderation"])
        line = json.dumps(record) + "\n"
    sys.stdout.write(line)
"#;

/// Reads each source's Parquet file with pyarrow and with `datasets`: every row, written by
/// `json.dumps`, must be its JSONL line byte for byte, and NaN, Infinity and -Infinity must come
/// back as floats. Prints `source rows` per source.
const READ_BACK_FLOATS: &str = r#"
import datetime, json, math, sys
import pyarrow.parquet as pq
from datasets import load_dataset

directory, version = sys.argv[1], sys.argv[2]
lines = {}
for line in open(f"{directory}/HealthChat-11K_v{version}.jsonl", encoding="utf-8"):
    lines[json.loads(line)["conversation_id"]] = line.rstrip("\n")

def non_finite(value, found):
    if isinstance(value, float) and not math.isfinite(value):
        found.add("nan" if math.isnan(value) else "inf" if value > 0 else "-inf")
    elif isinstance(value, dict):
        for item in value.values():
            non_finite(item, found)
    elif isinstance(value, list):
        for item in value:
            non_finite(item, found)

for name in ("lmsys", "wildchat"):
    table = pq.read_table(f"{directory}/HealthChat-11K_v{version}_{name}.parquet").to_pylist()
    loaded = list(load_dataset(directory, name, split="train"))
    for reader, rows in (("pyarrow", table), ("datasets", loaded)):
        found = set()
        for row in rows:
            row = plain(row)
            if json.dumps(row) != lines[row["conversation_id"]]:
                sys.exit(f"{reader}: {name} row {row['conversation_id']} is not its JSONL line")
            non_finite(row, found)
        if found != {"nan", "inf", "-inf"}:
            sys.exit(f"{reader}: {name} read back {sorted(found)} of NaN, inf and -inf")
    print(name, len(table))
"#;

#[test]
fn non_finite_floats_keep_the_references_bytes_and_stay_floats_in_parquet() {
    let golden = fixtures().join("expected/v2.1.0");
    let golden_jsonl = golden.join("HealthChat-11K_v2.1.0.jsonl");
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&golden_jsonl)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let tree = hub_tree_copy();
    let mut planted = Vec::new();
    for (source, repo, id_column) in [
        ("lmsys", LMSYS, "conversation_id"),
        ("wildchat", WILDCHAT, "conversation_hash"),
    ] {
        let id = records
            .iter()
            .find(|r| {
                r["dataset_source"] == source
                    && r["openai_moderation"][0]["category_scores"].is_object()
            })
            .and_then(|r| r["conversation_id"].as_str())
            .expect("a record with moderation scores")
            .to_owned();
        let data = tree.path().join("datasets").join(repo).join("data");
        assert!(
            plant_non_finite_floats(&data, id_column, &id, "openai_moderation"),
            "{id} is in a shard of {repo}"
        );
        planted.push(id);
    }
    let expected = std::process::Command::new("python3")
        .args(["-c", PLANT_IN_JSONL])
        .arg(&golden_jsonl)
        .args(&planted)
        .output()
        .expect("python3 is installed (the CI script checks)");
    assert!(expected.status.success(), "{}", stderr(&expected));
    let expected = String::from_utf8(expected.stdout).unwrap();
    for spelling in ["NaN", "Infinity", "-Infinity"] {
        assert!(
            expected.contains(&format!(": {spelling}")),
            "{spelling} planted"
        );
    }

    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();
    let workspace = Workspace::new();
    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0"],
    ));
    let artifacts = workspace.artifacts("2.1.0");
    let jsonl = std::fs::read_to_string(artifacts.join("HealthChat-11K_v2.1.0.jsonl")).unwrap();
    assert!(
        jsonl == expected,
        "the JSONL is CPython's json.dumps of the planted records"
    );
    for review in ["full_review", "sycophancy_review"] {
        let name = format!("HealthChat-11K_v2.1.0_{review}.csv");
        assert_eq!(
            std::fs::read(artifacts.join(&name)).unwrap(),
            std::fs::read(golden.join(&name)).unwrap(),
            "{name}"
        );
    }

    let python = python_with(&["datasets", "pyarrow"]);
    let cache = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(python)
        .args(["-c", &format!("{PLAIN}{READ_BACK_FLOATS}")])
        .arg(&artifacts)
        .arg("2.1.0")
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HOME", cache.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let read = String::from_utf8_lossy(&output.stdout);
    assert!(
        read.contains("lmsys ") && read.contains("wildchat "),
        "{read}"
    );
}
