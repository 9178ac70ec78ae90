//! What the local Hub serves and how it behaves: [`HubConfig`] and its builder methods, the
//! real Hub's ways ([`Quirks`]) and injected trouble ([`Faults`]).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::lying_footer::FooterLie;

/// What the server serves and how it behaves.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Holds `datasets/{owner}/{name}/...`.
    pub root: PathBuf,
    /// Gated repos, each with the tokens that were granted access.
    pub gated: HashMap<String, HashSet<String>>,
    /// Tokens the Hub knows; any other token is answered 401.
    pub tokens: HashSet<String>,
    /// Files of at least this many bytes are redirected to the storage host, as the Hub does
    /// for LFS files.
    pub redirect_min_size: Option<u64>,
    /// Entries per page of a tree listing.
    pub page_size: usize,
    /// Injected failures on file requests (`/resolve/` and storage), for retry tests.
    pub faults: Faults,
    /// Storage URLs stop working after this many requests each, as pre-signed URLs expire.
    pub storage_url_uses: Option<u32>,
    /// All response bodies together are sent at most this fast (bytes per second).
    pub bandwidth: Option<u64>,
    /// Added before every response, as a slow server's think time.
    pub latency: Duration,
    /// Every byte of every connection arrives this much later, half each way, as on a link to
    /// a distant server.
    pub round_trip: Duration,
    /// HTTPS with a test certificate authority made at start ([`TestHub::ca_file`]).
    pub tls: bool,
    /// With `tls`, ALPN offers `h2` besides `http/1.1`.
    pub http2: bool,
    /// A new commit of a repository whose files are another directory's, made `main` after that
    /// many requests about the repository, as a push landing while clients read.
    pub push: Option<Push>,
    /// Files whose path ends with the key are announced with the value as their ETag, as a
    /// hostile or broken endpoint might.
    pub etag_overrides: Vec<(String, String)>,
    /// Listing pages after the first are linked on this host instead of `127.0.0.1`.
    pub pages_on: Option<String>,
    /// The storage host answers every request with the whole file, as a server without `Range`
    /// support does.
    pub ignore_ranges: bool,
    /// The storage host answers every ranged request 416, naming the file's true size, as a
    /// broken cache in front of it might.
    pub refuse_ranges: bool,
    /// `/resolve/` answers every request with this status, without `X-Error-Code`, as a firewall
    /// or a proxy in front of a mirror does.
    pub refuse_files: Option<u16>,
    /// What the real Hub and its CloudFront storage were seen to do (each off by default).
    pub quirks: Quirks,
    /// A file to append every request to as a JSON line once its response body has ended or was
    /// dropped (the client went away), with the body bytes actually handed to the connection
    /// (`sent_bytes`) beside `body_bytes`: what a program run against the server was sent, even
    /// when it was stopped part-way.
    pub request_log: Option<PathBuf>,
}

/// The real Hub's and its storage's ways, as recorded in huggingface/datasets#7685 and #7931,
/// huggingface_hub#3553, #4223 and #3018, hf-hub#209 and #212.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    /// `RateLimit: "api";r=480;t=250` and `RateLimit-Policy` on every answer, 2xx and 5xx too
    /// (a 429 for a spent quota says `r=0`).
    pub rate_limit_headers: bool,
    /// The storage's `ETag` is its own content hash (Xet), not the file's SHA-256, which only the
    /// listing's `lfs.oid` and the 302's `X-Linked-Etag` give.
    pub xet_etags: bool,
    /// Storage URLs are signed for GET: a HEAD is refused with 403.
    pub storage_refuses_head: bool,
    /// Storage URLs expire this long after they were signed, and `/resolve/` hands out the same
    /// URL again while it is valid, with part of its life left.
    pub storage_url_lifetime: Option<Duration>,
    /// A stale answer of CloudFront's to ranged GETs on storage.
    pub stale_storage: Option<StaleStorage>,
    /// With `stale_storage`: every storage URL answers so, not only the first one signed for
    /// each file (a fresh URL heals otherwise).
    pub stale_always: bool,
    /// The 302 from `/resolve/` comes without `X-Linked-Size` / `X-Linked-Etag`, as a cache hit
    /// strips them.
    pub stripped_redirects: bool,
    /// `/resolve/` on the endpoint redirects to the same path on this host, another Hub (a
    /// mirror as `HF_ENDPOINT` sends clients on to the Hub).
    pub resolve_on_host: Option<String>,
    /// Large storage responses (64 KiB and more) arrive with one byte flipped, as a proxy's
    /// cache or a CDN bug might deliver them.
    pub damage: Option<Damage>,
    /// Storage responses that hold part of a Parquet file's footer arrive with a few of its
    /// bytes changed, the size unchanged: the footer still decodes, but its numbers lie, as a
    /// hostile or broken storage might serve them.
    pub lying_footer: Option<LyingFooter>,
    /// Tokens granted access to the gated repos whose fine-grained settings lack "read access to
    /// public gated repos": answered 403 `GatedRepo` as the Hub answers them.
    pub fine_grained_without_gated: HashSet<String>,
}

/// Which storage responses [`Quirks::damage`] or [`Quirks::lying_footer`] damages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The first of each file: a second request gets the right bytes.
    FirstOfEachFile,
    /// Every one.
    Always,
}

/// See [`Quirks::lying_footer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LyingFooter {
    pub lie: FooterLie,
    /// Whether only the first response of each file that holds the changed bytes has them, or
    /// every one.
    pub when: Damage,
    /// Only the file whose path ends with this; every Parquet file if none.
    pub only: Option<String>,
}

/// What a stale CloudFront entry was seen to answer to a ranged GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleStorage {
    /// 416 with `Content-Range: bytes */177`: the size of a cached redirect body.
    Unsatisfiable,
    /// 206 with the `Content-Range` asked for and no body.
    Empty,
    /// 200 with the whole file, chunked, to a range that does not start at byte 0.
    Whole,
}

/// See [`HubConfig::push`].
#[derive(Debug, Clone)]
pub struct Push {
    pub repo: String,
    /// Holds the repository's files at the new commit.
    pub dir: PathBuf,
    pub after_requests: u32,
}

/// Trouble on file requests, spread over them from a start chosen by `seed`, so that a failing
/// run can be replayed: `fail_percent` of them are answered 500, 503 (`Retry-After: 0`) or 429 (`RateLimit
/// ...;t=0`); `cut_percent` of bodies stop halfway through, as a dropped connection does;
/// `stall_percent` of bodies stop sending halfway through for `stall`, then go on. With
/// `storage_only`, requests to the Hub itself are spared; with `only_unavailable`, every failure
/// is a 503 with `Retry-After: 0`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub seed: u64,
    pub fail_percent: u32,
    pub cut_percent: u32,
    pub stall_percent: u32,
    pub stall: Duration,
    pub storage_only: bool,
    pub only_unavailable: bool,
}

impl HubConfig {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            gated: HashMap::new(),
            tokens: HashSet::new(),
            redirect_min_size: None,
            page_size: 1000,
            faults: Faults::default(),
            storage_url_uses: None,
            bandwidth: None,
            latency: Duration::ZERO,
            round_trip: Duration::ZERO,
            tls: false,
            http2: false,
            push: None,
            etag_overrides: Vec::new(),
            pages_on: None,
            ignore_ranges: false,
            refuse_ranges: false,
            refuse_files: None,
            quirks: Quirks::default(),
            request_log: None,
        }
    }

    /// Appends every request to `path` as a JSON line (see [`HubConfig::request_log`]).
    pub fn request_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.request_log = Some(path.into());
        self
    }

    pub fn quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    pub fn push(mut self, repo: &str, dir: impl Into<PathBuf>, after_requests: u32) -> Self {
        self.push = Some(Push {
            repo: repo.to_owned(),
            dir: dir.into(),
            after_requests,
        });
        self
    }

    pub fn etag_override(mut self, path_suffix: &str, etag: &str) -> Self {
        self.etag_overrides
            .push((path_suffix.to_owned(), etag.to_owned()));
        self
    }

    pub fn pages_on(mut self, host: &str) -> Self {
        self.pages_on = Some(host.to_owned());
        self
    }

    pub fn ignore_ranges(mut self) -> Self {
        self.ignore_ranges = true;
        self
    }

    pub fn refuse_ranges(mut self) -> Self {
        self.refuse_ranges = true;
        self
    }

    pub fn refuse_files(mut self, status: u16) -> Self {
        self.refuse_files = Some(status);
        self
    }

    /// HTTPS; `http2` offers HTTP/2 by ALPN too.
    pub fn https(mut self, http2: bool) -> Self {
        self.tls = true;
        self.http2 = http2;
        self
    }

    pub fn round_trip(mut self, round_trip: Duration) -> Self {
        self.round_trip = round_trip;
        self
    }

    /// Gates `repo` and grants access to `granted` tokens (which become known tokens).
    pub fn gate(mut self, repo: &str, granted: &[&str]) -> Self {
        self.tokens.extend(granted.iter().map(|t| t.to_string()));
        self.gated
            .entry(repo.to_owned())
            .or_default()
            .extend(granted.iter().map(|t| t.to_string()));
        self
    }

    /// Makes `token` known to the Hub without granting it any gated repo.
    pub fn known_token(mut self, token: &str) -> Self {
        self.tokens.insert(token.to_owned());
        self
    }

    pub fn redirect_files_from(mut self, min_size: u64) -> Self {
        self.redirect_min_size = Some(min_size);
        self
    }

    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn storage_url_uses(mut self, uses: u32) -> Self {
        self.storage_url_uses = Some(uses);
        self
    }

    pub fn bandwidth(mut self, bytes_per_second: u64) -> Self {
        self.bandwidth = Some(bytes_per_second.max(1));
        self
    }

    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}
