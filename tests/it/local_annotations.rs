//! `generate --annotations FILE`: a local annotation JSONL (a draft, or the fixtures' to try the
//! tool) built from with no Hub, no account and no second build; its version from `--version`
//! or its name; recorded in the manifest as a local file with its SHA-256.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

const FIXTURE_ANNOTATIONS: &str = "tests/fixtures/hub/datasets/yahskapar/HealthChat-11K/HealthChat-11K_master_annotations_v2.1.0.jsonl";

/// `healthchat ARGS` from the repository's root, offline, with an endpoint where nothing
/// listens, an empty `HF_HOME` and no token: what a person who just installed it has.
fn run_offline_from_root(hf_home: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(healthchat_binary());
    for (name, _) in std::env::vars() {
        if name.to_ascii_uppercase().starts_with("HF_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_ENDPOINT", unreachable_endpoint())
        .env("HF_HOME", hf_home)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn manifest(artifacts: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(artifacts.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn the_try_it_command_writes_the_reference_bytes_without_a_server() {
    let hf_home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output_dir = out.path().to_str().unwrap();
    // README's command, `-o` aside (the test writes nothing into the checkout).
    let output = run_offline_from_root(
        hf_home.path(),
        &[
            "generate",
            "--annotations",
            FIXTURE_ANNOTATIONS,
            "--source-dir",
            "tests/fixtures/hub/datasets",
            "-o",
            output_dir,
        ],
    );
    assert_success(&output);
    let artifacts = out.path().join("HealthChat-11K_v2.1.0_artifacts");
    assert_matches_golden(&artifacts, "2.1.0");

    let manifest = manifest(&artifacts);
    assert_eq!(manifest["annotation_version"], "2.1.0");
    let annotations = &manifest["repositories"][0];
    assert_eq!(annotations["id"], "yahskapar/HealthChat-11K");
    assert_eq!(annotations["revision"], "(local file)");
    assert_eq!(annotations["commit"], serde_json::Value::Null);
    assert_eq!(
        annotations["source_dir"],
        "tests/fixtures/hub/datasets/yahskapar/HealthChat-11K"
    );
    let file = &annotations["files"][0];
    let on_disk = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_ANNOTATIONS);
    assert_eq!(
        file["path"],
        "HealthChat-11K_master_annotations_v2.1.0.jsonl"
    );
    assert_eq!(file["sha256"], independent_sha256(&on_disk).as_str());
    assert_eq!(file["size"], std::fs::metadata(&on_disk).unwrap().len());
    assert_eq!(file["verified"], false);
    // Nothing was cached: the Hugging Face cache was never needed.
    assert!(!hf_home.path().join("hub").exists());
}

#[test]
fn a_draft_named_otherwise_takes_its_version_from_the_flag() {
    let hf_home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let draft = out.path().join("draft.jsonl");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_ANNOTATIONS),
        &draft,
    )
    .unwrap();
    let draft = draft.to_str().unwrap();
    let output_dir = out.path().to_str().unwrap();
    let source_dir = "tests/fixtures/hub/datasets";
    let without = run_offline_from_root(
        hf_home.path(),
        &[
            "generate",
            "--annotations",
            draft,
            "--source-dir",
            source_dir,
            "-o",
            output_dir,
        ],
    );
    assert_eq!(without.status.code(), Some(1));
    assert!(
        stderr(&without).contains(&format!(
            "error: the version of the annotation file {draft} is not known: its name is not \
             HealthChat-11K_master_annotations_v{{V}}.jsonl and no --version was given\n\
             Next: say which version it is with --version"
        )),
        "{}",
        stderr(&without)
    );

    let with = run_offline_from_root(
        hf_home.path(),
        &[
            "generate",
            "--annotations",
            draft,
            "--version",
            "2.1.0",
            "--source-dir",
            source_dir,
            "-o",
            output_dir,
        ],
    );
    assert_success(&with);
    let artifacts = out.path().join("HealthChat-11K_v2.1.0_artifacts");
    assert_matches_golden(&artifacts, "2.1.0");
    assert_eq!(
        manifest(&artifacts)["repositories"][0]["files"][0]["path"],
        "draft.jsonl"
    );
}

#[test]
fn annotations_and_annotations_revision_are_a_usage_error() {
    let hf_home = tempfile::tempdir().unwrap();
    let both = run_offline_from_root(
        hf_home.path(),
        &[
            "generate",
            "--annotations",
            FIXTURE_ANNOTATIONS,
            "--annotations-revision",
            "v2",
        ],
    );
    assert_eq!(both.status.code(), Some(2));
    let said = stderr(&both);
    assert!(
        said.contains("'--annotations <FILE>' cannot be used with '--annotations-revision <REV>'"),
        "{said}"
    );

    let missing = run_offline_from_root(
        hf_home.path(),
        &["generate", "--annotations", "no-such-file.jsonl"],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read no-such-file.jsonl"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_draft_that_does_not_parse_names_its_line() {
    let hf_home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let draft = out
        .path()
        .join("HealthChat-11K_master_annotations_v2.2.0.jsonl");
    let mut text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_ANNOTATIONS))
            .unwrap();
    text.push_str("{\"conversation_id\": \n");
    std::fs::write(&draft, text).unwrap();
    let output = run_offline_from_root(
        hf_home.path(),
        &[
            "generate",
            "--annotations",
            draft.to_str().unwrap(),
            "--source-dir",
            "tests/fixtures/hub/datasets",
            "-o",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(
        said.contains("HealthChat-11K_master_annotations_v2.2.0.jsonl cannot be used")
            && said.contains("starts on line 155 of the annotation file cannot be read as JSON"),
        "{said}"
    );
}
