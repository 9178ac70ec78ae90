//! The cache of matched rows (FORMAT.md §11) on the local Hub, counting the shard bytes each
//! run fetched in the Hub's request log: re-runs of the same IDs fetch nothing, another version
//! only the row groups that hold its new IDs, offline runs send no request, and a damaged or
//! outdated entry is noticed and fetched again. Every output is the reference's bytes.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::support::*;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

/// The shard bytes the Hub sent in requests `from..` of its log.
fn shard_bytes_since(hub: &TestHub, from: usize) -> u64 {
    hub.requests()[from..]
        .iter()
        .filter(|request| request.method == "GET" && request.path.ends_with(".parquet"))
        .map(RequestRecord::bytes_sent)
        .sum()
}

fn all_shards() -> Vec<PathBuf> {
    let mut shards = Vec::new();
    for repo in [LMSYS, WILDCHAT] {
        let data = repo_dir(&hub_tree(), repo).join("data");
        for entry in std::fs::read_dir(data).unwrap() {
            shards.push(entry.unwrap().path());
        }
    }
    shards.sort();
    shards
}

fn total_shard_bytes() -> u64 {
    all_shards()
        .iter()
        .map(|path| std::fs::metadata(path).unwrap().len())
        .sum()
}

/// The IDs of a version's annotation file.
fn annotated_ids(version: &str) -> HashSet<String> {
    std::fs::read_to_string(annotation_file(&hub_tree(), version))
        .unwrap()
        .lines()
        .filter_map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).ok()?;
            Some(record["conversation_id"].as_str()?.to_owned())
        })
        .collect()
}

/// The bytes of the row groups (from their first column chunk's start to their last one's end)
/// that hold any of `ids`, over every fixture shard.
fn row_group_bytes_holding(ids: &HashSet<String>) -> u64 {
    let mut bytes = 0;
    for shard in all_shards() {
        let reader = SerializedFileReader::new(File::open(&shard).unwrap()).unwrap();
        let fields = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .root_schema()
            .get_fields()
            .to_vec();
        let id_column = fields
            .iter()
            .position(|field| ["conversation_id", "conversation_hash"].contains(&field.name()))
            .unwrap();
        for index in 0..reader.num_row_groups() {
            let group = reader.get_row_group(index).unwrap();
            let holds = group.get_row_iter(None).unwrap().any(|row| {
                match row.unwrap().get_column_iter().nth(id_column) {
                    Some((_, Field::Str(id))) => ids.contains(id),
                    _ => false,
                }
            });
            if holds {
                let meta = group.metadata();
                let ranges = meta.columns().iter().map(|column| column.byte_range());
                let start = ranges.clone().map(|(start, _)| start).min().unwrap();
                let end = ranges.map(|(start, length)| start + length).max().unwrap();
                bytes += end - start;
            }
        }
    }
    bytes
}

fn generate(
    workspace: &Workspace,
    hub: &TestHub,
    version: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec!["generate", "--version", version, "--json"];
    args.extend_from_slice(extra);
    let output = workspace.run(hub, Some(GRANTED_TOKEN), &args);
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts(version), version);
    std::fs::remove_dir_all(workspace.artifacts(version)).unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

fn cache_dir(workspace: &Workspace) -> PathBuf {
    workspace.hf_home.path().join("healthchat")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_dir() {
            files.extend(files_under(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files.sort();
    files
}

#[test]
fn the_same_ids_again_fetch_no_shard_bytes() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let cold = generate(&workspace, &hub, "2.1.0", &[]);
    assert_eq!(cold["rows_from_cache"], 0);
    assert!(cold["network_bytes"].as_u64().unwrap() >= total_shard_bytes());

    for version in ["2.1.0", "2.0.0"] {
        let seen = hub.requests().len();
        let warm = generate(&workspace, &hub, version, &[]);
        let fetched = shard_bytes_since(&hub, seen);
        assert!(
            fetched * 100 <= total_shard_bytes(),
            "{version} fetched {fetched} shard bytes of {}",
            total_shard_bytes()
        );
        assert_eq!(warm["network_bytes"], fetched);
        assert!(warm["rows_from_cache"].as_u64().unwrap() > 140, "{warm}");
        let files = warm["manifest"]["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .flat_map(|repo| repo["files"].as_array().unwrap().clone())
            .collect::<Vec<_>>();
        assert_eq!(files.len(), 7);
        for file in files {
            assert!(file["verified"].as_bool().unwrap(), "{file}");
            assert_eq!(file["bytes_fetched"], 0, "{file}");
        }
    }
}

#[test]
fn another_version_fetches_only_the_row_groups_of_its_new_ids() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    generate(&workspace, &hub, "2.1.0", &[]);
    let new_ids: HashSet<String> = annotated_ids("1.0.0")
        .difference(&annotated_ids("2.1.0"))
        .cloned()
        .collect();
    assert!(!new_ids.is_empty());
    let needed = row_group_bytes_holding(&new_ids);
    assert!(needed > 0 && needed < total_shard_bytes());

    let seen = hub.requests().len();
    generate(&workspace, &hub, "1.0.0", &[]);
    let fetched = shard_bytes_since(&hub, seen);
    assert!(
        fetched <= needed + total_shard_bytes() / 100,
        "1.0.0 after 2.1.0 fetched {fetched} bytes; the row groups of its new IDs are {needed}"
    );
    // And now both versions' rows are cached.
    let seen = hub.requests().len();
    generate(&workspace, &hub, "1.0.0", &[]);
    assert_eq!(shard_bytes_since(&hub, seen), 0);
}

#[test]
fn offline_a_warm_cache_answers_without_a_request() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    generate(&workspace, &hub, "2.1.0", &[]);
    // 1.0.0's annotation file in the Hugging Face cache, none of its rows in ours.
    generate(&workspace, &hub, "1.0.0", &["--no-cache"]);
    let seen = hub.requests().len();
    let output = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env("HF_HUB_OFFLINE", "1")
        .args(["generate", "--version", "2.1.0"])
        .output()
        .unwrap();
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
    assert_eq!(hub.requests().len(), seen, "offline runs sent requests");

    // 1.0.0 wants rows the cache does not hold: the run says which shards, and what to do.
    let output = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env("HF_HUB_OFFLINE", "1")
        .args(["generate", "--version", "1.0.0"])
        .output()
        .unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("data/train-"), "{message}");
    assert!(message.contains("unset HF_HUB_OFFLINE"), "{message}");
    assert!(message.contains("--source-dir"), "{message}");
    assert!(!workspace.artifacts("1.0.0").exists());
    assert_eq!(hub.requests().len(), seen, "offline runs sent requests");
}

#[test]
fn a_changed_shard_is_fetched_again_and_only_it() {
    let tree = hub_tree_copy();
    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();
    let workspace = Workspace::new();
    generate(&workspace, &hub, "2.1.0", &[]);

    // The same rows written again in other row groups: other bytes, another SHA-256.
    let shard = tree
        .path()
        .join("datasets")
        .join(WILDCHAT)
        .join("data/train-00001-of-00004.parquet");
    let python = python_with(&["pyarrow"]);
    let rewrite = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; \
             pq.write_table(pq.read_table(sys.argv[1]), sys.argv[1], row_group_size=100)",
        ])
        .arg(&shard)
        .output()
        .unwrap();
    assert!(rewrite.status.success(), "{}", stderr(&rewrite));
    let changed = std::fs::metadata(&shard).unwrap().len();

    let seen = hub.requests().len();
    generate(&workspace, &hub, "2.1.0", &[]);
    let requests = hub.requests();
    let fetched: Vec<&RequestRecord> = requests[seen..]
        .iter()
        .filter(|request| request.method == "GET" && request.path.ends_with(".parquet"))
        .collect();
    assert!(
        fetched
            .iter()
            .all(|request| request.path.ends_with("train-00001-of-00004.parquet")),
        "{fetched:?}"
    );
    assert_eq!(shard_bytes_since(&hub, seen), changed);
}

#[test]
fn a_damaged_entry_is_dropped_with_a_warning_and_fetched_again() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    generate(&workspace, &hub, "2.1.0", &[]);
    let segments: Vec<PathBuf> = files_under(&cache_dir(&workspace))
        .into_iter()
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("segment-")
        })
        .collect();
    assert_eq!(segments.len(), 7, "one compacted segment per shard");
    let damaged = &segments[0];
    let mut bytes = std::fs::read(damaged).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(damaged, bytes).unwrap();
    // The layout's version of another shard's segment, as another healthchat would write it.
    let mut other = std::fs::read(&segments[1]).unwrap();
    other[6] = 99;
    std::fs::write(&segments[1], other).unwrap();

    let seen = hub.requests().len();
    let message = stderr(&workspace.generate_golden(&hub, "2.1.0"));
    assert!(message.contains("is damaged"), "{message}");
    assert!(message.contains("layout 99"), "{message}");
    assert!(message.contains("fetched again"), "{message}");
    let shard_of = |segment: &Path| {
        // rows/datasets--{owner}--{name}/{path}/{sha256}/segment-…
        let path = segment.parent().unwrap().parent().unwrap();
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .replace("--", "/")
    };
    let fetched: Vec<String> = hub.requests()[seen..]
        .iter()
        .filter(|request| request.method == "GET" && request.path.ends_with(".parquet"))
        .map(|request| request.path.clone())
        .collect();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    for segment in &segments[..2] {
        let shard = shard_of(segment);
        assert!(
            fetched.iter().any(|path| path.ends_with(&shard)),
            "{shard}: {fetched:?}"
        );
    }
}

#[test]
fn two_runs_at_once_share_the_cache_and_both_finish_identical() {
    let hub = golden_hub();
    let first = Workspace::new();
    let second = Workspace {
        dir: tempfile::tempdir().unwrap(),
        hf_home: tempfile::tempdir().unwrap(),
    };
    let args = ["generate", "--version", "2.1.0"];
    let shared = first.hf_home.path();
    let spawn = |workspace: &Workspace| {
        workspace
            .command(&hub, Some(GRANTED_TOKEN))
            .env("HF_HOME", shared)
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(&first), spawn(&second));
    for child in [a, b] {
        assert_success(&child.wait_with_output().unwrap());
    }
    assert_matches_golden(&first.artifacts("2.1.0"), "2.1.0");
    assert_matches_golden(&second.artifacts("2.1.0"), "2.1.0");
    // What they left is whole: the next run takes every row from it.
    let seen = hub.requests().len();
    generate(&first, &hub, "2.1.0", &[]);
    assert_eq!(shard_bytes_since(&hub, seen), 0);
}

#[test]
fn no_cache_neither_reads_nor_writes_it() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    generate(&workspace, &hub, "2.1.0", &["--no-cache"]);
    assert!(!cache_dir(&workspace).exists());
    generate(&workspace, &hub, "2.1.0", &[]);
    let before = files_under(&cache_dir(&workspace));
    let seen = hub.requests().len();
    let summary = generate(&workspace, &hub, "2.1.0", &["--no-cache"]);
    assert!(shard_bytes_since(&hub, seen) >= total_shard_bytes());
    assert_eq!(summary["rows_from_cache"], 0);
    assert_eq!(files_under(&cache_dir(&workspace)), before);
}

#[test]
fn the_cache_command_shows_and_cleans_the_cache() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    generate(&workspace, &hub, "2.1.0", &[]);
    let output = workspace.run(&hub, None, &["cache", "--json"]);
    assert_success(&output);
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["path"], cache_dir(&workspace).to_str().unwrap());
    let size = shown["size_bytes"].as_u64().unwrap();
    assert!(size > 0);
    let commits = shown["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 2, "{shown}");
    let rows: u64 = commits.iter().map(|c| c["rows"].as_u64().unwrap()).sum();
    let ids: u64 = commits.iter().map(|c| c["ids"].as_u64().unwrap()).sum();
    assert_eq!(ids, 1500 + 1200, "every source row indexed");
    assert!((146..=153).contains(&rows), "{shown}");
    for commit in commits {
        assert_eq!(commit["shards_cached"], commit["shards_listed"], "{commit}");
        assert_eq!(
            commit["shards_indexed"], commit["shards_listed"],
            "{commit}"
        );
    }
    // Small beside what it serves: at most 3 × the JSONL plus 32 bytes per source row.
    let jsonl = std::fs::metadata(fixtures().join("expected/v2.1.0/HealthChat-11K_v2.1.0.jsonl"))
        .unwrap()
        .len();
    assert!(
        size <= 3 * jsonl + 32 * 2700,
        "{size} bytes for a {jsonl}-byte JSONL"
    );

    let text = workspace.run(&hub, None, &["cache"]);
    assert_success(&text);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains(LMSYS) && text.contains(WILDCHAT), "{text}");

    let output = workspace.run(&hub, None, &["cache", "clean", "--json"]);
    assert_success(&output);
    let cleaned: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cleaned["removed_bytes"], size);
    assert!(!cache_dir(&workspace).exists());
}

/// The artifacts of a run, by name (the manifest aside: it says what came from the cache).
fn artifact_bytes(directory: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name() != "manifest.json")
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The bytes of the row groups' index and rows the cache at `dir` holds (its journals and
/// segments).
fn indexed_bytes(dir: &Path) -> u64 {
    files_under(dir)
        .iter()
        .filter(|file| {
            let name = file.file_name().unwrap().to_string_lossy();
            name.starts_with("journal-") || name.starts_with("segment-")
        })
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|metadata| metadata.len())
        .sum()
}

#[test]
fn a_run_stopped_half_way_goes_on_where_it_stopped() {
    let corpus = tempfile::tempdir().unwrap();
    let written = testhub::corpus::write_corpus(
        &hub_tree(),
        corpus.path(),
        testhub::corpus::CorpusOptions {
            size_bytes: 24_000_000,
            seed: 7,
            shards: 6,
            rows_per_group: 125,
        },
    )
    .unwrap();
    assert!(
        written.row_groups() >= 40,
        "{} row groups",
        written.row_groups()
    );
    // Slow enough that the run is caught half-way, as on a hospital's link.
    let hub = TestHub::start(hub_config_at(corpus.path()).bandwidth(8_000_000)).unwrap();
    // What a stop loses is what is in flight per stream (the row groups being decoded, socket
    // buffers): a fixed amount, a few % of this small corpus with many streams at once, a
    // fraction of a % of the real one. Two streams keep it to that.
    let args = ["generate", "--version", "2.1.0", "--jobs", "2"];

    let whole = Workspace::new();
    let seen = hub.requests().len();
    assert_success(&whole.run(&hub, Some(GRANTED_TOKEN), &args));
    let one_run = shard_bytes_since(&hub, seen);
    assert!(one_run >= written.shard_bytes());
    let expected = artifact_bytes(&whole.artifacts("2.1.0"));
    let full_index = indexed_bytes(&cache_dir(&whole));

    for (signal, allowed_percent) in [("INT", 110), ("TERM", 110), ("KILL", 115)] {
        let workspace = Workspace::new();
        let seen = hub.requests().len();
        let mut child = workspace
            .command(&hub, Some(GRANTED_TOKEN))
            .args(args)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Stopped once about half of the row groups are indexed.
        let started = std::time::Instant::now();
        while indexed_bytes(&cache_dir(&workspace)) < full_index / 2 {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before it was stopped"
            );
            assert!(
                started.elapsed().as_secs() < 120,
                "the run made no progress"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let stopped = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success(), "SIG{signal}: {}", stderr(&output));
        assert!(!workspace.artifacts("2.1.0").exists());

        let resumed = hub.requests().len();
        let output = workspace.run(
            &hub,
            Some(GRANTED_TOKEN),
            &[&args[..], &["--json"]].concat(),
        );
        assert_success(&output);
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            summary["network_bytes"],
            shard_bytes_since(&hub, resumed),
            "SIG{signal}: the summary counts what was fetched, not what the cache kept"
        );
        let both = shard_bytes_since(&hub, seen);
        assert!(
            both * 100 <= one_run * allowed_percent,
            "SIG{signal}: the stopped run and the next fetched {both} bytes; one run fetches {one_run}"
        );
        assert!(
            artifact_bytes(&workspace.artifacts("2.1.0")) == expected,
            "SIG{signal}: the resumed run's artifacts differ from one run's"
        );
        eprintln!("SIG{signal}: {both} bytes in all, one run {one_run}");
    }
}
