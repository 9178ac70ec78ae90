//! What the command says to the person running it: the version line, help texts, the closing
//! summary's size, and the messages of runs that cannot go on (each saying what to do next).

use crate::support::*;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn version_names_the_commit_the_binary_was_built_from() {
    let output = std::process::Command::new(healthchat_binary())
        .arg("--version")
        .output()
        .expect("the binary runs");
    assert_success(&output);
    let mut expected = format!("healthchat {}", env!("CARGO_PKG_VERSION"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|output| output.status.success() && root.join(".git").exists());
    if let Some(commit) = commit {
        expected += &format!(" ({})", String::from_utf8_lossy(&commit.stdout).trim());
    }
    assert_eq!(stdout(&output).trim(), expected);
}

#[test]
fn help_names_every_artifact_and_every_variable() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let help = stdout(&workspace.run(&hub, None, &["--help"]));
    assert!(help.contains("HEALTHCHAT_CACHE"), "{help}");
    let generate = stdout(&workspace.run(&hub, None, &["generate", "--help"]));
    assert!(!generate.contains("three artifacts"), "{generate}");
    assert!(
        generate.contains("a Parquet file per source, the dataset card and manifest.json"),
        "{generate}"
    );
}

#[test]
fn jobs_out_of_range_is_said_in_words() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    for jobs in ["0", "65", "many"] {
        let output = workspace.run(&hub, None, &["generate", "--jobs", jobs]);
        assert_eq!(output.status.code(), Some(2));
        let said = stderr(&output);
        assert!(
            said.contains("--jobs must be a whole number between 1 and 64") && !said.contains(".."),
            "{said}"
        );
    }
    assert!(hub.requests().is_empty());
}

#[test]
fn an_output_dir_that_is_a_file_is_called_a_file() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    std::fs::write(workspace.dir.path().join("out"), "a file").unwrap();
    for output_dir in ["out", "out/below"] {
        let output = workspace.run(
            &hub,
            Some(GRANTED_TOKEN),
            &["generate", "--version", "2.1.0", "-o", output_dir],
        );
        assert_eq!(output.status.code(), Some(1));
        let said = stderr(&output);
        assert!(
            said.contains(&format!(
                "error: cannot write the artifacts into {output_dir}: out is a file, not a \
                 directory\nNext: choose a directory with --output-dir"
            )),
            "{said}"
        );
        assert!(!said.contains("File exists") && !said.contains("check that the directory exists"));
    }
    assert_eq!(workspace.entries(), ["out"]);
}

#[test]
fn fetching_is_said_only_when_the_annotation_file_is_downloaded() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let first = stderr(&workspace.generate_golden(&hub, "2.1.0"));
    let fetching =
        "Fetching HealthChat-11K_master_annotations_v2.1.0.jsonl from yahskapar/HealthChat-11K";
    assert!(first.contains(fetching), "{first}");
    let again = stderr(&workspace.generate_golden(&hub, "2.1.0"));
    assert!(!again.contains("Fetching"), "from the cache: {again}");
    let offline = stderr(&workspace.generate_offline_from_fixtures(&hub, "2.1.0"));
    assert!(!offline.contains("Fetching"), "offline: {offline}");
    let unknown = workspace.generate_failing(&hub, "9.9.9");
    assert!(
        unknown.starts_with("error: annotation version 9.9.9 does not exist"),
        "{unknown}"
    );
}

#[test]
fn the_summary_fits_a_40_line_screen_and_says_only_what_happened() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let first = stderr(&workspace.generate_golden(&hub, "2.1.0"));
    assert!(
        first.lines().count() <= 40,
        "{} lines:\n{first}",
        first.lines().count()
    );
    let duplicates =
        "4 source rows left out: their conversation ID was found already (the first row is kept)";
    assert!(first.contains(duplicates), "{first}");
    assert!(
        first.contains("    General Health 43, Mental Health 14, Endocrinology 9,"),
        "the specialties folded, most first: {first}"
    );
    assert!(
        !first.contains("from the cache"),
        "nothing came from it: {first}"
    );

    // Everything from the cache of matched rows: 150 source rows for 146 conversations, and
    // the 4 repeated IDs say why.
    let again = stderr(&workspace.generate_golden(&hub, "2.1.0"));
    let elapsed = again.lines().last().unwrap();
    assert!(
        elapsed.ends_with("; no shard bytes read; 150 source rows from the cache of matched rows"),
        "{again}"
    );
    assert!(again.contains("146 conversations") && again.contains(duplicates));
    assert!(
        !again.contains("0 B/s") && !again.contains(" 0 rows"),
        "{again}"
    );
}

#[test]
fn the_terminal_shows_ten_missing_ids_a_source_and_json_keeps_them_all() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    // The 2.1.0 annotations and 13 WildChat conversations no shard holds.
    let text = std::fs::read_to_string(annotation_file(&hub_tree(), "2.1.0")).unwrap();
    let first = text.lines().next().unwrap();
    let record: serde_json::Value = serde_json::from_str(first).unwrap();
    let id = record["conversation_id"].as_str().unwrap();
    assert_eq!(record["dataset_source"], "wildchat");
    let absent: Vec<String> = (0..13).map(|i| format!("{:032x}", 0xabc000 + i)).collect();
    let mut draft = text.clone();
    for absent in &absent {
        draft += &first.replace(id, absent);
        draft.push('\n');
    }
    let path = workspace.dir.path().join("draft.jsonl");
    std::fs::write(&path, draft).unwrap();
    let output = workspace
        .command(&hub, None)
        .env("HF_HUB_OFFLINE", "1")
        .args(["generate", "--json", "--annotations"])
        .arg(&path)
        .args(["--version", "2.1.0", "--source-dir"])
        .arg(hub_tree())
        .output()
        .unwrap();
    assert_success(&output);
    let said = stderr(&output);
    assert!(
        said.contains("  Not found in allenai/WildChat-1M (15 conversations):"),
        "{said}"
    );
    let shown = absent
        .iter()
        .filter(|id| said.contains(id.as_str()))
        .count();
    assert_eq!(shown, 8, "2 of the fixtures' own, then 8 of these: {said}");
    assert!(
        said.contains("    and 5 more, listed in manifest.json"),
        "{said}"
    );
    assert!(said.lines().count() <= 40, "{said}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let missing = summary["manifest"]["sources"][1]["missing"]
        .as_array()
        .unwrap();
    assert_eq!(missing.len(), 15);
    assert!(
        absent
            .iter()
            .all(|id| missing.contains(&serde_json::json!(id)))
    );
}
