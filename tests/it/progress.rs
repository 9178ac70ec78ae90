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
