//! The running server's state, shared by its connections: the configuration, what it has
//! handed out and counted so far, and the ETags it has computed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use crate::config::HubConfig;
use crate::files::hash_file;
use crate::log::RequestRecord;
use crate::pacer::Pacer;
use crate::storage::Signatures;
use crate::tls::TestCa;

/// What the running server shares among its connections.
pub(crate) struct State {
    pub(crate) config: HubConfig,
    pub(crate) connections: Arc<AtomicU32>,
    /// Commits pushed on top of a repository's own, oldest first: `main` is the last.
    pub(crate) commits: Mutex<HashMap<String, Vec<(String, PathBuf)>>>,
    /// Requests about the repository of `config.push`, until it lands.
    pub(crate) push_countdown: AtomicU32,
    /// ETags by file, size and modification time: hashing a large file once is enough.
    pub(crate) etags: Mutex<HashMap<(PathBuf, u64, u64, bool), String>>,
    pub(crate) ca: Option<Arc<TestCa>>,
    pub(crate) port: u16,
    pub(crate) log: Arc<Mutex<Vec<RequestRecord>>>,
    /// Where `config.request_log` appends.
    pub(crate) request_log: Option<Arc<Mutex<std::fs::File>>>,
    pub(crate) file_requests: AtomicU32,
    pub(crate) pacer: Option<Arc<Pacer>>,
    pub(crate) signed_urls: AtomicU64,
    /// Requests seen per storage URL signature.
    pub(crate) signed_url_uses: Mutex<HashMap<String, u32>>,
    /// Storage URL signatures handed out, per file.
    pub(crate) signatures: Mutex<Signatures>,
    /// Files whose first large response was damaged.
    pub(crate) damaged_files: Mutex<HashSet<String>>,
    /// Files whose footer lied in a response.
    pub(crate) lying_files: Mutex<HashSet<String>>,
}

impl State {
    /// The Hub's ETag of a file: the SHA-256 of a large (LFS) file, the git blob SHA-1 of a
    /// small one, hashed once per version of the file.
    pub(crate) async fn etag(
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
    pub(crate) fn etag_override(&self, path: &str) -> Option<String> {
        self.config
            .etag_overrides
            .iter()
            .find(|(suffix, _)| path.ends_with(suffix.as_str()))
            .map(|(_, etag)| etag.clone())
    }

    /// `http(s)://{host}:{port}` of this server.
    pub(crate) fn origin(&self, host: &str) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.port)
    }
}
