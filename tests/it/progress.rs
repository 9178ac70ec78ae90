//! What a run shows while it works, where no bar is drawn (the bars need a terminal): retries
//! as status lines from the first failed attempt, the plain progress line without a terminal,
//! and the JSON progress the Python package turns into a tqdm bar; `-q` silences all of it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::*;

/// A retry status line: `{What}: {reason}; trying again in {s} s (attempt {n} of {N})`.
fn retry_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains("; trying again in "))
        .collect()
}

#[test]
fn an_endpoint_that_cannot_be_reached_is_said_from_the_first_failed_attempt() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let started = Instant::now();
    let mut child = workspace
        .command(&hub, None)
        .env("HF_ENDPOINT", unreachable_endpoint())
        .args(["generate", "--version", "2.1.0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let (lines, received) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let _ = lines.send((started.elapsed(), line.unwrap()));
        }
    });
    // Three seconds of a run that would give up after about a minute.
    let deadline = started + Duration::from_secs(3);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match received.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let text: Vec<&str> = seen.iter().map(|(_, line)| line.as_str()).collect();
    let (first_at, first) = seen.first().expect("a status line within 3 s");
    assert!(*first_at < Duration::from_secs(2), "{first_at:?}: {first}");
    assert!(
        first.starts_with("Resolving revision `main` of ")
            && first.contains("Connection refused")
            && first.ends_with("(attempt 2 of 10)"),
        "{first}"
    );
    // One line for each of the three repositories' first failure, none for the attempts of
    // the next seconds.
    let retries = retry_lines(&text.join("\n")).len();
    assert_eq!(retries, 3, "{text:#?}");
}

#[test]
fn a_failing_storage_host_is_said_once_per_shard_and_quiet_says_only_the_error() {
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
        &["generate", "--version", "2.1.0", "--jobs", "2"],
    );
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    let retries = retry_lines(&said);
    assert!(!retries.is_empty(), "{said}");
    let mut operations: Vec<&str> = retries
        .iter()
        .map(|line| line.split(": HTTP 503").next().unwrap())
        .collect();
    for line in &retries {
        assert!(
            line.starts_with("Reading data/train-") && line.ends_with("(attempt 2 of 10)"),
            "{line}"
        );
    }
    let count = operations.len();
    operations.sort();
    operations.dedup();
    assert_eq!(operations.len(), count, "one line per operation: {said}");
    assert!(said.contains("gave up after 10 attempts"), "{said}");

    let quiet = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0", "--jobs", "2", "-q"],
    );
    assert_eq!(quiet.status.code(), Some(1));
    let said = stderr(&quiet);
    assert!(
        said.starts_with("error: ") && retry_lines(&said).is_empty(),
        "{said}"
    );
}

/// The golden Hub, every response together held to `bytes_per_second`: a run that takes a
/// while.
fn slow_hub(bytes_per_second: u64) -> TestHub {
    TestHub::start(golden_hub_config().bandwidth(bytes_per_second)).unwrap()
}

/// The shard bytes of a run, from its manifest.
fn shard_bytes(workspace: &Workspace, version: &str) -> u64 {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(workspace.artifacts(version).join("manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["repositories"].as_array().unwrap()[1..]
        .iter()
        .flat_map(|repo| repo["files"].as_array().unwrap())
        .map(|file| file["size"].as_u64().unwrap())
        .sum()
}

#[test]
fn without_a_terminal_a_plain_line_every_ten_seconds_and_none_with_quiet() {
    // About 4.3 MB at 280 kB/s: some 15 s, the two runs side by side on hubs of their own.
    let (hub, quiet_hub) = (slow_hub(280_000), slow_hub(280_000));
    let (workspace, quiet_workspace) = (Workspace::new(), Workspace::new());
    let started = Instant::now();
    let args = ["generate", "--version", "2.1.0"];
    let quiet = quiet_workspace
        .command(&quiet_hub, Some(GRANTED_TOKEN))
        .args(args)
        .arg("-q")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = workspace.run(&hub, Some(GRANTED_TOKEN), &args);
    let elapsed = started.elapsed();
    assert_success(&output);
    let quiet = quiet.wait_with_output().unwrap();
    assert_success(&quiet);
    assert_eq!(stderr(&quiet), "");

    let said = stderr(&output);
    let lines: Vec<&str> = said.lines().filter(|l| l.starts_with("Read ")).collect();
    assert!(
        !lines.is_empty() && lines.len() as u64 <= elapsed.as_secs() / 10,
        "{elapsed:?}: {said}"
    );
    let total = indicatif::HumanBytes(shard_bytes(&workspace, "2.1.0")).to_string();
    for line in &lines {
        let (read, rest) = line["Read ".len()..].split_once(" of ").unwrap();
        assert!(rest.starts_with(&format!("{total} (")), "{line}");
        let percent: u64 = rest[total.len() + 2..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(percent <= 100 && !read.is_empty(), "{line}");
        assert!(
            line.contains(" MB/s; ") && line.ends_with(" of 150 conversations found"),
            "{line}"
        );
    }
    assert!(!said.contains('\r') && !said.contains('\u{1b}'), "{said:?}");
}

#[test]
fn json_progress_for_the_python_package_ends_with_every_byte() {
    let hub = slow_hub(2_000_000);
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0", "--progress-json"],
    );
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
    let said = stderr(&output);
    let progress: Vec<serde_json::Value> = said
        .lines()
        .filter(|line| line.starts_with("{\"progress\":"))
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["progress"].clone())
        .collect();
    assert!(progress.len() >= 3, "{said}");
    let total = shard_bytes(&workspace, "2.1.0");
    let mut read = 0;
    for line in &progress {
        assert_eq!(line["total"], total);
        assert_eq!(line["wanted"], 150);
        let now = line["read"].as_u64().unwrap();
        assert!(read <= now && now <= total, "{progress:?}");
        read = now;
    }
    let (last, before) = progress.split_last().unwrap();
    assert!(before.iter().all(|line| line["done"] == false));
    assert_eq!(
        *last,
        serde_json::json!({"read": total, "total": total, "found": 146, "wanted": 150, "done": true})
    );
    // The status lines and the summary stay text.
    assert!(said.contains("\nLooking for 68 conversations in allenai/WildChat-1M\n"));
    assert!(said.contains("HealthChat-11K v2.1.0 written to"));

    let quiet = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0", "--progress-json", "-q"],
    );
    assert_success(&quiet);
    assert_eq!(stderr(&quiet), "");
}
