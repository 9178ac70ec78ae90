//! Integrity: one commit per repository whatever a branch does during a run, a Hugging Face cache
//! shared safely (with another run, with Python's huggingface_hub) and checked before use, the
//! token only for the Hub's origin, and errors that say what really happened.

use std::path::{Path, PathBuf};

use crate::support::*;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("readable")).expect("JSON")
}

/// The annotation repository's folder in the workspace's Hugging Face cache.
fn annotations_cache(workspace: &Workspace) -> PathBuf {
    workspace
        .hf_home
        .path()
        .join("hub/datasets--yahskapar--HealthChat-11K")
}

fn blobs(workspace: &Workspace) -> Vec<PathBuf> {
    let mut blobs: Vec<PathBuf> = std::fs::read_dir(annotations_cache(workspace).join("blobs"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    blobs.sort();
    blobs
}

/// The commit of lmsys-chat-1m that an artifacts directory's manifest records.
fn lmsys_commit(artifacts: &Path) -> String {
    let manifest = json(&artifacts.join("manifest.json"));
    let lmsys = manifest["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == LMSYS)
        .unwrap()
        .clone();
    assert_eq!(lmsys["revision"], "main");
    lmsys["commit"].as_str().unwrap().to_owned()
}

#[test]
fn a_branch_that_moves_during_a_run_cannot_mix_two_commits() {
    // The new commit of lmsys-chat-1m has another second shard.
    let next = tempfile::tempdir().unwrap();
    let data = next.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let old = repo_dir(&hub_tree(), LMSYS).join("data");
    let mut shards: Vec<PathBuf> = std::fs::read_dir(&old)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    shards.sort();
    for (index, shard) in shards.iter().enumerate() {
        let source = if index == 1 { &shards[2] } else { shard };
        std::fs::copy(source, data.join(shard.file_name().unwrap())).unwrap();
    }
    // `main` moves right after the first request about the repository.
    let hub = TestHub::start(golden_hub_config().push(LMSYS, next.path(), 1)).unwrap();
    let workspace = Workspace::new();
    workspace.generate_golden(&hub, "2.1.0");
    let pinned = testhub::commit_of(LMSYS);
    assert_eq!(lmsys_commit(&workspace.artifacts("2.1.0")), pinned);
    let requests = hub.requests();
    let about_lmsys: Vec<&RequestRecord> =
        requests.iter().filter(|r| r.path.contains(LMSYS)).collect();
    assert!(
        about_lmsys[0].path.ends_with("/revision/main"),
        "{about_lmsys:?}"
    );
    assert!(
        about_lmsys[1..].iter().all(|r| r.path.contains(&pinned)),
        "every later request names the pinned commit: {about_lmsys:?}"
    );

    // The push did land: a run started now reads the new commit, and its output differs.
    let later = Workspace::new();
    assert_success(&later.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0"],
    ));
    assert_ne!(lmsys_commit(&later.artifacts("2.1.0")), pinned);
    let jsonl = "HealthChat-11K_v2.1.0.jsonl";
    assert_ne!(
        std::fs::read(later.artifacts("2.1.0").join(jsonl)).unwrap(),
        std::fs::read(workspace.artifacts("2.1.0").join(jsonl)).unwrap()
    );
}

#[test]
fn two_runs_at_once_share_a_fresh_cache() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let out_a = workspace.dir.path().join("a");
    let out_b = workspace.dir.path().join("b");
    let start = |out: &Path| {
        workspace
            .command(&hub, Some(GRANTED_TOKEN))
            .args(["generate", "--version", "2.1.0", "--output-dir"])
            .arg(out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts")
    };
    let (a, b) = (start(&out_a), start(&out_b));
    for (child, out) in [(a, &out_a), (b, &out_b)] {
        let output = child.wait_with_output().unwrap();
        assert_success(&output);
        assert_matches_golden(&out.join("HealthChat-11K_v2.1.0_artifacts"), "2.1.0");
    }
    let blobs = blobs(&workspace);
    assert_eq!(
        blobs.len(),
        1,
        "one blob, no temporary file left: {blobs:?}"
    );
    let lock = workspace
        .hf_home
        .path()
        .join("hub/.locks/datasets--yahskapar--HealthChat-11K")
        .join(format!(
            "{}.lock",
            blobs[0].file_name().unwrap().to_string_lossy()
        ));
    assert!(
        lock.is_file(),
        "the blob's lock is where huggingface_hub keeps it"
    );
}

#[test]
fn a_damaged_cached_file_is_fetched_again_online_and_refused_offline() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    workspace.generate_golden(&hub, "2.1.0");
    let blob = blobs(&workspace)
        .pop()
        .expect("the annotation file was cached");
    let good = std::fs::read(&blob).unwrap();
    let mut damaged = good.clone();
    damaged[10] ^= 0x20;
    std::fs::write(&blob, &damaged).unwrap();

    let offline = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env("HF_HUB_OFFLINE", "1")
        .arg("generate")
        .args([
            "--version",
            "2.1.0",
            "--output-dir",
            "offline",
            "--source-dir",
        ])
        .arg(hub_tree())
        .output()
        .unwrap();
    assert!(!offline.status.success());
    let message = stderr(&offline);
    assert!(message.contains("does not hash to its name"), "{message}");
    assert!(message.contains("HF_HUB_OFFLINE"), "{message}");

    let online = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0", "--output-dir", "online"],
    );
    assert_success(&online);
    assert_matches_golden(
        &workspace
            .dir
            .path()
            .join("online/HealthChat-11K_v2.1.0_artifacts"),
        "2.1.0",
    );
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        good,
        "the blob was fetched again"
    );
}

#[test]
fn a_hostile_etag_writes_nothing_outside_the_cache() {
    let outside = tempfile::tempdir().unwrap();
    let absolute = outside.path().join("blob");
    for etag in [absolute.to_str().unwrap(), "../../../../escaped", ".."] {
        let hub = TestHub::start(golden_hub_config().etag_override("v2.1.0.jsonl", etag)).unwrap();
        let workspace = Workspace::new();
        let message = workspace.generate_failing(&hub, "2.1.0");
        assert!(message.contains("not a plain name"), "{message}");
        assert!(!absolute.exists());
        assert!(!workspace.hf_home.path().join("escaped").exists());
        assert!(!workspace.dir.path().join("escaped").exists());
        assert!(blobs(&workspace).is_empty());
    }
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn the_token_goes_to_the_hubs_origin_only() {
    // Listing pages after the first are linked on another origin.
    let hub = TestHub::start(golden_hub_config().pages_on("localhost")).unwrap();
    let workspace = Workspace::new();
    workspace.generate_golden(&hub, "2.1.0");
    let requests = hub.requests();
    let elsewhere: Vec<&RequestRecord> = requests
        .iter()
        .filter(|r| r.host.starts_with("localhost"))
        .collect();
    assert!(
        elsewhere.iter().any(|r| r.path.contains("/tree/")),
        "{elsewhere:?}"
    );
    assert!(
        elsewhere.iter().any(|r| r.path.starts_with("/cdn/")),
        "{elsewhere:?}"
    );
    assert!(
        elsewhere.iter().all(|r| !r.authorization),
        "no token for another origin: {elsewhere:?}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.host.starts_with("127.0.0.1") && r.path.contains("/resolve/"))
            .all(|r| r.authorization),
        "the Hub itself gets the token"
    );
}

#[test]
fn a_401_or_403_from_something_else_is_not_called_gated_access() {
    for status in [401, 403] {
        let hub = TestHub::start(golden_hub_config().refuse_files(status)).unwrap();
        let workspace = Workspace::new();
        let message = workspace.generate_failing(&hub, "2.1.0");
        if status == 403 {
            assert!(message.contains("HTTP 403"), "{message}");
            assert!(
                message.contains("firewall"),
                "the server's words: {message}"
            );
            assert!(!message.contains("gated"), "{message}");
        } else {
            // The Hub answers a token it rejects with a bare 401.
            assert!(message.contains("rejected the token"), "{message}");
        }
    }
    let hub = TestHub::start(golden_hub_config().refuse_files(401)).unwrap();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, None, &["generate", "--version", "2.1.0"]);
    let message = stderr(&output);
    assert!(message.contains("HTTP 401"), "{message}");
    assert!(message.contains("firewall"), "{message}");
    assert!(!message.contains("gated"), "{message}");
}

#[test]
fn a_storage_host_that_ignores_range_is_named_with_the_next_step() {
    // Past the footer read's first MiB a shard needs a range that does not start at 0.
    let tree = hub_tree_copy();
    let large = tree
        .path()
        .join("datasets")
        .join(LMSYS)
        .join("data/train-00003-of-00003-large.parquet");
    std::fs::write(&large, vec![7u8; 3 << 20]).unwrap();
    let hub = TestHub::start(hub_config_at(tree.path()).ignore_ranges()).unwrap();
    let workspace = Workspace::new();
    let message = workspace.generate_failing(&hub, "2.1.0");
    assert!(message.contains("does not support Range"), "{message}");
    assert!(message.contains("--source-dir"), "{message}");
    assert!(!message.contains("gave up after"), "not retried: {message}");
}

#[test]
fn a_416_for_a_file_of_the_expected_size_is_not_called_a_change() {
    let hub = TestHub::start(golden_hub_config().refuse_ranges()).unwrap();
    let workspace = Workspace::new();
    let message = workspace.generate_failing(&hub, "2.1.0");
    assert!(message.contains("HTTP 416"), "{message}");
    assert!(message.contains("refused bytes"), "{message}");
    assert!(!message.contains("changed"), "{message}");
}

const HF_HUB_DOWNLOAD: &str = r#"
import sys
from huggingface_hub import hf_hub_download
print(hf_hub_download(sys.argv[1], sys.argv[2], repo_type="dataset"))
"#;

#[test]
fn a_cache_filled_by_python_huggingface_hub_serves_an_offline_run() {
    let python = python_with(&["huggingface_hub"]);
    let hub = golden_hub();
    let workspace = Workspace::new();
    let file = "HealthChat-11K_master_annotations_v2.1.0.jsonl";
    let downloaded = workspace
        .command_for(&python, &hub, None)
        .args(["-c", HF_HUB_DOWNLOAD, ANNOTATIONS, file])
        .output()
        .unwrap();
    assert!(
        downloaded.status.success(),
        "huggingface_hub failed: {}",
        stderr(&downloaded)
    );
    let before = hub.requests().len();

    workspace.generate_offline_from_fixtures(&hub, "2.1.0");
    assert_eq!(
        hub.requests().len(),
        before,
        "offline: nothing asked of the Hub"
    );

    // And the other way round: Python finds what healthchat cached, offline.
    let other = Workspace::new();
    other.generate_golden(&hub, "1.0.0");
    let found = other
        .command_for(&python, &hub, None)
        .env("HF_HUB_OFFLINE", "1")
        .args([
            "-c",
            HF_HUB_DOWNLOAD,
            ANNOTATIONS,
            "HealthChat-11K_master_annotations_v1.0.0.jsonl",
        ])
        .output()
        .unwrap();
    assert!(found.status.success(), "{}", stderr(&found));
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    assert!(
        path.starts_with(other.hf_home.path().to_str().unwrap()),
        "{path}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(annotation_file(&hub_tree(), "1.0.0")).unwrap()
    );
    let _ = std::fs::metadata(annotations_cache(&other).join("refs/main")).expect("a ref");
}
