//! The storage host that large files are redirected to, like the Hub's pre-signed S3 URLs behind
//! CloudFront: signed URLs that expire, and the quirks seen there (stale cache entries, the
//! storage's own ETags, damaged bodies).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, Response, StatusCode};

use crate::commits::snapshot;
use crate::config::{Damage, StaleStorage};
use crate::files::{FileRequest, file_body, parse_range, serve_file};
use crate::lying_footer::{Patch, patch_for_file};
use crate::pacer::Pacer;
use crate::response::{Body, empty, error};
use crate::state::State;

/// A request to the storage host, `/cdn/{owner}/{name}/{commit}/{path}` (`location`) with the
/// URL's signature in its query.
pub(crate) async fn serve_storage(
    state: &State,
    request: &Request<Incoming>,
    location: &[&str],
    authorization: Option<&str>,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Response<Body> {
    let [owner, name, commit, path @ ..] = location else {
        return error(StatusCode::NOT_FOUND, None, "Not Found");
    };
    let method = request.method();
    let query = request.uri().query().unwrap_or("");
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
        quirks.stale_always || state.first_signature(&format!("{repo}/{commit}/{path}"), signature)
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
    serve_file(state, method, file).await
}

/// The storage URL signatures handed out: per file its current one (reused while valid with
/// `storage_url_lifetime`) and its first one, and when each was made.
#[derive(Default)]
pub(crate) struct Signatures {
    current: HashMap<String, String>,
    first: HashMap<String, String>,
    signed_at: HashMap<String, tokio::time::Instant>,
}

impl State {
    /// A storage URL signature for `file`: a new one, or with `storage_url_lifetime` the
    /// current one while it is valid, as the Hub reuses signed URLs.
    pub(crate) fn sign(&self, file: &str) -> String {
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

    /// How the storage response of bytes `start..end` of `file` (a repository's file, at
    /// `path` on disk) is damaged on the way: a large one with a byte in its middle flipped
    /// (`Quirks::damage`), one that holds the changed bytes with its footer lying
    /// (`Quirks::lying_footer`).
    pub(crate) async fn damage(&self, path: &Path, file: &str, start: u64, end: u64) -> Vec<Patch> {
        let quirks = &self.config.quirks;
        let mut damage = Vec::new();
        if let Some(when) = quirks.damage
            && end - start >= DAMAGED_MIN_LEN
            && strikes(when, &self.damaged_files, file)
        {
            damage.push(Patch {
                at: start + (end - start) / 2,
                xor: vec![0x55],
            });
        }
        if let Some(lying) = &quirks.lying_footer
            && lying
                .only
                .as_deref()
                .is_none_or(|only| file.ends_with(only))
        {
            let (path, lie) = (path.to_owned(), lying.lie);
            // A file that is not Parquet has no footer to lie with.
            let patch = tokio::task::spawn_blocking(move || patch_for_file(&path, lie))
                .await
                .expect("reading a footer does not panic");
            if let Ok(patch) = patch
                && patch.overlaps(start, end)
                && strikes(lying.when, &self.lying_files, file)
            {
                damage.push(patch);
            }
        }
        damage
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

/// Whether damage `when` strikes a response of `file`, given the files it struck already.
fn strikes(when: Damage, struck: &Mutex<HashSet<String>>, file: &str) -> bool {
    match when {
        Damage::Always => true,
        Damage::FirstOfEachFile => struck
            .lock()
            .expect("struck files lock")
            .insert(file.to_owned()),
    }
}

/// Responses from this many bytes on count as large, for `Quirks::damage`.
pub(crate) const DAMAGED_MIN_LEN: u64 = 64 * 1024;

/// A stand-in for the Xet hash the storage names a file by: 64 hex digits, not the SHA-256.
pub(crate) fn xet_hash(sha256: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("xet:{sha256}").as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a stale CloudFront entry answers to a ranged GET.
pub(crate) fn stale_answer(
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
            Vec::new(),
            pacer,
        )),
    }
    .expect("valid response")
}
