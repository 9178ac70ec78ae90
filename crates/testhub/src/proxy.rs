//! A forward proxy that tunnels `CONNECT host:port` requests, as the proxies of hospital and
//! university networks do for HTTPS, optionally asking for credentials first. It logs the
//! targets it was asked for.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::background::Background;

/// A running proxy on 127.0.0.1; it stops when dropped.
pub struct ConnectProxy {
    server: Background,
    log: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts a proxy; with `credentials` (`user:password`), a CONNECT without them in
    /// `Proxy-Authorization` is answered 407.
    pub fn start(credentials: Option<&str>) -> std::io::Result<ConnectProxy> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let expected = credentials.map(|c| format!("Basic {}", base64(c.as_bytes())));
        let server_log = Arc::clone(&log);
        let server = Background::serve(Background::bind(0)?, 1, move |client| {
            let log = Arc::clone(&server_log);
            let expected = expected.clone();
            async move {
                let _ = tunnel(client, log, expected).await;
            }
        })?;
        Ok(ConnectProxy { server, log })
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The `host:port` of every CONNECT request, in order.
    pub fn tunnels(&self) -> Vec<String> {
        self.log.lock().expect("proxy log").clone()
    }
}

async fn tunnel(
    mut client: TcpStream,
    log: Arc<Mutex<Vec<String>>>,
    expected: Option<String>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    if let Some(expected) = expected
        && authorization.as_deref() != Some(expected.as_str())
    {
        client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  proxy-authenticate: Basic realm=\"testhub\"\r\ncontent-length: 0\r\n\r\n",
            )
            .await?;
        return Ok(());
    }
    log.lock().expect("proxy log").push(target.to_owned());
    let mut upstream = match TcpStream::connect(target).await {
        Ok(upstream) => upstream,
        Err(_) => {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await?;
            return Ok(());
        }
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_encode_as_base64() {
        assert_eq!(super::base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(super::base64(b"a"), "YQ==");
        assert_eq!(super::base64(b"ab"), "YWI=");
    }
}
