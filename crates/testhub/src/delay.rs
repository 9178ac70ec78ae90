//! A round trip, as a distant server has: every byte of a connection reaches the other side half
//! a round trip after it was sent, in both directions. Bandwidth is left alone, so what a round
//! trip costs (handshakes, request after request, HTTP/2 window updates) shows as it would on a
//! real link. (A kernel delay such as netem needs privileges and a module CI may lack.)

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Wraps an accepted connection: the server reads and writes the returned stream, and the
/// client sees every byte `round_trip / 2` late each way.
pub fn delayed(socket: TcpStream, round_trip: Duration) -> DuplexStream {
    let one_way = round_trip / 2;
    let (server_side, line_side) = tokio::io::duplex(256 * 1024);
    let (socket_read, socket_write) = socket.into_split();
    let (line_read, line_write) = tokio::io::split(line_side);
    tokio::spawn(carry(socket_read, line_write, one_way));
    tokio::spawn(carry(line_read, socket_write, one_way));
    server_side
}

/// Copies `from` to `to`, each chunk held until `delay` after it was read.
async fn carry(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin + Send + 'static,
    delay: Duration,
) {
    let (chunks, mut arriving) = mpsc::unbounded_channel::<(Instant, Bytes)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = arriving.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        let chunk = Bytes::copy_from_slice(&buffer[..read]);
        if chunks.send((Instant::now() + delay, chunk)).is_err() {
            break;
        }
    }
    drop(chunks);
    let _ = writer.await;
}
