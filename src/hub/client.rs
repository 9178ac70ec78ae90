//! The HTTP client: one set-up for every request, the token only where it belongs, and the retry
//! loop around each request.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, Response, Url};

use super::response::{Target, Verdict, classify, classify_failure};
use super::retry::RetryPolicy;
use super::{DatasetRepo, HubError, HubSettings};

const USER_AGENT: &str = concat!("healthchat/", env!("CARGO_PKG_VERSION"));
pub(super) const MAX_REDIRECTS: usize = 10;

pub struct Hub {
    pub(super) settings: HubSettings,
    base: Url,
    /// API calls; follows redirects itself (reqwest drops `Authorization` when one changes
    /// host). HTTP/2 when the server offers it: many small requests share one connection.
    pub(super) client: Client,
    /// Follows none, so that `/resolve/` redirects are seen and followed once per file.
    pub(super) resolver: Client,
    /// Byte ranges, over HTTP/1.1: each stream gets its own connection, so no HTTP/2
    /// flow-control window shared by all streams caps the rate at window / round trip, and a
    /// stream that waits for a decoder is held back by TCP in the kernel, not buffered here.
    pub(super) ranges: Client,
    pub(super) retry: RetryPolicy,
}

impl Hub {
    pub fn new(settings: HubSettings) -> Result<Hub, HubError> {
        settings.network.check()?;
        let base =
            Url::parse(&format!("{}/", settings.endpoint)).map_err(|e| HubError::BadEndpoint {
                endpoint: settings.endpoint.clone(),
                problem: e.to_string(),
            })?;
        if base.cannot_be_a_base() {
            return Err(HubError::BadEndpoint {
                endpoint: settings.endpoint.clone(),
                problem: "it has no host".to_owned(),
            });
        }
        // Trust: the system's store, or SSL_CERT_FILE / SSL_CERT_DIR instead of it (read by
        // rustls-native-certs as Python's clients read them), and Mozilla's roots compiled in
        // for systems without a store. Proxies: reqwest reads the variables `network` checked.
        let builder = || {
            Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(Duration::from_secs(30))
                // A stalled stream fails this read and is resumed from its last byte.
                .read_timeout(settings.read_timeout)
                .tls_built_in_native_certs(true)
                .tls_built_in_webpki_certs(true)
        };
        let build = |builder: reqwest::ClientBuilder| {
            builder.build().map_err(|error| HubError::ClientSetup {
                problem: describe_reqwest_error(&error),
            })
        };
        let limited = || reqwest::redirect::Policy::limited(MAX_REDIRECTS);
        Ok(Hub {
            client: build(builder().redirect(limited()))?,
            resolver: build(builder().redirect(reqwest::redirect::Policy::none()))?,
            ranges: build(builder().redirect(limited()).http1_only())?,
            settings,
            base,
            retry: RetryPolicy::default(),
        })
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// A URL under the endpoint, from path segments (each percent-encoded).
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in Hub::new")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `{endpoint}/datasets/{repo}/resolve/{revision}/{path}`
    pub(super) fn resolve_url(&self, repo: &DatasetRepo, path: &str) -> Url {
        let mut segments = vec!["datasets"];
        segments.extend(repo.id.split('/'));
        segments.extend(["resolve", repo.reference()]);
        segments.extend(path.split('/'));
        self.url(&segments)
    }

    /// True for URLs of `HF_ENDPOINT`'s origin, the only one the token is sent to.
    pub(super) fn is_hub(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    pub(super) fn with_token(&self, request: RequestBuilder, send_token: bool) -> RequestBuilder {
        match (&self.settings.token, send_token) {
            (Some((token, _)), true) => request.bearer_auth(token.secret()),
            _ => request,
        }
    }

    /// Sends a request, retrying what can succeed later: connection failures, timeouts, HTTP 5xx
    /// and 429 (after `Retry-After` or the `RateLimit` reset when the Hub gives one).
    pub(super) async fn send(
        &self,
        target: &Target<'_>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, HubError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (wait, reason) = match build().send().await {
                Ok(response) => {
                    match classify(
                        response.status(),
                        response.headers(),
                        target,
                        &self.settings,
                    ) {
                        Verdict::Accept => return Ok(response),
                        Verdict::Fail(error) => return Err(error),
                        Verdict::Retry { wait, reason } => (wait, reason),
                    }
                }
                Err(error) => match classify_failure(&error, target, &self.settings.network) {
                    Verdict::Fail(error) => return Err(error),
                    Verdict::Retry { wait, reason } => (wait, reason),
                    Verdict::Accept => unreachable!("a failed request is never accepted"),
                },
            };
            self.back_off(target, attempt, wait, reason).await?;
        }
    }

    /// Waits before attempt `failed + 1` (as long as the server asked, else backoff), or gives
    /// up with the last reason when `failed` attempts are all there are.
    async fn back_off(
        &self,
        target: &Target<'_>,
        failed: u32,
        server_wait: Option<Duration>,
        reason: String,
    ) -> Result<(), HubError> {
        let wait =
            self.retry
                .wait(failed, server_wait)
                .ok_or_else(|| HubError::RetriesExhausted {
                    what: target.what.clone(),
                    attempts: failed,
                    last: reason,
                })?;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// [`Hub::send`] and the whole body, the two retried together: a body cut short is asked for
    /// again like a failed request.
    pub(super) async fn send_and_read_with_headers(
        &self,
        target: &Target<'_>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<(HeaderMap, Bytes), HubError> {
        let mut failures = 0;
        loop {
            let response = self.send(target, &build).await?;
            let headers = response.headers().clone();
            match response.bytes().await {
                Ok(body) => return Ok((headers, body)),
                Err(error) => {
                    failures += 1;
                    self.back_off(target, failures, None, describe_reqwest_error(&error))
                        .await?;
                }
            }
        }
    }

    pub(super) async fn send_and_read(
        &self,
        target: &Target<'_>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Bytes, HubError> {
        Ok(self.send_and_read_with_headers(target, build).await?.1)
    }
}

pub(super) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

pub(super) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name)?.trim().parse().ok()
}

/// `W/"abc"` and `"abc"` → `abc`, as `huggingface_hub` normalises ETags.
pub(super) fn clean_etag(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_normalised() {
        assert_eq!(clean_etag("W/\"abc\""), "abc");
        assert_eq!(clean_etag("\"abc\""), "abc");
    }

    #[test]
    fn urls_encode_revisions_and_keep_endpoint_paths() {
        let mut settings = HubSettings::from_env();
        settings.endpoint = "http://127.0.0.1:8080/mirror".to_owned();
        let hub = Hub::new(settings).unwrap();
        let repo = DatasetRepo::new("lmsys/lmsys-chat-1m", "refs/convert/parquet");
        assert_eq!(
            hub.resolve_url(&repo, "data/train-0.parquet").as_str(),
            "http://127.0.0.1:8080/mirror/datasets/lmsys/lmsys-chat-1m/resolve/refs%2Fconvert%2Fparquet/data/train-0.parquet"
        );
    }
}
