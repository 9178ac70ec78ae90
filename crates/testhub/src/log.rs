//! The request log: a [`RequestRecord`] per request, with the body bytes actually sent counted
//! as they go, and with `--request-log` a JSON line per request once its body has ended.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header;
use hyper::{Method, Response};

use crate::response::Body;

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
    pub(crate) sent: Arc<AtomicU64>,
}

impl RequestRecord {
    /// The body's bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// A request's line in the request log, without the bytes sent.
pub(crate) fn log_line(record: &RequestRecord) -> serde_json::Map<String, serde_json::Value> {
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
pub(crate) struct LoggedBody {
    pub(crate) line: serde_json::Map<String, serde_json::Value>,
    pub(crate) file: Arc<Mutex<std::fs::File>>,
    /// The record's `body_bytes`: once that many were sent, the body is complete (a body of
    /// known length is not polled past its end).
    pub(crate) body_bytes: u64,
    /// The record's count of the bytes sent.
    pub(crate) sent: Arc<AtomicU64>,
    pub(crate) ended: bool,
}

impl LoggedBody {
    pub(crate) fn wrap(self, body: Body) -> Body {
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

pub(crate) fn body_bytes(method: &Method, response: &Response<Body>) -> u64 {
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
