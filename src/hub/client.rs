//! The HTTP client: one set-up for every request (trust, proxies, timeouts, `Accept-Encoding:
//! identity`), the token only for `HF_ENDPOINT`'s origin, and one attempt loop that spends the
//! operation's [`RetryState`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, Method, RequestBuilder, Response, Url};

use super::error::{HubError, SettingProblem};
use super::http::{
    Target, Verdict, classify, classify_failure, describe_reqwest_error, host_of, is_http, shown,
};
use super::pace::Pace;
use super::repo::DatasetRepo;
use super::retry::{RetryPolicy, RetryState, Setback};
use super::settings::HubSettings;

const USER_AGENT: &str = concat!("healthchat/", env!("CARGO_PKG_VERSION"));
const MAX_REDIRECTS: usize = 10;

/// The largest API answer read (FORMAT.md §12): a listing page of the Hub's 1,000 entries, or
/// a revision's file list, is well under a megabyte.
const MAX_API_BODY: u64 = 16 << 20;
const MAX_API_BODY_TEXT: &str = "16 MiB";

/// Which of the client's connection pools a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    /// API calls: HTTP/2 when offered, so many small requests share one connection; redirects
    /// followed (reqwest drops `Authorization` when one changes host).
    Api,
    /// `/resolve/`, on the API calls' connection (a connection of its own would cost two round
    /// trips before the annotation file): no redirect followed, so that where it leads is seen
    /// and kept.
    Resolve,
    /// Byte ranges, over HTTP/1.1: each stream gets its own connection, so no HTTP/2
    /// flow-control window shared by all streams caps the rate at window / round trip, and a
    /// stream that waits for a decoder is held back by TCP in the kernel, not buffered here.
    Range,
}

/// What a request is about, for messages.
pub(super) struct About<'a> {
    pub(crate) repo: &'a DatasetRepo,
    pub(crate) path: Option<&'a str>,
}

/// True for the path of a `/resolve/` URL (`{prefix}{owner}/{name}/resolve/...`, `prefix`
/// being the endpoint's path and `datasets/`), as [`HttpClient::resolve_url`] builds them.
fn is_resolve_path(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.split('/').nth(2) == Some("resolve"))
}

/// The TLS set-up of every connection (ALPN aside): the roots reqwest's
/// `tls_built_in_native_certs` and `tls_built_in_webpki_certs` would load, with its TLS
/// versions and ring as the crypto provider.
fn tls_config() -> Result<rustls::ClientConfig, HubError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    // Native stores often hold an ancient or malformed certificate: skipped, as reqwest does.
    let (valid, invalid) = roots.add_parsable_certificates(native.certs);
    if valid == 0 && invalid > 0 {
        let mut problem = "no valid certificate in the trusted store".to_owned();
        for error in native.errors {
            problem.push_str(&format!("; {error}"));
        }
        return Err(HubError::NoTrustedCertificate { problem });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| HubError::ClientSetup {
            source: Box::new(error),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

pub(super) struct HttpClient {
    settings: HubSettings,
    base: Url,
    /// API calls and `/resolve/`.
    hub: Client,
    range: Client,
    policy: RetryPolicy,
}

impl HttpClient {
    pub(super) fn new(settings: HubSettings) -> Result<HttpClient, HubError> {
        settings.network.check()?;
        check_token(&settings)?;
        let base =
            Url::parse(&format!("{}/", settings.endpoint)).map_err(|e| HubError::BadEndpoint {
                endpoint: settings.endpoint.clone(),
                problem: SettingProblem::NotAUrl(e),
            })?;
        if base.cannot_be_a_base() {
            return Err(HubError::BadEndpoint {
                endpoint: settings.endpoint.clone(),
                problem: SettingProblem::NoHost,
            });
        }
        // The bytes as stored, never re-encoded on the way: a byte range must name the file's
        // own bytes, and a proxy or CDN may otherwise compress a JSON or Parquet answer.
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        // Trust, read once for both clients (each reading the store itself cost ~50 ms
        // before the first request): the system's store, or SSL_CERT_FILE / SSL_CERT_DIR
        // instead of it (read by rustls-native-certs as Python's clients read them), and
        // Mozilla's roots compiled in for systems without a store. Proxies: reqwest reads the
        // variables `network` checked.
        let tls = tls_config()?;
        let builder = |alpn: &[&[u8]]| {
            let mut tls = tls.clone();
            tls.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
            Client::builder()
                .user_agent(USER_AGENT)
                .default_headers(headers.clone())
                .connect_timeout(Duration::from_secs(30))
                // A stalled stream fails this read and is resumed from its last byte.
                .read_timeout(settings.read_timeout)
                .use_preconfigured_tls(tls)
        };
        let build = |builder: reqwest::ClientBuilder| {
            builder.build().map_err(|error| HubError::ClientSetup {
                source: Box::new(error),
            })
        };
        let resolve_prefix = format!("{}datasets/", base.path());
        let hub_redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let first = attempt
                .previous()
                .first()
                .map(Url::path)
                .unwrap_or_default();
            // Out of HTTP, the answer is seen and refused (`classify`).
            if is_resolve_path(first, &resolve_prefix) || !is_http(attempt.url()) {
                attempt.stop()
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else {
                attempt.follow()
            }
        });
        let limited = reqwest::redirect::Policy::custom(|attempt| {
            if !is_http(attempt.url()) {
                attempt.stop()
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else {
                attempt.follow()
            }
        });
        let policy = RetryPolicy {
            reporter: settings.retry_reporter.clone(),
            ..RetryPolicy::default()
        };
        Ok(HttpClient {
            hub: build(builder(&[b"h2", b"http/1.1"]).redirect(hub_redirects))?,
            range: build(builder(&[b"http/1.1"]).redirect(limited).http1_only())?,
            settings,
            base,
            policy,
        })
    }

    pub(super) fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// A fresh budget for one operation.
    pub(super) fn retry_state(&self, what: impl Into<String>) -> RetryState {
        RetryState::new(&self.policy, what)
    }

    /// A URL under the endpoint, from path segments (each percent-encoded).
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in HttpClient::new")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `{endpoint}/api/datasets/{repo}/{rest...}`
    pub(super) fn api_url(&self, repo: &DatasetRepo, rest: &[&str]) -> Url {
        let mut segments = vec!["api", "datasets"];
        segments.extend(repo.id().split('/'));
        segments.extend(rest);
        self.url(&segments)
    }

    /// `{endpoint}/datasets/{repo}/resolve/{revision}/{path}`
    pub(super) fn resolve_url(&self, repo: &DatasetRepo, path: &str) -> Url {
        let mut segments = vec!["datasets"];
        segments.extend(repo.id().split('/'));
        segments.extend(["resolve", repo.reference()]);
        segments.extend(path.split('/'));
        self.url(&segments)
    }

    /// True for URLs of `HF_ENDPOINT`'s origin, the only one the token is sent to.
    pub(super) fn is_hub(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// Sends `method url` on `channel` (with the token when `url` is the Hub's, after
    /// `decorate` added its headers), retrying what can succeed later: connection failures,
    /// timeouts, HTTP 5xx and 429, each an attempt of `retry`.
    pub(super) async fn send(
        &self,
        about: &About<'_>,
        retry: &mut RetryState,
        channel: Channel,
        method: Method,
        url: &Url,
        decorate: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, HubError> {
        if !is_http(url) {
            return Err(HubError::NotHttp {
                what: retry.what().to_owned(),
                url: shown(url),
            });
        }
        let client = match channel {
            Channel::Api | Channel::Resolve => &self.hub,
            Channel::Range => &self.range,
        };
        let token = self
            .settings
            .token
            .as_ref()
            .filter(|_| self.is_hub(url))
            .map(|(token, _)| token);
        loop {
            let mut request = decorate(client.request(method.clone(), url.clone()));
            if let Some(token) = token {
                request = request.bearer_auth(token.secret());
            }
            let (wait, reason) = match request.send().await {
                Ok(response) => {
                    let answered = response.url();
                    let on_hub = self.is_hub(answered);
                    let target = Target {
                        repo: about.repo,
                        path: about.path,
                        what: retry.what(),
                        token_sent: token.is_some() && on_hub,
                        elsewhere: (!on_hub).then(|| host_of(answered)),
                    };
                    match classify(
                        response.status(),
                        response.headers(),
                        &target,
                        &self.settings,
                    ) {
                        Verdict::Accept => return Ok(response),
                        Verdict::Fail(error) => return Err(error),
                        Verdict::Retry { wait, reason } => (wait, reason),
                    }
                }
                Err(error) => {
                    let target = Target {
                        repo: about.repo,
                        path: about.path,
                        what: retry.what(),
                        token_sent: token.is_some(),
                        elsewhere: None,
                    };
                    match classify_failure(&error, &target, &self.settings.network) {
                        Verdict::Fail(error) => return Err(error),
                        Verdict::Retry { wait, reason } => (wait, reason),
                        Verdict::Accept => unreachable!("a failed request is never accepted"),
                    }
                }
            };
            retry.back_off(Setback::Request, reason, wait).await?;
        }
    }

    /// A GET on the API channel and its whole body, retried together: a body cut short, or too
    /// slow, is asked for again like a failed request, within the same budget. A body larger
    /// than [`MAX_API_BODY`] is refused.
    pub(super) async fn get_whole(
        &self,
        about: &About<'_>,
        retry: &mut RetryState,
        url: &Url,
    ) -> Result<(HeaderMap, Bytes), HubError> {
        let too_large = |retry: &RetryState| HubError::TooLarge {
            what: retry.what().to_owned(),
            limit: MAX_API_BODY_TEXT,
        };
        loop {
            let mut response = self
                .send(about, retry, Channel::Api, Method::GET, url, |r| r)
                .await?;
            if response.content_length().is_some_and(|n| n > MAX_API_BODY) {
                return Err(too_large(retry));
            }
            let headers = response.headers().clone();
            let mut body = Vec::new();
            let mut pace = Pace::new(self.settings.read_timeout);
            let (setback, reason) = loop {
                let chunk = pace.next(response.chunk(), |chunk| match chunk {
                    Ok(Some(bytes)) => bytes.len(),
                    _ => 0,
                });
                match chunk.await {
                    Ok(Ok(Some(bytes))) => {
                        if (body.len() + bytes.len()) as u64 > MAX_API_BODY {
                            return Err(too_large(retry));
                        }
                        body.extend_from_slice(&bytes);
                    }
                    Ok(Ok(None)) => return Ok((headers, Bytes::from(body))),
                    Ok(Err(error)) => break (Setback::Body, describe_reqwest_error(&error)),
                    Err(lag) => break (lag.setback(), lag.describe()),
                }
            };
            retry.back_off(setback, reason, None).await?;
        }
    }
}

/// Refuses a token that an HTTP header cannot carry as text (a control character, which reqwest
/// could only fail to send on every attempt, or a character outside ASCII, which no Hub token
/// holds: a pasted quote); never shows it.
fn check_token(settings: &HubSettings) -> Result<(), HubError> {
    let Some((token, origin)) = &settings.token else {
        return Ok(());
    };
    match token
        .secret()
        .chars()
        .position(|c| !(c == ' ' || c == '\t' || c.is_ascii_graphic()))
    {
        None => Ok(()),
        Some(index) => Err(HubError::UnsendableToken {
            origin: origin.to_string(),
            position: index + 1,
            endpoint: settings.endpoint.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resolve_urls_stop_at_their_redirect() {
        assert!(is_resolve_path(
            "/datasets/a/b/resolve/main/x.parquet",
            "/datasets/"
        ));
        assert!(is_resolve_path(
            "/hf/datasets/a/b/resolve/abc/x",
            "/hf/datasets/"
        ));
        assert!(!is_resolve_path(
            "/api/datasets/a/b/tree/main",
            "/datasets/"
        ));
        assert!(!is_resolve_path("/datasets/a/resolve/main", "/datasets/"));
    }

    #[test]
    fn a_token_no_header_can_carry_is_refused_at_start_and_never_shown() {
        use crate::hub::settings::{Token, TokenOrigin};
        for (secret, position) in [("hf_ab\u{1}cd", 6), ("hf_ab\ncd", 6), ("hf_ab\u{201d}", 6)] {
            let mut settings = HubSettings::from_env();
            settings.token = Some((Token::new(secret).unwrap(), TokenOrigin::Environment));
            let Err(error) = HttpClient::new(settings) else {
                panic!("{secret:?} is refused")
            };
            let text = error.to_string();
            assert!(
                text.contains(&format!(
                    "HF_TOKEN holds a character an HTTP header cannot carry (character {position}"
                )),
                "{text}"
            );
            assert!(!text.contains("hf_ab"), "{text}");
        }
        let mut settings = HubSettings::from_env();
        settings.token = Some((Token::new("hf_ok\t x").unwrap(), TokenOrigin::Environment));
        assert!(HttpClient::new(settings).is_ok());
    }

    #[test]
    fn urls_encode_revisions_and_keep_endpoint_paths() {
        let mut settings = HubSettings::from_env();
        settings.endpoint = "http://127.0.0.1:8080/mirror".to_owned();
        let client = HttpClient::new(settings).unwrap();
        let repo = DatasetRepo::new("lmsys/lmsys-chat-1m", "refs/convert/parquet");
        assert_eq!(
            client.resolve_url(&repo, "data/train-0.parquet").as_str(),
            "http://127.0.0.1:8080/mirror/datasets/lmsys/lmsys-chat-1m/resolve/refs%2Fconvert%2Fparquet/data/train-0.parquet"
        );
        assert_eq!(
            client.api_url(&repo, &["tree", "main", "data"]).as_str(),
            "http://127.0.0.1:8080/mirror/api/datasets/lmsys/lmsys-chat-1m/tree/main/data"
        );
    }
}
