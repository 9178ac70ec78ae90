//! Flaky networks, interrupted runs and broken inputs: the run either ends with exactly the
//! reference's bytes or stops with a clear message and leaves nothing that looks complete.

use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use crate::support::*;

/// Shards in the golden Hub: 4 of WildChat, 3 of LMSYS.
const SHARDS: usize = 7;

fn is_file_request(request: &RequestRecord) -> bool {
    request.path.contains("/resolve/") || request.path.starts_with("/cdn/")
}

#[test]
fn failures_rate_limits_cuts_and_stalls_do_not_change_a_byte() {
    // Faults on every file request, then on storage requests only: which requests are storage
    // requests depends on scheduling, so only the second run can count on cut shard streams.
    for (seed, version, storage_only) in [(7, "2.0.0", false), (2024, "1.0.0", true)] {
        let hub = TestHub::start(golden_hub_config().faults(Faults {
            seed,
            fail_percent: 25,
            cut_percent: 25,
            stall_percent: 10,
            stall: Duration::from_secs(3),
            storage_only,
            ..Faults::default()
        }))
        .unwrap();
        let workspace = Workspace::new();
        let output = workspace
            .command(&hub, Some(GRANTED_TOKEN))
            // A body that sends nothing for a second is stalled: resume it.
            .env("HF_HUB_DOWNLOAD_TIMEOUT", "1")
            .args(["generate", "--version", version, "--jobs", "3"])
            .output()
            .unwrap();
        assert_success(&output);
        assert_matches_golden(&workspace.artifacts(version), version);

        let faulty = |request: &RequestRecord| {
            is_file_request(request) && (!storage_only || request.path.starts_with("/cdn/"))
        };
        let requests: Vec<RequestRecord> = hub.requests().into_iter().filter(faulty).collect();
        let failed = requests
            .iter()
            .filter(|r| matches!(r.status, 500 | 503 | 429))
            .count();
        assert!(
            failed * 5 >= requests.len(),
            "seed {seed}: at least 20% of the requests failed ({failed} of {})",
            requests.len()
        );
        if storage_only {
            // A resumed range names the bytes it continues with If-Range.
            let resumed = requests.iter().filter(|r| r.if_range.is_some()).count();
            assert!(resumed > 0, "seed {seed}: cut and stalled streams resumed");
        }
        assert_eq!(
            workspace.entries().len(),
            1,
            "nothing but the artifacts is left"
        );
    }
}

#[test]
fn retries_are_bounded_and_the_error_names_the_shard_and_the_cause() {
    let hub = TestHub::start(golden_hub_config().faults(Faults {
        fail_percent: 100,
        storage_only: true,
        only_unavailable: true,
        ..Faults::default()
    }))
    .unwrap();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0"],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("reading data/train-"), "{message}");
    assert!(message.contains("gave up after 10 attempts"), "{message}");
    assert!(message.contains("HTTP 503"), "{message}");
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}

#[test]
fn expired_storage_urls_are_renewed_by_resolving_again() {
    // Each storage URL works once; cut bodies need a second request, which is refused.
    let hub = TestHub::start(golden_hub_config().storage_url_uses(1).faults(Faults {
        cut_percent: 50,
        storage_only: true,
        ..Faults::default()
    }))
    .unwrap();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0"],
    );
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
    let requests = hub.requests();
    let refused = requests
        .iter()
        .filter(|r| r.path.starts_with("/cdn/") && r.status == 403)
        .count();
    assert!(
        refused > 0,
        "storage URLs expired during the run: {requests:#?}"
    );
    let shard_resolves = requests
        .iter()
        .filter(|r| r.method == "HEAD" && r.path.ends_with(".parquet"))
        .count();
    assert!(
        shard_resolves >= SHARDS + refused,
        "each refused URL was resolved again: {shard_resolves} resolves, {refused} refused"
    );
}

/// Starts a run that streams slowly enough to be interrupted, and waits until it is writing
/// its temporary artifacts directory.
fn start_slow_run(workspace: &Workspace, hub: &TestHub, jobs: &str) -> Child {
    let mut child = workspace
        .command(hub, Some(GRANTED_TOKEN))
        .args(["generate", "--version", "2.0.0", "--jobs", jobs])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !workspace.entries().iter().any(|e| e.contains(".partial-")) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no temporary directory appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run is still streaming"
    );
    child
}

fn slow_hub() -> TestHub {
    TestHub::start(golden_hub_config().bandwidth(1_000_000)).unwrap()
}

/// Sends `signal` with the shell's `kill` builtin, which every `sh` has.
fn send_signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "kill -s \"$1\" \"$2\"",
            "sh",
            signal,
            &child.id().to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_and_sigterm_leave_nothing_behind() {
    let hub = slow_hub();
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let workspace = Workspace::new();
        let child = start_slow_run(&workspace, &hub, "2");
        send_signal(&child, signal);
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "SIG{signal}: {}",
            stderr(&output)
        );
        assert!(stderr(&output).contains(&format!("interrupted by SIG{signal}")));
        assert!(
            workspace.entries().is_empty(),
            "SIG{signal} left {:?}",
            workspace.entries()
        );
    }
}

#[test]
fn a_killed_run_leaves_nothing_complete_looking_and_the_next_run_cleans_up() {
    let hub = slow_hub();
    let workspace = Workspace::new();
    let mut child = start_slow_run(&workspace, &hub, "2");
    child.kill().unwrap();
    child.wait().unwrap();
    let left = workspace.entries();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(".HealthChat-11K_v2.0.0_artifacts.partial-"),
        "{left:?}"
    );

    let hub = golden_hub();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0"],
    );
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.0.0"), "2.0.0");
    assert_eq!(
        workspace.entries(),
        ["HealthChat-11K_v2.0.0_artifacts"],
        "the killed run's temporary directory was removed"
    );
}

#[test]
fn a_shard_that_changes_during_the_run_stops_it() {
    let tree = hub_tree_copy();
    let hub = TestHub::start(hub_config_at(tree.path()).bandwidth(1_000_000)).unwrap();
    let workspace = Workspace::new();
    // One shard at a time: the last WildChat shard is read last, after it has changed.
    let child = start_slow_run(&workspace, &hub, "1");
    let last_shard = repo_dir(tree.path(), WILDCHAT).join("data/train-00003-of-00004.parquet");
    let mut bytes = std::fs::read(&last_shard).unwrap();
    bytes.extend_from_slice(b"new rows");
    std::fs::write(&last_shard, &bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("train-00003-of-00004.parquet of allenai/WildChat-1M"),
        "{message}"
    );
    assert!(
        message.contains("changed on the Hub while it was being read"),
        "{message}"
    );
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}

/// Runs version 2.0.0 against a copy of the golden Hub broken by `break_tree`, expecting failure.
fn run_broken(break_tree: impl FnOnce(&Path)) -> (Workspace, Output) {
    let tree = hub_tree_copy();
    break_tree(tree.path());
    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        workspace.entries().is_empty(),
        "a failed run left {:?}",
        workspace.entries()
    );
    (workspace, output)
}

/// The shard [`run_broken`]'s callers break.
fn broken_shard(tree: &Path) -> std::path::PathBuf {
    repo_dir(tree, WILDCHAT).join(WILDCHAT_SHARD)
}

#[test]
fn malformed_annotation_lines_are_reported_with_their_number() {
    let (_, output) = run_broken(|tree| {
        let path = annotation_file(tree, "2.0.0");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[2] = "{\"conversation_id\": \"abc\", \"dataset_source\": ";
        std::fs::write(&path, lines.join("\n")).unwrap();
    });
    let message = stderr(&output);
    assert!(message.contains("line 3"), "{message}");
    assert!(
        message.contains("HealthChat-11K_master_annotations_v2.0.0.jsonl"),
        "{message}"
    );
}

#[test]
fn an_annotation_file_of_another_tool_is_refused() {
    let (_, output) = run_broken(|tree| {
        std::fs::write(
            annotation_file(tree, "2.0.0"),
            "{\"id\": 1, \"text\": \"hello\"}\n",
        )
        .unwrap();
    });
    let message = stderr(&output);
    assert!(message.contains("conversation_id"), "{message}");
}

#[test]
fn a_truncated_shard_is_named() {
    let (_, output) = run_broken(|tree| {
        let path = broken_shard(tree);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    });
    let message = stderr(&output);
    assert!(message.contains(WILDCHAT_SHARD), "{message}");
    assert!(message.contains("allenai/WildChat-1M"), "{message}");
}

#[test]
fn a_corrupt_shard_is_named() {
    let (_, output) = run_broken(|tree| {
        let path = broken_shard(tree);
        let mut bytes = std::fs::read(&path).unwrap();
        // Garbage over the start of the first row group's pages, footer intact.
        bytes[4..4096].fill(0xA5);
        std::fs::write(&path, &bytes).unwrap();
    });
    let message = stderr(&output);
    assert!(message.contains(WILDCHAT_SHARD), "{message}");
    assert!(message.contains("could not be decoded"), "{message}");
}

#[test]
fn a_shard_without_the_id_column_is_named() {
    let (_, output) = run_broken(|tree| {
        write_parquet_without_id(&broken_shard(tree));
    });
    let message = stderr(&output);
    assert!(message.contains(WILDCHAT_SHARD), "{message}");
    assert!(
        message.contains("no `conversation_hash` column"),
        "{message}"
    );
}

#[test]
fn text_that_is_not_utf8_is_named() {
    let (_, output) = run_broken(|tree| {
        let annotations = std::fs::read_to_string(annotation_file(tree, "2.0.0")).unwrap();
        let wanted = annotations
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|record| record["dataset_source"] == "wildchat")
            .and_then(|record| record["conversation_id"].as_str().map(str::to_owned))
            .unwrap();
        write_parquet_with_bad_text(&broken_shard(tree), &wanted);
    });
    let message = stderr(&output);
    assert!(message.contains(WILDCHAT_SHARD), "{message}");
    assert!(message.contains("column `model`"), "{message}");
    assert!(message.contains("not valid UTF-8"), "{message}");
}

/// A shard whose one row is wanted and whose `model` bytes are not UTF-8.
fn write_parquet_with_bad_text(path: &Path, id: &str) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BinaryArray, RecordBatch, StringArray};
    let ids: ArrayRef = Arc::new(StringArray::from(vec![id]));
    let model: ArrayRef = Arc::new(BinaryArray::from(vec![&b"gpt-\xff\xfe"[..]]));
    let batch = RecordBatch::try_from_iter([("conversation_hash", ids), ("model", model)]).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn write_parquet_without_id(path: &Path) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    let text: ArrayRef = Arc::new(StringArray::from(vec!["hello", "world"]));
    let batch = RecordBatch::try_from_iter([("model", text)]).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn an_output_directory_that_cannot_be_written_is_reported() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    std::fs::write(workspace.dir.path().join("not-a-dir"), "").unwrap();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0", "-o", "not-a-dir"],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("cannot write the artifacts into not-a-dir: not-a-dir is a file"),
        "{message}"
    );
    assert!(message.contains("--output-dir"), "{message}");
    assert_eq!(workspace.entries(), ["not-a-dir"]);
}

/// A full disk, as the file-size limit of `ulimit -f` makes writes fail past 256 KiB (with
/// SIGXFSZ ignored, the write returns EFBIG as a full disk returns ENOSPC).
#[cfg(unix)]
#[test]
fn a_full_disk_is_reported_and_leaves_nothing() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace
        .command_for("sh", &hub, Some(GRANTED_TOKEN))
        .args([
            "-c",
            "ulimit -f 512; trap '' XFSZ; exec \"$0\" generate --version 2.0.0",
        ])
        .arg(healthchat_binary())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("File too large"), "{message}");
    assert!(message.contains("free disk space"), "{message}");
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
}

#[test]
fn the_token_never_appears_in_any_output_or_file() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    for token in [GRANTED_TOKEN, DENIED_TOKEN, "hf_unknown_token_secret"] {
        let output = workspace
            .command(&hub, Some(token))
            .env("RUST_BACKTRACE", "1")
            .args(["generate", "--version", "2.0.0"])
            .output()
            .unwrap();
        for stream in [&output.stdout, &output.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(token));
        }
    }
    let mut files = Vec::new();
    collect_files(workspace.dir.path(), &mut files);
    collect_files(workspace.hf_home.path(), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for token in [GRANTED_TOKEN, DENIED_TOKEN, "hf_unknown_token_secret"] {
            assert!(!text.contains(token), "{} holds a token", file.display());
        }
    }
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}
