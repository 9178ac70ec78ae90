//! A file's bytes, on the Hub (`/resolve/`) or on the storage host: the redirect of large files,
//! `Range` and `If-Range`, ETags, and bodies read as they are sent, paced, cut, stalled or
//! damaged as configured.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::config::StaleStorage;
use crate::faults::{Fault, failure};
use crate::lying_footer::Patch;
use crate::pacer::Pacer;
use crate::response::{Body, empty, error};
use crate::state::State;
use crate::storage::{stale_answer, xet_hash};

/// A request for a file's bytes, on the Hub (`/resolve/`) or on the storage host.
pub(crate) struct FileRequest<'a> {
    pub(crate) repo: &'a str,
    /// The commit and the directory of the repository's files at it.
    pub(crate) snapshot: &'a (String, PathBuf),
    pub(crate) path: &'a str,
    pub(crate) range: Option<&'a str>,
    pub(crate) if_range: Option<&'a str>,
    pub(crate) on_hub: bool,
    /// A stale cache entry answers for the storage.
    pub(crate) stale: Option<StaleStorage>,
}

pub(crate) async fn serve_file(
    state: &State,
    method: &Method,
    request: FileRequest<'_>,
) -> Response<Body> {
    let FileRequest {
        repo,
        snapshot: (commit, root),
        path,
        range,
        if_range,
        on_hub,
        stale,
    } = request;
    let fault = state.next_fault(on_hub);
    if let Fault::Fail(kind) = fault {
        return failure(kind, state.config.faults.only_unavailable);
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
    let damage = if !on_hub && method == Method::GET {
        let file = format!("{repo}/{commit}/{path}");
        state.damage(&file_path, &file, start, end).await
    } else {
        Vec::new()
    };
    let body = if method == Method::HEAD {
        empty()
    } else {
        file_body(file_path, start, end, trouble, damage, state.pacer.clone())
    };
    builder.body(body).expect("valid response")
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

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` → the half-open range it names, if satisfiable.
pub(crate) fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
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

/// The bytes `start..end` of a file, read as they are sent, paced by `pacer`, changed by
/// `damage`. With `trouble` `(at, None)` the body fails at byte `at` and the connection drops;
/// with `(at, Some(pause))` it stops sending at `at` for `pause`.
pub(crate) fn file_body(
    path: PathBuf,
    start: u64,
    end: u64,
    trouble: Option<(u64, Option<Duration>)>,
    damage: Vec<Patch>,
    pacer: Option<Arc<Pacer>>,
) -> Body {
    const CHUNK: usize = 256 * 1024;
    let cut_at = trouble.map(|(at, _)| at);
    let stream =
        futures_util::stream::unfold((None::<tokio::fs::File>, start), move |(file, position)| {
            let path = path.clone();
            let pacer = pacer.clone();
            let damage = damage.clone();
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
                    Ok(_) => {
                        for patch in &damage {
                            patch.apply(&mut buffer, position);
                        }
                        Some((
                            Ok(Frame::data(Bytes::from(buffer))),
                            (Some(file), position + want as u64),
                        ))
                    }
                    Err(e) => Some((Err(e), (None, end))),
                }
            }
        });
    BodyExt::boxed_unsync(StreamBody::new(stream.boxed()))
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
}
