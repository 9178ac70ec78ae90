//! The command line (README.md, "Commands"): clap types and help text, nothing else.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::annotations::AnnotationVersion;
use crate::source::Source;

#[derive(Debug, Parser)]
#[command(
    name = "healthchat",
    version = env!("HEALTHCHAT_VERSION"),
    about = "Rebuild the HealthChat-11K dataset from its annotations on the Hugging Face Hub and \
             the LMSYS-Chat-1M and WildChat-1M source datasets.",
    after_help = "Examples:\n  \
        export HF_TOKEN=hf_...                      # lmsys/lmsys-chat-1m is gated\n  \
        healthchat generate --version 2.1.0         # write HealthChat-11K_v2.1.0_artifacts/\n  \
        healthchat verify HealthChat-11K_v2.1.0_artifacts\n\n\
        Environment: HF_TOKEN, HF_TOKEN_PATH, HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE, \
        HF_HUB_DOWNLOAD_TIMEOUT, HEALTHCHAT_CACHE, SSL_CERT_FILE, SSL_CERT_DIR, HTTPS_PROXY, \
        HTTP_PROXY, ALL_PROXY, NO_PROXY.\n\
        Exit status: 0 done, 1 failed, 2 usage error, 3 conversations missing with --strict, \
        4 not the expected result (generate --manifest: the build was not reproduced; diff \
        --exit-code: the sides differ), 130/143 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Download the annotations, stream the source datasets and write the artifacts directory:
    /// the reference JSONL and CSV files, a Parquet file per source, the dataset card and
    /// manifest.json.
    #[command(after_help = "Examples:\n  \
        healthchat generate                              # newest annotation version\n  \
        healthchat generate --version 2.0.0              # pin a release\n  \
        healthchat generate -o /data --jobs 8            # write /data/HealthChat-11K_v{V}_artifacts/\n  \
        healthchat generate --version 2.1.0 --strict --json > summary.json   # in CI\n  \
        healthchat generate --sources wildchat          # the ODC-BY part, no token needed\n  \
        HF_HUB_OFFLINE=1 healthchat generate --version 2.1.0 --source-dir shards/\n  \
        healthchat generate --manifest paper/manifest.json -o rebuilt   # reproduce a build\n\n\
        healthchat generate --annotations draft.jsonl --version 2.2.0   # a draft, before publishing\n\n\
        --source-dir DIR holds the source datasets as `hf download DATASET --repo-type dataset \
        --local-dir DIR/DATASET` writes them: DIR/lmsys/lmsys-chat-1m/data/*.parquet and \
        DIR/allenai/WildChat-1M/data/*.parquet.\n\n\
        Exit status: 0 done, 1 failed, 2 usage error, 3 conversations missing with --strict, 4 \
        --manifest's build not reproduced (the artifacts are written).")]
    Generate(GenerateArgs),
    /// List the annotation versions on the Hub, the newest marked, and which are cached.
    #[command(after_help = "Examples:\n  \
        healthchat versions\n  \
        HF_HUB_OFFLINE=1 healthchat versions      # only what the cache holds")]
    Versions(VersionsArgs),
    /// Check an artifacts directory against its manifest.json (sizes and SHA-256).
    #[command(after_help = "Examples:\n  \
        healthchat verify HealthChat-11K_v2.1.0_artifacts\n\n\
        Exit status: 0 when every artifact matches, 1 otherwise.")]
    Verify(VerifyArgs),
    /// Compare two annotation versions or artifacts directories: conversations added and
    /// removed, changed specialties, taxonomy codes, LQST labels and source text.
    #[command(after_help = "Examples:\n  \
        healthchat diff 2.0.0 2.1.0                      # two annotation versions (no shard is read)\n  \
        healthchat diff 1.0.0 HealthChat-11K_v2.1.0_artifacts\n  \
        healthchat diff old/HealthChat-11K_v2.1.0_artifacts new/HealthChat-11K_v2.1.0_artifacts \
        --csv changes.csv\n  \
        healthchat diff 2.0.0 2.1.0 --json --exit-code   # in CI\n\n\
        A side is an existing path (an artifacts directory, or its JSONL file), else a version \
        (write v2.1.0 when a path 2.1.0 is in the way). Source text is compared when both sides \
        are paths.\n\
        Exit status: 0 compared (identical or not), 1 failed, 2 usage error, 4 the sides differ \
        with --exit-code.")]
    Diff(DiffArgs),
    /// Show the cache of matched rows: where it is, its size, what it holds; or clean it.
    #[command(after_help = "Examples:\n  \
        healthchat cache\n  \
        healthchat cache --json\n  \
        healthchat cache clean\n\n\
        The cache is $HEALTHCHAT_CACHE, else $HF_HOME/healthchat (~/.cache/huggingface/healthchat).")]
    Cache(CacheArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:\n  \
        healthchat completions bash > ~/.local/share/bash-completion/completions/healthchat\n  \
        healthchat completions zsh > ~/.zfunc/_healthchat\n  \
        healthchat completions fish > ~/.config/fish/completions/healthchat.fish")]
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// Annotation version to build (MAJOR.MINOR.PATCH); default: the newest on the Hub.
    #[arg(long, value_name = "V", value_parser = parse_version)]
    pub(crate) version: Option<AnnotationVersion>,

    /// Build from this local annotation JSONL instead of the Hub's (a draft, say); its version
    /// from --version, else from its name (HealthChat-11K_master_annotations_v{V}.jsonl).
    #[arg(long, value_name = "FILE", value_parser = parse_file, conflicts_with = "annotations_revision")]
    pub(crate) annotations: Option<PathBuf>,

    /// Directory in which HealthChat-11K_v{V}_artifacts/ is written (created if missing).
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub(crate) output_dir: PathBuf,

    /// Source shards streamed at once.
    #[arg(short, long, value_name = "N", default_value_t = default_jobs(), value_parser = parse_jobs)]
    pub(crate) jobs: u16,

    #[command(flatten)]
    pub(crate) revisions: RevisionArgs,

    /// Rebuild what an earlier run's manifest.json describes (its version, the commit of each
    /// repository, its sources and outputs), then compare each artifact with the SHA-256 it
    /// lists: exit 4 when one differs.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "version", "annotations_revision", "lmsys_revision", "wildchat_revision", "sources",
        "reference_only",
    ])]
    pub(crate) manifest: Option<PathBuf>,

    /// Build only these sources, comma-separated: lmsys, wildchat. WildChat alone needs no
    /// token; a subset is written to HealthChat-11K_v{V}_{subset}_artifacts/.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_source, default_value = "lmsys,wildchat")]
    pub(crate) sources: Vec<Source>,

    /// Write only the reference artifacts (JSONL, the two CSVs, manifest.json), not the Parquet
    /// files and dataset card.
    #[arg(long)]
    pub(crate) reference_only: bool,

    /// Read the source shards from DIR (laid out as on the Hub) instead of streaming them.
    #[arg(long, value_name = "DIR")]
    pub(crate) source_dir: Option<PathBuf>,

    /// Neither read nor write the cache of matched rows: fetch every shard whole.
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Exit with status 3 when any annotated conversation is missing from the sources (the
    /// artifacts are still written).
    #[arg(long)]
    pub(crate) strict: bool,

    /// Print a machine-readable summary (JSON) on stdout instead of the artifacts path.
    #[arg(long)]
    pub(crate) json: bool,

    /// No progress bars or status lines; errors are still printed.
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// Progress as JSON lines on stderr, for the Python package's bar.
    #[arg(long, hide = true)]
    pub(crate) progress_json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RevisionArgs {
    /// Branch, tag or commit of yahskapar/HealthChat-11K.
    #[arg(long, value_name = "REV", default_value = "main")]
    pub(crate) annotations_revision: String,

    /// Branch, tag or commit of lmsys/lmsys-chat-1m.
    #[arg(long, value_name = "REV", default_value = "main")]
    pub(crate) lmsys_revision: String,

    /// Branch, tag or commit of allenai/WildChat-1M.
    #[arg(long, value_name = "REV", default_value = "main")]
    pub(crate) wildchat_revision: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VersionsArgs {
    /// Branch, tag or commit of yahskapar/HealthChat-11K.
    #[arg(long, value_name = "REV", default_value = "main")]
    pub(crate) annotations_revision: String,

    /// Print the list as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The old side: an annotation version (MAJOR.MINOR.PATCH), an artifacts directory or its
    /// JSONL file.
    #[arg(value_name = "A")]
    pub(crate) a: PathBuf,

    /// The new side, as A.
    #[arg(value_name = "B")]
    pub(crate) b: PathBuf,

    /// Branch, tag or commit of yahskapar/HealthChat-11K, for the sides that are versions.
    #[arg(long, value_name = "REV", default_value = "main")]
    pub(crate) annotations_revision: String,

    /// Also write every change to FILE as CSV: conversation_id, source, field (added, removed,
    /// specialty, taxonomy_codes, lqst, text), key, user_message, turn_index, before, after.
    #[arg(long, value_name = "FILE")]
    pub(crate) csv: Option<PathBuf>,

    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,

    /// Exit with status 4 when the sides differ.
    #[arg(long)]
    pub(crate) exit_code: bool,

    /// No status lines; errors are still printed.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CacheArgs {
    #[command(subcommand)]
    pub(crate) action: Option<CacheAction>,

    /// Print JSON on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheAction {
    /// Remove the cache of matched rows.
    Clean,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// An artifacts directory written by `healthchat generate`.
    #[arg(value_name = "DIR")]
    pub(crate) directory: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    #[arg(value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

fn parse_source(text: &str) -> Result<Source, String> {
    Source::from_dataset_source(text.trim()).ok_or_else(|| {
        format!("`{text}` is not a source: use lmsys, wildchat, or both separated by a comma")
    })
}

/// A file that is there: a path that names nothing is a mistake on the command line.
fn parse_file(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_file() => Ok(path),
        Ok(_) => Err(format!("{text} is not a file")),
        Err(error) => Err(format!("cannot read {text}: {error}")),
    }
}

fn parse_version(text: &str) -> Result<AnnotationVersion, String> {
    text.parse()
}

/// 1 to 64, said in words: clap's own range check says `0 is not in 1..=64`.
fn parse_jobs(text: &str) -> Result<u16, String> {
    text.trim()
        .parse()
        .ok()
        .filter(|jobs| (1..=64).contains(jobs))
        .ok_or_else(|| "--jobs must be a whole number between 1 and 64".to_owned())
}

fn default_jobs() -> u16 {
    let cores = crate::runtime::cores();
    // Downloads wait on the network more than on the CPU: two streams per core, at least 4; past
    // 8 a CDN link gains nothing, and each stream holds a few MB.
    u16::try_from((cores * 2).clamp(4, 8)).expect("clamped")
}
