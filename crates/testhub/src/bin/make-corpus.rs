//! Writes a synthetic Hub tree of any size for the benchmark: source shards with the real schemas
//! (rows drawn from the golden fixtures' shards, each with a fresh random ID and fresh message
//! text of the same length from the fixtures' words, so that no two rows repeat; 1,000-row row
//! groups, Snappy, no page index, like the real shards) and an annotation file that selects about
//! 0.6 % of the rows, spread over every row group, plus a few IDs that no shard holds.
//!
//! make-corpus --fixtures tests/fixtures/hub --out DIR --size-mb 1024 [--seed 1] [--shards 20]

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StringArray, StructArray, UInt32Array};
use arrow_schema::DataType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

const ROWS_PER_GROUP: usize = 1000;
/// Of every 10,000 rows, this many are selected by the annotation file (HealthChat-11K selects
/// ~11,000 of ~2 million).
const SELECTED_PER_10K: u64 = 60;
const MISSING_IDS: usize = 10;
const ANNOTATIONS_REPO: &str = "yahskapar/HealthChat-11K";
const ANNOTATION_TEMPLATE: &str = "HealthChat-11K_master_annotations_v2.1.0.jsonl";
const ANNOTATION_OUTPUT: &str = "HealthChat-11K_master_annotations_v1.0.0.jsonl";

struct SourceSpec {
    name: &'static str,
    repo: &'static str,
    id_column: &'static str,
    /// Share of the shards, as in the real corpus (6 of 20 for LMSYS-Chat-1M).
    shard_share: f64,
}

const SOURCES: [SourceSpec; 2] = [
    SourceSpec {
        name: "lmsys",
        repo: "lmsys/lmsys-chat-1m",
        id_column: "conversation_id",
        shard_share: 0.3,
    },
    SourceSpec {
        name: "wildchat",
        repo: "allenai/WildChat-1M",
        id_column: "conversation_hash",
        shard_share: 0.7,
    },
];

/// A small deterministic generator (xorshift64*), enough for picking rows and making IDs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn hex_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
}

struct Options {
    fixtures: PathBuf,
    out: PathBuf,
    size_mb: u64,
    seed: u64,
    shards: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        fixtures: PathBuf::from("tests/fixtures/hub"),
        out: PathBuf::new(),
        size_mb: 1024,
        seed: 1,
        shards: 20,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--fixtures" => options.fixtures = PathBuf::from(&value),
            "--out" => options.out = PathBuf::from(&value),
            "--size-mb" => options.size_mb = number()?,
            "--seed" => options.seed = number()?,
            "--shards" => options.shards = number()?.max(2) as usize,
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
    let mut rng = Rng(options.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let templates = annotation_templates(&options.fixtures)?;
    let mut annotation_lines = Vec::new();
    let lmsys_shards = ((options.shards as f64 * SOURCES[0].shard_share).round() as usize).max(1);
    for (source, shards) in SOURCES
        .iter()
        .zip([lmsys_shards, options.shards - lmsys_shards])
    {
        let pool = read_pool(
            &options
                .fixtures
                .join("datasets")
                .join(source.repo)
                .join("data"),
        )?;
        let ids = pool
            .column_by_name(source.id_column)
            .ok_or("the fixture shards lack their ID column")?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("the ID column is not a string column")?
            .clone();
        let annotated: Vec<(u32, &String)> = (0..ids.len())
            .filter_map(|row| {
                templates
                    .get(&(source.name, ids.value(row).to_owned()))
                    .map(|line| (row as u32, line))
            })
            .collect();
        let id_index = pool.schema().index_of(source.id_column)?;
        let words = vocabulary(&pool);
        let dir = options.out.join("datasets").join(source.repo).join("data");
        std::fs::create_dir_all(&dir)?;
        copy_readme(&options.fixtures, &options.out, source.repo)?;
        let shard_bytes = options.size_mb * 1_000_000 / options.shards as u64;
        for shard in 0..shards {
            let path = dir.join(format!("train-{shard:05}-of-{shards:05}.parquet"));
            let file = File::create(&path)?;
            let properties = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
                .set_offset_index_disabled(true)
                .build();
            let mut writer = ArrowWriter::try_new(file, pool.schema(), Some(properties))?;
            while (writer.bytes_written() as u64) < shard_bytes {
                let mut rows = Vec::with_capacity(ROWS_PER_GROUP);
                let mut new_ids = Vec::with_capacity(ROWS_PER_GROUP);
                for _ in 0..ROWS_PER_GROUP {
                    let id = rng.hex_id();
                    let selected = !annotated.is_empty() && rng.next() % 10_000 < SELECTED_PER_10K;
                    if selected {
                        let (row, template) = annotated[rng.below(annotated.len())];
                        let original = ids.value(row as usize);
                        annotation_lines.push(template.replacen(original, &id, 1));
                        rows.push(row);
                    } else {
                        rows.push(rng.below(pool.num_rows()) as u32);
                    }
                    new_ids.push(id);
                }
                let batch = arrow_select::take::take_record_batch(&pool, &UInt32Array::from(rows))?;
                let mut columns: Vec<ArrayRef> = batch
                    .columns()
                    .iter()
                    .map(|column| fresh_text(column, false, &mut rng, &words))
                    .collect();
                columns[id_index] = Arc::new(StringArray::from(new_ids));
                writer.write(&RecordBatch::try_new(pool.schema(), columns)?)?;
                writer.flush()?;
            }
            writer.close()?;
            eprintln!(
                "wrote {} ({} bytes)",
                path.display(),
                std::fs::metadata(&path)?.len()
            );
        }
        // Conversations the annotations name but no shard holds.
        for _ in 0..MISSING_IDS {
            let (row, template) = annotated[rng.below(annotated.len())];
            annotation_lines.push(template.replacen(ids.value(row as usize), &rng.hex_id(), 1));
        }
    }
    // The annotation file is not in shard order.
    for i in (1..annotation_lines.len()).rev() {
        annotation_lines.swap(i, rng.below(i + 1));
    }
    let annotations_dir = options.out.join("datasets").join(ANNOTATIONS_REPO);
    std::fs::create_dir_all(&annotations_dir)?;
    copy_readme(&options.fixtures, &options.out, ANNOTATIONS_REPO)?;
    let mut out = BufWriter::new(File::create(annotations_dir.join(ANNOTATION_OUTPUT))?);
    for line in &annotation_lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    eprintln!(
        "wrote {} annotations ({MISSING_IDS} per source missing from the shards)",
        annotation_lines.len()
    );
    Ok(())
}

/// Annotation lines by source name and conversation ID.
type Templates = HashMap<(&'static str, String), String>;

/// The field that holds the messages' text, wherever it is nested.
const TEXT_FIELD: &str = "content";

/// The words of the pool's message text.
fn vocabulary(pool: &RecordBatch) -> Vec<String> {
    fn collect(array: &dyn Array, is_text: bool, words: &mut Vec<String>) {
        match array.data_type() {
            DataType::Utf8 if is_text => {
                for text in array.as_string::<i32>().iter().flatten() {
                    words.extend(text.split_whitespace().map(str::to_owned));
                }
            }
            DataType::List(_) => collect(array.as_list::<i32>().values().as_ref(), is_text, words),
            DataType::Struct(fields) => {
                for (field, child) in fields.iter().zip(array.as_struct().columns()) {
                    collect(child.as_ref(), field.name() == TEXT_FIELD, words);
                }
            }
            _ => {}
        }
    }
    let mut words = Vec::new();
    for (field, column) in pool.schema().fields().iter().zip(pool.columns()) {
        collect(column.as_ref(), field.name() == TEXT_FIELD, &mut words);
    }
    words.sort();
    words.dedup();
    if words.is_empty() {
        words.push("text".to_owned());
    }
    words
}

/// `array` with every message text replaced by random words of about the same length.
fn fresh_text(array: &ArrayRef, is_text: bool, rng: &mut Rng, words: &[String]) -> ArrayRef {
    match array.data_type() {
        DataType::Utf8 if is_text => {
            let texts: StringArray = array
                .as_string::<i32>()
                .iter()
                .map(|text| {
                    text.map(|text| {
                        let mut fresh = String::with_capacity(text.len() + 16);
                        while fresh.len() < text.len() {
                            if !fresh.is_empty() {
                                fresh.push(' ');
                            }
                            fresh.push_str(&words[rng.below(words.len())]);
                        }
                        fresh
                    })
                })
                .collect();
            Arc::new(texts)
        }
        DataType::List(field) => {
            let list = array.as_list::<i32>();
            Arc::new(ListArray::new(
                Arc::clone(field),
                list.offsets().clone(),
                fresh_text(list.values(), is_text, rng, words),
                list.nulls().cloned(),
            ))
        }
        DataType::Struct(fields) => {
            let parts = array.as_struct();
            let columns = fields
                .iter()
                .zip(parts.columns())
                .map(|(field, child)| fresh_text(child, field.name() == TEXT_FIELD, rng, words))
                .collect();
            Arc::new(StructArray::new(
                fields.clone(),
                columns,
                parts.nulls().cloned(),
            ))
        }
        _ => Arc::clone(array),
    }
}

/// The fixture annotation lines, by source and conversation ID.
fn annotation_templates(fixtures: &Path) -> Result<Templates, Box<dyn std::error::Error>> {
    let path = fixtures
        .join("datasets")
        .join(ANNOTATIONS_REPO)
        .join(ANNOTATION_TEMPLATE);
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
fn read_pool(dir: &Path) -> Result<RecordBatch, Box<dyn std::error::Error>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let mut batches = Vec::new();
    for path in paths {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?.build()?;
        for batch in reader {
            batches.push(batch?);
        }
    }
    let schema = batches.first().ok_or("no fixture rows")?.schema();
    Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
}

fn copy_readme(fixtures: &Path, out: &Path, repo: &str) -> std::io::Result<()> {
    let from = fixtures.join("datasets").join(repo).join("README.md");
    if from.exists() {
        std::fs::copy(from, out.join("datasets").join(repo).join("README.md"))?;
    }
    Ok(())
}
