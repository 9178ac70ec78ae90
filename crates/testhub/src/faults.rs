//! Injected trouble on file requests ([`Faults`]): which request fails, is cut or stalls, from a
//! seeded sequence that a failing run can replay.

use std::sync::atomic::Ordering;

use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

use crate::config::Faults;
use crate::response::{Body, error};
use crate::state::State;

#[derive(Clone, Copy)]
pub(crate) enum Fault {
    None,
    Fail(u64),
    Cut,
    Stall,
}

impl State {
    /// The trouble of the next file request (none for a request to the Hub with
    /// `storage_only`).
    pub(crate) fn next_fault(&self, on_hub: bool) -> Fault {
        if self.config.faults.storage_only && on_hub {
            return Fault::None;
        }
        let Faults {
            seed,
            fail_percent,
            cut_percent,
            stall_percent,
            ..
        } = self.config.faults;
        let n = self.file_requests.fetch_add(1, Ordering::Relaxed);
        // A golden-ratio sequence from a seeded start: as irregular as random draws, but any run
        // of requests gets its share of each fault.
        let phase = (splitmix64(seed) as f64 / u64::MAX as f64
            + f64::from(n) * 0.618_033_988_749_895)
            .fract();
        let percent = (phase * 100.0) as u32;
        if percent < fail_percent {
            Fault::Fail(splitmix64(seed ^ u64::from(n)))
        } else if percent < fail_percent + cut_percent {
            Fault::Cut
        } else if percent < fail_percent + cut_percent + stall_percent {
            Fault::Stall
        } else {
            Fault::None
        }
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The answer to a request that `Fault::Fail(kind)` fails: 503 (`Retry-After: 0`), 429
/// (`RateLimit ...;t=0`) or 500; always 503 with `only_unavailable`.
pub(crate) fn failure(kind: u64, only_unavailable: bool) -> Response<Body> {
    let kind = if only_unavailable { 0 } else { kind % 3 };
    let (status, header_name, value) = match kind {
        0 => (StatusCode::SERVICE_UNAVAILABLE, "retry-after", "0"),
        1 => (
            StatusCode::TOO_MANY_REQUESTS,
            "ratelimit",
            "\"api\";r=0;t=0",
        ),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "x-request-id", "fault"),
    };
    let mut response = error(status, None, "injected failure");
    response
        .headers_mut()
        .insert(header_name, HeaderValue::from_static(value));
    response
}
