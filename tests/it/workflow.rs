//! What researchers, reviewers and CI pipelines do around `generate`: list versions, pin
//! revisions, read the JSON summary, fail on missing conversations, verify a directory, work
//! offline or from shards on disk, and set up completions.

use std::path::Path;

use crate::support::*;
use healthchat::digest::Sha256;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn sha256(path: &Path) -> String {
    let mut hasher = Sha256::new();
    hasher.update(&std::fs::read(path).unwrap());
    hasher.finish().1
}

#[test]
fn versions_lists_the_hub_marks_the_newest_and_what_is_cached() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, None, &["versions"]);
    assert_success(&output);
    assert_eq!(
        stdout(&output),
        "Annotation versions of yahskapar/HealthChat-11K on the Hub:\n  1.0.0\n  2.0.0\n  2.1.0  (newest)\n"
    );

    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "1.0.0", "-q"],
    ));
    let output = workspace.run(&hub, None, &["versions", "--json"]);
    assert_success(&output);
    let listing: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        listing,
        serde_json::json!([
            {"version": "1.0.0", "newest": false, "cached": true},
            {"version": "2.0.0", "newest": false, "cached": false},
            {"version": "2.1.0", "newest": true, "cached": false},
        ])
    );

    let offline = workspace
        .command(&hub, None)
        .env("HF_HUB_OFFLINE", "1")
        .arg("versions")
        .output()
        .unwrap();
    assert_success(&offline);
    assert!(stdout(&offline).contains("in the cache"));
    assert!(stdout(&offline).contains("  1.0.0  (newest, cached)"));
}

#[test]
fn the_json_summary_and_the_manifest_describe_the_run() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0", "--json", "--quiet"],
    );
    assert_success(&output);
    assert!(output.stderr.is_empty(), "--quiet: {}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let artifacts = workspace.artifacts("2.1.0");
    assert_eq!(summary["directory"], "HealthChat-11K_v2.1.0_artifacts");
    let manifest = &summary["manifest"];
    assert_eq!(
        manifest,
        &serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(artifacts.join("manifest.json")).unwrap()
        )
        .unwrap(),
        "--json prints the manifest that was written"
    );
    assert_eq!(
        manifest["tool"],
        format!("healthchat {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(manifest["annotation_version"], "2.1.0");

    let expected = fixtures().join("expected/v2.1.0");
    let listed = manifest["artifacts"].as_array().unwrap();
    let names: Vec<&str> = listed.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        names[3..],
        [
            "HealthChat-11K_v2.1.0_lmsys.parquet",
            "HealthChat-11K_v2.1.0_wildchat.parquet",
            "README.md"
        ],
        "the dataset's files follow the reference's"
    );
    for artifact in &listed[..3] {
        let name = artifact["name"].as_str().unwrap();
        assert_eq!(artifact["sha256"], sha256(&expected.join(name)), "{name}");
        assert_eq!(
            artifact["size"],
            std::fs::metadata(expected.join(name)).unwrap().len()
        );
    }

    let repositories = manifest["repositories"].as_array().unwrap();
    let ids: Vec<&str> = repositories
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ANNOTATIONS, LMSYS, WILDCHAT]);
    for repository in repositories {
        let id = repository["id"].as_str().unwrap();
        assert_eq!(repository["revision"], "main");
        assert_eq!(repository["commit"], testhub::commit_of(id), "{id}");
        for file in repository["files"].as_array().unwrap() {
            let on_disk = repo_dir(&hub_tree(), id).join(file["path"].as_str().unwrap());
            assert_eq!(file["size"], std::fs::metadata(&on_disk).unwrap().len());
            assert_eq!(
                file["sha256"].as_str().unwrap(),
                independent_sha256(&on_disk),
                "{file}"
            );
        }
    }
    assert_eq!(repositories[1]["files"].as_array().unwrap().len(), 3);
    assert_eq!(repositories[2]["files"].as_array().unwrap().len(), 4);

    let sources = manifest["sources"].as_array().unwrap();
    let total_missing: usize = sources
        .iter()
        .map(|s| s["missing"].as_array().unwrap().len())
        .sum();
    assert_eq!(summary["missing"], total_missing);
    for source in sources {
        assert_eq!(
            source["wanted"].as_u64().unwrap(),
            source["found"].as_u64().unwrap() + source["missing"].as_array().unwrap().len() as u64
        );
    }
    let jsonl = std::fs::read_to_string(artifacts.join("HealthChat-11K_v2.1.0.jsonl")).unwrap();
    assert_eq!(manifest["conversations"], jsonl.lines().count());
}

#[test]
fn strict_fails_on_missing_conversations_but_writes_the_artifacts() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0", "--strict"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("were not found in the source datasets (--strict)"));
    // stderr is not a terminal here: plain lines, no progress bars.
    assert!(!log.contains('\u{1b}') && !log.contains('\r'), "{log:?}");
    for line in [
        "source       wanted    found  missing",
        "Conversations per specialty, most first:",
    ] {
        assert!(log.contains(line), "the summary table: {log}");
    }
    assert_matches_golden(&workspace.artifacts("2.0.0"), "2.0.0");
}

#[test]
fn verify_accepts_a_fresh_directory_and_catches_changed_and_missing_files() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0", "-q"],
    ));
    let dir = "HealthChat-11K_v2.0.0_artifacts";
    let output = workspace.run(&hub, None, &["verify", dir]);
    assert_success(&output);
    assert_eq!(stdout(&output).matches("ok ").count(), 6);

    let csv = workspace
        .artifacts("2.0.0")
        .join("HealthChat-11K_v2.0.0_full_review.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    let output = workspace.run(&hub, None, &["verify", dir]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("MISMATCH  HealthChat-11K_v2.0.0_full_review.csv: SHA-256"));
    assert!(stderr(&output).contains("1 of 6 artifacts"));

    std::fs::remove_file(csv).unwrap();
    let output = workspace.run(&hub, None, &["verify", dir]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("MISSING   HealthChat-11K_v2.0.0_full_review.csv"));

    let output = workspace.run(&hub, None, &["verify", "no-such-dir"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("manifest.json"));
}

#[test]
fn offline_runs_use_the_cache_and_shards_on_disk() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let source_dir = hub_tree();
    let offline = |args: &[&str]| {
        workspace
            .command(&hub, Some(GRANTED_TOKEN))
            .env("HF_HUB_OFFLINE", "1")
            .args(args)
            .output()
            .unwrap()
    };

    // Nothing cached: the annotation file cannot be had (nor rows; tests/it/cache.rs has offline
    // runs from a warm cache of rows).
    let output = offline(&["generate", "--version", "2.0.0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("unset HF_HUB_OFFLINE"),
        "{}",
        stderr(&output)
    );
    let source_arg = source_dir.to_str().unwrap();
    let output = offline(&["generate", "--version", "2.0.0", "--source-dir", source_arg]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not in the Hugging Face cache"),
        "{}",
        stderr(&output)
    );
    assert!(
        hub.requests().is_empty(),
        "offline runs ask the Hub nothing"
    );

    // Online once, to cache the annotation file.
    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0", "-q"],
    ));
    std::fs::remove_dir_all(workspace.artifacts("2.0.0")).unwrap();
    let asked = hub.requests().len();

    let output = offline(&["generate", "--source-dir", source_arg]);
    assert_success(&output);
    assert!(
        stderr(&output).contains("2.0.0"),
        "the newest cached version"
    );
    assert_matches_golden(&workspace.artifacts("2.0.0"), "2.0.0");
    assert_eq!(
        hub.requests().len(),
        asked,
        "offline runs ask the Hub nothing"
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(workspace.artifacts("2.0.0").join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["repositories"][0]["commit"],
        testhub::commit_of(ANNOTATIONS)
    );
    assert_eq!(manifest["repositories"][1]["source_dir"], source_arg);
}

#[test]
fn source_dir_online_reads_shards_from_disk_as_hf_download_lays_them_out() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let downloads = hf_download_copy();
    let output = workspace.run(
        &hub,
        None,
        &[
            "generate",
            "--version",
            "1.0.0",
            "--source-dir",
            downloads.path().to_str().unwrap(),
        ],
    );
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("1.0.0"), "1.0.0");
    assert!(
        hub.requests().iter().all(|r| !r.path.contains(".parquet")),
        "no shard is asked of the Hub"
    );

    let output = workspace.run(
        &hub,
        None,
        &["generate", "--version", "1.0.0", "--source-dir", "empty"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("hf download"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn revisions_are_asked_of_the_hub_and_recorded() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let lmsys_commit = testhub::commit_of(LMSYS);
    let annotations_commit = testhub::commit_of(ANNOTATIONS);
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &[
            "generate",
            "--version",
            "2.1.0",
            "--json",
            "--lmsys-revision",
            &lmsys_commit,
            "--annotations-revision",
            &annotations_commit,
        ],
    );
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
    let requests = hub.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains(&format!("/resolve/{lmsys_commit}/data/")))
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains(&format!("/resolve/{annotations_commit}/")))
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        summary["manifest"]["repositories"][1]["revision"],
        lmsys_commit.as_str()
    );
    assert_eq!(summary["manifest"]["repositories"][2]["revision"], "main");

    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &[
            "generate",
            "--version",
            "2.1.0",
            "--wildchat-revision",
            "v9",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("revision `v9` of allenai/WildChat-1M was not found"));
}

#[test]
fn every_subcommand_has_examples_and_completions_are_generated() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    for command in [
        vec!["--help"],
        vec!["generate", "--help"],
        vec!["versions", "--help"],
        vec!["verify", "--help"],
        vec!["completions", "--help"],
    ] {
        let output = workspace.run(&hub, None, &command);
        assert_success(&output);
        assert!(stdout(&output).contains("Examples:"), "{command:?}");
    }
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = workspace.run(&hub, None, &["completions", shell]);
        assert_success(&output);
        let script = stdout(&output);
        assert!(
            script.contains("healthchat") && script.contains("source-dir"),
            "{shell}"
        );
    }
    let output = workspace.run(&hub, None, &["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(hub.requests().is_empty());
}
