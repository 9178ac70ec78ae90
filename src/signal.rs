//! Interruption by Ctrl-C (SIGINT) or SIGTERM, as CI runners and `kill` send it. The command's
//! future is dropped, which removes its temporary files.

/// The run was stopped by a signal.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {name}; no artifacts were written")]
pub struct Interrupted {
    pub name: &'static str,
    pub number: u8,
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn interruption() -> std::io::Result<Interrupted> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| Interrupted { name: "SIGINT", number: 2 }),
            _ = terminate.recv() => Ok(Interrupted { name: "SIGTERM", number: 15 }),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok(Interrupted {
            name: "Ctrl-C",
            number: 2,
        })
    }
}
