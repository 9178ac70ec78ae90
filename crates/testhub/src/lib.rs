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
//!
//! Where things are: `config` (what it serves and how: [`HubConfig`], [`Quirks`], [`Faults`]),
//! `server` (connections, and each request routed, given the Hub's headers and logged), `routes`
//! (the Hub's API and `/resolve/`), `files` (a file's bytes: redirects, ranges, bodies), `storage`
//! (the storage host: signed URLs and its quirks), `faults` (injected failures, cuts, stalls),
//! `commits` (repositories' commits and pushes), `log` (the request log), `state` (what the
//! running server shares), `response`, `pacer` (bandwidth), `delay`, `tls`, `proxy`; `golden` is
//! the fixtures' setup the tests and `testhub --golden` share; `corpus` writes a synthetic corpus
//! for the benchmark.

mod background;
mod commits;
mod config;
pub mod corpus;
mod delay;
mod faults;
mod files;
pub mod golden;
pub mod hostile;
mod log;
pub mod lying_footer;
mod pacer;
mod proxy;
mod response;
mod routes;
mod server;
mod state;
mod storage;
mod tls;

pub use commits::commit_of;
pub use config::{Damage, Faults, HubConfig, LyingFooter, Push, Quirks, StaleStorage};
pub use files::hash_file;
pub use log::RequestRecord;
pub use lying_footer::FooterLie;
pub use proxy::ConnectProxy;
pub use tls::TestCa;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use background::Background;
use pacer::Pacer;
use state::State;
use storage::Signatures;

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
            lying_files: Mutex::new(HashSet::new()),
        });
        let server = Background::serve(listener, 2, move |stream| {
            server::serve_connection(Arc::clone(&state), stream)
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
