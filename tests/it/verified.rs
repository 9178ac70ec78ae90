//! Every shard byte checked against the SHA-256 published for it (FORMAT.md §1): bytes damaged
//! on the way are read again from a fresh URL, damage that stays stops the run, and a local copy
//! is checked against what `hf download` recorded beside it.

use std::path::Path;

use crate::support::*;
use testhub::{Damage, Quirks};

fn damaging_hub(damage: Damage) -> TestHub {
    TestHub::start(golden_hub_config().quirks(Quirks {
        damage: Some(damage),
        ..Quirks::default()
    }))
    .unwrap()
}

fn manifest(artifacts: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(artifacts.join("manifest.json")).unwrap()).unwrap()
}

/// Each shard's manifest entry: path, SHA-256, verified, against what.
fn shard_entries(manifest: &serde_json::Value) -> Vec<(String, String, bool, String)> {
    manifest["repositories"].as_array().unwrap()[1..]
        .iter()
        .flat_map(|repo| repo["files"].as_array().unwrap().clone())
        .map(|file| {
            (
                file["path"].as_str().unwrap().to_owned(),
                file["sha256"].as_str().unwrap_or_default().to_owned(),
                file["verified"].as_bool().unwrap(),
                file["verified_against"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn fixture_shard(repo: &str, path: &str) -> std::path::PathBuf {
    repo_dir(&hub_tree(), repo).join(path)
}

#[test]
fn a_shard_damaged_on_the_way_is_read_again_from_a_fresh_url() {
    let hub = damaging_hub(Damage::FirstOfEachFile);
    let workspace = Workspace::new();
    workspace.generate_golden(&hub, "2.1.0");
    let entries = shard_entries(&manifest(&workspace.artifacts("2.1.0")));
    assert_eq!(entries.len(), 7);
    for (path, sha256, verified, against) in &entries {
        let repo = if path.contains("-of-00003") {
            LMSYS
        } else {
            WILDCHAT
        };
        assert_eq!(sha256, &independent_sha256(&fixture_shard(repo, path)));
        assert!(verified, "{path}");
        assert_eq!(against, "the Hub's listing");
    }
    let fresh = hub
        .requests()
        .iter()
        .filter(|r| {
            r.path.contains("/resolve/")
                && r.query
                    .as_deref()
                    .is_some_and(|q| q.contains("healthchat_fresh="))
        })
        .count();
    assert!(fresh >= 7, "every shard was read again: {fresh}");
}

#[test]
fn a_shard_that_always_comes_damaged_stops_the_run_naming_both_hashes() {
    let hub = damaging_hub(Damage::Always);
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("twice"), "{message}");
    assert!(message.contains("Next:"), "{message}");
    let named = [LMSYS, WILDCHAT].iter().any(|repo| {
        let data = repo_dir(&hub_tree(), repo).join("data");
        std::fs::read_dir(data).unwrap().any(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            message.contains(&name) && message.contains(&independent_sha256(&path))
        })
    });
    assert!(named, "the shard and its published SHA-256: {message}");
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}

const SNAPSHOT_DOWNLOAD: &str = r#"
import sys
from huggingface_hub import snapshot_download
snapshot_download(sys.argv[1], repo_type="dataset", local_dir=sys.argv[2])
"#;

/// Both sources downloaded by the real `huggingface_hub` into `dir/{owner}/{name}`, as the
/// README says to for `--source-dir`.
fn snapshot_downloads(workspace: &Workspace, hub: &TestHub, dir: &Path) {
    let python = python_with(&["huggingface_hub"]);
    for repo in [LMSYS, WILDCHAT] {
        let output = workspace
            .command_for(&python, hub, Some(GRANTED_TOKEN))
            .args(["-c", SNAPSHOT_DOWNLOAD, repo])
            .arg(dir.join(repo))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
}

#[test]
fn a_local_copy_is_checked_against_what_hf_download_recorded() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let copies = tempfile::tempdir().unwrap();
    snapshot_downloads(&workspace, &hub, copies.path());
    let source_dir = copies.path().to_str().unwrap();
    let args = ["generate", "--version", "2.1.0", "--source-dir", source_dir];

    let output = workspace.run(&hub, Some(GRANTED_TOKEN), &args);
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
    for (path, _, verified, against) in shard_entries(&manifest(&workspace.artifacts("2.1.0"))) {
        assert!(verified, "{path}");
        assert_eq!(against, "the metadata `hf download` wrote beside it");
    }
    std::fs::remove_dir_all(workspace.artifacts("2.1.0")).unwrap();

    // One byte flipped in one copy.
    let shard = copies.path().join(WILDCHAT).join(WILDCHAT_SHARD);
    let mut bytes = std::fs::read(&shard).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&shard, &bytes).unwrap();
    let output = workspace.run(&hub, Some(GRANTED_TOKEN), &args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains(WILDCHAT_SHARD), "{message}");
    assert!(message.contains("download it again"), "{message}");
    assert!(
        message.contains(&independent_sha256(&fixture_shard(
            WILDCHAT,
            WILDCHAT_SHARD
        ))),
        "{message}"
    );
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}

#[test]
fn a_local_copy_with_nothing_to_check_against_is_read_and_said_unverified() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    // The annotation file into the cache, then nothing asked of the Hub.
    workspace.generate_golden(&hub, "2.1.0");
    std::fs::remove_dir_all(workspace.artifacts("2.1.0")).unwrap();
    let output = workspace.generate_offline_from_fixtures(&hub, "2.1.0");
    assert!(
        stderr(&output).contains("7 files read were not verified"),
        "{}",
        stderr(&output)
    );
    for (path, sha256, verified, _) in shard_entries(&manifest(&workspace.artifacts("2.1.0"))) {
        assert!(!verified, "{path}");
        assert_eq!(sha256.len(), 64, "the SHA-256 read is recorded: {path}");
    }
    let verify = workspace.run(
        &hub,
        None,
        &["verify", workspace.artifacts("2.1.0").to_str().unwrap()],
    );
    assert_success(&verify);
    let report = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(
        report.contains("not verified: nothing to check it against"),
        "{report}"
    );
    assert!(
        report.contains("yahskapar/HealthChat-11K/HealthChat-11K_master_annotations_v2.1.0.jsonl"),
        "{report}"
    );
}
