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

    /// The closing table: per source the conversations wanted, found and missing (with the
    /// missing IDs), conversations per specialty, row counts, file sizes, repairs, time.
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
            lines.extend(source.missing.iter().map(|id| format!("    - {id}")));
        }
        lines.push("  Conversations per specialty:".to_owned());
        for (specialty, count) in &manifest.specialties {
            lines.push(format!("    {count:>6}  {specialty}"));
        }
        lines.push(format!(
            "  {} conversations, {} full-review rows, {} sycophancy-review rows",
            manifest.conversations, manifest.full_review_rows, manifest.sycophancy_review_rows
        ));
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
            lines.extend(unverified.iter().map(|file| format!("    - {file}")));
        }
        let seconds = self.elapsed.as_secs_f64();
        lines.push(format!(
            "  Elapsed {seconds:.1} s; read {} of shards from {} ({}/s); {} rows from the cache \
             of rows",
            HumanBytes(self.bytes_fetched),
            if self.fetched_from_disk {
                "disk"
            } else {
                "the network"
            },
            HumanBytes((self.bytes_fetched as f64 / seconds.max(1e-3)) as u64),
            self.manifest.rows_from_cache()
        ));
        lines
    }
}
