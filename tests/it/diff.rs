//! `healthchat diff A B`: two annotation versions from the local Hub (online, and offline from a
//! warm cache) without a shard byte; artifacts directories with planted changes, each
//! definition counted exactly; the `--csv` rows; the exit statuses; every error.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;
use serde_json::{Value, json};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json_of(output: &Output) -> Value {
    assert_success(output);
    serde_json::from_str(&stdout(output)).expect("--json prints JSON")
}

fn expected_jsonl(version: &str) -> PathBuf {
    fixtures()
        .join("expected")
        .join(format!("v{version}"))
        .join(format!("HealthChat-11K_v{version}.jsonl"))
}

/// The counts of one source, in the order of the JSON report.
fn counts(report: &Value, source: &str) -> Value {
    let s = &report["sources"][source];
    Value::Array(
        [
            "only_a",
            "only_b",
            "both",
            "specialty_changed",
            "codes_changed",
            "lqst_changed",
            "text_changed",
        ]
        .map(|name| s[name].clone())
        .into(),
    )
}

/// No request for a source dataset: a diff of versions reads annotation files only.
fn assert_no_source_request(hub: &TestHub) {
    let requests = hub.requests();
    assert!(!requests.is_empty());
    for request in requests {
        assert!(
            !request.path.contains(LMSYS) && !request.path.contains(WILDCHAT),
            "{}",
            request.path
        );
    }
}

#[test]
fn versions_compare_their_annotation_files_without_a_shard_byte() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let report = json_of(&workspace.run(&hub, None, &["diff", "1.0.0", "2.1.0", "--json", "-q"]));
    assert_eq!(report["identical"], false);
    assert_eq!(report["text_compared"], false);
    assert_eq!(report["a"]["version"], "1.0.0");
    assert_eq!(
        counts(&report, "lmsys"),
        json!([10, 11, 71, 66, 71, 43, null])
    );
    assert_eq!(
        counts(&report, "wildchat"),
        json!([8, 8, 60, 52, 60, 36, null])
    );
    let transitions = report["sources"]["wildchat"]["specialty_transitions"]
        .as_array()
        .unwrap();
    assert_eq!(
        transitions[0],
        json!({"before": "General Health", "after": "Gastroenterology", "conversations": 3})
    );
    let total: u64 = transitions
        .iter()
        .map(|t| t["conversations"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 52, "every specialty change is a transition");
    assert_eq!(
        report["sources"]["lmsys"]["codes_gained"][0],
        json!({"name": "A1.3", "count": 17})
    );
    assert_no_source_request(&hub);

    let output = workspace.run(&hub, None, &["diff", "1.0.0", "2.1.0"]);
    assert_success(&output);
    let text = stdout(&output);
    assert!(
        text.contains(
            "Different: 18 conversations only in A, 19 only in B, 131 of the 131 in both changed."
        ),
        "{text}"
    );
    assert!(
        text.contains("  specialty changed          66       52\n"),
        "{text}"
    );
    assert!(
        text.contains("  source text changed       n/a      n/a\n"),
        "{text}"
    );
    assert!(
        text.contains("       3  General Health → Gastroenterology\n"),
        "{text}"
    );
    assert!(
        text.lines().count() < 40,
        "a summary, not a listing:\n{text}"
    );

    let output = workspace.run(&hub, None, &["diff", "2.0.0", "v2.1.0"]);
    assert_success(&output);
    assert!(
        stdout(&output).contains(
            "Identical: the same 150 conversations (82 lmsys, 68 wildchat), every record equal \
             apart from dataset_version."
        ),
        "{}",
        stdout(&output)
    );
    assert_no_source_request(&hub);
}

#[test]
fn offline_diff_takes_the_annotation_files_from_the_cache() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let offline = |args: &[&str]| {
        workspace
            .command(&hub, None)
            .env("HF_HUB_OFFLINE", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let output = offline(&["diff", "2.0.0", "2.1.0"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("annotation version 2.0.0")
            && message.contains("versions cached: none")
            && message.contains("unset HF_HUB_OFFLINE"),
        "{message}"
    );
    assert!(
        hub.requests().is_empty(),
        "offline runs ask the Hub nothing"
    );

    let online = workspace.run(&hub, None, &["diff", "1.0.0", "2.1.0", "--json"]);
    let asked = hub.requests().len();
    let output = offline(&["diff", "1.0.0", "2.1.0", "--json"]);
    assert_eq!(json_of(&output), json_of(&online));
    assert_eq!(
        hub.requests().len(),
        asked,
        "offline runs ask the Hub nothing"
    );

    let output = offline(&["diff", "2.0.0", "2.1.0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("versions cached: 1.0.0, 2.1.0"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_revision_pins_the_annotation_files() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let commit = testhub::commit_of(ANNOTATIONS);
    let args = ["diff", "2.0.0", "2.1.0", "--annotations-revision", &commit];
    assert_success(&workspace.run(&hub, None, &args));
    assert!(
        hub.requests()
            .iter()
            .any(|r| r.path.contains(&format!("/resolve/{commit}/")))
    );
    let output = workspace.run(
        &hub,
        None,
        &["diff", "2.0.0", "2.1.0", "--annotations-revision", "v9"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("revision `v9`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn exit_code_tells_different_from_identical() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, None, &["diff", "1.0.0", "2.1.0", "--exit-code", "-q"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stdout(&output).contains("Different:"));
    assert!(stderr(&output).contains("1.0.0 and 2.1.0 differ (--exit-code)"));
    let output = workspace.run(&hub, None, &["diff", "2.0.0", "2.1.0", "--exit-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = workspace.run(&hub, None, &["diff", "1.0.0", "2.1.0"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "without --exit-code, a difference is a result"
    );
}

#[test]
fn a_version_against_artifacts_compares_the_annotation_keys() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let directory = expected_jsonl("2.1.0").parent().unwrap().to_owned();
    let report = json_of(&workspace.run(
        &hub,
        None,
        &["diff", "2.1.0", directory.to_str().unwrap(), "--json"],
    ));
    // The conversations the sources do not hold are only in the annotations.
    assert_eq!(report["sources"]["lmsys"]["only_a"], 2);
    assert_eq!(report["sources"]["wildchat"]["only_a"], 2);
    for source in ["lmsys", "wildchat"] {
        assert_eq!(report["sources"][source]["changed"], 0);
        assert_eq!(report["sources"][source]["text_changed"], Value::Null);
    }
    assert_eq!(
        report["b"]["file"],
        expected_jsonl("2.1.0").to_str().unwrap()
    );
}

/// The records of the golden 2.1.0 JSONL, in order.
fn golden_records() -> Vec<Value> {
    std::fs::read_to_string(expected_jsonl("2.1.0"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `records` as an artifacts directory under `root`.
fn artifacts_dir(root: &Path, name: &str, records: &[Value]) -> PathBuf {
    let directory = root.join(name).join("HealthChat-11K_v2.1.0_artifacts");
    std::fs::create_dir_all(&directory).unwrap();
    let lines: Vec<String> = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(
        directory.join("HealthChat-11K_v2.1.0.jsonl"),
        lines.concat(),
    )
    .unwrap();
    directory
}

/// Picks the first record of `source` not yet taken for which `fits` holds.
fn pick(
    records: &[Value],
    taken: &mut Vec<usize>,
    source: &str,
    fits: impl Fn(&Value) -> bool,
) -> usize {
    let index = (0..records.len())
        .find(|i| {
            !taken.contains(i) && records[*i]["dataset_source"] == source && fits(&records[*i])
        })
        .expect("a record to plant a change in");
    taken.push(index);
    index
}

fn first_codes(record: &Value) -> Vec<String> {
    let mut codes: Vec<String> = record["taxonomy_messages_classified"][0]["taxonomy_codes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    codes.sort();
    codes
}

#[test]
fn planted_changes_are_counted_by_their_definitions_and_listed_in_the_csv() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let a = golden_records();
    let mut b = a.clone();
    let mut taken = Vec::new();
    let id = |i: usize| a[i]["conversation_id"].as_str().unwrap().to_owned();
    let spec = |r: &Value| r["specialty_conversation_classification"].as_i64();

    // Changes, each of one definition.
    let removed = pick(&a, &mut taken, "lmsys", |_| true);
    let specialty = pick(&a, &mut taken, "lmsys", |r| spec(r) == Some(4));
    b[specialty]["specialty_conversation_classification"] = json!(2);
    let codes = pick(&a, &mut taken, "lmsys", |r| first_codes(r).len() >= 2);
    let kept_codes = first_codes(&a[codes])[1..].to_vec();
    b[codes]["taxonomy_messages_classified"][0]["taxonomy_codes"] = json!(kept_codes);
    let lqst = pick(&a, &mut taken, "lmsys", |r| {
        r["leading_question_classifications"].is_array()
    });
    b[lqst]["leading_question_classifications"]
        .as_array_mut()
        .unwrap()
        .push(json!({"user_message_original_turn_index": 0, "classification": "Y"}));
    let text = pick(&a, &mut taken, "wildchat", |r| {
        r["conversation"][0]["content"].is_string()
    });
    let edited = format!(
        "{} [edited upstream]",
        a[text]["conversation"][0]["content"].as_str().unwrap()
    );
    b[text]["conversation"][0]["content"] = json!(edited);
    let redacted = pick(&a, &mut taken, "wildchat", |r| r["redacted"].is_boolean());
    b[redacted]["redacted"] = json!(!a[redacted]["redacted"].as_bool().unwrap());
    let web_url = pick(&a, &mut taken, "wildchat", |_| true);
    b[web_url]["web_url"] = json!("https://example.invalid/moved");

    // Differences that none of the definitions counts.
    let same_specialty = pick(&a, &mut taken, "lmsys", |r| spec(r).is_some_and(|s| s > 0));
    b[same_specialty]["specialty_conversation_classification"] =
        json!(spec(&a[same_specialty]).unwrap() as f64);
    let same_codes = pick(&a, &mut taken, "lmsys", |r| first_codes(r).len() >= 2);
    let mut reordered: Vec<Value> = first_codes(&a[same_codes])
        .into_iter()
        .rev()
        .map(Value::from)
        .collect();
    reordered.push(Value::Null);
    b[same_codes]["taxonomy_messages_classified"][0]["taxonomy_codes"] = Value::Array(reordered);
    let same_lqst = pick(&a, &mut taken, "lmsys", |r| {
        r["leading_question_classifications"]
            .as_array()
            .is_some_and(|items| items.len() >= 2)
    });
    let items = b[same_lqst]["leading_question_classifications"]
        .as_array_mut()
        .unwrap();
    items.reverse();
    items.push(json!({"user_message_original_turn_index": 0, "classification": "N"}));
    items.push(Value::Null);
    let version_only = pick(&a, &mut taken, "wildchat", |_| true);
    b[version_only]["dataset_version"] = json!("9.9.9");
    // Later record wins: a stale record before the real one changes nothing.
    let stale_id = pick(&a, &mut taken, "lmsys", |_| true);
    let mut stale = a[stale_id].clone();
    stale["specialty_conversation_classification"] = json!(99);
    // Records that select nothing are not conversations.
    let mut sharegpt = a[web_url].clone();
    sharegpt["dataset_source"] = json!("sharegpt");
    let mut no_id = a[web_url].clone();
    no_id["conversation_id"] = json!("");

    let mut added = a[web_url].clone();
    added["conversation_id"] = json!("0000000000000000000000000000added");
    let mut b: Vec<Value> = b
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != removed)
        .map(|(_, r)| r)
        .collect();
    b.insert(0, stale);
    b.extend([added, sharegpt, no_id]);

    let root = workspace.dir.path();
    let dir_a = artifacts_dir(root, "a", &a);
    let dir_b = artifacts_dir(root, "b", &b);
    let csv_path = root.join("changes.csv");
    let report = json_of(&workspace.run(
        &hub,
        None,
        &[
            "diff",
            dir_a.to_str().unwrap(),
            dir_b.to_str().unwrap(),
            "--json",
            "--csv",
            csv_path.to_str().unwrap(),
        ],
    ));
    assert_eq!(report["identical"], false);
    assert_eq!(counts(&report, "lmsys"), json!([1, 0, 79, 1, 1, 1, 0]));
    assert_eq!(counts(&report, "wildchat"), json!([0, 1, 66, 0, 0, 0, 2]));
    // Every record that differs in any way but the version: the planted changes and the
    // differences no definition counts.
    assert_eq!(report["sources"]["lmsys"]["changed"], 5);
    assert_eq!(report["sources"]["wildchat"]["changed"], 3);
    assert_eq!(
        report["sources"]["lmsys"]["specialty_transitions"],
        json!([{"before": "Cardiology", "after": "Mental Health", "conversations": 1}])
    );
    let dropped = first_codes(&a[codes])[0].clone();
    assert_eq!(
        report["sources"]["lmsys"]["codes_lost"],
        json!([{"name": dropped, "count": 1}])
    );
    assert_eq!(report["sources"]["lmsys"]["codes_gained"], json!([]));

    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<&str> = reader.headers().unwrap().iter().collect();
    assert_eq!(
        header.join(","),
        "conversation_id,source,field,key,user_message,turn_index,before,after"
    );
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let row = |id: String, source: &str, field: &str, rest: [&str; 5]| {
        let mut row = vec![id, source.to_owned(), field.to_owned()];
        row.extend(rest.map(str::to_owned));
        row
    };
    let mut lqst_before: Vec<String> = a[lqst]["leading_question_classifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["user_message_original_turn_index"] == 0 && i["classification"] != "N")
        .map(|i| i["classification"].as_str().unwrap().to_owned())
        .collect();
    lqst_before.sort();
    let mut lqst_after = lqst_before.clone();
    lqst_after.push("Y".to_owned());
    lqst_after.sort();
    let original_text = a[text]["conversation"][0]["content"].as_str().unwrap();
    let redacted_before = a[redacted]["redacted"].as_bool().unwrap();
    // Rows follow A's order of conversations (then B's, for those added); sorted here.
    rows.sort();
    let mut expected = vec![
        row(id(removed), "lmsys", "removed", ["", "", "", "", ""]),
        row(
            id(specialty),
            "lmsys",
            "specialty",
            ["", "", "", "Cardiology", "Mental Health"],
        ),
        row(
            id(codes),
            "lmsys",
            "taxonomy_codes",
            [
                "",
                "0",
                "0",
                &first_codes(&a[codes]).join("; "),
                &kept_codes.join("; "),
            ],
        ),
        row(
            id(lqst),
            "lmsys",
            "lqst",
            ["", "", "0", &lqst_before.join("; "), &lqst_after.join("; ")],
        ),
        row(
            id(text),
            "wildchat",
            "text",
            ["conversation", "", "0", original_text, &edited],
        ),
        row(
            id(redacted),
            "wildchat",
            "text",
            [
                "redacted",
                "",
                "",
                &redacted_before.to_string(),
                &(!redacted_before).to_string(),
            ],
        ),
        row(
            "0000000000000000000000000000added".to_owned(),
            "wildchat",
            "added",
            ["", "", "", "", ""],
        ),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    // The codes' message is the first user turn.
    assert_eq!(a[codes]["conversation"][0]["role"], "user");

    // Another version's artifacts with the same records (keys in another order here): identical.
    let golden = expected_jsonl("2.0.0");
    let args = ["diff", golden.to_str().unwrap(), dir_a.to_str().unwrap()];
    let report = json_of(&workspace.run(&hub, None, &[&args[..], &["--json"]].concat()));
    assert_eq!(report["identical"], true);
    assert_eq!(report["sources"]["wildchat"]["text_changed"], 0);
    let output = workspace.run(&hub, None, &[&args[..], &["--exit-code"]].concat());
    assert_success(&output);
    assert!(
        stdout(&output).contains("Identical: the same 146 conversations (80 lmsys, 66 wildchat)")
    );
    assert!(hub.requests().is_empty(), "directories need no Hub");
}

#[test]
fn every_error_says_what_failed_and_what_to_do() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let root = workspace.dir.path();
    let failing = |args: &[&str], expected: &[&str]| {
        let output = workspace.run(&hub, None, args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        for text in expected {
            assert!(message.contains(text), "{args:?}: {message}");
        }
        assert!(output.stdout.is_empty(), "{args:?}");
    };
    let good = expected_jsonl("2.1.0");
    let good = good.to_str().unwrap();

    failing(
        &["diff", "2.1", good],
        &[
            "`2.1` is neither an existing file or directory nor an annotation version",
            "Next:",
        ],
    );

    let empty = root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    failing(
        &["diff", empty.to_str().unwrap(), good],
        &["holds no HealthChat-11K JSONL file"],
    );

    let broken = root.join("broken.jsonl");
    let mut text = std::fs::read_to_string(good).unwrap();
    text.push_str("{\"conversation_id\": \"x\", oops}\n");
    std::fs::write(&broken, text).unwrap();
    failing(
        &["diff", good, broken.to_str().unwrap()],
        &["line 147 of", "broken.jsonl is not valid JSON"],
    );

    let other = root.join("other.jsonl");
    std::fs::write(&other, "{\"id\": 1}\n").unwrap();
    failing(
        &["diff", other.to_str().unwrap(), good],
        &["is not a HealthChat-11K JSONL file"],
    );

    let csv = root.join("no/such/dir/changes.csv");
    failing(
        &["diff", good, good, "--csv", csv.to_str().unwrap()],
        &["could not write the changes to", "--csv"],
    );
    assert!(hub.requests().is_empty(), "no side is a version");
    failing(
        &["diff", "9.9.9", "2.1.0"],
        &[
            "annotation version 9.9.9 does not exist",
            "available versions: 1.0.0, 2.0.0, 2.1.0",
        ],
    );

    let output = workspace.run(&hub, None, &["diff", "2.1.0"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
}
