//! A Hub that misbehaves on purpose, for healthchat's tests of what a hostile or broken server
//! can send (issue 31): a proxy on 127.0.0.1 in front of a [`crate::TestHub`] that forwards every
//! request, but answers the ones its [`Hostile`] mode is about itself. The misbehaviour is aimed
//! at `allenai/WildChat-1M` (no token needed, so runs use `--sources wildchat`) or at the
//! annotation files' listing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::background::Background;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// The repository the misbehaviour is aimed at.
const TARGET_REPO: &str = "allenai/WildChat-1M";
/// Where the hostile storage serves the target repository's shards.
const STORAGE_PREFIX: &str = "/hostile-storage/";
/// The pause between the bytes of a trickling body.
const TRICKLE: Duration = Duration::from_millis(200);

/// What the hostile Hub does.
#[derive(Debug, Clone)]
pub enum Hostile {
    /// The listing of the target's `data/` is `[]` with a `Link: next` to itself.
    ListingLinksToItself,
    /// ... `[]` with a `Link: next` to a new cursor every time, without end.
    EndlessListing,
    /// ... a chunked body of valid JSON, 4 GiB long.
    HugeListing,
    /// ... one byte every 200 ms, for ever.
    TricklingListing,
    /// ... the real listing, gzip-compressed, with `Content-Encoding: gzip`.
    GzipListing,
    /// ... the real listing with a NUL in a shard's path.
    NulInListedPath,
    /// The annotation files are listed with this size.
    AnnotationSize(u64),
    /// Every revision request is answered 503 with this `Retry-After`.
    RetryAfter(String),
    /// `/resolve/` of the target's shards redirects to this URL.
    RedirectShardsTo(String),
    /// The target's shards come from a storage that answers each range with a valid 206 of one
    /// byte.
    OneBytePerAnswer,
    /// ... promises the range, sends one byte and cuts the connection.
    OneByteThenCut,
    /// ... promises the range and sends one byte every 200 ms.
    TricklingFile,
    /// ... sends the range gzip-compressed, with `Content-Encoding: gzip`.
    GzipFile,
    /// ... refuses every request with 403, as an expired pre-signed URL is.
    StorageRefuses,
}

/// A running hostile Hub; it stops when dropped.
pub struct HostileHub {
    server: Background,
}

struct State {
    mode: Hostile,
    upstream: SocketAddr,
    /// `http://127.0.0.1:{port}` of the upstream Hub and of this server.
    upstream_origin: String,
    origin: String,
    /// The upstream Hub's tree (`datasets/{owner}/{name}/...`), for the hostile storage.
    root: PathBuf,
}

impl HostileHub {
    /// Starts a hostile Hub in front of the Hub at `upstream` (an `http://127.0.0.1:PORT`
    /// endpoint) that serves the tree `root`.
    pub fn start(upstream: &str, root: impl Into<PathBuf>, mode: Hostile) -> std::io::Result<Self> {
        let upstream_addr: SocketAddr = upstream
            .strip_prefix("http://")
            .and_then(|address| address.parse().ok())
            .ok_or_else(|| {
                std::io::Error::other(format!("not a plain HTTP endpoint: {upstream}"))
            })?;
        let listener = Background::bind(0)?;
        let state = Arc::new(State {
            mode,
            upstream: upstream_addr,
            upstream_origin: upstream.to_owned(),
            origin: format!("http://{}", listener.local_addr()?),
            root: root.into(),
        });
        let server = Background::serve(listener, 2, move |stream| {
            let state = Arc::clone(&state);
            async move {
                let service = service_fn(move |request| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(&state, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        })?;
        Ok(HostileHub { server })
    }

    /// The value for `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr)
    }
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let tree = format!("/api/datasets/{TARGET_REPO}/tree/");
    let is_target_listing = path.starts_with(&tree) && path.ends_with("/data");
    let is_shard_resolve = path.starts_with(&format!("/datasets/{TARGET_REPO}/resolve/"))
        && path.ends_with(".parquet");
    match &state.mode {
        Hostile::ListingLinksToItself if is_target_listing => {
            let this = format!("{}{}", state.origin, request.uri());
            listing_page(&this)
        }
        Hostile::EndlessListing if is_target_listing => {
            let cursor: u64 = request
                .uri()
                .query()
                .and_then(|query| query.strip_prefix("cursor="))
                .and_then(|cursor| cursor.parse().ok())
                .unwrap_or(0);
            listing_page(&format!("{}{path}?cursor={}", state.origin, cursor + 1))
        }
        Hostile::HugeListing if is_target_listing => huge_listing(),
        Hostile::TricklingListing if is_target_listing => {
            ok(trickle(Bytes::from_static(b"[                ")))
        }
        Hostile::GzipListing if is_target_listing => {
            let (mut response, body) = forward_whole(state, request).await;
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response.map(|_| full(gzip(&body)))
        }
        Hostile::NulInListedPath if is_target_listing => {
            rewrite_listing(state, request, |entry| {
                let named = entry["path"].as_str().map(str::to_owned);
                if let Some(name) = named.filter(|name| name.starts_with("data/train-")) {
                    entry["path"] = serde_json::Value::from(name.replacen("train-", "train-\0", 1));
                }
            })
            .await
        }
        Hostile::AnnotationSize(size) if path.starts_with("/api/datasets/yahskapar/") => {
            let size = *size;
            rewrite_listing(state, request, move |entry| {
                if entry["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(".jsonl"))
                {
                    entry["size"] = serde_json::Value::from(size);
                    if entry["lfs"].is_object() {
                        entry["lfs"]["size"] = serde_json::Value::from(size);
                    }
                }
            })
            .await
        }
        Hostile::RetryAfter(seconds) if path.contains("/revision/") => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header(header::RETRY_AFTER, seconds.as_str())
            .body(empty())
            .expect("a valid response"),
        Hostile::RedirectShardsTo(location) if is_shard_resolve => redirect(location),
        Hostile::OneBytePerAnswer
        | Hostile::OneByteThenCut
        | Hostile::TricklingFile
        | Hostile::GzipFile
        | Hostile::StorageRefuses
            if is_shard_resolve =>
        {
            let file = path.rsplit("/data/").next().unwrap_or_default();
            let storage = state.origin.replace("127.0.0.1", "localhost");
            redirect(&format!("{storage}{STORAGE_PREFIX}data/{file}"))
        }
        _ if path.starts_with(STORAGE_PREFIX) => storage(state, &request).await,
        _ => forward(state, request).await,
    }
}

/// A listing page of no entries whose `Link: next` is `next`.
fn listing_page(next: &str) -> Response<Body> {
    let mut response = ok(full(Bytes::from_static(b"[]")));
    response.headers_mut().insert(
        header::LINK,
        HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).expect("an ASCII link"),
    );
    response
}

/// A 4 GiB listing of directories, valid JSON, made as it is sent.
fn huge_listing() -> Response<Body> {
    const TOTAL: u64 = 4 << 30;
    let entry = r#"{"type":"directory","oid":"0","size":0,"path":"data/d"},"#;
    let chunk = Bytes::from(entry.repeat((64 << 10) / entry.len()));
    let chunks = TOTAL / chunk.len() as u64;
    let head = futures_util::stream::once(async { Bytes::from_static(b"[") });
    let middle = futures_util::stream::iter((0..chunks).map(move |_| chunk.clone()));
    let tail = futures_util::stream::once(async {
        Bytes::from_static(br#"{"type":"directory","oid":"0","size":0,"path":"data/e"}]"#)
    });
    let frames = head
        .chain(middle)
        .chain(tail)
        .map(|bytes| Ok(Frame::data(bytes)));
    ok(BodyExt::boxed_unsync(StreamBody::new(frames)))
}

/// `bytes`, then spaces, one byte every [`TRICKLE`], for ever.
fn trickle(bytes: Bytes) -> Body {
    let first = futures_util::stream::iter((0..bytes.len()).map(move |i| bytes.slice(i..=i)));
    let rest = futures_util::stream::repeat(Bytes::from_static(b" "));
    let frames = first.chain(rest).then(|byte| async move {
        tokio::time::sleep(TRICKLE).await;
        Ok(Frame::data(byte))
    });
    BodyExt::boxed_unsync(StreamBody::new(frames))
}

/// The hostile storage: the target's shard named by the path, answered as the mode says. It is
/// reached as `localhost`, another origin than the Hub's, as the Hub's storage is.
async fn storage(state: &State, request: &Request<Incoming>) -> Response<Body> {
    let name = request.uri().path().trim_start_matches(STORAGE_PREFIX);
    let file = state.root.join("datasets").join(TARGET_REPO).join(name);
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return status(StatusCode::NOT_FOUND);
    };
    let size = bytes.len() as u64;
    let asked = request
        .headers()
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("bytes="))
        .and_then(|range| range.split_once('-'))
        .and_then(|(start, last)| Some((start.parse::<u64>().ok()?, last.parse::<u64>().ok()?)));
    let (start, last) = match asked {
        Some((start, last)) if start <= last && last < size => (start, last),
        _ => (0, size - 1),
    };
    let range = Bytes::from(bytes).slice(start as usize..=last as usize);
    let partial = |content_range_last: u64, length: u64| {
        Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::ETAG, "\"hostile\"")
            .header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{content_range_last}/{size}"),
            )
            .header(header::CONTENT_LENGTH, length)
    };
    let whole = last - start + 1;
    match state.mode {
        Hostile::OneBytePerAnswer => partial(start, 1)
            .body(full(range.slice(..1)))
            .expect("a valid response"),
        Hostile::OneByteThenCut => {
            let byte = range.slice(..1);
            // The byte is sent before the cut, not dropped with the connection.
            let frames = futures_util::stream::iter([Ok(Frame::data(byte))]).chain(
                futures_util::stream::once(async {
                    tokio::time::sleep(TRICKLE).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "hostile cut",
                    ))
                }),
            );
            partial(last, whole)
                .body(BodyExt::boxed_unsync(StreamBody::new(frames)))
                .expect("a valid response")
        }
        Hostile::TricklingFile => partial(last, whole)
            .body(trickle(range))
            .expect("a valid response"),
        Hostile::GzipFile => {
            let compressed = gzip(&range);
            partial(last, compressed.len() as u64)
                .header(header::CONTENT_ENCODING, "gzip")
                .body(full(compressed))
                .expect("a valid response")
        }
        Hostile::StorageRefuses => Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header("x-error-message", "Request has expired")
            .body(empty())
            .expect("a valid response"),
        _ => status(StatusCode::NOT_FOUND),
    }
}

/// The upstream's answer to `request`, its body streamed through, with `Link` headers pointing
/// here rather than there.
async fn forward(state: &State, request: Request<Incoming>) -> Response<Body> {
    let Ok(stream) = TcpStream::connect(state.upstream).await else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return status(StatusCode::BAD_GATEWAY);
    };
    tokio::spawn(connection);
    let (parts, _) = request.into_parts();
    let mut upstream = Request::from_parts(parts, Empty::<Bytes>::new());
    *upstream.uri_mut() = upstream
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .expect("a path is a URI");
    let Ok(response) = sender.send_request(upstream).await else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let (mut parts, body) = response.into_parts();
    if let Some(link) = parts
        .headers
        .get(header::LINK)
        .and_then(|link| link.to_str().ok())
    {
        let here = link.replace(&state.upstream_origin, &state.origin);
        parts.headers.insert(
            header::LINK,
            HeaderValue::from_str(&here).expect("an ASCII link"),
        );
    }
    Response::from_parts(parts, body.map_err(std::io::Error::other).boxed_unsync())
}

/// [`forward`], its body read whole.
async fn forward_whole(state: &State, request: Request<Incoming>) -> (Response<()>, Bytes) {
    let (parts, body) = forward(state, request).await.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    (Response::from_parts(parts, ()), body)
}

/// The upstream's listing with `change` made to each entry.
async fn rewrite_listing(
    state: &State,
    request: Request<Incoming>,
    change: impl Fn(&mut serde_json::Value),
) -> Response<Body> {
    let (mut response, body) = forward_whole(state, request).await;
    let Ok(mut listing) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return response.map(|()| full(body));
    };
    if let Some(entries) = listing.as_array_mut() {
        entries.iter_mut().for_each(change);
    }
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response.map(|()| full(Bytes::from(listing.to_string())))
}

/// `bytes` in the gzip format, as stored (uncompressed) deflate blocks: what a proxy that
/// compresses answers would send, without a compressor.
fn gzip(bytes: &[u8]) -> Bytes {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut blocks = bytes.chunks(0xffff).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = u8::from(blocks.peek().is_none());
        let length = block.len() as u16;
        out.push(last);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(bytes).to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    Bytes::from(out)
}

/// The CRC-32 of gzip (IEEE 802.3, reflected), bit by bit: the bodies are small.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .body(empty())
        .expect("a valid response")
}

fn ok(body: Body) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .expect("a valid response")
}

fn status(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(empty())
        .expect("a valid response")
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_of_stored_blocks_has_the_crc_of_its_bytes() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let packed = gzip(b"abc");
        assert_eq!(&packed[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(packed.len(), 10 + 5 + 3 + 8);
    }
}
