//! What an HTTP answer means: accept it, retry later, or stop with an error that says what to do;
//! and the header values the rest of `hub` reads. Pure functions of the status, the headers and
//! what was asked (no I/O, no client), so every case has a table test.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{StatusCode, Url};

use super::error::HubError;
use super::network::NetworkSettings;
use super::repo::DatasetRepo;
use super::settings::HubSettings;

/// What a request was about and where it went, to turn an HTTP error into a message about the
/// user's data.
pub(super) struct Target<'a> {
    pub(crate) repo: &'a DatasetRepo,
    pub(crate) path: Option<&'a str>,
    pub(crate) what: &'a str,
    /// Whether the request carried the token (only requests to `HF_ENDPOINT`'s origin do).
    pub(crate) token_sent: bool,
    /// The host that answered when it is not `HF_ENDPOINT`'s (storage, or another Hub host a
    /// redirect led to); `None` for the Hub itself.
    pub(crate) elsewhere: Option<String>,
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
fn dataset_page(settings: &HubSettings, repo_id: &str) -> String {
    format!("{}/datasets/{repo_id}", settings.endpoint)
}

/// Success, redirects and 416 are accepted; 429, 408 and 5xx (but 501) are retried after the wait
/// the server asks for, if any; everything else fails with the Hub's `X-Error-Code` turned into a
/// message about the repository, the revision, the file or the token. Answers no retry can fix
/// fail at once: a body encoded though identity was asked for (it is not the file's bytes), a
/// redirect out of HTTP.
pub(super) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    target: &Target<'_>,
    settings: &HubSettings,
) -> Verdict {
    if let Some(encoding) = header_str(headers, header::CONTENT_ENCODING.as_str())
        .filter(|encoding| !encoding.trim().eq_ignore_ascii_case("identity"))
        .filter(|_| status.is_success())
    {
        return Verdict::Fail(HubError::Encoded {
            what: target.what.to_owned(),
            encoding: encoding.chars().take(40).collect(),
        });
    }
    if status.is_redirection()
        && let Some(location) = header_str(headers, header::LOCATION.as_str())
            .and_then(|location| Url::parse(&location).ok())
            .filter(|location| !is_http(location))
    {
        return Verdict::Fail(HubError::NotHttp {
            what: target.what.to_owned(),
            url: shown(&location),
        });
    }
    // A 416 answers a range: the range reader tells a cache's stale answer from a refused range.
    if status.is_success() || status.is_redirection() || status == StatusCode::RANGE_NOT_SATISFIABLE
    {
        return Verdict::Accept;
    }
    if is_transient(status) {
        return Verdict::Retry {
            wait: server_wait(status, headers),
            reason: format!("HTTP {status}"),
        };
    }
    let message = header_str(headers, "x-error-message")
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let code = header_str(headers, "x-error-code").unwrap_or_default();
    if let Some(host) = &target.elsewhere {
        let (what, host, status) = (target.what.to_owned(), host.clone(), status.as_u16());
        // An error code is a Hub's answer: a redirect led to another Hub host, which never got
        // the token, so nothing it says is about the user's token.
        return Verdict::Fail(if code.is_empty() {
            HubError::Elsewhere {
                what,
                host,
                status,
                message,
            }
        } else {
            HubError::OtherHub {
                what,
                host,
                status,
                message,
                endpoint: settings.endpoint.clone(),
            }
        });
    }
    let status_error = |message: String| HubError::Status {
        what: target.what.to_owned(),
        status: status.as_u16(),
        message,
    };
    let repo = target.repo.id().to_owned();
    let token_origin = settings
        .token
        .as_ref()
        .filter(|_| target.token_sent)
        .map(|(_, origin)| origin.to_string());
    let error = match (code.as_str(), status, token_origin) {
        ("RepoNotFound", StatusCode::UNAUTHORIZED, None) => status_error(format!(
            ": {repo} does not exist or is private; if it is private, set HF_TOKEN to a token \
             that can read it"
        )),
        ("RepoNotFound", _, _) => HubError::RepoNotFound {
            repo,
            endpoint: settings.endpoint.clone(),
        },
        ("RevisionNotFound", _, _) => HubError::RevisionNotFound {
            repo,
            revision: target.repo.revision().to_owned(),
        },
        ("EntryNotFound", _, _) => HubError::EntryNotFound {
            repo,
            revision: target.repo.revision().to_owned(),
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
            message,
            endpoint: settings.endpoint.clone(),
        },
        ("GatedRepo", _, None) => HubError::GatedNoToken {
            page: dataset_page(settings, &repo),
            repo,
            endpoint: settings.endpoint.clone(),
        },
        // A 401 or 403 without the Hub's code comes from something else on the way (a
        // firewall, a CDN, a mirror): its own words, not a story about gated access.
        ("", StatusCode::UNAUTHORIZED, None) => status_error(format!(
            "{message} (no token was sent; if this endpoint needs one, set HF_TOKEN)"
        )),
        _ => status_error(message),
    };
    Verdict::Fail(error)
}

pub(super) fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED
}

/// How long the server asked us to wait: `Retry-After: <seconds>`, or, on a 429 whose quota is
/// spent (`r=0`), the reset time `t` of the Hub's `RateLimit: "api";r=0;t=<seconds>`. The Hub
/// sends `RateLimit` on every answer, 2xx and 5xx too: only then is it the reason for a refusal
/// (as `huggingface_hub` reads it), so a 503 carrying `r=480;t=250` is retried after a backoff.
pub(super) fn server_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let seconds = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
    };
    let retry_after = header_str(headers, "retry-after").and_then(|v| seconds(&v));
    let rate_limit_reset = (status == StatusCode::TOO_MANY_REQUESTS)
        .then(|| header_str(headers, "ratelimit"))
        .flatten()
        .and_then(|value| {
            let param = |name: &str| {
                value
                    .split(';')
                    .find_map(|param| param.trim().strip_prefix(name).and_then(seconds))
            };
            (param("r=") == Some(0.0)).then(|| param("t=")).flatten()
        });
    // Beyond what a Duration holds is longer than any wait honoured.
    retry_after
        .or(rate_limit_reset)
        .map(|seconds| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// Whether `url` is one this tool sends requests to.
pub(super) fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// A URL for messages: without its query (a storage URL's signature), at most 120 characters.
pub(super) fn shown(url: &Url) -> String {
    let mut text = format!("{}:", url.scheme());
    if let Some(host) = url.host_str() {
        text.push_str("//");
        text.push_str(host);
    } else if url.as_str()[text.len()..].starts_with("//") {
        text.push_str("//");
    }
    text.push_str(url.path());
    text.chars().take(120).collect()
}

/// A request that got no answer: a TLS failure (an untrusted certificate, a refused handshake, a
/// server that does not speak TLS) or a proxy that refuses the tunnel fails at once, since
/// retrying cannot fix it; anything else (refused or cut connections, timeouts) is retried.
pub(super) fn classify_failure(
    error: &reqwest::Error,
    target: &Target<'_>,
    network: &NetworkSettings,
) -> Verdict {
    let host = error.url().map_or_else(|| "the server".to_owned(), host_of);
    if let Some(tls) = tls_error(error) {
        return Verdict::Fail(HubError::Tls {
            what: target.what.to_owned(),
            host,
            problem: tls.clone(),
        });
    }
    if error.is_redirect() {
        return Verdict::Fail(HubError::BadResponse {
            what: target.what.to_owned(),
            problem: describe_reqwest_error(error),
        });
    }
    let proxy = error.url().and_then(|url| network.proxy_for(url));
    if let Some(proxy) = proxy
        && let Some(problem) = tunnel_refusal(error)
    {
        return Verdict::Fail(HubError::Proxy {
            what: target.what.to_owned(),
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

/// The error and its causes, without the URL (a storage URL's signature is no one's business).
pub(super) fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `host[:port]` of a URL, for messages.
pub(super) fn host_of(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("the server");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

pub(super) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// An `ETag` as the server sent it: only a strong one may go in `If-Range`, and it goes back
/// exactly as it came (the storage's is a content hash of its own, not the file's SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EntityTag {
    /// The header value, quotes and all.
    pub(crate) raw: String,
}

impl EntityTag {
    pub(super) fn from_headers(headers: &HeaderMap) -> Option<EntityTag> {
        header_str(headers, "etag")
            .map(|raw| raw.trim().to_owned())
            .filter(|raw| !raw.is_empty())
            .map(|raw| EntityTag { raw })
    }

    pub(super) fn is_strong(&self) -> bool {
        !self.raw.starts_with("W/")
    }
}

/// `bytes 0-99/1234` → (0, 99, Some(1234)); `bytes 0-99/*` → (0, 99, None).
pub(super) fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, last) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        total => Some(total.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, last.trim().parse().ok()?, total))
}

/// `bytes */177` (a 416's statement of the size it holds) → 177.
pub(super) fn unsatisfied_range_size(value: &str) -> Option<u64> {
    value.trim().strip_prefix("bytes */")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::settings::{Token, TokenOrigin};

    fn settings(token: bool) -> HubSettings {
        let mut settings = HubSettings::from_env();
        settings.endpoint = "https://hub.test".to_owned();
        settings.token = token.then(|| (Token::new("hf_x").unwrap(), TokenOrigin::Environment));
        settings
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    /// The verdict on an answer from the Hub (`elsewhere` false: with the token when there is
    /// one) or from another host (without it).
    fn verdict(status: u16, pairs: &[(&str, &str)], elsewhere: bool, token: bool) -> Verdict {
        let repo = DatasetRepo::new("lmsys/lmsys-chat-1m", "main");
        let target = Target {
            repo: &repo,
            path: Some("data/a.parquet"),
            what: "reading data/a.parquet of lmsys/lmsys-chat-1m",
            token_sent: token && !elsewhere,
            elsewhere: elsewhere.then(|| "cdn.test".to_owned()),
        };
        classify(
            StatusCode::from_u16(status).unwrap(),
            &headers(pairs),
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

    /// Status, headers, answered elsewhere (not by the Hub), with a token, and the verdict.
    type Case<'a> = (u16, &'a [(&'a str, &'a str)], bool, bool, &'a str);

    #[test]
    fn every_answer_has_one_meaning() {
        let gated = [("x-error-code", "GatedRepo")];
        // The Hub sends its quota on every answer; it is the reason only for a spent 429.
        let quota = [("ratelimit", "\"api\";r=480;t=250")];
        let cases: &[Case] = &[
            (200, &[], false, true, "accept"),
            (200, &quota, false, true, "accept"),
            (206, &[], true, false, "accept"),
            (302, &[], false, true, "accept"),
            (416, &[], true, true, "accept"),
            (503, &[], false, true, "retry None"),
            (503, &quota, false, true, "retry None"),
            (503, &[("retry-after", "2")], false, true, "retry Some(2s)"),
            (500, &[], true, false, "retry None"),
            (429, &[("retry-after", "7")], false, true, "retry Some(7s)"),
            (
                429,
                &[("ratelimit", "\"api\";r=0;t=30")],
                false,
                false,
                "retry Some(30s)",
            ),
            (429, &quota, false, false, "retry None"),
            (408, &[], false, true, "retry None"),
            (501, &[], false, true, "Status"),
            (
                404,
                &[("x-error-code", "RepoNotFound")],
                false,
                true,
                "RepoNotFound",
            ),
            (
                401,
                &[("x-error-code", "RepoNotFound")],
                false,
                false,
                "Status",
            ),
            (
                404,
                &[("x-error-code", "RevisionNotFound")],
                false,
                true,
                "RevisionNotFound",
            ),
            (
                404,
                &[("x-error-code", "EntryNotFound")],
                false,
                false,
                "EntryNotFound",
            ),
            (401, &gated, false, false, "GatedNoToken"),
            (403, &gated, false, false, "GatedNoToken"),
            (401, &gated, false, true, "InvalidToken"),
            (401, &[], false, true, "InvalidToken"),
            (403, &gated, false, true, "GatedNoAccess"),
            // Another Hub host, reached by a redirect, never got the token.
            (401, &gated, true, true, "OtherHub"),
            (401, &[], true, true, "Elsewhere"),
            (403, &[], true, true, "Elsewhere"),
            (403, &[], false, true, "Status"),
            (403, &[], false, false, "Status"),
            (401, &[], false, false, "Status"),
            (
                401,
                &[("x-error-code", "SomethingElse")],
                false,
                true,
                "Status",
            ),
            (404, &[], false, true, "Status"),
            (400, &[("x-error-message", "bad")], false, true, "Status"),
            // What no retry can fix: bytes re-encoded, a redirect out of HTTP.
            (200, &[("content-encoding", "gzip")], false, true, "Encoded"),
            (206, &[("content-encoding", "br")], true, false, "Encoded"),
            (
                200,
                &[("content-encoding", "identity")],
                false,
                true,
                "accept",
            ),
            (
                503,
                &[("content-encoding", "gzip")],
                false,
                true,
                "retry None",
            ),
            (
                302,
                &[("location", "file:///etc/passwd")],
                false,
                true,
                "NotHttp",
            ),
            (302, &[("location", "gopher://h/x")], true, false, "NotHttp"),
            (
                302,
                &[("location", "https://cdn.test/x")],
                false,
                true,
                "accept",
            ),
            (302, &[("location", "/relative/x")], false, true, "accept"),
            // A wait beyond what a Duration holds is longer than any honoured.
            (
                503,
                &[("retry-after", "1e20")],
                false,
                true,
                "retry Some(18446744073709551615.999999999s)",
            ),
        ];
        for (status, headers, elsewhere, token, expected) in cases {
            let verdict = verdict(*status, headers, *elsewhere, *token);
            assert_eq!(
                &name(&verdict),
                expected,
                "HTTP {status} {headers:?} elsewhere={elsewhere} token={token}"
            );
        }
    }

    #[test]
    fn messages_carry_the_servers_words_and_the_next_step() {
        let Verdict::Fail(error) = verdict(400, &[("x-error-message", "bad cursor")], false, true)
        else {
            panic!("a failure")
        };
        assert!(
            error.to_string().ends_with("HTTP 400: bad cursor"),
            "{error}"
        );
        let Verdict::Fail(error) = verdict(403, &[("x-error-code", "GatedRepo")], false, true)
        else {
            panic!("a failure")
        };
        let text = format!("{error}\nNext: {}", error.next_step().unwrap_or_default());
        assert!(
            text.contains("https://hub.test/datasets/lmsys/lmsys-chat-1m"),
            "{text}"
        );
        assert!(text.contains("public gated repos"), "{text}");
        assert!(!text.contains("hf_x"), "the token is never shown");
        let Verdict::Fail(error) = verdict(401, &[("x-error-code", "GatedRepo")], true, true)
        else {
            panic!("a failure")
        };
        let text = error.to_string();
        assert!(text.contains("cdn.test answered HTTP 401"), "{text}");
        assert!(!text.contains("rejected the token"), "{text}");
    }

    #[test]
    fn urls_in_messages_keep_no_query() {
        let shown = |url: &str| shown(&Url::parse(url).unwrap());
        assert_eq!(
            shown("https://cdn.test/a/b?X-Amz-Signature=s"),
            "https://cdn.test/a/b"
        );
        assert_eq!(shown("file:///etc/passwd"), "file:///etc/passwd");
        assert_eq!(shown("gopher://h:70/x"), "gopher://h/x");
        assert_eq!(shown("mailto:a@b"), "mailto:a@b");
    }

    #[test]
    fn ranges_and_validators_parse() {
        assert_eq!(
            parse_content_range("bytes 10-99/1234"),
            Some((10, 99, Some(1234)))
        );
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, 0, None)));
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(unsatisfied_range_size("bytes */177"), Some(177));
        let tag = EntityTag::from_headers(&headers(&[("etag", "\"abc\"")])).unwrap();
        assert_eq!(tag.raw, "\"abc\"", "sent back as it came");
        assert!(tag.is_strong());
        let weak = EntityTag::from_headers(&headers(&[("etag", "W/\"abc\"")])).unwrap();
        assert!(!weak.is_strong());
    }
}
