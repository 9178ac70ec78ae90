//! The local Hub as a program, for the benchmark and for trying healthchat without an account:
//! serves a Hub tree until killed. It prints the endpoint, then (with --https) the CA
//! certificate's PEM file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use testhub::{HubConfig, TestHub, golden};

/// A Hugging Face Hub-compatible server on 127.0.0.1 over a directory laid out like the Hub
/// (`datasets/{owner}/{name}/...`), such as healthchat's fixtures (tests/fixtures/hub).
#[derive(Debug, Parser)]
#[command(version, after_help = example())]
struct Args {
    /// The directory served, holding `datasets/{owner}/{name}/...`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,
    /// The port on 127.0.0.1 (0: any free port; the endpoint printed says which).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, help = golden_help())]
    golden: bool,
    /// Make REPO gated, granted to TOKEN (repeatable).
    #[arg(long, value_name = "REPO=TOKEN", value_parser = parse_gate)]
    gate: Vec<(String, String)>,
    /// Redirect files of at least BYTES to the storage host, as the Hub does for LFS files.
    #[arg(long, value_name = "BYTES")]
    redirect_from: Option<u64>,
    /// Entries per page of a tree listing.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    page_size: Option<u64>,
    /// Cap on all response bodies together, in megabytes per second.
    #[arg(long, value_name = "MBPS")]
    bandwidth_mbps: Option<f64>,
    /// Think time before every response, in milliseconds.
    #[arg(long, value_name = "MS")]
    latency_ms: Option<f64>,
    /// A round trip on every connection, in milliseconds (each byte delayed half of it each way).
    #[arg(long, value_name = "MS")]
    rtt_ms: Option<f64>,
    /// Serve HTTPS with a certificate authority made at start; h2 offers HTTP/2 by ALPN.
    #[arg(long, value_name = "PROTOCOLS")]
    https: Option<Https>,
    /// Append every request to FILE as a JSON line (method, path, host, query, range, status,
    /// version, body_bytes, sent_bytes: the body bytes actually sent, complete), written when its
    /// response body has been sent or the client went away.
    #[arg(long, value_name = "FILE")]
    request_log: Option<PathBuf>,
    /// Every 10 ms, replace FILE with a JSON object of the requests so far and the body bytes
    /// sent so far for GETs of `.parquet` files (`shard_bytes_sent`, counted as they are sent),
    /// for a benchmark that watches a run's progress.
    #[arg(long, value_name = "FILE")]
    stats_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Https {
    /// HTTP/2 and HTTP/1.1, chosen by ALPN.
    H2,
    /// HTTP/1.1 only.
    Http1,
}

/// `--golden`'s help, from the setup it names.
fn golden_help() -> String {
    format!(
        "The tests' setup of the fixtures: {} gated, granted to {} ({} known, not granted), files \
         of {} bytes and more redirected to the storage host, {} entries a listing page; the \
         other flags add to it",
        golden::LMSYS,
        golden::GRANTED_TOKEN,
        golden::DENIED_TOKEN,
        golden::REDIRECT_FROM,
        golden::PAGE_SIZE
    )
}

/// An example: the fixtures served as the tests serve them, and one run against them.
fn example() -> String {
    format!(
        "Example: the fixtures as the tests serve them (lmsys gated, large files redirected to a \
         storage host), then one run against them:\n\n  \
         testhub --golden --root tests/fixtures/hub --port 8123 &\n  \
         HF_ENDPOINT=http://127.0.0.1:8123 HF_TOKEN={} HF_HOME=$(mktemp -d) \\\n    \
         healthchat generate --version 2.1.0\n\n\
         (A throwaway HF_HOME keeps the fixtures' annotation files out of your Hugging Face \
         cache.)",
        golden::GRANTED_TOKEN
    )
}

fn parse_gate(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((repo, token)) if !repo.is_empty() && !token.is_empty() => {
            Ok((repo.to_owned(), token.to_owned()))
        }
        _ => Err("expected REPO=TOKEN, e.g. lmsys/lmsys-chat-1m=hf_try".to_owned()),
    }
}

fn milliseconds(ms: f64) -> Duration {
    Duration::from_secs_f64(ms / 1000.0)
}

impl Args {
    fn config(&self) -> HubConfig {
        let mut config = if self.golden {
            golden::config(&self.root)
        } else {
            HubConfig::new(&self.root)
        };
        for (repo, token) in &self.gate {
            config = config.gate(repo, &[token]);
        }
        if let Some(bytes) = self.redirect_from {
            config = config.redirect_files_from(bytes);
        }
        if let Some(entries) = self.page_size {
            config = config.page_size(entries as usize);
        }
        if let Some(mbps) = self.bandwidth_mbps {
            config = config.bandwidth((mbps * 1e6) as u64);
        }
        if let Some(ms) = self.latency_ms {
            config = config.latency(milliseconds(ms));
        }
        if let Some(ms) = self.rtt_ms {
            config = config.round_trip(milliseconds(ms));
        }
        if let Some(https) = self.https {
            config = config.https(matches!(https, Https::H2));
        }
        if let Some(path) = &self.request_log {
            config = config.request_log(path);
        }
        config
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.root.join("datasets").is_dir() {
        eprintln!(
            "testhub: {} has no datasets/ folder: --root names a directory laid out like the Hub, \
             such as tests/fixtures/hub",
            args.root.display()
        );
        return ExitCode::FAILURE;
    }
    let hub = match TestHub::start_on(args.config(), args.port) {
        Ok(hub) => hub,
        Err(error) => {
            eprintln!("testhub: cannot serve on 127.0.0.1:{}: {error}", args.port);
            return ExitCode::FAILURE;
        }
    };
    println!("{}", hub.endpoint());
    if let Some(ca) = hub.ca_file() {
        println!("{}", ca.display());
    }
    let Some(stats_file) = args.stats_file else {
        loop {
            std::thread::park();
        }
    };
    let temporary = stats_file.with_extension("tmp");
    loop {
        let requests = hub.requests();
        let shard_bytes_sent: u64 = requests
            .iter()
            .filter(|request| request.method == "GET" && request.path.ends_with(".parquet"))
            .map(|request| request.bytes_sent())
            .sum();
        let stats = format!(
            "{{\"requests\": {}, \"shard_bytes_sent\": {shard_bytes_sent}}}\n",
            requests.len()
        );
        if std::fs::write(&temporary, stats)
            .and_then(|()| std::fs::rename(&temporary, &stats_file))
            .is_err()
        {
            eprintln!("testhub: cannot write {}", stats_file.display());
            return ExitCode::FAILURE;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
