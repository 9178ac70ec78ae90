//! When to try a request again, and how long to wait first.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// Exponential backoff with jitter, bounded in attempts and in any single wait.
#[derive(Debug, Clone)]
pub(super) struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_backoff: Duration,
    /// The longest server-requested wait we honour before giving up.
    pub max_server_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            max_server_wait: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `failed + 1`, or `None` when `failed` attempts are all we make.
    /// A wait the server asked for (`Retry-After`, `RateLimit`) replaces the backoff.
    pub fn wait(&self, failed: u32, server_wait: Option<Duration>) -> Option<Duration> {
        if failed >= self.max_attempts {
            return None;
        }
        if let Some(wait) = server_wait {
            return (wait <= self.max_server_wait).then_some(wait);
        }
        let exponential = self
            .base
            .saturating_mul(1 << failed.saturating_sub(1).min(16));
        let capped = exponential.min(self.max_backoff);
        // "Equal jitter": half fixed, half random, so retries of parallel streams spread out.
        let random = RandomState::new().build_hasher().finish();
        let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
        Some(capped.mul_f64(fraction))
    }
}

pub(super) fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED
}

/// How long the server asked us to wait: `Retry-After: <seconds>`, or the reset time `t` of the
/// Hub's `RateLimit: "api";r=0;t=<seconds>` header.
pub(super) fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let seconds = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
    };
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(seconds);
    let rate_limit_reset = headers
        .get("ratelimit")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .find_map(|param| param.trim().strip_prefix("t=").and_then(seconds))
        });
    retry_after
        .or(rate_limit_reset)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_ends() {
        let policy = RetryPolicy::default();
        let first = policy.wait(1, None).unwrap();
        assert!(first >= Duration::from_millis(125) && first <= Duration::from_millis(250));
        let late = policy.wait(9, None).unwrap();
        assert!(late >= Duration::from_secs(10) && late <= Duration::from_secs(20));
        assert_eq!(policy.wait(10, None), None);
    }

    #[test]
    fn server_waits_are_honoured_within_a_bound() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.wait(1, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(policy.wait(1, Some(Duration::from_secs(3600))), None);
    }

    #[test]
    fn retry_after_and_ratelimit_headers_parse() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit", "\"api\";r=0;t=55".parse().unwrap());
        assert_eq!(server_wait(&headers), Some(Duration::from_secs(55)));
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(server_wait(&headers), Some(Duration::from_secs(2)));
        assert_eq!(server_wait(&HeaderMap::new()), None);
    }
}
