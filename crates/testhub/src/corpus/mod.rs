//! A synthetic Hub tree of any size, for the benchmark and for tests that need more than the
//! golden fixtures: source shards with the real schemas and the real sources' shape (rows drawn
//! from the fixtures' shards, whose turns, languages and moderation fields follow the real
//! ones, each with a fresh random ID and fresh message text shaped as the real text is, by
//! `text`: lengths, scripts, a large vocabulary; 1,000-row row groups by default, Snappy, no page
//! index, like the real shards) and three annotation files, like the fixtures':
//!
//! - `v2.1.0` selects about 0.6 % of the rows, spread over every row group, plus a few IDs that
//!   no shard holds ([`MISSING_IDS`] per source);
//! - `v2.0.0` names exactly the same IDs, in the same order (its records from the fixtures'
//!   2.0.0 file);
//! - `v1.0.0` names about 88 % of 2.1.0's IDs held by the shards, plus about as many again as
//!   12 % of them of other rows that 2.1.0 does not select (spread over the row groups too), plus
//!   the same IDs that no shard holds, as the fixtures' 1.0.0 has 18 of 152 IDs that 2.1.0 lacks
//!   (its records from the fixtures' 1.0.0 file where that file annotates the row a synthetic
//!   row was drawn from, which is always so for the rows held).
//!
//! The choices of the versions other than 2.1.0 come from a generator of their own.

mod text;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

pub use text::TextStats;
use text::{MessageShape, Vocabulary, fresh_conversation};

/// Of every 10,000 rows, this many are selected by 2.1.0 (HealthChat-11K selects ~11,000 of ~2
/// million).
const SELECTED_PER_10K: u64 = 60;
/// Of 2.1.0's IDs held by the shards, the share that 1.0.0 names too.
const V1_KEEPS: f64 = 0.88;
/// 1.0.0's IDs that 2.1.0 lacks, as a share of 2.1.0's IDs held by the shards.
const V1_ADDS: f64 = 0.12;
/// IDs per source that the annotation files name and no shard holds.
pub const MISSING_IDS: usize = 10;
pub const ANNOTATIONS_REPO: &str = "yahskapar/HealthChat-11K";
/// The versions written, newest first.
pub const VERSIONS: [&str; 3] = ["2.1.0", "2.0.0", "1.0.0"];

/// The name of a version's annotation file.
pub fn annotation_file_name(version: &str) -> String {
    format!("HealthChat-11K_master_annotations_v{version}.jsonl")
}

/// What [`write_corpus`] writes.
#[derive(Debug, Clone)]
pub struct CorpusOptions {
    /// The shards' total size, in bytes (each shard is cut at the first row group past its share).
    pub size_bytes: u64,
    pub seed: u64,
    /// Shards over both sources (at least 2): 30 % LMSYS-Chat-1M, 70 % WildChat-1M, as in the
    /// real corpus.
    pub shards: usize,
    /// Rows per row group (the real shards have 1,000).
    pub rows_per_group: usize,
}

impl Default for CorpusOptions {
    fn default() -> Self {
        CorpusOptions {
            size_bytes: 1024 * 1_000_000,
            seed: 1,
            shards: 20,
            rows_per_group: 1000,
        }
    }
}

/// One shard written.
#[derive(Debug, Clone)]
pub struct ShardSummary {
    /// `lmsys/lmsys-chat-1m` or `allenai/WildChat-1M`.
    pub repo: String,
    /// The shard's path on disk.
    pub file: PathBuf,
    pub bytes: u64,
    pub rows: u64,
    pub row_groups: usize,
}

/// One annotation file written.
#[derive(Debug, Clone)]
pub struct AnnotationSummary {
    pub version: &'static str,
    pub file: PathBuf,
    /// Its lines, one per conversation ID.
    pub records: usize,
    /// Of those, the IDs that no shard holds.
    pub missing: usize,
}

/// What [`write_corpus`] wrote.
#[derive(Debug, Clone)]
pub struct CorpusSummary {
    pub shards: Vec<ShardSummary>,
    /// Newest version first, as [`VERSIONS`].
    pub annotations: Vec<AnnotationSummary>,
    /// Each source's repository and what its message text came to.
    pub text: Vec<(String, TextStats)>,
}

impl CorpusSummary {
    pub fn shard_bytes(&self) -> u64 {
        self.shards.iter().map(|shard| shard.bytes).sum()
    }

    pub fn row_groups(&self) -> usize {
        self.shards.iter().map(|shard| shard.row_groups).sum()
    }

    pub fn annotations(&self, version: &str) -> Option<&AnnotationSummary> {
        self.annotations.iter().find(|a| a.version == version)
    }
}

struct SourceSpec {
    name: &'static str,
    repo: &'static str,
    id_column: &'static str,
    /// Share of the shards, as in the real corpus (6 of 20 for LMSYS-Chat-1M).
    shard_share: f64,
    messages: MessageShape,
}

const SOURCES: [SourceSpec; 2] = [
    SourceSpec {
        name: "lmsys",
        repo: "lmsys/lmsys-chat-1m",
        id_column: "conversation_id",
        shard_share: 0.3,
        messages: text::LMSYS,
    },
    SourceSpec {
        name: "wildchat",
        repo: "allenai/WildChat-1M",
        id_column: "conversation_hash",
        shard_share: 0.7,
        messages: text::WILDCHAT,
    },
];

/// A small deterministic generator (xorshift64*), enough for picking rows and making IDs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A standard normal deviate (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn hex_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

fn invalid(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message.into())
}

fn other(error: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(error)
}

/// One conversation's line in each version's file (`None`: not in that version).
struct Lines {
    v2_1: String,
    v2_0: String,
    v1_0: Option<String>,
}

/// Writes the Hub tree under `out` (`datasets/{owner}/{name}/...`, with the fixtures' README
/// files) from the golden fixtures' Hub tree `fixtures` (tests/fixtures/hub).
pub fn write_corpus(
    fixtures: &Path,
    out: &Path,
    options: CorpusOptions,
) -> std::io::Result<CorpusSummary> {
    if options.shards < 2 {
        return Err(invalid("a corpus needs at least 2 shards (one per source)"));
    }
    if options.rows_per_group == 0 {
        return Err(invalid("rows_per_group must be at least 1"));
    }
    let rows_per_group = options.rows_per_group;
    // The shards and 2.1.0 draw from `rng` exactly as the single-version writer did; what only
    // the other versions need is drawn from `versions_rng`.
    let mut rng = Rng::new(options.seed);
    let mut versions_rng = Rng::new(options.seed ^ 0x0001_0000_5eed);
    let templates = [
        annotation_templates(fixtures, "2.1.0")?,
        annotation_templates(fixtures, "2.0.0")?,
        annotation_templates(fixtures, "1.0.0")?,
    ];
    let mut lines: Vec<Lines> = Vec::new();
    // 1.0.0's lines for rows that 2.1.0 does not select.
    let mut v1_only: Vec<String> = Vec::new();
    let mut missing = 0;
    let mut summary = CorpusSummary {
        shards: Vec::new(),
        annotations: Vec::new(),
        text: Vec::new(),
    };
    let vocabulary = Vocabulary::new(options.seed);
    let lmsys_shards = ((options.shards as f64 * SOURCES[0].shard_share).round() as usize).max(1);
    for (source, shards) in SOURCES
        .iter()
        .zip([lmsys_shards, options.shards - lmsys_shards])
    {
        let pool = read_pool(&fixtures.join("datasets").join(source.repo).join("data"))?;
        let ids = pool
            .column_by_name(source.id_column)
            .ok_or_else(|| invalid("the fixture shards lack their ID column"))?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| invalid("the ID column is not a string column"))?
            .clone();
        let line_of = |version: usize, row: u32| {
            templates[version].get(&(source.name, ids.value(row as usize).to_owned()))
        };
        // The fixture rows that 2.1.0 annotates: the rows it selects are drawn from them.
        let annotated: Vec<u32> = (0..ids.len() as u32)
            .filter(|&row| line_of(0, row).is_some())
            .collect();
        if annotated.is_empty() {
            return Err(invalid(format!(
                "the fixtures' 2.1.0 annotations name no row of {}",
                source.repo
            )));
        }
        // 1.0.0 keeps a selected row only if its fixture row has a 1.0.0 line, so that every
        // 1.0.0 line of a held row is one of the fixtures' 1.0.0 lines.
        let with_v1 = annotated
            .iter()
            .filter(|&&row| line_of(2, row).is_some())
            .count();
        let keep_chance = (V1_KEEPS * annotated.len() as f64 / with_v1.max(1) as f64).min(1.0);
        // Rows not selected become 1.0.0-only if their fixture row has a 1.0.0 line, at a rate
        // that makes them V1_ADDS of 2.1.0's selection.
        let v1_rows = (0..ids.len() as u32)
            .filter(|&row| line_of(2, row).is_some())
            .count();
        let selected_share = SELECTED_PER_10K as f64 / 10_000.0;
        let add_chance = V1_ADDS * selected_share
            / ((1.0 - selected_share) * v1_rows.max(1) as f64 / ids.len() as f64);
        let id_index = pool.schema().index_of(source.id_column).map_err(other)?;
        let mut stats = TextStats::default();
        let dir = out.join("datasets").join(source.repo).join("data");
        std::fs::create_dir_all(&dir)?;
        copy_readme(fixtures, out, source.repo)?;
        let shard_bytes = options.size_bytes / options.shards as u64;
        for shard in 0..shards {
            let path = dir.join(format!("train-{shard:05}-of-{shards:05}.parquet"));
            let file = File::create(&path)?;
            let properties = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(rows_per_group))
                .set_offset_index_disabled(true)
                .build();
            let mut writer =
                ArrowWriter::try_new(file, pool.schema(), Some(properties)).map_err(other)?;
            let (mut rows_written, mut row_groups) = (0, 0);
            while (writer.bytes_written() as u64) < shard_bytes {
                let mut rows = Vec::with_capacity(rows_per_group);
                let mut new_ids = Vec::with_capacity(rows_per_group);
                for _ in 0..rows_per_group {
                    let id = rng.hex_id();
                    let selected = rng.next() % 10_000 < SELECTED_PER_10K;
                    if selected {
                        let row = annotated[rng.below(annotated.len())];
                        let original = ids.value(row as usize);
                        let make = |version| {
                            line_of(version, row).map(|line| line.replacen(original, &id, 1))
                        };
                        let v1_0 = make(2).filter(|_| versions_rng.chance(keep_chance));
                        lines.push(Lines {
                            v2_1: make(0).expect("an annotated row"),
                            v2_0: make(1).or_else(|| make(0)).expect("an annotated row"),
                            v1_0,
                        });
                        rows.push(row);
                    } else {
                        let row = rng.below(pool.num_rows()) as u32;
                        if let Some(line) = line_of(2, row)
                            && versions_rng.chance(add_chance)
                        {
                            v1_only.push(line.replacen(ids.value(row as usize), &id, 1));
                        }
                        rows.push(row);
                    }
                    new_ids.push(id);
                }
                let batch = arrow_select::take::take_record_batch(&pool, &UInt32Array::from(rows))
                    .map_err(other)?;
                let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
                let languages = batch
                    .column_by_name("language")
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .cloned()
                    .unwrap_or_else(|| StringArray::new_null(batch.num_rows()));
                if let Ok(position) = batch.schema().index_of("conversation") {
                    columns[position] = fresh_conversation(
                        &columns[position],
                        &languages,
                        &source.messages,
                        &vocabulary,
                        &mut rng,
                        &mut stats,
                    );
                }
                columns[id_index] = Arc::new(StringArray::from(new_ids));
                let batch = RecordBatch::try_new(pool.schema(), columns).map_err(other)?;
                writer.write(&batch).map_err(other)?;
                writer.flush().map_err(other)?;
                rows_written += rows_per_group as u64;
                row_groups += 1;
            }
            writer.close().map_err(other)?;
            summary.shards.push(ShardSummary {
                repo: source.repo.to_owned(),
                bytes: std::fs::metadata(&path)?.len(),
                file: path,
                rows: rows_written,
                row_groups,
            });
        }
        summary.text.push((source.repo.to_owned(), stats));
        // Conversations the annotations name but no shard holds, in every version.
        for _ in 0..MISSING_IDS {
            let row = annotated[rng.below(annotated.len())];
            let original = ids.value(row as usize);
            let id = rng.hex_id();
            let make = |version| line_of(version, row).map(|line| line.replacen(original, &id, 1));
            let v2_1 = make(0).expect("an annotated row");
            lines.push(Lines {
                v2_0: make(1).unwrap_or_else(|| v2_1.clone()),
                v1_0: Some(make(2).unwrap_or_else(|| v2_1.clone())),
                v2_1,
            });
            missing += 1;
        }
    }
    // The annotation files are not in shard order; 2.0.0's order is 2.1.0's.
    rng.shuffle(&mut lines);
    let mut v1: Vec<String> = lines.iter().filter_map(|l| l.v1_0.clone()).collect();
    v1.extend(v1_only);
    versions_rng.shuffle(&mut v1);

    let annotations_dir = out.join("datasets").join(ANNOTATIONS_REPO);
    std::fs::create_dir_all(&annotations_dir)?;
    copy_readme(fixtures, out, ANNOTATIONS_REPO)?;
    let v2_1: Vec<&str> = lines.iter().map(|l| l.v2_1.as_str()).collect();
    let v2_0: Vec<&str> = lines.iter().map(|l| l.v2_0.as_str()).collect();
    let v1: Vec<&str> = v1.iter().map(String::as_str).collect();
    for (version, version_lines) in VERSIONS.into_iter().zip([v2_1, v2_0, v1]) {
        let file = annotations_dir.join(annotation_file_name(version));
        let mut writer = BufWriter::new(File::create(&file)?);
        for line in &version_lines {
            writeln!(writer, "{line}")?;
        }
        writer.flush()?;
        summary.annotations.push(AnnotationSummary {
            version,
            file,
            records: version_lines.len(),
            missing,
        });
    }
    Ok(summary)
}

/// Annotation lines by source name and conversation ID.
type Templates = HashMap<(&'static str, String), String>;

/// A fixture version's annotation lines, by source and conversation ID.
fn annotation_templates(fixtures: &Path, version: &str) -> std::io::Result<Templates> {
    let path = fixtures
        .join("datasets")
        .join(ANNOTATIONS_REPO)
        .join(annotation_file_name(version));
    let mut templates = HashMap::new();
    for line in BufReader::new(File::open(&path)?).lines() {
        let line = line?;
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let (Some(id), Some(source)) = (
            value["conversation_id"].as_str(),
            value["dataset_source"].as_str(),
        ) else {
            continue;
        };
        if let Some(spec) = SOURCES.iter().find(|s| s.name == source)
            && !id.is_empty()
        {
            templates.insert((spec.name, id.to_owned()), line.clone());
        }
    }
    Ok(templates)
}

/// Every row of a source's fixture shards, in one batch.
fn read_pool(dir: &Path) -> std::io::Result<RecordBatch> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let mut batches = Vec::new();
    for path in paths {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)
            .map_err(other)?
            .build()
            .map_err(other)?;
        for batch in reader {
            batches.push(batch.map_err(other)?);
        }
    }
    let schema = batches
        .first()
        .ok_or_else(|| invalid(format!("no fixture rows in {}", dir.display())))?
        .schema();
    arrow_select::concat::concat_batches(&schema, &batches).map_err(other)
}

fn copy_readme(fixtures: &Path, out: &Path, repo: &str) -> std::io::Result<()> {
    let from = fixtures.join("datasets").join(repo).join("README.md");
    if from.exists() {
        std::fs::copy(from, out.join("datasets").join(repo).join("README.md"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn ids(file: &Path) -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                record["conversation_id"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn three_versions_over_small_row_groups() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub");
        let out = tempfile::tempdir().unwrap();
        let options = CorpusOptions {
            size_bytes: 2_000_000,
            seed: 7,
            shards: 2,
            rows_per_group: 200,
        };
        let summary = write_corpus(&fixtures, out.path(), options).unwrap();
        assert_eq!(summary.shards.len(), 2);
        assert!(summary.shards.iter().all(|shard| shard.row_groups > 1));
        let [v2_1, v2_0, v1_0] = VERSIONS.map(|v| ids(&summary.annotations(v).unwrap().file));
        assert_eq!(v2_1, v2_0);
        assert_eq!(v2_1.len(), summary.annotations("2.1.0").unwrap().records);
        let (new, old): (HashSet<_>, HashSet<_>) = (v2_1.iter().collect(), v1_0.iter().collect());
        assert_eq!(new.len(), v2_1.len());
        assert!(old.difference(&new).count() > 0, "1.0.0 adds IDs");
        assert!(
            new.difference(&old).count() > 0,
            "1.0.0 lacks some of 2.1.0's"
        );
        assert!(new.intersection(&old).count() * 2 > new.len());
    }
}
