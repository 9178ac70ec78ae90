//! The slowest a body may arrive (FORMAT.md §12). The stall timeout (`HF_HUB_DOWNLOAD_TIMEOUT`)
//! catches a server that sends nothing; one that sends a byte every few seconds resets it with
//! every byte and would never end. So each window of that length spent waiting for a body must
//! bring [`MIN_RATE`] bytes a second, as curl's `--speed-limit` and cargo's `low-speed-limit`
//! ask. Only time spent waiting counts: a body held back because its reader is busy is not slow.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::retry::{MIN_RATE, Setback};

/// A window of waiting that brought fewer bytes than the minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lag {
    /// None at all: a stall, resumed like a cut body.
    Stalled(Duration),
    /// Some, too few.
    Slow { bytes: u64, window: Duration },
}

impl Lag {
    pub fn describe(&self) -> String {
        match self {
            Lag::Stalled(window) => format!(
                "the server sent nothing for {:.1} s (HF_HUB_DOWNLOAD_TIMEOUT)",
                window.as_secs_f64()
            ),
            Lag::Slow { bytes, window } => format!(
                "the server sent {bytes} bytes in {:.1} s of waiting",
                window.as_secs_f64()
            ),
        }
    }

    pub fn setback(&self) -> Setback {
        match self {
            Lag::Stalled(_) => Setback::Body,
            Lag::Slow { .. } => Setback::Slow,
        }
    }
}

/// The waiting and the bytes of the current window of one body.
#[derive(Debug)]
pub(super) struct Pace {
    window: Duration,
    waited: Duration,
    bytes: u64,
}

impl Pace {
    pub fn new(window: Duration) -> Pace {
        Pace {
            window,
            waited: Duration::ZERO,
            bytes: 0,
        }
    }

    fn minimum(&self) -> u64 {
        (MIN_RATE as f64 * self.window.as_secs_f64()) as u64
    }

    /// A window is over: too few bytes, or a fresh window.
    fn close_window(&mut self) -> Result<(), Lag> {
        let (bytes, window) = (self.bytes, self.waited);
        self.waited = Duration::ZERO;
        self.bytes = 0;
        match bytes {
            0 => Err(Lag::Stalled(window)),
            bytes if bytes < self.minimum() => Err(Lag::Slow { bytes, window }),
            _ => Ok(()),
        }
    }

    /// Awaits `next`, the next piece of a body (`size` tells its bytes), or says it comes too
    /// slowly.
    pub async fn next<T>(
        &mut self,
        next: impl Future<Output = T>,
        size: impl Fn(&T) -> usize,
    ) -> Result<T, Lag> {
        if self.waited >= self.window {
            self.close_window()?;
        }
        let mut next = std::pin::pin!(next);
        loop {
            let started = Instant::now();
            let left = self.window.saturating_sub(self.waited);
            let outcome = tokio::time::timeout(left, &mut next).await;
            self.waited += started.elapsed();
            match outcome {
                Ok(piece) => {
                    self.bytes = self.bytes.saturating_add(size(&piece) as u64);
                    return Ok(piece);
                }
                Err(_) => self.close_window()?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_slow_and_a_pause_with_enough_bytes_is_not() {
        let mut pace = Pace::new(Duration::from_secs(2));
        let byte = || async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            1usize
        };
        let mut slow = None;
        for _ in 0..10 {
            match pace.next(byte(), |n| *n).await {
                Ok(_) => {}
                Err(error) => {
                    slow = Some(error);
                    break;
                }
            }
        }
        let slow = slow.expect("a byte every 500 ms is slow");
        assert_eq!(slow.setback(), Setback::Slow);
        assert!(
            slow.describe().contains("4 bytes in 2.0 s"),
            "{}",
            slow.describe()
        );

        let mut pace = Pace::new(Duration::from_secs(2));
        let burst = || async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            4096usize
        };
        for _ in 0..10 {
            pace.next(burst(), |n| *n).await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_window_is_a_stall() {
        let mut pace = Pace::new(Duration::from_secs(1));
        let never = std::future::pending::<usize>();
        let lag = pace.next(never, |n| *n).await.unwrap_err();
        assert_eq!(lag, Lag::Stalled(Duration::from_secs(1)));
        assert_eq!(lag.setback(), Setback::Body);
    }
}
