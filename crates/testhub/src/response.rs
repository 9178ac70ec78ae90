//! Response bodies and the plain answers every route gives: JSON, and errors as the Hub words
//! them (`X-Error-Code`, `X-Error-Message`).

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header;
use hyper::{Response, StatusCode};

pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub(crate) fn json(value: &serde_json::Value) -> Response<Body> {
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

pub(crate) fn error(status: StatusCode, code: Option<&str>, message: &str) -> Response<Body> {
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
