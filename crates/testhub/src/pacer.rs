//! Bandwidth: all response bodies together sent no faster than a byte rate.

use std::sync::Mutex;
use std::time::Duration;

/// Spaces out body chunks so that all bodies together stay under a byte rate.
pub(crate) struct Pacer {
    bytes_per_second: u64,
    next_free: Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub(crate) fn new(bytes_per_second: u64) -> Pacer {
        Pacer {
            bytes_per_second,
            next_free: Mutex::new(tokio::time::Instant::now()),
        }
    }

    pub(crate) async fn pass(&self, bytes: usize) {
        let cost = Duration::from_secs_f64(bytes as f64 / self.bytes_per_second as f64);
        let done = {
            let mut next_free = self.next_free.lock().expect("pacer lock");
            let start = (*next_free).max(tokio::time::Instant::now());
            *next_free = start + cost;
            *next_free
        };
        tokio::time::sleep_until(done).await;
    }
}
