//! The real Hub and its CloudFront storage, as they were seen to answer (the local Hub's
//! `Quirks`, each off by default): rate-limit headers on every answer, the storage's own ETags,
//! URLs signed for GET and reused with part of their life left, stale cache entries, redirects
//! stripped of `X-Linked-*`, a redirect to another Hub host, and fine-grained tokens. Each is
//! survived with the reference's bytes, or stops the run with a message saying what the server
//! did.

use std::time::Duration;

use crate::support::*;
use testhub::{Quirks, StaleStorage};

/// Far above a clean run's time (about a second), far below the 250 s the Hub's `RateLimit`
/// header names.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn hub_with(quirks: Quirks) -> TestHub {
    TestHub::start(golden_hub_config().quirks(quirks)).unwrap()
}

/// A run of 2.1.0 with the granted token that must write the reference's bytes.
fn golden_run(hub: &TestHub) -> Workspace {
    let workspace = Workspace::new();
    let output = workspace.run_within(
        hub,
        Some(GRANTED_TOKEN),
        &["generate", "--version", "2.1.0"],
        HANG_GUARD,
    );
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
    workspace
}

/// A run of 2.1.0 with the granted token that must fail and leave nothing; its stderr.
fn failing_run(hub: &TestHub, token: &str, args: &[&str]) -> String {
    let workspace = Workspace::new();
    let mut all = vec!["generate", "--version", "2.1.0"];
    all.extend(args);
    let output = workspace.run_within(hub, Some(token), &all, HANG_GUARD);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(workspace.entries().is_empty(), "{:?}", workspace.entries());
    stderr(&output)
}

fn storage_requests(hub: &TestHub) -> Vec<RequestRecord> {
    hub.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .collect()
}

/// The SHA-256 of every shard of the golden tree, computed by CPython.
fn shard_sha256s() -> Vec<String> {
    [LMSYS, WILDCHAT]
        .iter()
        .flat_map(|repo| {
            let data = repo_dir(&hub_tree(), repo).join("data");
            let mut paths: Vec<_> = std::fs::read_dir(data)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            paths.sort();
            paths
        })
        .map(|path| independent_sha256(&path))
        .collect()
}

/// Each shard's SHA-256 as the manifest records it.
fn manifest_sha256s(workspace: &Workspace) -> Vec<String> {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(workspace.artifacts("2.1.0").join("manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["repositories"].as_array().unwrap()[1..]
        .iter()
        .flat_map(|repo| repo["files"].as_array().unwrap().clone())
        .map(|file| file["sha256"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn rate_limit_headers_on_every_answer_are_not_waited_for() {
    // Every answer says `RateLimit: "api";r=480;t=250`; a third of the file requests fail
    // (503 and 500 with it, 429 with a spent quota of `t=0`).
    let hub = TestHub::start(
        golden_hub_config()
            .quirks(Quirks {
                rate_limit_headers: true,
                ..Quirks::default()
            })
            .faults(Faults {
                seed: 17,
                fail_percent: 33,
                ..Faults::default()
            }),
    )
    .unwrap();
    golden_run(&hub);
    let requests = hub.requests();
    assert!(
        requests.iter().any(|r| r.status == 500),
        "500s carrying t=250 were answered"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.accept_encoding.as_deref() == Some("identity")),
        "every request asks for the bytes as stored"
    );
}

#[test]
fn the_storages_own_etag_is_echoed_and_the_manifest_keeps_the_listed_sha256() {
    // Cut bodies make resumes, which carry If-Range.
    let hub = TestHub::start(
        golden_hub_config()
            .quirks(Quirks {
                xet_etags: true,
                ..Quirks::default()
            })
            .faults(Faults {
                seed: 3,
                cut_percent: 40,
                storage_only: true,
                ..Faults::default()
            }),
    )
    .unwrap();
    let workspace = golden_run(&hub);
    let sha256s = shard_sha256s();
    assert_eq!(manifest_sha256s(&workspace), sha256s);
    let validators: Vec<String> = storage_requests(&hub)
        .into_iter()
        .filter_map(|r| r.if_range)
        .collect();
    assert!(!validators.is_empty(), "resumes carried If-Range");
    for validator in &validators {
        let hash = validator.trim_matches('"');
        assert!(
            validator.starts_with('"') && hash.len() == 64,
            "sent back as received: {validator}"
        );
        assert!(
            !sha256s.iter().any(|sha| sha == hash),
            "the storage's own ETag"
        );
    }
}

#[test]
fn storage_urls_signed_for_get_get_no_head() {
    let hub = hub_with(Quirks {
        storage_refuses_head: true,
        ..Quirks::default()
    });
    golden_run(&hub);
    let storage = storage_requests(&hub);
    assert!(!storage.is_empty());
    assert!(storage.iter().all(|r| r.method == "GET"), "{storage:#?}");
}

#[test]
fn reused_storage_urls_that_expire_mid_run_are_renewed() {
    // URLs live 300 ms and `/resolve/` hands out the same one while it lives; a slow link and
    // cut bodies make requests after a URL's end.
    let hub = TestHub::start(
        golden_hub_config()
            .quirks(Quirks {
                storage_url_lifetime: Some(Duration::from_millis(300)),
                ..Quirks::default()
            })
            .bandwidth(3_000_000)
            .faults(Faults {
                seed: 5,
                cut_percent: 30,
                storage_only: true,
                ..Faults::default()
            }),
    )
    .unwrap();
    golden_run(&hub);
    assert!(
        storage_requests(&hub).iter().any(|r| r.status == 403),
        "URLs expired during the run"
    );
}

#[test]
fn stale_cache_answers_heal_with_a_fresh_url() {
    for (stale, status) in [
        (StaleStorage::Unsatisfiable, 416),
        (StaleStorage::Empty, 206),
        (StaleStorage::Whole, 200),
    ] {
        // Cut bodies make resumes: ranges that do not start at byte 0.
        let hub = TestHub::start(
            golden_hub_config()
                .quirks(Quirks {
                    stale_storage: Some(stale),
                    ..Quirks::default()
                })
                .faults(Faults {
                    seed: 11,
                    cut_percent: 50,
                    storage_only: true,
                    ..Faults::default()
                }),
        )
        .unwrap();
        golden_run(&hub);
        let requests = hub.requests();
        assert!(
            requests
                .iter()
                .any(|r| r.path.starts_with("/cdn/") && r.status == status),
            "{stale:?} was answered"
        );
        assert!(
            requests.iter().any(|r| r.method == "HEAD"
                && r.path.contains("/resolve/")
                && r.query
                    .as_deref()
                    .is_some_and(|q| q.contains("healthchat_fresh="))),
            "{stale:?}: the URL was renewed with a cache-busting parameter"
        );
    }
}

#[test]
fn a_stale_answer_that_fresh_urls_repeat_stops_the_run_saying_what_the_server_did() {
    for (stale, words) in [
        (StaleStorage::Unsatisfiable, "saying it holds 177 bytes"),
        (StaleStorage::Empty, "answered HTTP 206 for"),
        (StaleStorage::Whole, "does not support Range"),
    ] {
        // Every first request is cut, so the next one asks for a range from past byte 0.
        let hub = TestHub::start(
            golden_hub_config()
                .quirks(Quirks {
                    stale_storage: Some(stale),
                    stale_always: true,
                    ..Quirks::default()
                })
                .faults(Faults {
                    cut_percent: 100,
                    storage_only: true,
                    ..Faults::default()
                }),
        )
        .unwrap();
        let message = failing_run(&hub, GRANTED_TOKEN, &[]);
        assert!(message.contains(words), "{stale:?}: {message}");
        assert!(!message.contains("changed"), "{stale:?}: {message}");
    }
}

#[test]
fn redirects_stripped_of_their_linked_headers_change_nothing() {
    let hub = hub_with(Quirks {
        stripped_redirects: true,
        ..Quirks::default()
    });
    let workspace = golden_run(&hub);
    assert_eq!(manifest_sha256s(&workspace), shard_sha256s());
}

#[test]
fn a_redirect_to_another_hub_host_is_not_called_a_rejected_token() {
    let hub = hub_with(Quirks {
        resolve_on_host: Some("localhost".to_owned()),
        ..Quirks::default()
    });
    let message = failing_run(&hub, GRANTED_TOKEN, &[]);
    assert!(message.contains("answered HTTP 401"), "{message}");
    assert!(message.contains("localhost"), "{message}");
    assert!(message.contains("none went to"), "{message}");
    assert!(!message.contains("rejected the token"), "{message}");
    let requests = hub.requests();
    assert!(
        requests
            .iter()
            .filter(|r| r.host.starts_with("localhost"))
            .all(|r| !r.authorization),
        "the token stays with HF_ENDPOINT's origin"
    );
    // The openly licensed part needs no token, so the other host serves it.
    let workspace = Workspace::new();
    let output = workspace.run_within(
        &hub,
        None,
        &["generate", "--version", "2.1.0", "--sources", "wildchat"],
        HANG_GUARD,
    );
    assert_success(&output);
}

#[test]
fn a_fine_grained_token_without_gated_read_access_is_told_which_permission() {
    let hub = hub_with(Quirks {
        fine_grained_without_gated: [GRANTED_TOKEN.to_owned()].into(),
        ..Quirks::default()
    });
    let message = failing_run(&hub, GRANTED_TOKEN, &[]);
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(message.contains("public gated repos"), "{message}");
    assert!(
        message.contains("fine-grained token settings"),
        "the Hub's words: {message}"
    );
    assert!(!message.contains(GRANTED_TOKEN), "{message}");
}
