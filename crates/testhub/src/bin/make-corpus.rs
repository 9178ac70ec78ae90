//! Writes a synthetic Hub tree of any size for the benchmark (see `testhub::corpus`): source
//! shards with the real schemas and the real sources' shape, and the annotation files of
//! versions 2.1.0, 2.0.0 and 1.0.0; `DIR/corpus-stats.json` says what the text came to.
//!
//! make-corpus --fixtures tests/fixtures/hub --out DIR --size-mb 1024 [--seed 1] [--shards 20]

use std::path::PathBuf;

use testhub::corpus::{CorpusOptions, TextStats, write_corpus};

struct Options {
    fixtures: PathBuf,
    out: PathBuf,
    corpus: CorpusOptions,
}

fn parse_options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        fixtures: PathBuf::from("tests/fixtures/hub"),
        out: PathBuf::new(),
        corpus: CorpusOptions::default(),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--fixtures" => options.fixtures = PathBuf::from(&value),
            "--out" => options.out = PathBuf::from(&value),
            "--size-mb" => options.corpus.size_bytes = number()? * 1_000_000,
            "--seed" => options.corpus.seed = number()?,
            "--shards" => options.corpus.shards = number()?.max(2) as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if options.out.as_os_str().is_empty() {
        return Err("--out DIR is required".to_owned());
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options().map_err(|e| {
        format!(
            "{e}\nusage: make-corpus --fixtures HUB --out DIR --size-mb N [--seed S] [--shards N]"
        )
    })?;
    let summary = write_corpus(&options.fixtures, &options.out, options.corpus)?;
    for shard in &summary.shards {
        eprintln!("wrote {} ({} bytes)", shard.file.display(), shard.bytes);
    }
    // What the text came to, beside the shards' rows and bytes: the benchmark prints it.
    let mut sources = Vec::new();
    for (repo, text) in &summary.text {
        let shards = summary.shards.iter().filter(|shard| &shard.repo == repo);
        let (rows, bytes) = shards.fold((0, 0), |(r, b), s| (r + s.rows, b + s.bytes));
        sources.push(serde_json::json!({
            "repo": repo,
            "rows": rows,
            "bytes": bytes,
            "bytes_per_row": bytes as f64 / rows.max(1) as f64,
            "median_user_characters": TextStats::median(&text.user_lengths),
            "median_assistant_characters": TextStats::median(&text.assistant_lengths),
            "non_ascii_share": text.non_ascii_characters as f64 / text.characters.max(1) as f64,
        }));
    }
    let stats = serde_json::to_string_pretty(&serde_json::json!({ "sources": sources }))?;
    std::fs::write(options.out.join("corpus-stats.json"), format!("{stats}\n"))?;
    eprintln!("{stats}");
    for annotations in &summary.annotations {
        eprintln!(
            "wrote {} annotations for {} ({} missing from the shards)",
            annotations.records, annotations.version, annotations.missing
        );
    }
    Ok(())
}
