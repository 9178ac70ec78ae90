//! The local Hub speaks the Hub's protocol: what healthchat's tests rely on.

use std::path::Path;

use reqwest::StatusCode;
use testhub::golden::{DENIED_TOKEN, GRANTED_TOKEN};
use testhub::{Damage, FooterLie, HubConfig, LyingFooter, Quirks, TestHub};

/// The golden Hub, as healthchat's tests start it.
fn hub() -> TestHub {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub");
    TestHub::start(testhub::golden::config(root)).unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

const ANNOTATIONS: &str = "/datasets/yahskapar/HealthChat-11K/resolve/main/HealthChat-11K_master_annotations_v1.0.0.jsonl";

#[tokio::test]
async fn ranges_etags_and_commits() {
    let hub = hub();
    let client = reqwest::Client::new();
    let url = format!("{}{ANNOTATIONS}", hub.endpoint());
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length").as_deref(), Some("77362"));
    assert!(header(&head, "etag").is_some());
    assert_eq!(
        header(&head, "x-repo-commit"),
        Some(testhub::commit_of("yahskapar/HealthChat-11K"))
    );

    let part = client
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&part, "content-range").as_deref(),
        Some("bytes 10-19/77362")
    );
    assert_eq!(part.bytes().await.unwrap().len(), 10);

    let beyond = client
        .get(&url)
        .header("range", "bytes=77362-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header(&beyond, "content-range").as_deref(),
        Some("bytes */77362")
    );
}

#[tokio::test]
async fn errors_carry_the_hub_error_codes() {
    let hub = hub();
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut request = client.get(format!("{}{path}", hub.endpoint()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let code = |response: &reqwest::Response| {
        (response.status().as_u16(), header(response, "x-error-code"))
    };

    let missing = get(
        "/datasets/yahskapar/HealthChat-11K/resolve/main/nope.jsonl",
        None,
    )
    .await
    .unwrap();
    assert_eq!(code(&missing), (404, Some("EntryNotFound".into())));
    let revision = get(
        "/datasets/yahskapar/HealthChat-11K/resolve/v9/README.md",
        None,
    )
    .await
    .unwrap();
    assert_eq!(code(&revision), (404, Some("RevisionNotFound".into())));
    let repo = get("/api/datasets/nobody/nothing/tree/main", None)
        .await
        .unwrap();
    assert_eq!(code(&repo), (404, Some("RepoNotFound".into())));

    let shard = "/datasets/lmsys/lmsys-chat-1m/resolve/main/data/train-00000-of-00003-42e7ee908b440dc8.parquet";
    assert_eq!(
        code(&get(shard, None).await.unwrap()),
        (401, Some("GatedRepo".into()))
    );
    assert_eq!(
        code(&get(shard, Some(DENIED_TOKEN)).await.unwrap()),
        (403, Some("GatedRepo".into()))
    );
    assert_eq!(
        get(shard, Some("unknown")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let info = get("/api/datasets/lmsys/lmsys-chat-1m", None)
        .await
        .unwrap();
    assert_eq!(
        info.status(),
        StatusCode::OK,
        "info stays public on a gated repo"
    );
}

#[tokio::test]
async fn large_files_redirect_to_storage_that_refuses_tokens() {
    let hub = hub();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let shard = "/datasets/lmsys/lmsys-chat-1m/resolve/main/data/train-00000-of-00003-42e7ee908b440dc8.parquet";
    let redirect = client
        .head(format!("{}{shard}", hub.endpoint()))
        .bearer_auth(GRANTED_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    assert_eq!(
        header(&redirect, "x-linked-size").as_deref(),
        Some("532929")
    );
    let location = header(&redirect, "location").unwrap();
    assert!(location.starts_with("http://localhost:"), "{location}");

    let with_token = client
        .get(&location)
        .bearer_auth(GRANTED_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::BAD_REQUEST);
    let ranged = client
        .get(&location)
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&ranged.bytes().await.unwrap()[..], b"PAR1");
}

#[tokio::test]
async fn tree_listings_are_paginated_with_link_headers() {
    let hub = hub();
    let client = reqwest::Client::new();
    let mut url = Some(format!(
        "{}/api/datasets/allenai/WildChat-1M/tree/main/data",
        hub.endpoint()
    ));
    let mut paths = Vec::new();
    let mut pages = 0;
    while let Some(next) = url.take() {
        let response = client.get(&next).send().await.unwrap();
        url = header(&response, "link").map(|link| {
            link.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned()
        });
        let entries: Vec<serde_json::Value> =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        paths.extend(
            entries
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned()),
        );
        pages += 1;
    }
    assert_eq!(pages, 2);
    assert_eq!(paths.len(), 4);
    assert!(paths.iter().all(|p| p.starts_with("data/train-")));
}

#[tokio::test]
async fn the_request_log_counts_the_bytes_sent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let hub = TestHub::start(HubConfig::new(root).request_log(&log)).unwrap();
    let url = format!("{}{ANNOTATIONS}", hub.endpoint());
    let client = reqwest::Client::new();
    let part = client
        .get(&url)
        .header("range", "bytes=0-9999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.bytes().await.unwrap().len(), 10_000);
    // A response whose reader goes away after its first bytes.
    let mut cut = client.get(&url).send().await.unwrap();
    assert!(cut.chunk().await.unwrap().is_some());
    drop(cut);

    let mut lines = Vec::new();
    for _ in 0..200 {
        lines = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .collect();
        if lines.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(lines.len(), 2, "{lines:?}");
    let whole = lines.iter().find(|l| l["range"] == "bytes=0-9999").unwrap();
    assert_eq!(whole["status"], 206);
    assert_eq!(whole["body_bytes"], 10_000);
    assert_eq!(whole["sent_bytes"], 10_000);
    assert_eq!(whole["complete"], true);
    let cut = lines.iter().find(|l| l["range"].is_null()).unwrap();
    assert_eq!(cut["body_bytes"], 77362);
    assert!(cut["sent_bytes"].as_u64().unwrap() > 0);
    let requests = hub.requests();
    let sent: Vec<u64> = requests.iter().map(|r| r.bytes_sent()).collect();
    assert!(sent.contains(&10_000), "{sent:?}");
}

#[tokio::test]
async fn a_lying_footer_is_served_in_ranges_once_per_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub");
    let shard = "data/train-00001-of-00004.parquet";
    let clean = std::fs::read(root.join("datasets/allenai/WildChat-1M").join(shard)).unwrap();
    let hub = TestHub::start(testhub::golden::config(root).quirks(Quirks {
        lying_footer: Some(LyingFooter {
            lie: FooterLie::NegativeOffset,
            when: Damage::FirstOfEachFile,
            only: Some(shard.to_owned()),
        }),
        ..Quirks::default()
    }))
    .unwrap();
    let client = reqwest::Client::new();
    let url = format!(
        "{}/datasets/allenai/WildChat-1M/resolve/main/{shard}",
        hub.endpoint()
    );
    let get = |range: &'static str| {
        let request = client.get(&url).header("range", range).send();
        async { request.await.unwrap().bytes().await.unwrap() }
    };
    // A range without the footer comes clean and leaves the lie for the next one.
    assert_eq!(get("bytes=0-99999").await[..], clean[..100_000]);
    // The tail a client reads first: the same length, a few footer bytes changed.
    let tail = get("bytes=-1048576").await;
    assert_eq!(tail.len(), clean.len());
    let changed = (0..clean.len()).filter(|&i| tail[i] != clean[i]).count();
    assert!((1..=10).contains(&changed), "{changed} bytes changed");
    // The second response that holds the footer is clean.
    assert_eq!(get("bytes=-1048576").await[..], clean[..]);
}
