//! What a `generate` run did, as the closing table on stderr or as `--json` on stdout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::HumanBytes;

use crate::manifest::Manifest;
use crate::reproduce::Reproduction;

/// What a run did: the manifest written beside the artifacts, and what only the terminal gets.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) directory: PathBuf,
    pub(crate) manifest: Manifest,
    /// Annotation inputs the reference would crash on, and what was done with them.
    pub(crate) repairs: Vec<String>,
    /// Source rows left out because an earlier row had their conversation ID (FORMAT.md §3).
    pub(crate) duplicates: u64,
    /// Shard bytes read from the Hub (or from `--source-dir`, `fetched_from_disk`), retries too.
    pub(crate) bytes_fetched: u64,
    pub(crate) fetched_from_disk: bool,
    pub(crate) elapsed: Duration,
    /// With `--manifest`: how the build compares with the earlier one.
    pub(crate) reproduction: Option<Reproduction>,
}

impl Summary {
    /// The `--json` summary: the run's directory, time and repairs, and the manifest.
    pub(crate) fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct JsonSummary<'a> {
            directory: &'a Path,
            elapsed_seconds: f64,
            bytes_read: u64,
            network_bytes: u64,
            rows_from_cache: u64,
            missing: usize,
            repairs: &'a [String],
            manifest: &'a Manifest,
            #[serde(skip_serializing_if = "Option::is_none")]
            reproduction: Option<&'a Reproduction>,
        }
        serde_json::to_string_pretty(&JsonSummary {
            directory: &self.directory,
            elapsed_seconds: self.elapsed.as_secs_f64(),
            bytes_read: self.bytes_fetched,
            network_bytes: if self.fetched_from_disk {
                0
            } else {
                self.bytes_fetched
            },
            rows_from_cache: self.manifest.rows_from_cache(),
            missing: self.manifest.missing(),
            repairs: &self.repairs,
            manifest: &self.manifest,
            reproduction: self.reproduction.as_ref(),
        })
        .expect("a summary serialises")
    }

    /// The closing table, made to fit a 40-line screen: per source the conversations wanted,
    /// found and missing (at most [`MISSING_SHOWN`] missing IDs each: the manifest and `--json`
    /// list them all), conversations per specialty folded into a few lines, row counts, file
    /// sizes, repairs, what was verified, time and what the cache spared.
    pub(crate) fn lines(&self) -> Vec<String> {
        let manifest = &self.manifest;
        let mut lines = vec![
            String::new(),
            format!(
                "HealthChat-11K v{} written to {}",
                manifest.annotation_version,
                self.directory.display()
            ),
            format!(
                "  {:<10} {:>8} {:>8} {:>8}",
                "source", "wanted", "found", "missing"
            ),
        ];
        for source in &manifest.sources {
            lines.push(format!(
                "  {:<10} {:>8} {:>8} {:>8}",
                source.source,
                source.wanted,
                source.found,
                source.missing.len()
            ));
        }
        for source in manifest.sources.iter().filter(|s| !s.missing.is_empty()) {
            lines.push(format!(
                "  Not found in {} ({} conversations):",
                source.repository,
                source.missing.len()
            ));
            let shown = &source.missing[..source.missing.len().min(MISSING_SHOWN)];
            lines.extend(shown.chunks(2).map(|pair| {
                let ids: Vec<String> = pair.iter().map(|id| format!("- {id}")).collect();
                format!("    {}", ids.join("  "))
            }));
            if source.missing.len() > shown.len() {
                lines.push(format!(
                    "    and {} more, listed in manifest.json",
                    source.missing.len() - shown.len()
                ));
            }
        }
        lines.push("  Conversations per specialty, most first:".to_owned());
        let mut specialties: Vec<(&String, &u64)> = manifest.specialties.iter().collect();
        specialties.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let entries: Vec<String> = specialties
            .iter()
            .map(|(specialty, count)| format!("{specialty} {count}"))
            .collect();
        lines.extend(fold(&entries, "    ", WIDTH));
        lines.push(format!(
            "  {} conversations, {} full-review rows, {} sycophancy-review rows",
            manifest.conversations, manifest.full_review_rows, manifest.sycophancy_review_rows
        ));
        if self.duplicates > 0 {
            lines.push(format!(
                "  {} source rows left out: their conversation ID was found already (the first \
                 row is kept)",
                self.duplicates
            ));
        }
        for artifact in &manifest.artifacts {
            lines.push(format!(
                "    {:>10}  {}",
                HumanBytes(artifact.size).to_string(),
                artifact.name
            ));
        }
        if !self.repairs.is_empty() {
            lines.push(format!(
                "  {} warnings: annotation inputs the reference generator cannot handle were \
                 repaired:",
                self.repairs.len()
            ));
            lines.extend(self.repairs.iter().map(|repair| format!("    - {repair}")));
        }
        let unverified = manifest.unverified();
        if unverified.is_empty() {
            lines.push("  Every file read hashes to the SHA-256 published for it.".to_owned());
        } else {
            lines.push(format!(
                "  {} files read were not verified (no published SHA-256 to check them against; \
                 their SHA-256 is in manifest.json):",
                unverified.len()
            ));
            let shown = &unverified[..unverified.len().min(UNVERIFIED_SHOWN)];
            lines.extend(shown.iter().map(|file| format!("    - {file}")));
            if unverified.len() > shown.len() {
                lines.push(format!("    and {} more", unverified.len() - shown.len()));
            }
        }
        lines.push(self.elapsed_line());
        lines
    }

    /// `Elapsed 1.2 s; read 4 MiB of shards from the network (3.3 MiB/s); 40 rows from the
    /// cache of matched rows`, each part only when there is something to say.
    fn elapsed_line(&self) -> String {
        let seconds = self.elapsed.as_secs_f64();
        let mut line = format!("  Elapsed {seconds:.1} s");
        if self.bytes_fetched > 0 {
            line += &format!(
                "; read {} of shards from {} ({}/s)",
                HumanBytes(self.bytes_fetched),
                if self.fetched_from_disk {
                    "disk"
                } else {
                    "the network"
                },
                HumanBytes((self.bytes_fetched as f64 / seconds.max(1e-3)) as u64),
            );
        } else {
            line += "; no shard bytes read";
        }
        match self.manifest.rows_from_cache() {
            0 => {}
            1 => line += "; 1 source row from the cache of matched rows",
            rows => line += &format!("; {rows} source rows from the cache of matched rows"),
        }
        line
    }
}

/// Missing IDs shown per source on the terminal.
const MISSING_SHOWN: usize = 10;
/// Files shown of those not verified (a copy of every shard without `hf download`'s metadata).
const UNVERIFIED_SHOWN: usize = 4;
/// The width the folded specialty lines keep within.
const WIDTH: usize = 80;

/// `entries` joined by `, ` into lines of at most `width` characters (an entry longer than
/// that alone on its line), each starting with `indent`.
fn fold(entries: &[String], indent: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for (i, entry) in entries.iter().enumerate() {
        let piece = if i + 1 < entries.len() {
            format!("{entry},")
        } else {
            entry.clone()
        };
        if !line.is_empty() && indent.len() + line.len() + 1 + piece.len() > width {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += &piece;
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_keeps_lines_within_the_width_and_every_entry_once() {
        let entries: Vec<String> = (0..30)
            .map(|i| format!("Specialty number {i} {i}"))
            .collect();
        let lines = fold(&entries, "    ", 40);
        assert!(lines.iter().all(|line| line.len() <= 40), "{lines:#?}");
        let joined = lines
            .iter()
            .map(|line| line.trim())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(joined, entries.join(", "));
        assert_eq!(fold(&[], "  ", 10), Vec::<String>::new());
        let long = vec!["x".repeat(50), "y".to_owned()];
        assert_eq!(
            fold(&long, "", 10),
            vec![format!("{},", "x".repeat(50)), "y".to_owned()]
        );
    }
}
