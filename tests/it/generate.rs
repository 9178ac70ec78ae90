//! `healthchat generate` end to end: the real binary against the local Hub, outputs compared byte
//! for byte with the reference generator's.

use crate::support::*;

#[test]
fn every_version_is_byte_identical_to_the_reference() {
    let hub = golden_hub();
    for version in VERSIONS {
        let workspace = Workspace::new();
        let output = workspace.run(
            &hub,
            Some(GRANTED_TOKEN),
            &["generate", "--version", version],
        );
        assert_success(&output);
        assert_matches_golden(&workspace.artifacts(version), version);
        assert_eq!(
            workspace.entries(),
            [format!("HealthChat-11K_v{version}_artifacts")]
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            format!("HealthChat-11K_v{version}_artifacts"),
            "stdout names the artifacts directory"
        );
    }
}

#[test]
fn output_is_the_same_whatever_the_number_of_jobs() {
    let hub = golden_hub();
    for jobs in ["1", "2", "7"] {
        let workspace = Workspace::new();
        let output = workspace.run(
            &hub,
            Some(GRANTED_TOKEN),
            &["generate", "--version", "2.0.0", "--jobs", jobs],
        );
        assert_success(&output);
        assert_matches_golden(&workspace.artifacts("2.0.0"), "2.0.0");
    }
}

#[test]
fn without_version_the_newest_is_built_and_named() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, Some(GRANTED_TOKEN), &["generate"]);
    assert_success(&output);
    assert!(
        stderr(&output).contains("newest annotation version, 2.1.0"),
        "{}",
        stderr(&output)
    );
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
}

#[test]
fn missing_conversations_are_reported_per_source() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "1.0.0"],
    );
    assert_success(&output);
    let stderr = stderr(&output);
    for id in [
        "a3c08f5990d5cd96ca72f27a28ddffa4",
        "642ab8187fdbde55c3976dd94f4318f4",
        "e820210b8bbbffcdb3799b14c150a69a",
        "216c6961ca2eb90c5d65eab95c8e22c6",
    ] {
        assert!(
            stderr.contains(&format!("- {id}")),
            "{id} is reported missing:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("Not found in lmsys/lmsys-chat-1m (2 conversations)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Not found in allenai/WildChat-1M (2 conversations)"),
        "{stderr}"
    );
}

#[test]
fn storage_redirects_never_receive_the_token_and_resolve_once_per_shard() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.0.0"],
    ));
    let requests = hub.requests();
    let storage: Vec<_> = requests
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .collect();
    assert!(
        !storage.is_empty(),
        "the shards were redirected to the storage host"
    );
    assert!(
        storage.iter().all(|r| !r.authorization),
        "no Authorization header reached storage"
    );
    assert!(
        storage.iter().all(|r| r.range.is_some()),
        "Range followed the redirect"
    );
    let shard_resolves = requests
        .iter()
        .filter(|r| r.path.contains("/resolve/") && r.path.ends_with(".parquet"))
        .count();
    assert_eq!(
        shard_resolves, 7,
        "one /resolve/ per shard (3 lmsys + 4 wildchat)"
    );
    assert!(
        requests.iter().all(|r| r.status < 400),
        "no request failed: {requests:?}"
    );
}

#[test]
fn the_annotation_file_is_cached_in_hf_home() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "1.0.0"],
    ));
    let annotation_gets = || {
        hub.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("annotations_v1.0.0.jsonl"))
            .count()
    };
    assert_eq!(annotation_gets(), 1);
    let snapshot = workspace
        .hf_home
        .path()
        .join("hub/datasets--yahskapar--HealthChat-11K/snapshots")
        .join(testhub::commit_of(ANNOTATIONS))
        .join("HealthChat-11K_master_annotations_v1.0.0.jsonl");
    assert_eq!(
        std::fs::read(&snapshot).expect("the annotation file is in the cache"),
        std::fs::read(annotation_file(&hub_tree(), "1.0.0")).unwrap()
    );
    let main_ref = workspace
        .hf_home
        .path()
        .join("hub/datasets--yahskapar--HealthChat-11K/refs/main");
    assert_eq!(
        std::fs::read_to_string(main_ref).unwrap(),
        testhub::commit_of(ANNOTATIONS)
    );

    std::fs::remove_dir_all(workspace.artifacts("1.0.0")).unwrap();
    assert_success(&workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "1.0.0"],
    ));
    assert_eq!(annotation_gets(), 1, "the second run reads the cache");
    assert_matches_golden(&workspace.artifacts("1.0.0"), "1.0.0");
}

#[test]
fn the_token_file_under_hf_home_is_used() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    std::fs::write(
        workspace.hf_home.path().join("token"),
        format!("{GRANTED_TOKEN}\n"),
    )
    .unwrap();
    assert_success(&workspace.run(&hub, None, &["generate", "--version", "2.1.0"]));
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
}

#[test]
fn gated_source_without_a_token_stops_with_the_way_to_get_access() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, None, &["generate", "--version", "2.0.0"]);
    assert!(!output.status.success());
    let stderr = stderr(&output);
    assert!(
        stderr.contains("lmsys/lmsys-chat-1m is a gated dataset"),
        "{stderr}"
    );
    assert!(stderr.contains("no token was found"), "{stderr}");
    assert!(stderr.contains("HF_TOKEN"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}/datasets/lmsys/lmsys-chat-1m", hub.endpoint())),
        "{stderr}"
    );
    assert!(
        workspace.entries().is_empty(),
        "nothing is left behind: {:?}",
        workspace.entries()
    );
    let streamed = hub
        .requests()
        .iter()
        .any(|r| r.path.starts_with("/cdn/") && r.path.contains("WildChat"));
    assert!(!streamed, "access is checked before any source is streamed");
}

#[test]
fn gated_source_with_a_token_without_access_says_so() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(DENIED_TOKEN),
        &["generate", "--version", "2.0.0"],
    );
    assert!(!output.status.success());
    let stderr = stderr(&output);
    assert!(
        stderr.contains("has no access to it (HTTP 403)"),
        "{stderr}"
    );
    assert!(stderr.contains("HF_TOKEN"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}/datasets/lmsys/lmsys-chat-1m", hub.endpoint())),
        "{stderr}"
    );
    assert!(!stderr.contains(DENIED_TOKEN), "the token is never printed");
    assert!(workspace.entries().is_empty());
}

#[test]
fn an_invalid_token_is_reported_as_such() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let token = "hf_not_a_real_token";
    let output = workspace.run(&hub, Some(token), &["generate", "--version", "2.0.0"]);
    assert!(!output.status.success());
    let stderr = stderr(&output);
    assert!(
        stderr.contains("rejected the token from HF_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains(token), "the token is never printed");
}

#[test]
fn an_unknown_version_lists_the_available_ones() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "3.0.0"],
    );
    assert!(!output.status.success());
    let stderr = stderr(&output);
    assert!(
        stderr.contains("annotation version 3.0.0 does not exist"),
        "{stderr}"
    );
    assert!(
        stderr.contains("available versions: 1.0.0, 2.0.0, 2.1.0"),
        "{stderr}"
    );
    assert!(workspace.entries().is_empty());
}

#[test]
fn a_malformed_version_is_a_usage_error() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(&hub, None, &["generate", "--version", "latest"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("MAJOR.MINOR.PATCH"));
    assert!(hub.requests().is_empty(), "nothing is asked of the Hub");
}

#[test]
fn a_missing_output_directory_is_created() {
    let hub = golden_hub();
    let workspace = Workspace::new();
    let output = workspace.run(
        &hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "1.0.0", "-o", "results/healthchat"],
    );
    assert_success(&output);
    assert_matches_golden(
        &workspace
            .dir
            .path()
            .join("results/healthchat/HealthChat-11K_v1.0.0_artifacts"),
        "1.0.0",
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "results/healthchat/HealthChat-11K_v1.0.0_artifacts\n"
    );
}
