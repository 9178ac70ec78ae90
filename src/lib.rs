//! healthchat rebuilds HealthChat-11K. The modules follow the data flow:
//! `cli` → `hub` → `annotations` → `scan` → `record` / `pyjson` → `review` → `merge` → `artifacts`,
//! driven by `generate`; `progress` is the only one that draws on the terminal.

pub mod annotations;
pub mod artifacts;
pub mod cli;
pub mod generate;
pub mod hub;
pub mod manifest;
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
    match cli.command {
        Command::Generate(args) => runtime()?.block_on(run_generate(args)),
        Command::Versions(args) => runtime()?.block_on(run_versions(args)),
        Command::Verify(args) => run_verify(&args.directory),
        Command::Completions(args) => {
            clap_complete::generate(
                args.shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "healthchat",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

/// A line of the command's result on stdout. A reader that went away (`| head`) is not an error
/// of ours, so write errors are ignored rather than turned into a panic as `println!` does.
fn output(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The cores this process may use (2 when the system cannot say).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = cores();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Row groups decode on blocking threads, one per core at most (generate's decoder
        // permits); two more serve file reads. Each extra thread's allocator arena would keep
        // freed row-group buffers.
        .max_blocking_threads(cores + 2)
        .build()
}

async fn run_generate(args: cli::GenerateArgs) -> anyhow::Result<()> {
    let progress = progress::Progress::new(args.quiet);
    let hub = hub::Hub::new(hub::HubSettings::from_env())?;
    let options = generate::GenerateOptions {
        version: args.version,
        output_dir: args.output_dir,
        jobs: usize::from(args.jobs),
        revisions: generate::Revisions {
            annotations: args.revisions.annotations_revision,
            lmsys: args.revisions.lmsys_revision,
            wildchat: args.revisions.wildchat_revision,
        },
        source_dir: args.source_dir,
    };
    let summary = tokio::select! {
        summary = generate::generate(hub, options, &progress) => summary?,
        signal = interruption() => return Err(signal?.into()),
    };
    generate::print_summary(&summary, &progress);
    if args.json {
        output(summary.to_json());
    } else {
        output(summary.directory.display());
    }
    let missing = summary.manifest.missing();
    if args.strict && missing > 0 {
        return Err(MissingConversations {
            missing,
            directory: summary.directory,
        }
        .into());
    }
    Ok(())
}

async fn run_versions(args: cli::VersionsArgs) -> anyhow::Result<()> {
    let hub = hub::Hub::new(hub::HubSettings::from_env())?;
    let repo = hub::DatasetRepo::new(generate::ANNOTATIONS_REPO, &args.annotations_revision);
    let listing = version::listing(&hub, &repo).await?;
    if args.json {
        let entries: Vec<serde_json::Value> = listing
            .iter()
            .map(|entry| {
                serde_json::json!({
                    "version": entry.version.to_string(),
                    "newest": entry.newest,
                    "cached": entry.cached,
                })
            })
            .collect();
        output(format!("{:#}", serde_json::Value::Array(entries)));
        return Ok(());
    }
    let source = if hub.settings().offline {
        "in the cache (HF_HUB_OFFLINE is set)"
    } else {
        "on the Hub"
    };
    output(format!(
        "Annotation versions of {} {source}:",
        generate::ANNOTATIONS_REPO
    ));
    for entry in &listing {
        let mut notes = Vec::new();
        if entry.newest {
            notes.push("newest");
        }
        if entry.cached {
            notes.push("cached");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        output(format!("  {}{notes}", entry.version));
    }
    Ok(())
}

fn run_verify(directory: &std::path::Path) -> anyhow::Result<()> {
    let (manifest, checks) = manifest::verify(directory)?;
    let mut bad = 0;
    for check in &checks {
        match check {
            manifest::Check::Ok { name } => output(format!("ok        {name}")),
            manifest::Check::Missing { name } => {
                bad += 1;
                output(format!("MISSING   {name}"));
            }
            manifest::Check::Mismatch { name, problem } => {
                bad += 1;
                output(format!("MISMATCH  {name}: {problem}"));
            }
        }
    }
    if bad > 0 {
        anyhow::bail!(
            "{bad} of {} artifacts in {} do not match its manifest.json\nNext: generate them \
             again with `healthchat generate --version {}`.",
            checks.len(),
            directory.display(),
            manifest.annotation_version
        );
    }
    eprintln!(
        "All {} artifacts of HealthChat-11K v{} match manifest.json ({}).",
        checks.len(),
        manifest.annotation_version,
        manifest.tool
    );
    Ok(())
}

/// `--strict` and some annotated conversations were not found.
#[derive(Debug, thiserror::Error)]
#[error(
    "{missing} annotated conversations were not found in the source datasets (--strict); the \
     artifacts were written to {}",
    directory.display()
)]
pub struct MissingConversations {
    missing: usize,
    directory: std::path::PathBuf,
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
/// number for an interrupted run, as shells report it; 3 for missing conversations with
/// `--strict`; else 1.
pub fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", message(error));
    if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
        ExitCode::from(128 + interrupted.number)
    } else if error.is::<MissingConversations>() {
        ExitCode::from(3)
    } else {
        ExitCode::FAILURE
    }
}
