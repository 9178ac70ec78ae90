//! When to try again, and how long to wait first: one budget per operation (a listing, a
//! resolve, a byte range), threaded through its sends, body reads, resumes and URL renewals, as
//! cargo's `util/network/retry.rs` and uv's `RetryState` keep one per request.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::HubError;

/// Bytes a second a body must average over each window spent waiting for it (FORMAT.md §12;
/// `pace` keeps the count).
pub(super) const MIN_RATE: u64 = 1024;
pub(super) const MIN_RATE_TEXT: &str = "1 KiB/s";

/// Bytes an operation must bring after a failure before its failures in a row are behind it
/// (FORMAT.md §12): a server that sends a byte per answer would otherwise renew the budget
/// with each.
pub(super) const MIN_PROGRESS: u64 = 64 << 10;

/// Answers in a row too slow or too short ([`Setback::Slow`]) that end an operation: such a
/// server rarely speeds up, and each costs a window of waiting.
const SLOW_IN_A_ROW: u32 = 3;

/// The shortest time between two reports of one operation's retries: a link that keeps failing
/// says so now and then, not with every attempt.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// A failed attempt about to be tried again, as the person watching is told of it.
pub(crate) struct Retrying<'a> {
    /// What the operation is about: `reading data/x.parquet of lmsys/lmsys-chat-1m`.
    pub(crate) what: &'a str,
    /// What failed: `HTTP 503`, `connection refused`.
    pub(crate) reason: &'a str,
    /// The attempt about to be made, of `attempts`.
    pub(crate) attempt: u32,
    pub(crate) attempts: u32,
    pub(crate) wait: Duration,
}

/// Told of retries as they happen (as uv's `Reporter` is of downloads); the command sets it, so
/// that the hub itself never writes to the terminal.
pub(crate) trait RetryReporter: Send + Sync {
    fn retrying(&self, retrying: &Retrying<'_>);
}

/// The command's reporter, if it set one, shared by every operation's budget.
#[derive(Clone, Default)]
pub(crate) struct Reporter(Option<Arc<dyn RetryReporter>>);

impl Reporter {
    pub(crate) fn new(reporter: Arc<dyn RetryReporter>) -> Reporter {
        Reporter(Some(reporter))
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Reporter(set)"
        } else {
            "Reporter(none)"
        })
    }
}

/// Exponential backoff with jitter, bounded in attempts and in any single wait.
#[derive(Debug, Clone)]
pub(super) struct RetryPolicy {
    /// Failed attempts in a row (without a byte of progress) an operation survives.
    pub(crate) max_attempts: u32,
    pub(crate) base: Duration,
    pub(crate) max_backoff: Duration,
    /// The longest server-requested wait honoured before giving up.
    pub(crate) max_server_wait: Duration,
    pub(crate) reporter: Reporter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            max_server_wait: Duration::from_secs(600),
            reporter: Reporter::default(),
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `failed + 1`. "Equal jitter": half fixed, half random, so
    /// retries of parallel streams spread out.
    fn backoff(&self, failed: u32) -> Duration {
        let exponential = self
            .base
            .saturating_mul(1 << failed.saturating_sub(1).min(16));
        exponential
            .min(self.max_backoff)
            .mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

/// What went wrong on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Setback {
    /// No answer, or one to try again later (5xx, 429, 408).
    Request,
    /// The body stopped before its end (a cut connection, a stall).
    Body,
    /// An answer that a fresh storage URL may fix: an expired URL, or a cache's stale answer.
    StaleUrl,
    /// A body that came slower than the minimum rate, or an answer that ended with less than
    /// [`MIN_PROGRESS`] bytes of what was asked.
    Slow,
}

/// The attempts of one operation: failures in a row since the last progress, and how many of
/// each kind it had in all, for the message that gives up.
#[derive(Debug)]
pub(super) struct RetryState {
    policy: RetryPolicy,
    what: String,
    in_a_row: u32,
    /// Of `in_a_row`, the slow ones.
    slow_in_a_row: u32,
    /// Bytes since the last failure, until they reach [`MIN_PROGRESS`].
    progress: u64,
    requests: u32,
    bodies: u32,
    stale_urls: u32,
    slow: u32,
    /// When the reporter was last told of this operation's retries.
    reported: Option<Instant>,
}

impl RetryState {
    pub(super) fn new(policy: &RetryPolicy, what: impl Into<String>) -> RetryState {
        RetryState {
            policy: policy.clone(),
            what: what.into(),
            in_a_row: 0,
            slow_in_a_row: 0,
            progress: 0,
            requests: 0,
            bodies: 0,
            stale_urls: 0,
            slow: 0,
            reported: None,
        }
    }

    /// What the operation is about, for messages.
    pub(super) fn what(&self) -> &str {
        &self.what
    }

    /// Requests that got no answer or one to retry, so far.
    pub(super) fn failed_requests(&self) -> u32 {
        self.requests
    }

    /// A whole answer arrived: the failures before it are behind us.
    pub(super) fn completed(&mut self) {
        self.in_a_row = 0;
        self.slow_in_a_row = 0;
        self.progress = 0;
    }

    /// `bytes` arrived: once [`MIN_PROGRESS`] have since the last failure, the failures before
    /// them are behind us.
    pub fn advanced(&mut self, bytes: u64) {
        self.progress = self.progress.saturating_add(bytes);
        if self.progress >= MIN_PROGRESS {
            self.completed();
        }
    }

    /// Counts a failed attempt and returns the wait before the next one (the server's, when it
    /// asked for one, else backoff), or the error that ends the operation.
    pub(super) fn fail(
        &mut self,
        setback: Setback,
        reason: String,
        server_wait: Option<Duration>,
    ) -> Result<Duration, HubError> {
        self.in_a_row += 1;
        self.progress = 0;
        match setback {
            Setback::Request => self.requests += 1,
            Setback::Body => self.bodies += 1,
            Setback::StaleUrl => self.stale_urls += 1,
            Setback::Slow => {
                self.slow += 1;
                self.slow_in_a_row += 1;
            }
        }
        if self.slow_in_a_row >= SLOW_IN_A_ROW {
            return Err(HubError::TooSlow {
                what: self.what.clone(),
                problem: reason,
                times: self.slow_in_a_row,
                minimum: MIN_RATE_TEXT,
            });
        }
        let too_long = server_wait.filter(|wait| *wait > self.policy.max_server_wait);
        if self.in_a_row >= self.policy.max_attempts || too_long.is_some() {
            return Err(HubError::RetriesExhausted {
                what: self.what.clone(),
                attempts: self.in_a_row,
                tally: self.tally(),
                last: match too_long {
                    Some(wait) => format!(
                        "{reason}, and the server asked to wait {} before trying again (at most \
                         {} s is waited)",
                        match wait {
                            Duration::MAX => "longer than any wait".to_owned(),
                            wait => format!("{} s", wait.as_secs()),
                        },
                        self.policy.max_server_wait.as_secs()
                    ),
                    None => reason,
                },
            });
        }
        let wait = server_wait.unwrap_or_else(|| self.policy.backoff(self.in_a_row));
        self.report(&reason, wait);
        Ok(wait)
    }

    /// Tells the reporter of the retry about to be made: the first, then at most one every
    /// [`REPORT_EVERY`].
    fn report(&mut self, reason: &str, wait: Duration) {
        let Some(reporter) = &self.policy.reporter.0 else {
            return;
        };
        let now = Instant::now();
        if self
            .reported
            .is_some_and(|at| now.duration_since(at) < REPORT_EVERY)
        {
            return;
        }
        self.reported = Some(now);
        reporter.retrying(&Retrying {
            what: &self.what,
            reason,
            attempt: self.in_a_row + 1,
            attempts: self.policy.max_attempts,
            wait,
        });
    }

    /// [`RetryState::fail`], then the wait.
    pub(super) async fn back_off(
        &mut self,
        setback: Setback,
        reason: String,
        server_wait: Option<Duration>,
    ) -> Result<(), HubError> {
        let wait = self.fail(setback, reason, server_wait)?;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// `3 requests failed, 1 body was cut, 2 storage URLs were stale`.
    fn tally(&self) -> String {
        let part = |n: u32, one: &str, many: &str| match n {
            0 => None,
            1 => Some(format!("1 {one}")),
            n => Some(format!("{n} {many}")),
        };
        [
            part(self.requests, "request failed", "requests failed"),
            part(self.bodies, "body was cut", "bodies were cut"),
            part(
                self.stale_urls,
                "storage URL was stale",
                "storage URLs were stale",
            ),
            part(self.slow, "answer was too slow", "answers were too slow"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_ends() {
        let policy = RetryPolicy::default();
        let mut state = RetryState::new(&policy, "reading x");
        let first = state
            .fail(Setback::Request, "HTTP 503".into(), None)
            .unwrap();
        assert!(first >= Duration::from_millis(125) && first <= Duration::from_millis(250));
        for _ in 2..9 {
            state
                .fail(Setback::Request, "HTTP 503".into(), None)
                .unwrap();
        }
        let late = state
            .fail(Setback::Request, "HTTP 503".into(), None)
            .unwrap();
        assert!(late >= Duration::from_secs(10) && late <= Duration::from_secs(20));
        assert!(
            state
                .fail(Setback::Request, "HTTP 503".into(), None)
                .is_err()
        );
    }

    #[test]
    fn a_cut_body_and_a_503_share_one_budget() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let mut state = RetryState::new(&policy, "reading data/train-0.parquet");
        state
            .fail(Setback::Body, "connection reset".into(), None)
            .unwrap();
        state
            .fail(Setback::Request, "HTTP 503".into(), None)
            .unwrap();
        let error = state
            .fail(Setback::StaleUrl, "HTTP 416".into(), None)
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("gave up after 3 attempts"), "{text}");
        assert!(
            text.contains("1 request failed, 1 body was cut, 1 storage URL was stale"),
            "{text}"
        );
        assert!(text.contains("HTTP 416"), "{text}");
    }

    #[test]
    fn progress_renews_the_budget_but_a_byte_at_a_time_does_not() {
        let policy = RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        };
        let mut state = RetryState::new(&policy, "reading x");
        for _ in 0..5 {
            state.fail(Setback::Body, "cut".into(), None).unwrap();
            state.advanced(MIN_PROGRESS);
            state.fail(Setback::Body, "cut".into(), None).unwrap();
            state.completed();
        }
        state.fail(Setback::Body, "cut".into(), None).unwrap();
        state.advanced(1);
        assert!(state.fail(Setback::Body, "cut".into(), None).is_err());
    }

    #[test]
    fn slow_answers_end_an_operation_sooner() {
        let mut state = RetryState::new(&RetryPolicy::default(), "reading x");
        state.fail(Setback::Slow, "slow".into(), None).unwrap();
        state.fail(Setback::Body, "cut".into(), None).unwrap();
        state.fail(Setback::Slow, "slow".into(), None).unwrap();
        let error = state
            .fail(Setback::Slow, "1 byte in 60 s".into(), None)
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("1 byte in 60 s, 3 times in a row"), "{text}");
        assert!(text.contains("slower than the 1 KiB/s"), "{text}");
    }

    /// Every report, as a line.
    #[derive(Default)]
    struct Lines(std::sync::Mutex<Vec<String>>);

    impl RetryReporter for Lines {
        fn retrying(&self, r: &Retrying<'_>) {
            self.0.lock().unwrap().push(format!(
                "{}: {} ({} of {})",
                r.what, r.reason, r.attempt, r.attempts
            ));
        }
    }

    #[test]
    fn the_first_retry_is_reported_then_one_every_few_seconds() {
        let lines = Arc::new(Lines::default());
        let policy = RetryPolicy {
            reporter: Reporter::new(Arc::clone(&lines) as Arc<dyn RetryReporter>),
            ..RetryPolicy::default()
        };
        let mut state = RetryState::new(&policy, "reading x");
        state
            .fail(Setback::Request, "HTTP 503".into(), None)
            .unwrap();
        for _ in 0..5 {
            state.fail(Setback::Body, "cut".into(), None).unwrap();
            state.completed();
        }
        assert_eq!(*lines.0.lock().unwrap(), ["reading x: HTTP 503 (2 of 10)"]);
        // Later, the next failure is reported again; another operation has its own clock.
        state.reported = Some(Instant::now() - REPORT_EVERY);
        state
            .fail(Setback::Request, "HTTP 429".into(), None)
            .unwrap();
        RetryState::new(&policy, "listing y")
            .fail(Setback::Request, "refused".into(), None)
            .unwrap();
        assert_eq!(
            *lines.0.lock().unwrap(),
            [
                "reading x: HTTP 503 (2 of 10)",
                "reading x: HTTP 429 (2 of 10)",
                "listing y: refused (2 of 10)"
            ]
        );
    }

    #[test]
    fn server_waits_are_honoured_within_a_bound() {
        let policy = RetryPolicy::default();
        let mut state = RetryState::new(&policy, "reading x");
        assert_eq!(
            state
                .fail(
                    Setback::Request,
                    "HTTP 429".into(),
                    Some(Duration::from_secs(3))
                )
                .unwrap(),
            Duration::from_secs(3)
        );
        let error = state
            .fail(
                Setback::Request,
                "HTTP 429".into(),
                Some(Duration::from_secs(3600)),
            )
            .unwrap_err();
        assert!(error.to_string().contains("wait 3600 s"), "{error}");
        let error = state
            .fail(Setback::Request, "HTTP 503".into(), Some(Duration::MAX))
            .unwrap_err();
        assert!(
            error.to_string().contains("longer than any wait"),
            "{error}"
        );
    }
}
