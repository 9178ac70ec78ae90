//! The command line (SPEC §8): clap types and help text, nothing else.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::version::AnnotationVersion;

#[derive(Debug, Parser)]
#[command(
    name = "healthchat",
    version,
    about = "Rebuild the HealthChat-11K dataset from its annotations on the Hugging Face Hub and \
             the LMSYS-Chat-1M and WildChat-1M source datasets.",
    after_help = "Environment: HF_TOKEN (needed for the gated lmsys/lmsys-chat-1m), HF_ENDPOINT, HF_HOME, \
                  HF_HUB_CACHE, HF_TOKEN_PATH, HF_HUB_OFFLINE."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download the annotations, stream the source datasets and write the three artifacts.
    #[command(after_help = "Examples:\n  \
        healthchat generate                    # newest annotation version\n  \
        healthchat generate --version 2.0.0    # pin a release\n  \
        healthchat generate -o /data --jobs 8  # write /data/HealthChat-11K_v{V}_artifacts/")]
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Annotation version to build (MAJOR.MINOR.PATCH); default: the newest on the Hub.
    #[arg(long, value_name = "V", value_parser = parse_version)]
    pub version: Option<AnnotationVersion>,

    /// Directory in which HealthChat-11K_v{V}_artifacts/ is written.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output_dir: PathBuf,

    /// Source shards streamed at once.
    #[arg(short, long, value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// No progress bars or status lines; errors are still printed.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_version(text: &str) -> Result<AnnotationVersion, String> {
    text.parse()
}

fn default_jobs() -> u16 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Downloads wait on the network more than on the CPU: two streams per core, at least 4.
    u16::try_from((cores * 2).clamp(4, 16)).expect("clamped")
}
