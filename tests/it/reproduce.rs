//! `healthchat generate --manifest FILE`: an earlier build rebuilt from its manifest and compared
//! artifact by artifact (exit 0 reproduced, 4 not), and every manifest that cannot describe a
//! build refused before anything is written.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::*;

const MANIFEST_OF_2_1_0: &str = "HealthChat-11K_v2.1.0_artifacts/manifest.json";

/// An earlier build of 2.1.0 against the golden Hub: the workspace holding it.
fn earlier_build() -> Workspace {
    let workspace = Workspace::new();
    workspace.generate_golden(&golden_hub(), "2.1.0");
    workspace
}

fn manifest_of(workspace: &Workspace) -> PathBuf {
    workspace.dir.path().join(MANIFEST_OF_2_1_0)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `generate --manifest MANIFEST -o rebuilt EXTRA...` in `workspace` with the granted token.
fn rebuild(workspace: &Workspace, hub: &TestHub, manifest: &Path, extra: &[&str]) -> Output {
    let mut command = workspace.command(hub, Some(GRANTED_TOKEN));
    command
        .args(["generate", "--manifest"])
        .arg(manifest)
        .args(["-o", "rebuilt"])
        .args(extra);
    command.output().unwrap()
}

/// Every file of an artifacts directory but manifest.json, with its bytes.
fn artifact_bytes(directory: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap())
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).unwrap())
        })
        .filter(|(name, _)| name != "manifest.json")
        .collect();
    files.sort();
    files
}

#[test]
fn a_golden_build_is_reproduced_byte_for_byte() {
    let earlier = earlier_build();
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = rebuild(&workspace, &hub, &manifest_of(&earlier), &[]);
    assert_success(&output);
    assert!(
        stderr(&output).contains(&format!(
            "Reproduced the build of {}: all 6 artifacts have the SHA-256 it lists.",
            manifest_of(&earlier).display()
        )),
        "{}",
        stderr(&output)
    );
    let rebuilt = workspace
        .dir
        .path()
        .join("rebuilt/HealthChat-11K_v2.1.0_artifacts");
    assert_eq!(
        artifact_bytes(&rebuilt),
        artifact_bytes(&earlier.artifacts("2.1.0"))
    );
    // The new manifest names the revisions the earlier build asked for, at its commits.
    let repositories = |path: &Path| -> Vec<(Value, Value)> {
        read_json(path)["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["revision"].clone(), r["commit"].clone()))
            .collect()
    };
    assert_eq!(
        repositories(&rebuilt.join("manifest.json")),
        repositories(&manifest_of(&earlier))
    );
    // From a local copy of the same shards, the same build (the card names the same commits).
    let downloads = hf_download_copy();
    let output = rebuild(
        &Workspace::new(),
        &hub,
        &manifest_of(&earlier),
        &["--source-dir", downloads.path().to_str().unwrap()],
    );
    assert_success(&output);
    assert!(stderr(&output).contains("Reproduced the build of"));
}

/// Rewrites every shard of `data_dir` without the rows whose `id_column` is `id`; returns how
/// many rows were removed.
fn remove_rows(data_dir: &Path, id_column: &str, id: &str) -> usize {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let mut removed = 0;
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let path = entry.unwrap().path();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut kept = Vec::new();
        let mut found = false;
        for batch in reader.map(Result::unwrap) {
            let ids = batch.column_by_name(id_column).unwrap().as_string::<i32>();
            let mut start = 0;
            for row in 0..ids.len() {
                if ids.value(row) == id {
                    kept.push(batch.slice(start, row - start));
                    start = row + 1;
                    removed += 1;
                    found = true;
                }
            }
            kept.push(batch.slice(start, batch.num_rows() - start));
        }
        if found {
            let file = std::fs::File::create(&path).unwrap();
            let mut writer = ArrowWriter::try_new(file, kept[0].schema(), None).unwrap();
            for batch in &kept {
                writer.write(batch).unwrap();
            }
            writer.close().unwrap();
        }
    }
    removed
}

/// The first WildChat conversation of the golden 2.1.0 JSONL.
fn a_found_wildchat_id() -> String {
    let jsonl = fixtures().join("expected/v2.1.0/HealthChat-11K_v2.1.0.jsonl");
    std::fs::read_to_string(jsonl)
        .unwrap()
        .lines()
        .find_map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            record["conversation_hash"].as_str().map(str::to_owned)
        })
        .unwrap()
}

#[test]
fn a_row_removed_upstream_is_named_and_exits_4() {
    let earlier = earlier_build();
    // The same commit (the local Hub's commits are its repositories' names), one row fewer.
    let tree = hub_tree_copy();
    let id = a_found_wildchat_id();
    let data = repo_dir(tree.path(), WILDCHAT).join("data");
    assert!(remove_rows(&data, "conversation_hash", &id) > 0);
    let hub = TestHub::start(hub_config_at(tree.path())).unwrap();

    let workspace = Workspace::new();
    let output = rebuild(&workspace, &hub, &manifest_of(&earlier), &["--json"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{message}");
    for differs in [
        "differs:  HealthChat-11K_v2.1.0.jsonl",
        "differs:  HealthChat-11K_v2.1.0_full_review.csv",
        "differs:  HealthChat-11K_v2.1.0_wildchat.parquet",
        "differs:  README.md",
        "Conversations of allenai/WildChat-1M the earlier build had, missing now (1):",
        &format!("    - {id}"),
        "the build of",
        "was not reproduced: ",
        "1 conversation it had is missing now",
        "the artifacts were written to rebuilt/HealthChat-11K_v2.1.0_artifacts",
        "Next: ",
    ] {
        assert!(message.contains(differs), "{differs}:\n{message}");
    }
    assert!(
        !message.contains("differs:  HealthChat-11K_v2.1.0_lmsys.parquet"),
        "{message}"
    );
    // The artifacts are still written, and --json has every difference.
    let rebuilt = workspace
        .dir
        .path()
        .join("rebuilt/HealthChat-11K_v2.1.0_artifacts");
    assert!(rebuilt.join("HealthChat-11K_v2.1.0.jsonl").is_file());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let reproduction = &summary["reproduction"];
    assert_eq!(reproduction["reproduced"], false);
    assert_eq!(reproduction["conversations"][0]["source"], "wildchat");
    assert_eq!(
        reproduction["conversations"][0]["missing_now"],
        serde_json::json!([id])
    );
    assert_eq!(reproduction["artifacts"].as_array().unwrap().len(), 5);

    // The other way round: built without the row, the Hub has it again.
    let manifest = rebuilt.join("manifest.json");
    let output = rebuild(&Workspace::new(), &golden_hub(), &manifest, &[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{message}");
    assert!(
        message.contains(
            "Conversations of allenai/WildChat-1M found now, missing from the earlier build (1):"
        ),
        "{message}"
    );
    assert!(
        message.contains("1 conversation missing from it is found now"),
        "{message}"
    );
}

#[test]
fn a_reference_only_wildchat_build_stays_one() {
    let hub = golden_hub();
    let earlier = Workspace::new();
    assert_success(&earlier.run(
        &hub,
        None,
        &[
            "generate",
            "--version",
            "2.1.0",
            "--sources",
            "wildchat",
            "--reference-only",
        ],
    ));
    let manifest = earlier
        .dir
        .path()
        .join("HealthChat-11K_v2.1.0_wildchat_artifacts/manifest.json");
    let before = hub.requests().len();
    let workspace = Workspace::new();
    // No token: a WildChat build never asks for lmsys. --strict still counts the missing.
    let output = workspace
        .command(&hub, None)
        .args(["generate", "--strict", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{message}");
    assert!(message.contains("Reproduced the build of"), "{message}");
    assert!(message.contains("reference files only"), "{message}");
    let rebuilt = workspace
        .dir
        .path()
        .join("HealthChat-11K_v2.1.0_wildchat_artifacts");
    assert_eq!(
        artifact_bytes(&rebuilt),
        artifact_bytes(manifest.parent().unwrap())
    );
    assert_eq!(
        artifact_bytes(&rebuilt).len(),
        3,
        "no Parquet file, no card"
    );
    assert!(
        hub.requests()[before..]
            .iter()
            .all(|request| !request.path.contains(LMSYS)),
        "lmsys was asked for"
    );
}

#[test]
fn manifest_conflicts_with_the_flags_it_sets() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    for flags in [
        &["--version", "2.1.0"][..],
        &["--annotations-revision", "main"],
        &["--lmsys-revision", "main"],
        &["--wildchat-revision", "main"],
        &["--sources", "wildchat"],
        &["--reference-only"],
    ] {
        let mut args = vec!["generate", "--manifest", "manifest.json"];
        args.extend(flags);
        let output = workspace.run(&hub, Some(GRANTED_TOKEN), &args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {message}");
        assert!(
            message.contains("'--manifest <FILE>' cannot be used with"),
            "{message}"
        );
    }
    assert!(hub.requests().is_empty());
}

/// `generate --manifest` of a file holding `bytes` must fail with status 1, saying `expected`,
/// before anything is written or asked of the Hub.
fn assert_refused(bytes: &[u8], expected: &str) {
    let hub = golden_hub();
    let workspace = Workspace::new();
    std::fs::write(workspace.dir.path().join("manifest.json"), bytes).unwrap();
    let output = rebuild(&workspace, &hub, Path::new("manifest.json"), &[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{expected}: {message}");
    assert!(message.contains(expected), "{expected}:\n{message}");
    assert!(message.contains("\nNext: "), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(workspace.entries(), ["manifest.json"], "{expected}");
    assert!(hub.requests().is_empty(), "{expected}: the Hub was asked");
}

#[test]
fn manifests_that_cannot_describe_a_build_are_refused() {
    let earlier = earlier_build();
    let good = read_json(&manifest_of(&earlier));
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut manifest = good.clone();
        edit(&mut manifest);
        serde_json::to_vec(&manifest).unwrap()
    };
    assert_refused(b"not json", "manifest.json is not a healthchat manifest");
    assert_refused(
        b"{\"tool\": 1}",
        "manifest.json is not a healthchat manifest",
    );
    assert_refused(b"", "manifest.json is not a healthchat manifest");
    assert_refused(
        &edited(&|m| m["layout"] = 2.into()),
        "manifest.json was written by a newer healthchat (manifest layout 2;",
    );
    assert_refused(
        &edited(&|m| m["repositories"][1]["commit"] = "0123abc".into()),
        "manifest.json cannot be rebuilt: its commit `0123abc` of lmsys/lmsys-chat-1m is not 40 \
         hexadecimal digits",
    );
    assert_refused(
        &edited(&|m| m["repositories"][0]["commit"] = "../../../../etc/passwd".into()),
        "its commit `../../../../etc/passwd` of yahskapar/HealthChat-11K is not 40 hexadecimal",
    );
    for name in ["../escape.jsonl", "a/b.csv", "..", "\u{1b}[2J.csv"] {
        assert_refused(
            &edited(&|m| m["artifacts"][0]["name"] = name.into()),
            &format!(
                "its artifact `{}` is not a plain file name",
                name.escape_debug()
            ),
        );
    }
    assert_refused(
        &edited(&|m| m["repositories"][2]["id"] = "someone/else".into()),
        "it names the repository `someone/else`, which healthchat does not read",
    );
    assert_refused(
        &edited(&|m| m["repositories"][2]["revision"] = "../main".into()),
        "its revision `../main` of allenai/WildChat-1M is not a branch, tag or commit name",
    );
    assert_refused(
        &edited(&|m| m["included_sources"] = serde_json::json!(["reddit"])),
        "it names the source `reddit`, which is neither lmsys nor wildchat",
    );
    assert_refused(
        &edited(&|m| m["annotation_version"] = "latest".into()),
        "its annotation_version `latest` is not MAJOR.MINOR.PATCH",
    );
}

#[test]
fn a_commit_the_hub_no_longer_has_is_named_and_nothing_is_written() {
    let earlier = earlier_build();
    let hub = golden_hub();
    let gone = "0123456789abcdef0123456789abcdef01234567";
    for (index, repo, next) in [
        (1, LMSYS, "pass it with --source-dir"),
        (0, ANNOTATIONS, "HF_HUB_OFFLINE=1"),
    ] {
        let workspace = Workspace::new();
        let mut manifest = read_json(&manifest_of(&earlier));
        manifest["repositories"][index]["commit"] = gone.into();
        let path = workspace.dir.path().join("manifest.json");
        std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let output = rebuild(&workspace, &hub, &path, &[]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{message}");
        assert!(
            message.contains(&format!(
                "error: commit {gone} of {repo}, which {} names, is not on the Hub: the build it \
                 describes cannot be reproduced from the Hub",
                path.display()
            )),
            "{message}"
        );
        assert!(message.contains(next), "{message}");
        assert_eq!(workspace.entries(), ["manifest.json"]);
    }
}

#[test]
fn a_warm_cache_reproduces_offline_without_a_request() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    workspace.generate_golden(&hub, "2.1.0");
    let seen = hub.requests().len();
    let output = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env("HF_HUB_OFFLINE", "1")
        .args(["generate", "--quiet", "--manifest", MANIFEST_OF_2_1_0])
        .args(["-o", "offline"])
        .output()
        .unwrap();
    assert_success(&output);
    assert_eq!(hub.requests().len(), seen, "an offline run sent requests");
    assert_eq!(
        artifact_bytes(
            &workspace
                .dir
                .path()
                .join("offline/HealthChat-11K_v2.1.0_artifacts")
        ),
        artifact_bytes(&workspace.artifacts("2.1.0"))
    );
}

#[test]
fn manifests_of_every_layout_this_build_knows_are_read() {
    let workspace = earlier_build();
    let path = manifest_of(&workspace);
    let mut manifest = read_json(&path);
    assert_eq!(manifest["layout"], 1);
    let verify = || {
        workspace
            .command(&golden_hub(), None)
            .arg("verify")
            .arg(workspace.artifacts("2.1.0"))
            .output()
            .unwrap()
    };
    // Before the field: layout 1.
    manifest.as_object_mut().unwrap().remove("layout");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    assert_success(&verify());
    manifest["layout"] = 2.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let output = verify();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("written by a newer healthchat"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("Next: upgrade healthchat"));
}
