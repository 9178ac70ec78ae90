//! healthchat rebuilds HealthChat-11K. The modules follow the data flow:
//! `cli` → `hub` → `annotations` → `scan` → `record` / `pyjson` → `review` → `merge` → `artifacts`,
//! driven by `generate`; `progress` is the only one that draws on the terminal.

pub mod annotations;
pub mod artifacts;
pub mod cli;
pub mod generate;
pub mod hub;
pub mod merge;
pub mod progress;
pub mod pyjson;
pub mod record;
pub mod review;
pub mod scan;
pub mod source;
pub mod value;
pub mod version;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Runs a parsed command line; the error's chain is the message for the user.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Row groups are decoded on blocking threads: more threads than cores would not decode
        // faster, and each thread's allocator arena would keep its freed buffers.
        .max_blocking_threads(cores)
        .build()?;
    match cli.command {
        Command::Generate(args) => runtime.block_on(async {
            let progress = progress::Progress::new(args.quiet);
            let hub = hub::Hub::new(hub::HubSettings::from_env())?;
            let options = generate::GenerateOptions {
                version: args.version,
                output_dir: args.output_dir,
                jobs: usize::from(args.jobs),
            };
            let summary = tokio::select! {
                summary = generate::generate(hub, options, &progress) => summary?,
                signal = interruption() => return Err(signal?.into()),
            };
            generate::print_summary(&summary, &progress);
            println!("{}", summary.directory.display());
            Ok(())
        }),
    }
}

/// The run was stopped by a signal. Dropping the run's future removes its temporary files.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {name}; no artifacts were written")]
pub struct Interrupted {
    name: &'static str,
    number: u8,
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM, as sent by CI runners and `kill`.
async fn interruption() -> std::io::Result<Interrupted> {
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

/// An error and its causes as `outer: inner`, leaving out a cause whose text an outer message
/// already quotes.
fn message(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

/// Prints an error chain as `error: outer: inner` and gives the exit status: 128 + the signal's
/// number for an interrupted run, as shells report it, else 1.
pub fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", message(error));
    match error.downcast_ref::<Interrupted>() {
        Some(interrupted) => ExitCode::from(128 + interrupted.number),
        None => ExitCode::FAILURE,
    }
}
