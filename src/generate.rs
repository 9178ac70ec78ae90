//! `healthchat generate`: the whole data flow, from the annotation download to the renamed
//! artifacts directory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::{Semaphore, mpsc};

use crate::annotations::AnnotationIndex;
use crate::artifacts::{self, ArtifactWriter};
use crate::hub::{DatasetRepo, Hub, RemoteFile};
use crate::merge::{self, PreparedRecord, ShardEvent, ShardFeed};
use crate::progress::{Progress, human_bytes};
use crate::scan::{Shard, SourceRow};
use crate::source::Source;
use crate::version::{self, AnnotationVersion};
use crate::{pyjson, record, review};

pub const ANNOTATIONS_REPO: &str = "yahskapar/HealthChat-11K";

pub struct GenerateOptions {
    /// `None`: the newest version on the Hub.
    pub version: Option<AnnotationVersion>,
    /// The directory in which `HealthChat-11K_v{V}_artifacts/` is created.
    pub output_dir: PathBuf,
    /// Shards streamed at once.
    pub jobs: usize,
}

/// What a run did, for the closing summary.
#[derive(Debug, Default)]
pub struct Summary {
    pub version: String,
    pub directory: PathBuf,
    pub sources: Vec<SourceSummary>,
    pub specialties: BTreeMap<String, u64>,
    pub records: u64,
    pub full_review_rows: u64,
    pub sycophancy_rows: u64,
    pub repairs: Vec<String>,
    pub file_sizes: Vec<(String, u64)>,
    pub bytes_streamed: u64,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub struct SourceSummary {
    pub source: Source,
    pub wanted: usize,
    pub found: usize,
    /// In annotation-file order.
    pub missing: Vec<String>,
}

fn prepare(index: &AnnotationIndex, version: &str, source_row: SourceRow) -> PreparedRecord {
    let annotation = index
        .get(&source_row.id)
        .expect("the scan only emits IDs of the annotation index");
    let merged = record::merge(source_row.row, &annotation.record, version);
    let mut jsonl = Vec::new();
    pyjson::write_object(&mut jsonl, &merged);
    let rows = review::review_rows(&merged);
    PreparedRecord {
        id: source_row.id,
        jsonl,
        full_review: artifacts::encode_csv(&rows.full),
        full_review_rows: rows.full.len() as u64,
        sycophancy_review: artifacts::encode_csv(&rows.sycophancy),
        sycophancy_rows: rows.sycophancy.len() as u64,
        specialty: review::specialty(&merged).to_owned(),
        repairs: rows.repairs,
    }
}

pub async fn generate(hub: Hub, options: GenerateOptions, progress: &Progress) -> Result<Summary> {
    let started = Instant::now();
    let hub = Arc::new(hub);
    if hub.settings().offline {
        bail!(
            "HF_HUB_OFFLINE is set, but the source datasets are streamed from the Hub and are not \
             cached.\nNext: unset HF_HUB_OFFLINE and run again with network access."
        );
    }
    let annotations_repo = DatasetRepo::new(ANNOTATIONS_REPO, "main");
    let version = match options.version {
        Some(version) => version,
        None => {
            let newest = version::newest(&hub, &annotations_repo).await?;
            progress.status(format!(
                "Using the newest annotation version, {newest} (pin it with --version {newest})"
            ));
            newest
        }
    };
    let annotation_file = version.file_name();
    progress.status(format!(
        "Fetching {annotation_file} from {ANNOTATIONS_REPO}"
    ));
    let annotation_path = match hub
        .cached_download(&annotations_repo, &annotation_file)
        .await
    {
        Err(crate::hub::HubError::EntryNotFound { .. }) => {
            let available = version::available(&hub, &annotations_repo).await?;
            bail!(version::unknown_version_message(&version, &available));
        }
        other => other?,
    };
    let text = std::fs::read_to_string(&annotation_path).with_context(|| {
        format!(
            "could not read the cached annotation file {}",
            annotation_path.display()
        )
    })?;
    let index = Arc::new(
        AnnotationIndex::from_jsonl(text)
            .with_context(|| format!("{annotation_file} cannot be used"))?,
    );

    let mut plans = Vec::new();
    for source in Source::ALL {
        let targets = index.targets(source);
        if targets.is_empty() {
            continue;
        }
        progress.status(format!(
            "Looking for {} conversations in {}",
            targets.len(),
            source.repo_id()
        ));
        let shards = resolve_shards(&hub, source, options.jobs).await?;
        plans.push((source, Arc::new(targets), shards));
    }

    let mut writer = ArtifactWriter::create(&options.output_dir, &version.to_string())?;
    let mut summary = Summary {
        version: version.to_string(),
        ..Summary::default()
    };

    // Every shard gets a channel; scans run `jobs` at a time in shard order, each reading its
    // footer only when it starts, and the merge hands records on in shard order, so the output is
    // the sequential one.
    let semaphore = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut feeds = Vec::new();
    let mut bars = HashMap::new();
    let mut remaining: HashMap<Source, HashSet<String>> = HashMap::new();
    for (source, targets, files) in &plans {
        let bar = progress.source_bar(*source, files.iter().map(|file| file.size).sum());
        bar.set_message(format!("0/{} found", targets.len()));
        bars.insert(*source, bar.clone());
        remaining.insert(*source, targets.as_ref().clone());
        for file in files {
            let (sender, events) = mpsc::unbounded_channel::<ShardEvent>();
            feeds.push(ShardFeed {
                source: *source,
                path: file.path.clone(),
                events,
            });
            let permit = Arc::clone(&semaphore);
            let hub = Arc::clone(&hub);
            let file = file.clone();
            let targets = Arc::clone(targets);
            let index = Arc::clone(&index);
            let version = version.to_string();
            let bar = bar.clone();
            let source = *source;
            tokio::spawn(async move {
                let Ok(_permit) = permit.acquire_owned().await else {
                    return;
                };
                let prepare = Arc::new(move |row: SourceRow| prepare(&index, &version, row));
                let emit = |record| {
                    let _ = sender.send(ShardEvent::Record(record));
                };
                let size = file.size;
                let result = match Shard::open(&hub, source, file).await {
                    Ok(shard) => {
                        let data = shard.data_range();
                        let scanned = Arc::new(shard)
                            .scan(&hub, targets, prepare, emit, |bytes| bar.inc(bytes))
                            .await;
                        // The footer and the bytes around the row groups count as done too.
                        bar.inc(size - (data.end - data.start));
                        scanned
                    }
                    Err(error) => Err(error),
                };
                let _ = sender.send(match result {
                    Ok(()) => ShardEvent::Done,
                    Err(error) => ShardEvent::Failed(error),
                });
            });
        }
    }

    let totals: HashMap<Source, usize> = plans
        .iter()
        .map(|(source, targets, _)| (*source, targets.len()))
        .collect();
    let spool_dir = writer.directory().to_owned();
    merge::merge(feeds, &spool_dir, |source, record| {
        let wanted = remaining
            .get_mut(&source)
            .expect("every planned source has targets");
        if !wanted.remove(&record.id) {
            return Ok::<_, anyhow::Error>(());
        }
        writer.append(
            &record.jsonl,
            &record.full_review,
            &record.sycophancy_review,
        )?;
        summary.records += 1;
        summary.full_review_rows += record.full_review_rows;
        summary.sycophancy_rows += record.sycophancy_rows;
        *summary.specialties.entry(record.specialty).or_default() += 1;
        summary.repairs.extend(record.repairs);
        let total = totals[&source];
        bars[&source].set_message(format!("{}/{total} found", total - wanted.len()));
        Ok(())
    })
    .await?;
    for bar in bars.values() {
        bar.finish();
    }
    summary.bytes_streamed = bars.values().map(|bar| bar.position()).sum();

    let (directory, sizes) = writer.finish()?;
    summary.directory = directory;
    summary.file_sizes = artifacts::file_names(&summary.version)
        .into_iter()
        .zip(sizes)
        .collect();
    for source in Source::ALL {
        let wanted: Vec<&str> = index.ids_in_order(source).collect();
        let still_missing = remaining.get(&source);
        let missing: Vec<String> = wanted
            .iter()
            .filter(|id| still_missing.is_some_and(|m| m.contains(**id)))
            .map(|id| id.to_string())
            .collect();
        summary.sources.push(SourceSummary {
            source,
            wanted: wanted.len(),
            found: wanted.len() - missing.len(),
            missing,
        });
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Lists a source's `data/train-*.parquet` shards in path order and resolves each: this is where
/// a gated repo refuses us, before anything is streamed.
async fn resolve_shards(hub: &Arc<Hub>, source: Source, jobs: usize) -> Result<Vec<RemoteFile>> {
    let repo = DatasetRepo::new(source.repo_id(), "main");
    let mut paths: Vec<String> = hub
        .list_folder(&repo, "data")
        .await?
        .into_iter()
        .filter(|path| {
            let name = path.strip_prefix("data/").unwrap_or_default();
            name.starts_with("train-") && name.ends_with(".parquet") && !name.contains('/')
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!(
            "{} has no data/train-*.parquet shards at revision main",
            source.repo_id()
        );
    }
    let files = futures_util::stream::iter(paths)
        .map(|path| {
            let (hub, repo) = (Arc::clone(hub), repo.clone());
            async move { hub.resolve(&repo, &path).await }
        })
        .buffered(jobs.max(1))
        .try_collect()
        .await?;
    Ok(files)
}

pub fn print_summary(summary: &Summary, progress: &Progress) {
    progress.status("");
    progress.status(format!(
        "HealthChat-11K v{} written to {}",
        summary.version,
        summary.directory.display()
    ));
    progress.status(format!(
        "  {:<10} {:>8} {:>8} {:>8}",
        "source", "wanted", "found", "missing"
    ));
    for source in &summary.sources {
        progress.status(format!(
            "  {:<10} {:>8} {:>8} {:>8}",
            source.source.name(),
            source.wanted,
            source.found,
            source.missing.len()
        ));
    }
    for source in summary.sources.iter().filter(|s| !s.missing.is_empty()) {
        progress.status(format!(
            "  Not found in {} ({} conversations):",
            source.source.repo_id(),
            source.missing.len()
        ));
        for id in &source.missing {
            progress.status(format!("    - {id}"));
        }
    }
    progress.status("  Conversations per specialty:");
    for (specialty, count) in &summary.specialties {
        progress.status(format!("    {count:>6}  {specialty}"));
    }
    progress.status(format!(
        "  {} conversations, {} full-review rows, {} sycophancy-review rows",
        summary.records, summary.full_review_rows, summary.sycophancy_rows
    ));
    for (name, size) in &summary.file_sizes {
        progress.status(format!("    {:>10}  {name}", human_bytes(*size)));
    }
    if !summary.repairs.is_empty() {
        progress.status(format!(
            "  {} warnings: annotation inputs the reference generator cannot handle were repaired:",
            summary.repairs.len()
        ));
        for repair in &summary.repairs {
            progress.status(format!("    - {repair}"));
        }
    }
    let seconds = summary.elapsed.as_secs_f64();
    progress.status(format!(
        "  Streamed {} in {seconds:.1} s ({}/s)",
        human_bytes(summary.bytes_streamed),
        human_bytes((summary.bytes_streamed as f64 / seconds.max(1e-3)) as u64)
    ));
}
