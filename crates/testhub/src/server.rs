//! Connections and requests: each connection delayed and in TLS as configured, each request
//! routed, given the Hub's headers and logged.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::delay;
use crate::log::{LoggedBody, RequestRecord, body_bytes, log_line};
use crate::response::Body;
use crate::routes::route;
use crate::state::State;

/// Serves one connection: delayed and in TLS as configured, HTTP/2 when the client asks for it
/// (ALPN, or its preface), else HTTP/1.1.
pub(crate) async fn serve_connection(state: Arc<State>, stream: TcpStream) {
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
    state.count_toward_push(request.uri().path());
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
