//! Interruption by Ctrl-C (SIGINT) or SIGTERM, as CI runners and `kill` send it (Ctrl-C or
//! Ctrl-Break on Windows). The command's future is dropped, which removes its temporary files.

/// The run was stopped by a signal.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {name}; no artifacts were written")]
pub(crate) struct Interrupted {
    pub(crate) name: &'static str,
    pub(crate) number: u8,
}

impl Interrupted {
    /// What the user can do: run again, which goes on from where this run stopped.
    pub(crate) fn next_step(&self) -> Option<String> {
        Some(
            "run the same command again: the rows found so far are kept in the cache of matched \
             rows (unless --no-cache), and the scans go on from where they stopped."
                .to_owned(),
        )
    }
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM; on Windows, Ctrl-C or Ctrl-Break.
///
/// Windows has no SIGTERM. Its console-close, log-off and shutdown events are not waited for:
/// Windows ends the process as soon as the handler returns, before the temporary directory could
/// be removed, so such a run is left as after SIGKILL (the next run removes its directory).
pub(crate) async fn interruption() -> std::io::Result<Interrupted> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| Interrupted { name: "SIGINT", number: 2 }),
            _ = terminate.recv() => Ok(Interrupted { name: "SIGTERM", number: 15 }),
        }
    }
    #[cfg(windows)]
    {
        let mut ctrl_break = tokio::signal::windows::ctrl_break()?;
        // Both stand for SIGINT in the exit status (130), as a shell would report Ctrl-C.
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| Interrupted { name: "Ctrl-C", number: 2 }),
            _ = ctrl_break.recv() => Ok(Interrupted { name: "Ctrl-Break", number: 2 }),
        }
    }
}
