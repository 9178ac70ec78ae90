//! Real networks: HTTPS with a private certificate authority, HTTP/2 offered by ALPN, a round
//! trip between client and server, and a CONNECT proxy, all on 127.0.0.1.

use std::time::Duration;

use crate::support::*;

fn https_hub(http2: bool) -> TestHub {
    TestHub::start(golden_hub_config().https(http2)).expect("the test hub starts")
}

#[test]
fn golden_outputs_over_https_with_http2_offered_and_without() {
    for http2 in [true, false] {
        let hub = https_hub(http2);
        assert!(hub.endpoint().starts_with("https://"));
        let workspace = Workspace::new();
        workspace.generate_golden(&hub, "2.1.0");

        let requests = hub.requests();
        let api: Vec<&RequestRecord> = requests
            .iter()
            .filter(|r| r.path.starts_with("/api/"))
            .collect();
        let storage: Vec<&RequestRecord> = requests
            .iter()
            .filter(|r| r.path.starts_with("/cdn/"))
            .collect();
        assert!(!api.is_empty() && !storage.is_empty());
        let expected_api = if http2 { "HTTP/2.0" } else { "HTTP/1.1" };
        assert!(
            api.iter().all(|r| r.version == expected_api),
            "API calls negotiate HTTP/2 when it is offered: {api:?}"
        );
        // Byte ranges go over HTTP/1.1, a connection each (ARCHITECTURE.md, "Network behaviour: the mechanism").
        assert!(
            storage.iter().all(|r| r.version == "HTTP/1.1"),
            "{storage:?}"
        );
        assert!(
            storage
                .iter()
                .all(|r| r.host.starts_with("localhost:") && !r.authorization),
            "the storage host is another origin and never gets the token"
        );
    }
}

#[test]
fn a_round_trip_away_the_output_is_the_same() {
    let hub = TestHub::start(
        golden_hub_config()
            .https(true)
            .round_trip(Duration::from_millis(40)),
    )
    .expect("the test hub starts");
    let workspace = Workspace::new();
    workspace.generate_golden(&hub, "2.0.0");
}

#[test]
fn an_untrusted_certificate_stops_the_run_at_once_and_says_what_to_do() {
    let hub = https_hub(true);
    let workspace = Workspace::new();
    let output = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env_remove("SSL_CERT_FILE")
        .args(["generate", "--version", "2.1.0"])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(message.contains("SSL_CERT_FILE"), "{message}");
    assert!(message.contains("HTTPS_PROXY"), "{message}");
    assert!(!message.contains("gave up after"), "not retried: {message}");
    assert!(hub.requests().is_empty(), "no request got through");
    // The annotation download and the two source listings start together: one handshake each,
    // and none again.
    assert!(
        hub.connections() <= 3,
        "a certificate error is not retried ({} connections)",
        hub.connections()
    );
    assert_eq!(workspace.entries(), Vec::<String>::new());
}

#[test]
fn trust_settings_that_name_nothing_usable_are_refused_before_any_request() {
    let hub = https_hub(true);
    let workspace = Workspace::new();
    let empty = workspace.dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    for (variable, value) in [
        ("SSL_CERT_FILE", empty.to_str().unwrap()),
        ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ] {
        let output = workspace
            .command(&hub, Some(GRANTED_TOKEN))
            .env(variable, value)
            .args(["generate", "--version", "2.1.0"])
            .output()
            .expect("the binary runs");
        assert!(!output.status.success());
        let message = stderr(&output);
        assert!(message.contains(variable), "{message}");
        assert!(message.contains("Next:"), "{message}");
    }
    assert!(hub.requests().is_empty());
    assert_eq!(hub.connections(), 0);
}

#[test]
fn a_run_through_a_connect_proxy_reaches_the_hub_and_the_storage_host() {
    let hub = https_hub(true);
    let proxy = ConnectProxy::start(None).expect("the proxy starts");
    let workspace = Workspace::new();
    let output = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env("https_proxy", proxy.url())
        .args(["generate", "--version", "2.1.0"])
        .output()
        .expect("the binary runs");
    assert_success(&output);
    assert_matches_golden(&workspace.artifacts("2.1.0"), "2.1.0");
    let port = hub.endpoint().rsplit(':').next().unwrap().to_owned();
    let tunnels = proxy.tunnels();
    assert!(
        tunnels.contains(&format!("127.0.0.1:{port}")),
        "the Hub was reached through the proxy: {tunnels:?}"
    );
    assert!(
        tunnels.contains(&format!("localhost:{port}")),
        "the storage host too: {tunnels:?}"
    );

    // NO_PROXY sends both hosts around it.
    let direct = Workspace::new();
    let output = direct
        .command(&hub, Some(GRANTED_TOKEN))
        .env("HTTPS_PROXY", proxy.url())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["generate", "--version", "1.0.0"])
        .output()
        .expect("the binary runs");
    assert_success(&output);
    assert_eq!(proxy.tunnels().len(), tunnels.len());
}

#[test]
fn a_proxy_that_wants_credentials_gets_them_from_the_url_or_stops_the_run() {
    let hub = https_hub(true);
    let proxy = ConnectProxy::start(Some("alice:s3cret")).expect("the proxy starts");
    let workspace = Workspace::new();
    let output = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env("HTTPS_PROXY", proxy.url())
        .args(["generate", "--version", "2.1.0"])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("407"), "{message}");
    assert!(message.contains("HTTPS_PROXY"), "{message}");
    assert!(!message.contains("gave up after"), "not retried: {message}");
    assert!(hub.requests().is_empty());

    let with_credentials = proxy.url().replace("http://", "http://alice:s3cret@");
    let output = workspace
        .command(&hub, Some(GRANTED_TOKEN))
        .env("HTTPS_PROXY", &with_credentials)
        .args(["generate", "--version", "2.1.0"])
        .output()
        .expect("the binary runs");
    assert_success(&output);
    assert!(!stderr(&output).contains("s3cret"));
}

#[test]
fn a_malformed_proxy_setting_stops_the_run_before_any_request() {
    let hub = https_hub(true);
    let workspace = Workspace::new();
    for value in [
        "socks5://127.0.0.1:1080",
        "http://",
        "http://proxy host:3128",
    ] {
        let output = workspace
            .command(&hub, Some(GRANTED_TOKEN))
            .env("ALL_PROXY", value)
            .args(["generate", "--version", "2.1.0"])
            .output()
            .expect("the binary runs");
        assert!(!output.status.success(), "{value}");
        let message = stderr(&output);
        assert!(message.contains("ALL_PROXY"), "{message}");
        assert!(message.contains("Next:"), "{message}");
    }
    assert_eq!(hub.connections(), 0);
}
