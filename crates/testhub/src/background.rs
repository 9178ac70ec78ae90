//! A server on its own thread and runtime, accepting connections until dropped: the loop the
//! local Hub and the proxy share.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub(crate) struct Background {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Binds 127.0.0.1:`port` (0: a free one).
    pub fn bind(port: u16) -> std::io::Result<std::net::TcpListener> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    }

    /// Hands each connection `listener` (from [`Background::bind`]) accepts to `on_connection`,
    /// as a task of a runtime with `worker_threads` threads.
    pub fn serve<F, C>(
        listener: std::net::TcpListener,
        worker_threads: usize,
        on_connection: F,
    ) -> std::io::Result<Background>
    where
        F: Fn(TcpStream) -> C + Send + 'static,
        C: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let (shutdown, mut stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(worker_threads)
                .enable_all()
                .build()
                .expect("a runtime for a test server");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("a tokio listener");
                loop {
                    let (stream, _) = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok(accepted) => accepted,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => return,
                    };
                    tokio::spawn(on_connection(stream));
                }
            });
        });
        Ok(Background {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
