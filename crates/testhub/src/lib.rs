//! A local stand-in for the Hugging Face Hub, for healthchat's tests and benchmark only.
//!
//! It serves a directory laid out like the Hub (`datasets/{owner}/{name}/...`) with the parts of
//! the Hub's HTTP API that clients use: repo info and tree listings (paginated with `Link`),
//! `HEAD`/`GET` on `/resolve/` with `Range`, `ETag`, `X-Repo-Commit`, errors with `X-Error-Code`
//! (`GatedRepo`, `RepoNotFound`, `RevisionNotFound`, `EntryNotFound`), and, like the real Hub for
//! large files, a 302 from `/resolve/` to a storage host (`localhost` instead of `127.0.0.1`)
//! that, like a pre-signed S3 URL, refuses requests carrying `Authorization`.
//!
//! Like the real Hub it can speak HTTPS (`tls`: a test certificate authority made at start,
//! HTTP/2 or HTTP/1.1 chosen by ALPN), sit a round trip away (`delay`), and be reached through a
//! CONNECT proxy (`proxy`).

mod background;
pub mod corpus;
mod delay;
pub mod hostile;
mod proxy;
mod tls;

use background::Background;
pub use proxy::ConnectProxy;
pub use tls::TestCa;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite};
use tokio::net::TcpStream;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

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
    /// Tokens granted access to the gated repos whose fine-grained settings lack "read access to
    /// public gated repos": answered 403 `GatedRepo` as the Hub answers them.
    pub fine_grained_without_gated: HashSet<String>,
}

/// Which large storage responses [`Quirks::damage`] damages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The first of each file: a second request gets the right bytes.
    FirstOfEachFile,
    /// Every one.
    Always,
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

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub authorization: bool,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub status: u16,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    /// The `Host` (HTTP/1.1) or `:authority` (HTTP/2) the request named.
    pub host: String,
    /// The query string, if any.
    pub query: Option<String>,
    pub accept_encoding: Option<String>,
    /// The bytes of the response's body (as its `Content-Length`, else its exact size; 0 for a
    /// HEAD): what the server meant to send.
    pub body_bytes: u64,
    /// The body's bytes as they are sent: what a client that stops reading (a run killed
    /// part-way) was sent in fact, for tests that count what a run fetched.
    sent: Arc<AtomicU64>,
}

impl RequestRecord {
    /// The body's bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// A running server; it stops when dropped.
pub struct TestHub {
    server: Background,
    log: Arc<Mutex<Vec<RequestRecord>>>,
    connections: Arc<AtomicU32>,
    ca: Option<Arc<TestCa>>,
}

impl TestHub {
    /// Starts the server on 127.0.0.1 on a free port, on its own thread and runtime.
    pub fn start(config: HubConfig) -> std::io::Result<TestHub> {
        Self::start_on(config, 0)
    }

    /// Starts the server on 127.0.0.1:`port` (0: a free one).
    pub fn start_on(config: HubConfig, port: u16) -> std::io::Result<TestHub> {
        let listener = Background::bind(port)?;
        let port = listener.local_addr()?.port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let ca = if config.tls {
            Some(Arc::new(TestCa::new(config.http2)?))
        } else {
            None
        };
        let connections = Arc::new(AtomicU32::new(0));
        let request_log = match &config.request_log {
            Some(path) => Some(Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ))),
            None => None,
        };
        let state = Arc::new(State {
            request_log,
            connections: Arc::clone(&connections),
            commits: Mutex::new(HashMap::new()),
            push_countdown: AtomicU32::new(config.push.as_ref().map_or(0, |p| p.after_requests)),
            etags: Mutex::new(HashMap::new()),
            ca: ca.clone(),
            pacer: config.bandwidth.map(|rate| Arc::new(Pacer::new(rate))),
            config,
            port,
            log: Arc::clone(&log),
            file_requests: AtomicU32::new(0),
            signed_urls: AtomicU64::new(0),
            signed_url_uses: Mutex::new(HashMap::new()),
            signatures: Mutex::new(Signatures::default()),
            damaged_files: Mutex::new(HashSet::new()),
        });
        let server = Background::serve(listener, 2, move |stream| {
            serve_connection(Arc::clone(&state), stream)
        })?;
        Ok(TestHub {
            server,
            log,
            connections,
            ca,
        })
    }

    /// The value for `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.server.addr)
    }

    /// With HTTPS, the PEM file of the certificate authority that signed the server's
    /// certificate, for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_deref().map(TestCa::pem_file)
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.log.lock().expect("log lock").clone()
    }

    /// Connections accepted so far, whether or not a request came over them.
    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::Relaxed)
    }
}

struct State {
    config: HubConfig,
    connections: Arc<AtomicU32>,
    /// Commits pushed on top of a repository's own, oldest first: `main` is the last.
    commits: Mutex<HashMap<String, Vec<(String, PathBuf)>>>,
    /// Requests about the repository of `config.push`, until it lands.
    push_countdown: AtomicU32,
    /// ETags by file, size and modification time: hashing a large file once is enough.
    etags: Mutex<HashMap<(PathBuf, u64, u64, bool), String>>,
    ca: Option<Arc<TestCa>>,
    port: u16,
    log: Arc<Mutex<Vec<RequestRecord>>>,
    /// Where `config.request_log` appends.
    request_log: Option<Arc<Mutex<std::fs::File>>>,
    file_requests: AtomicU32,
    pacer: Option<Arc<Pacer>>,
    signed_urls: AtomicU64,
    /// Requests seen per storage URL signature.
    signed_url_uses: Mutex<HashMap<String, u32>>,
    /// Storage URL signatures handed out, per file.
    signatures: Mutex<Signatures>,
    /// Files whose first large response was damaged.
    damaged_files: Mutex<HashSet<String>>,
}

/// The storage URL signatures handed out: per file its current one (reused while valid with
/// `storage_url_lifetime`) and its first one, and when each was made.
#[derive(Default)]
struct Signatures {
    current: HashMap<String, String>,
    first: HashMap<String, String>,
    signed_at: HashMap<String, tokio::time::Instant>,
}

#[derive(Clone, Copy)]
enum Fault {
    None,
    Fail(u64),
    Cut,
    Stall,
}

impl State {
    /// The Hub's ETag of a file: the SHA-256 of a large (LFS) file, the git blob SHA-1 of a
    /// small one, hashed once per version of the file.
    async fn etag(
        &self,
        path: &Path,
        metadata: &std::fs::Metadata,
        large: bool,
    ) -> std::io::Result<String> {
        let modified = metadata
            .modified()
            .ok()
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        let key = (path.to_owned(), metadata.len(), modified, large);
        if let Some(etag) = self.etags.lock().expect("etags lock").get(&key) {
            return Ok(etag.clone());
        }
        let file = path.to_owned();
        let etag = tokio::task::spawn_blocking(move || hash_file(&file, large))
            .await
            .expect("hashing does not panic")?;
        self.etags
            .lock()
            .expect("etags lock")
            .insert(key, etag.clone());
        Ok(etag)
    }

    /// The ETag `etag_overrides` gives the file at `path`, if any.
    fn etag_override(&self, path: &str) -> Option<String> {
        self.config
            .etag_overrides
            .iter()
            .find(|(suffix, _)| path.ends_with(suffix.as_str()))
            .map(|(_, etag)| etag.clone())
    }

    /// `http(s)://{host}:{port}` of this server.
    fn origin(&self, host: &str) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.port)
    }

    fn next_fault(&self) -> Fault {
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

    /// A storage URL signature for `file`: a new one, or with `storage_url_lifetime` the
    /// current one while it is valid, as the Hub reuses signed URLs.
    fn sign(&self, file: &str) -> String {
        let mut signatures = self.signatures.lock().expect("signatures lock");
        let now = tokio::time::Instant::now();
        if let Some(lifetime) = self.config.quirks.storage_url_lifetime
            && let Some(current) = signatures.current.get(file)
            && signatures
                .signed_at
                .get(current)
                .is_some_and(|at| *at + lifetime > now)
        {
            return current.clone();
        }
        let signature = format!("s{}", self.signed_urls.fetch_add(1, Ordering::Relaxed));
        signatures.signed_at.insert(signature.clone(), now);
        signatures
            .current
            .insert(file.to_owned(), signature.clone());
        signatures
            .first
            .entry(file.to_owned())
            .or_insert_with(|| signature.clone());
        signature
    }

    /// Whether the next large storage response of `file` is damaged.
    fn damages(&self, file: &str) -> bool {
        match self.config.quirks.damage {
            None => false,
            Some(Damage::Always) => true,
            Some(Damage::FirstOfEachFile) => self
                .damaged_files
                .lock()
                .expect("damaged files lock")
                .insert(file.to_owned()),
        }
    }

    /// Whether `signature` is the first one signed for `file`.
    fn first_signature(&self, file: &str, signature: &str) -> bool {
        let signatures = self.signatures.lock().expect("signatures lock");
        signatures
            .first
            .get(file)
            .is_some_and(|first| first == signature)
    }

    /// False once a storage URL has been used more often than `storage_url_uses` allows, or
    /// has outlived `storage_url_lifetime`.
    fn storage_url_valid(&self, signature: &str) -> bool {
        if let Some(lifetime) = self.config.quirks.storage_url_lifetime {
            let signatures = self.signatures.lock().expect("signatures lock");
            let signed_at = signatures.signed_at.get(signature);
            if signed_at.is_none_or(|at| *at + lifetime <= tokio::time::Instant::now()) {
                return false;
            }
        }
        let Some(limit) = self.config.storage_url_uses else {
            return true;
        };
        let mut uses = self.signed_url_uses.lock().expect("uses lock");
        let count = uses.entry(signature.to_owned()).or_default();
        *count += 1;
        *count <= limit
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Spaces out body chunks so that all bodies together stay under a byte rate.
struct Pacer {
    bytes_per_second: u64,
    next_free: Mutex<tokio::time::Instant>,
}

impl Pacer {
    fn new(bytes_per_second: u64) -> Pacer {
        Pacer {
            bytes_per_second,
            next_free: Mutex::new(tokio::time::Instant::now()),
        }
    }

    async fn pass(&self, bytes: usize) {
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

/// Serves one connection: delayed and in TLS as configured, HTTP/2 when the client asks for it
/// (ALPN, or its preface), else HTTP/1.1.
async fn serve_connection(state: Arc<State>, stream: TcpStream) {
    state.connections.fetch_add(1, Ordering::Relaxed);
    let round_trip = state.config.round_trip;
    let stream: Box<dyn Connection> = if round_trip.is_zero() {
        Box::new(stream)
    } else {
        Box::new(delay::delayed(stream, round_trip))
    };
    let stream: Box<dyn Connection> = match &state.ca {
        Some(ca) => match ca.acceptor.accept(stream).await {
            Ok(tls) => Box::new(tls),
            Err(_) => return,
        },
        None => stream,
    };
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(&state, request).await) }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A byte stream the server can speak HTTP over: a socket, delayed or not, in TLS or not.
trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Body> {
    let header_text = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header_text(header::AUTHORIZATION);
    let range = header_text(header::RANGE);
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let if_range = header_text(header::IF_RANGE);
    let host = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| header_text(header::HOST))
        .unwrap_or_default();
    let mut response = route(
        state,
        &request,
        &host,
        authorization.as_deref(),
        range.as_deref(),
        if_range.as_deref(),
    )
    .await;
    if state.config.quirks.rate_limit_headers {
        let headers = response.headers_mut();
        if !headers.contains_key("ratelimit") {
            headers.insert("ratelimit", HeaderValue::from_static("\"api\";r=480;t=250"));
        }
        headers.insert(
            "ratelimit-policy",
            HeaderValue::from_static("\"fixed window\";\"api\";q=500;w=300"),
        );
    }
    if let Some(push) = &state.config.push
        && request.uri().path().contains(&format!("/{}/", push.repo))
        && state
            .push_countdown
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            == Ok(1)
    {
        let mut commits = state.commits.lock().expect("commits lock");
        let pushed = commits.entry(push.repo.clone()).or_default();
        let commit = commit_of(&format!("{}@{}", push.repo, pushed.len() + 1));
        pushed.push((commit, push.dir.clone()));
    }
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let mut response = response.map(|body| {
        body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                counter.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        })
        .boxed_unsync()
    });
    let record = RequestRecord {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        authorization: authorization.is_some(),
        range,
        if_range,
        status: response.status().as_u16(),
        version: format!("{:?}", request.version()),
        host: host.clone(),
        query: request.uri().query().map(str::to_owned),
        accept_encoding: header_text(header::ACCEPT_ENCODING),
        body_bytes: body_bytes(request.method(), &response),
        sent,
    };
    if let Some(file) = &state.request_log {
        let logged = LoggedBody {
            line: log_line(&record),
            file: Arc::clone(file),
            body_bytes: record.body_bytes,
            sent: Arc::clone(&record.sent),
            ended: false,
        };
        response = response.map(|body| logged.wrap(body));
    }
    state.log.lock().expect("log lock").push(record);
    response
}

/// A request's line in the request log, without the bytes sent.
fn log_line(record: &RequestRecord) -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(line) = serde_json::json!({
        "method": record.method,
        "path": record.path,
        "host": record.host,
        "query": record.query,
        "range": record.range,
        "status": record.status,
        "version": record.version,
        "body_bytes": record.body_bytes,
    }) else {
        unreachable!("an object")
    };
    line
}

/// What the request log keeps of a response while its body is sent.
struct LoggedBody {
    line: serde_json::Map<String, serde_json::Value>,
    file: Arc<Mutex<std::fs::File>>,
    /// The record's `body_bytes`: once that many were sent, the body is complete (a body of
    /// known length is not polled past its end).
    body_bytes: u64,
    /// The record's count of the bytes sent.
    sent: Arc<AtomicU64>,
    ended: bool,
}

impl LoggedBody {
    fn wrap(self, body: Body) -> Body {
        Counted { body, log: self }.boxed_unsync()
    }
}

struct Counted {
    body: Body,
    log: LoggedBody,
}

impl Drop for Counted {
    fn drop(&mut self) {
        use std::io::Write;
        let log = &mut self.log;
        let sent = log.sent.load(Ordering::Relaxed);
        let complete =
            log.ended || hyper::body::Body::is_end_stream(&self.body) || sent >= log.body_bytes;
        log.line.insert("sent_bytes".into(), sent.into());
        log.line.insert("complete".into(), complete.into());
        let mut text = serde_json::Value::Object(std::mem::take(&mut log.line)).to_string();
        text.push('\n');
        // One write per line, to a file opened for appending: lines never interleave.
        let _ = log
            .file
            .lock()
            .expect("request log lock")
            .write_all(text.as_bytes());
    }
}

/// A response body that logs its request when it is dropped (sent to the end, or the client went
/// away), with the bytes sent as the record counted them.
impl hyper::body::Body for Counted {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) {
            self.log.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

fn body_bytes(method: &Method, response: &Response<Body>) -> u64 {
    if method == Method::HEAD {
        return 0;
    }
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .or_else(|| hyper::body::Body::size_hint(response.body()).exact())
        .unwrap_or(0)
}

async fn route(
    state: &State,
    request: &Request<Incoming>,
    host: &str,
    authorization: Option<&str>,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Response<Body> {
    let segments: Vec<String> = request
        .uri()
        .path()
        .split('/')
        .skip(1)
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method();
    let query = request.uri().query().unwrap_or("");

    if let ["cdn", owner, name, commit, path @ ..] = segments.as_slice() {
        if authorization.is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                None,
                "Only one auth mechanism allowed",
            );
        }
        if method == Method::HEAD && state.config.quirks.storage_refuses_head {
            return error(
                StatusCode::FORBIDDEN,
                None,
                "SignatureDoesNotMatch: the URL is signed for GET",
            );
        }
        let signature = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("signature="))
            .unwrap_or_default();
        if !state.storage_url_valid(signature) {
            return error(
                StatusCode::FORBIDDEN,
                None,
                "AccessDenied: Request has expired",
            );
        }
        let repo = format!("{owner}/{name}");
        let snapshot = match snapshot(state, &repo, commit) {
            Ok(snapshot) => snapshot,
            Err(problem) => return problem,
        };
        let path = path.join("/");
        let quirks = &state.config.quirks;
        let stale = quirks.stale_storage.filter(|_| {
            quirks.stale_always
                || state.first_signature(&format!("{repo}/{commit}/{path}"), signature)
        });
        let file = FileRequest {
            repo: &repo,
            snapshot: &snapshot,
            path: &path,
            range,
            if_range,
            on_hub: false,
            stale,
        };
        return serve_file(state, method, file).await;
    }

    let token = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = token
        && !state.config.tokens.contains(token)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            None,
            "Invalid credentials in Authorization header",
        );
    }

    match segments.as_slice() {
        ["api", "datasets", owner, name, "tree", revision, path @ ..] if method == Method::GET => {
            let repo = format!("{owner}/{name}");
            match snapshot(state, &repo, revision) {
                Ok((_, dir)) => {
                    list_tree(state, &repo, &dir, revision, &path.join("/"), query).await
                }
                Err(problem) => problem,
            }
        }
        ["api", "datasets", owner, name, rest @ ..] if method == Method::GET => {
            let repo = format!("{owner}/{name}");
            let revision = match rest {
                [] => "main",
                ["revision", revision] => revision,
                _ => return error(StatusCode::NOT_FOUND, None, "Not Found"),
            };
            match snapshot(state, &repo, revision) {
                Ok((commit, dir)) => repo_info(state, &repo, &commit, &dir),
                Err(problem) => problem,
            }
        }
        ["datasets", owner, name, "resolve", revision, path @ ..]
            if method == Method::GET || method == Method::HEAD =>
        {
            let repo = format!("{owner}/{name}");
            let snapshot = match snapshot(state, &repo, revision) {
                Ok(snapshot) => snapshot,
                Err(problem) => return problem,
            };
            if let Some(other) = &state.config.quirks.resolve_on_host
                && !host.starts_with(other.as_str())
            {
                let mut location = format!("{}{}", state.origin(other), request.uri().path());
                if !query.is_empty() {
                    location = format!("{location}?{query}");
                }
                return Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, location)
                    .body(empty())
                    .expect("valid response");
            }
            if let Some(status) = state.config.refuse_files {
                return error(
                    StatusCode::from_u16(status).expect("a valid status"),
                    None,
                    "Request blocked by the network's firewall",
                );
            }
            if let Some(granted) = state.config.gated.get(&repo) {
                match token {
                    None => {
                        return error(
                            StatusCode::UNAUTHORIZED,
                            Some("GatedRepo"),
                            &format!(
                                "Access to dataset {repo} is restricted. You must have access to it and be authenticated to access it. Please log in."
                            ),
                        );
                    }
                    Some(token) if !granted.contains(token) => {
                        return error(
                            StatusCode::FORBIDDEN,
                            Some("GatedRepo"),
                            &format!(
                                "Access to dataset {repo} is restricted and you are not in the authorized list. Visit https://huggingface.co/datasets/{repo} to ask for access."
                            ),
                        );
                    }
                    Some(token)
                        if state
                            .config
                            .quirks
                            .fine_grained_without_gated
                            .contains(token) =>
                    {
                        return error(
                            StatusCode::FORBIDDEN,
                            Some("GatedRepo"),
                            "Please enable access to public gated repositories in your fine-grained token settings to view this repository.",
                        );
                    }
                    Some(_) => {}
                }
            }
            let file = FileRequest {
                repo: &repo,
                snapshot: &snapshot,
                path: &path.join("/"),
                range,
                if_range,
                on_hub: true,
                stale: None,
            };
            serve_file(state, method, file).await
        }
        _ => error(StatusCode::NOT_FOUND, None, "Not Found"),
    }
}

fn repo_dir(state: &State, repo: &str) -> PathBuf {
    state.config.root.join("datasets").join(repo)
}

/// The commit a revision names and the directory holding the repository's files at it: `main`
/// is the newest commit, and every commit stays readable by its hash, as on the Hub. The error is
/// the response to send.
#[allow(clippy::result_large_err)]
fn snapshot(
    state: &State,
    repo: &str,
    revision: &str,
) -> Result<(String, PathBuf), Response<Body>> {
    if !repo_dir(state, repo).is_dir() {
        return Err(error(
            StatusCode::NOT_FOUND,
            Some("RepoNotFound"),
            "Repository not found",
        ));
    }
    let mut commits = vec![(commit_of(repo), repo_dir(state, repo))];
    if let Some(pushed) = state.commits.lock().expect("commits lock").get(repo) {
        commits.extend(pushed.iter().cloned());
    }
    let found = if revision == "main" {
        commits.pop()
    } else {
        commits.into_iter().find(|(commit, _)| commit == revision)
    };
    found.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            Some("RevisionNotFound"),
            &format!("Invalid rev id: {revision}"),
        )
    })
}

/// A stable fake commit hash per repository.
pub fn commit_of(repo: &str) -> String {
    let a = fnv1a(repo.as_bytes(), 0xcbf2_9ce4_8422_2325);
    let b = fnv1a(repo.as_bytes(), a);
    let c = fnv1a(repo.as_bytes(), b);
    format!("{a:016x}{b:016x}{:08x}", c >> 32)
}

/// SHA-256 of the bytes (`large`), or git's blob SHA-1 of them, as lowercase hex.
pub fn hash_file(path: &Path, large: bool) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut context = if large {
        ring::digest::Context::new(&ring::digest::SHA256)
    } else {
        let mut context = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        context.update(format!("blob {}\0", file.metadata()?.len()).as_bytes());
        context
    };
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        context.update(&buffer[..read]);
    }
    Ok(context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes.iter().fold(seed, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Files under `dir`, as repository paths, sorted.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, u64, bool)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        out.push((path, metadata.len(), metadata.is_dir()));
    }
}

async fn list_tree(
    state: &State,
    repo: &str,
    root: &Path,
    revision: &str,
    folder: &str,
    query: &str,
) -> Response<Body> {
    let dir = root.join(folder);
    if !dir.is_dir() {
        return error(
            StatusCode::NOT_FOUND,
            Some("EntryNotFound"),
            &format!("{folder} does not exist on \"{revision}\""),
        );
    }
    let mut entries = Vec::new();
    walk(&dir, folder, &mut entries);
    // `?recursive=true` (huggingface_hub's `snapshot_download`): everything below, depth first.
    let recursive = query
        .split('&')
        .any(|pair| matches!(pair, "recursive=true" | "recursive=True" | "recursive=1"));
    if recursive {
        let mut all = Vec::new();
        let mut pending: Vec<_> = entries.into_iter().rev().collect();
        while let Some(entry) = pending.pop() {
            if entry.2 {
                let mut inner = Vec::new();
                walk(&root.join(&entry.0), &entry.0, &mut inner);
                pending.extend(inner.into_iter().rev());
            }
            all.push(entry);
        }
        entries = all;
    }
    let cursor: usize = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("cursor="))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page_size = state.config.page_size;
    let mut page = Vec::new();
    for (path, size, is_dir) in entries.iter().skip(cursor).take(page_size) {
        if *is_dir {
            page.push(serde_json::json!({"type": "directory", "oid": commit_of(path), "size": 0, "path": path}));
            continue;
        }
        // As the Hub lists them: an LFS file with its pointer's git ID and the SHA-256 of its
        // bytes as `lfs.oid`, any other file with its git blob ID.
        let file = root.join(path);
        let large = state
            .config
            .redirect_min_size
            .is_some_and(|min| *size >= min);
        let hash = match state.etag_override(path) {
            Some(etag) => etag,
            None => match std::fs::metadata(&file) {
                Ok(metadata) => match state.etag(&file, &metadata, large).await {
                    Ok(hash) => hash,
                    Err(e) => {
                        return error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string());
                    }
                },
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
            },
        };
        page.push(if large {
            serde_json::json!({"type": "file", "oid": commit_of(path), "size": size, "path": path,
                               "lfs": {"oid": hash, "size": size, "pointerSize": 134}})
        } else {
            serde_json::json!({"type": "file", "oid": hash, "size": size, "path": path})
        });
    }
    let mut response = json(&serde_json::Value::Array(page));
    if cursor + page_size < entries.len() {
        let mut next = format!("/api/datasets/{repo}/tree/{revision}");
        if !folder.is_empty() {
            next.push('/');
            next.push_str(folder);
        }
        let link = format!(
            "<{}{next}?cursor={}{}>; rel=\"next\"",
            state.origin(state.config.pages_on.as_deref().unwrap_or("127.0.0.1")),
            cursor + page_size,
            if recursive { "&recursive=true" } else { "" }
        );
        response.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&link).expect("ASCII link"),
        );
    }
    response
}

fn repo_info(state: &State, repo: &str, commit: &str, root: &Path) -> Response<Body> {
    fn all_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let mut entries = Vec::new();
        walk(dir, prefix, &mut entries);
        for (path, _, is_dir) in entries {
            if is_dir {
                let name = path.rsplit('/').next().expect("a name").to_owned();
                all_files(&dir.join(name), &path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    all_files(root, "", &mut files);
    let siblings: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::json!({"rfilename": f}))
        .collect();
    let gated = if state.config.gated.contains_key(repo) {
        serde_json::json!("manual")
    } else {
        serde_json::json!(false)
    };
    json(
        &serde_json::json!({"id": repo, "sha": commit, "gated": gated, "private": false, "siblings": siblings}),
    )
}

/// A request for a file's bytes, on the Hub (`/resolve/`) or on the storage host.
struct FileRequest<'a> {
    repo: &'a str,
    /// The commit and the directory of the repository's files at it.
    snapshot: &'a (String, PathBuf),
    path: &'a str,
    range: Option<&'a str>,
    if_range: Option<&'a str>,
    on_hub: bool,
    /// A stale cache entry answers for the storage.
    stale: Option<StaleStorage>,
}

async fn serve_file(state: &State, method: &Method, request: FileRequest<'_>) -> Response<Body> {
    let FileRequest {
        repo,
        snapshot: (commit, root),
        path,
        range,
        if_range,
        on_hub,
        stale,
    } = request;
    let faults = state.config.faults;
    let fault = if faults.storage_only && on_hub {
        Fault::None
    } else {
        state.next_fault()
    };
    if let Fault::Fail(kind) = fault {
        let kind = if faults.only_unavailable { 0 } else { kind % 3 };
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
        return response;
    }
    let file_path = root.join(path);
    let metadata = match tokio::fs::metadata(&file_path).await {
        Ok(metadata) if metadata.is_file() && !path.split('/').any(|s| s == "..") => metadata,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                Some("EntryNotFound"),
                &format!("{path} does not exist on \"main\""),
            );
        }
    };
    let size = metadata.len();
    let large = state
        .config
        .redirect_min_size
        .is_some_and(|min| size >= min);
    let etag = match state.etag_override(path) {
        Some(etag) => etag,
        None => match state.etag(&file_path, &metadata, large).await {
            Ok(etag) => etag,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, None, &e.to_string()),
        },
    };

    if on_hub && large {
        let signature = state.sign(&format!("{repo}/{commit}/{path}"));
        let location = format!(
            "{}/cdn/{repo}/{commit}/{path}?expires=3600&signature={signature}",
            state.origin("localhost")
        );
        let mut builder = Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .header("x-repo-commit", commit.as_str())
            .header(header::ETAG, format!("\"{etag}\""));
        if !state.config.quirks.stripped_redirects {
            builder = builder
                .header("x-linked-size", size)
                .header("x-linked-etag", format!("\"{etag}\""));
        }
        let mut response = builder.body(empty()).expect("valid response");
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
        return response;
    }

    // The storage names its objects by a content hash of its own (Xet's), not the SHA-256.
    let etag = if !on_hub && state.config.quirks.xet_etags {
        xet_hash(&etag)
    } else {
        etag
    };
    // A whole-file answer to a range from byte 0 would be the right bytes: only later ranges
    // show it.
    let stale = stale.filter(|stale| {
        *stale != StaleStorage::Whole
            || range
                .and_then(|r| parse_range(r, size))
                .is_some_and(|(start, _)| start > 0)
    });
    if let (Some(stale), Some(range)) = (stale.filter(|_| method == Method::GET), range) {
        return stale_answer(stale, range, size, &file_path, state.pacer.clone());
    }
    // A range is served only while the file is the one `If-Range` names (RFC 9110 §13.1.5);
    // otherwise the whole file, so that a client can tell.
    let range = range.filter(|_| {
        (on_hub || !state.config.ignore_ranges)
            && if_range.is_none_or(|tag| tag.trim().trim_matches('"') == etag)
    });
    let refused = range.is_some() && state.config.refuse_ranges && !on_hub;
    let (status, start, end) = match range.filter(|_| !refused) {
        None if refused => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(empty())
                .expect("valid response");
        }
        None => (StatusCode::OK, 0, size),
        Some(range) => match parse_range(range, size) {
            Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
            None => {
                return Response::builder()
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                    .body(empty())
                    .expect("valid response");
            }
        },
    };
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::ACCEPT_RANGES, "bytes")
        .header("x-repo-commit", commit.as_str())
        .header(header::ETAG, format!("\"{etag}\""));
    if status == StatusCode::PARTIAL_CONTENT {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    let halfway = start + (end - start) / 2;
    let trouble = match fault {
        Fault::Cut => Some((halfway, None)),
        Fault::Stall => Some((halfway, Some(state.config.faults.stall))),
        Fault::None | Fault::Fail(_) => None,
    };
    // A large storage response damaged on the way: one byte in its middle flipped.
    let damage_at = (!on_hub && method == Method::GET && end - start >= DAMAGED_MIN_LEN)
        .then(|| state.damages(&format!("{repo}/{commit}/{path}")))
        .filter(|damages| *damages)
        .map(|_| start + (end - start) / 2);
    let body = if method == Method::HEAD {
        empty()
    } else {
        file_body(
            file_path,
            start,
            end,
            trouble,
            damage_at,
            state.pacer.clone(),
        )
    };
    builder.body(body).expect("valid response")
}

/// Responses from this many bytes on count as large, for `Quirks::damage`.
const DAMAGED_MIN_LEN: u64 = 64 * 1024;

/// A stand-in for the Xet hash the storage names a file by: 64 hex digits, not the SHA-256.
fn xet_hash(sha256: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("xet:{sha256}").as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a stale CloudFront entry answers to a ranged GET.
fn stale_answer(
    stale: StaleStorage,
    range: &str,
    size: u64,
    file_path: &Path,
    pacer: Option<Arc<Pacer>>,
) -> Response<Body> {
    let builder = Response::builder().header(header::ACCEPT_RANGES, "bytes");
    match stale {
        StaleStorage::Unsatisfiable => builder
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, "bytes */177")
            .body(empty()),
        StaleStorage::Empty => {
            let (start, end) = parse_range(range, size).unwrap_or((0, size));
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{size}", end - 1),
                )
                .header(header::CONTENT_LENGTH, 0)
                .body(empty())
        }
        // No Content-Length: sent chunked, as the origin sent it.
        StaleStorage::Whole => builder.status(StatusCode::OK).body(file_body(
            file_path.to_owned(),
            0,
            size,
            None,
            None,
            pacer,
        )),
    }
    .expect("valid response")
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` → the half-open range it names, if satisfiable.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    let (start, end) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (first, "") => (first.parse().ok()?, size),
        (first, last) => (
            first.parse().ok()?,
            last.parse::<u64>().ok()?.saturating_add(1).min(size),
        ),
    };
    (start < end && start < size).then_some((start, end))
}

/// The bytes `start..end` of a file, read as they are sent, paced by `pacer`. With `trouble`
/// `(at, None)` the body fails at byte `at` and the connection drops; with `(at, Some(pause))` it
/// stops sending at `at` for `pause`.
fn file_body(
    path: PathBuf,
    start: u64,
    end: u64,
    trouble: Option<(u64, Option<Duration>)>,
    damage_at: Option<u64>,
    pacer: Option<Arc<Pacer>>,
) -> Body {
    const CHUNK: usize = 256 * 1024;
    let cut_at = trouble.map(|(at, _)| at);
    let stream =
        futures_util::stream::unfold((None::<tokio::fs::File>, start), move |(file, position)| {
            let path = path.clone();
            let pacer = pacer.clone();
            async move {
                if position >= end {
                    return None;
                }
                match trouble {
                    Some((at, None)) if position >= at => {
                        let cut = std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "injected cut",
                        );
                        return Some((Err(cut), (None, end)));
                    }
                    Some((at, Some(pause))) if position == at => {
                        tokio::time::sleep(pause).await;
                    }
                    _ => {}
                }
                let mut file = match file {
                    Some(file) => file,
                    None => {
                        let opened = tokio::fs::File::open(&path).await;
                        let mut file = match opened {
                            Ok(file) => file,
                            Err(e) => return Some((Err(e), (None, end))),
                        };
                        if let Err(e) = file.seek(std::io::SeekFrom::Start(position)).await {
                            return Some((Err(e), (None, end)));
                        }
                        file
                    }
                };
                let stop = cut_at.filter(|cut| *cut > position).unwrap_or(end).min(end);
                let want = usize::try_from(stop - position).unwrap_or(CHUNK).min(CHUNK);
                if let Some(pacer) = &pacer {
                    pacer.pass(want).await;
                }
                let mut buffer = vec![0; want];
                match file.read_exact(&mut buffer).await {
                    Ok(_) => Some((
                        Ok(Frame::data(Bytes::from(damaged(
                            buffer, position, damage_at,
                        )))),
                        (Some(file), position + want as u64),
                    )),
                    Err(e) => Some((Err(e), (None, end))),
                }
            }
        });
    BodyExt::boxed_unsync(StreamBody::new(stream.boxed()))
}

/// `buffer`, the bytes from file offset `position`, with the byte at `damage_at` flipped when
/// it falls among them.
fn damaged(mut buffer: Vec<u8>, position: u64, damage_at: Option<u64>) -> Vec<u8> {
    if let Some(at) = damage_at
        && (position..position + buffer.len() as u64).contains(&at)
    {
        buffer[(at - position) as usize] ^= 0x55;
    }
    buffer
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn json(value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(
            Full::new(Bytes::from(value.to_string()))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .expect("valid response")
}

fn error(status: StatusCode, code: Option<&str>, message: &str) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-error-message", message);
    if let Some(code) = code {
        builder = builder.header("x-error-code", code);
    }
    let body = serde_json::json!({ "error": message }).to_string();
    builder
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .expect("valid response")
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&segment[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_like_http() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 100)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("refs%2Fconvert%2Fparquet"),
            "refs/convert/parquet"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
