//! What an HTTP answer means: accept it, retry later, or stop with an error that says what to do.
//! A pure function of the status, the headers and what was asked, so every case has a table test.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::client::{describe_reqwest_error, header_str};
use super::{DatasetRepo, HubError, HubSettings, NetworkSettings, retry};

/// What a request was about, to turn an HTTP error into a message about the user's data.
pub(super) struct Target<'a> {
    pub repo: &'a DatasetRepo,
    pub path: Option<&'a str>,
    pub what: String,
    /// False for storage (CDN) URLs, whose 401/403 say nothing about the user's Hub access.
    pub on_hub: bool,
}

#[derive(Debug)]
pub(super) enum Verdict {
    Accept,
    Retry {
        wait: Option<Duration>,
        reason: String,
    },
    Fail(HubError),
}

/// The dataset's page on the Hub, where gated access is requested.
pub(super) fn dataset_page(settings: &HubSettings, repo_id: &str) -> String {
    format!("{}/datasets/{repo_id}", settings.endpoint)
}

/// Success, redirects and 416 are accepted; 429, 408 and 5xx (but 501) are retried after the wait the
/// server asks for, if any; everything else fails with the Hub's `X-Error-Code` turned into a
/// message about the repository, the revision, the file or the token.
pub(super) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    target: &Target<'_>,
    settings: &HubSettings,
) -> Verdict {
    // A 416 answers a range: the range reader tells a changed file from a refused range.
    if status.is_success() || status.is_redirection() || status == StatusCode::RANGE_NOT_SATISFIABLE
    {
        return Verdict::Accept;
    }
    if retry::is_transient(status) {
        return Verdict::Retry {
            wait: retry::server_wait(headers),
            reason: format!("HTTP {status}"),
        };
    }
    let message = header_str(headers, "x-error-message");
    let status_error = || HubError::Status {
        what: target.what.clone(),
        status: status.as_u16(),
        message: message
            .as_ref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default(),
    };
    if !target.on_hub {
        return Verdict::Fail(status_error());
    }
    let code = header_str(headers, "x-error-code").unwrap_or_default();
    let repo = target.repo.id.clone();
    let token_origin = settings
        .token
        .as_ref()
        .map(|(_, origin)| origin.to_string());
    let error = match (code.as_str(), status, token_origin) {
        ("RepoNotFound", StatusCode::UNAUTHORIZED, None) => HubError::Status {
            what: target.what.clone(),
            status: status.as_u16(),
            message: format!(
                ": {repo} does not exist or is private; if it is private, set HF_TOKEN to a \
                 token that can read it"
            ),
        },
        ("RepoNotFound", _, _) => HubError::RepoNotFound {
            repo,
            endpoint: settings.endpoint.clone(),
        },
        ("RevisionNotFound", _, _) => HubError::RevisionNotFound {
            repo,
            revision: target.repo.revision.clone(),
        },
        ("EntryNotFound", _, _) => HubError::EntryNotFound {
            repo,
            revision: target.repo.revision.clone(),
            path: target.path.unwrap_or("/").to_owned(),
        },
        // The Hub rejects a bad token with 401 whatever the repository.
        ("" | "GatedRepo", StatusCode::UNAUTHORIZED, Some(origin)) => HubError::InvalidToken {
            repo,
            origin,
            endpoint: settings.endpoint.clone(),
        },
        ("GatedRepo", StatusCode::FORBIDDEN, Some(origin)) => HubError::GatedNoAccess {
            page: dataset_page(settings, &repo),
            repo,
            origin,
        },
        ("GatedRepo", _, None) => HubError::GatedNoToken {
            page: dataset_page(settings, &repo),
            repo,
            endpoint: settings.endpoint.clone(),
        },
        // A 401 or 403 without the Hub's code comes from something else on the way (a
        // firewall, a CDN, a mirror): its own words, not a story about gated access.
        ("", StatusCode::UNAUTHORIZED, None) => HubError::Status {
            what: target.what.clone(),
            status: status.as_u16(),
            message: format!(
                "{} (no token was sent; if this endpoint needs one, set HF_TOKEN)",
                message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        },
        _ => status_error(),
    };
    Verdict::Fail(error)
}

/// A request that got no answer: a TLS failure (an untrusted certificate, a refused handshake, a
/// server that does not speak TLS) or a proxy that refuses the tunnel fails at once, since
/// retrying cannot fix it; anything else (refused or cut connections, timeouts) is retried.
pub(super) fn classify_failure(
    error: &reqwest::Error,
    target: &Target<'_>,
    network: &NetworkSettings,
) -> Verdict {
    let host = error
        .url()
        .and_then(|url| {
            url.host_str().map(|host| match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        })
        .unwrap_or_else(|| "the server".to_owned());
    if let Some(tls) = tls_error(error) {
        return Verdict::Fail(HubError::Tls {
            what: target.what.clone(),
            host,
            problem: tls.to_string(),
        });
    }
    let proxy = error.url().and_then(|url| network.proxy_for(url));
    if let Some(proxy) = proxy
        && let Some(problem) = tunnel_refusal(error)
    {
        return Verdict::Fail(HubError::Proxy {
            what: target.what.clone(),
            proxy,
            host,
            problem,
        });
    }
    Verdict::Retry {
        wait: None,
        reason: describe_reqwest_error(error),
    }
}

/// A failed request's error and its causes. An `io::Error` hides the error it wraps from
/// `source()`, so each one is opened with `get_ref()`.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |current| {
        current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static))
            .or_else(|| current.source())
    })
}

/// The rustls error behind a failed request.
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(error).find_map(|cause| cause.downcast_ref::<rustls::Error>())
}

/// The proxy's refusal of a CONNECT tunnel (as hyper-util words it), which retrying cannot fix.
fn tunnel_refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    causes(error).find_map(|cause| match cause.to_string().as_str() {
        "tunnel error: proxy authorization required" => {
            Some("it asks for credentials (HTTP 407)".to_owned())
        }
        "tunnel error: unsuccessful" => {
            Some("it answered the CONNECT request with an error status".to_owned())
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{Token, TokenOrigin};

    fn settings(token: bool) -> HubSettings {
        let mut settings = HubSettings::from_env();
        settings.endpoint = "https://hub.test".to_owned();
        settings.token = token.then(|| (Token::new("hf_x").unwrap(), TokenOrigin::Environment));
        settings
    }

    fn verdict(status: u16, headers: &[(&str, &str)], on_hub: bool, token: bool) -> Verdict {
        let repo = DatasetRepo::new("lmsys/lmsys-chat-1m", "main");
        let target = Target {
            repo: &repo,
            path: Some("data/a.parquet"),
            what: "reading data/a.parquet of lmsys/lmsys-chat-1m".to_owned(),
            on_hub,
        };
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        classify(
            StatusCode::from_u16(status).unwrap(),
            &map,
            &target,
            &settings(token),
        )
    }

    /// The variant's name, for compact tables.
    fn name(verdict: &Verdict) -> String {
        match verdict {
            Verdict::Accept => "accept".to_owned(),
            Verdict::Retry { wait, .. } => format!("retry {wait:?}"),
            Verdict::Fail(error) => {
                let debug = format!("{error:?}");
                debug[..debug.find([' ', '{']).unwrap_or(debug.len())].to_owned()
            }
        }
    }

    /// Status, headers, to the Hub (not storage), with a token, and the verdict's name.
    type Case<'a> = (u16, &'a [(&'a str, &'a str)], bool, bool, &'a str);

    #[test]
    fn every_answer_has_one_meaning() {
        let gated = [("x-error-code", "GatedRepo")];
        let cases: &[Case] = &[
            (200, &[], true, true, "accept"),
            (206, &[], false, false, "accept"),
            (302, &[], true, true, "accept"),
            (416, &[], false, true, "accept"),
            (503, &[], true, true, "retry None"),
            (500, &[], false, false, "retry None"),
            (429, &[("retry-after", "7")], true, true, "retry Some(7s)"),
            (
                429,
                &[("ratelimit", "\"api\";r=0;t=30")],
                true,
                false,
                "retry Some(30s)",
            ),
            (408, &[], true, true, "retry None"),
            (501, &[], true, true, "Status"),
            (
                404,
                &[("x-error-code", "RepoNotFound")],
                true,
                true,
                "RepoNotFound",
            ),
            (
                401,
                &[("x-error-code", "RepoNotFound")],
                true,
                false,
                "Status",
            ),
            (
                404,
                &[("x-error-code", "RevisionNotFound")],
                true,
                true,
                "RevisionNotFound",
            ),
            (
                404,
                &[("x-error-code", "EntryNotFound")],
                true,
                false,
                "EntryNotFound",
            ),
            (401, &gated, true, false, "GatedNoToken"),
            (403, &gated, true, false, "GatedNoToken"),
            (401, &gated, true, true, "InvalidToken"),
            (401, &[], true, true, "InvalidToken"),
            (403, &gated, true, true, "GatedNoAccess"),
            (403, &[], false, true, "Status"),
            (403, &[], true, true, "Status"),
            (403, &[], true, false, "Status"),
            (401, &[], true, false, "Status"),
            (
                401,
                &[("x-error-code", "SomethingElse")],
                true,
                true,
                "Status",
            ),
            (404, &[], true, true, "Status"),
            (400, &[("x-error-message", "bad")], true, true, "Status"),
        ];
        for (status, headers, on_hub, token, expected) in cases {
            let verdict = verdict(*status, headers, *on_hub, *token);
            assert_eq!(
                &name(&verdict),
                expected,
                "HTTP {status} {headers:?} on_hub={on_hub} token={token}"
            );
        }
    }

    #[test]
    fn messages_carry_the_servers_words_and_the_next_step() {
        let Verdict::Fail(error) = verdict(400, &[("x-error-message", "bad cursor")], true, true)
        else {
            panic!("a failure")
        };
        assert!(
            error.to_string().ends_with("HTTP 400: bad cursor"),
            "{error}"
        );
        let Verdict::Fail(error) = verdict(403, &[("x-error-code", "GatedRepo")], true, true)
        else {
            panic!("a failure")
        };
        let text = error.to_string();
        assert!(
            text.contains("https://hub.test/datasets/lmsys/lmsys-chat-1m"),
            "{text}"
        );
        assert!(!text.contains("hf_x"), "the token is never shown");
    }
}
