//! `healthchat generate`: the whole data flow, from the annotation download to the renamed
//! artifacts directory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use tokio::sync::{Semaphore, mpsc};

use crate::annotations::AnnotationIndex;
use crate::artifacts::{self, ArtifactWriter};
use crate::hub::{DatasetRepo, Hub, HubFile};
use crate::manifest::{Manifest, Repository, RepositoryFile, SourceCounts};
use crate::merge::{self, PreparedRecord, ShardEvent, ShardFeed};
use crate::progress::{Progress, human_bytes};
use crate::scan::{Shard, SourceRow};
use crate::source::Source;
use crate::version::{self, AnnotationVersion};
use crate::{pyjson, record, review};

pub const ANNOTATIONS_REPO: &str = "yahskapar/HealthChat-11K";

pub struct GenerateOptions {
    /// `None`: the newest version on the Hub (or in the cache, offline).
    pub version: Option<AnnotationVersion>,
    /// The directory in which `HealthChat-11K_v{V}_artifacts/` is created.
    pub output_dir: PathBuf,
    /// Shards streamed at once.
    pub jobs: usize,
    pub revisions: Revisions,
    /// Read the source shards from here (laid out as on the Hub) instead of the Hub.
    pub source_dir: Option<PathBuf>,
}

/// The branch, tag or commit of each repository.
#[derive(Debug, Clone)]
pub struct Revisions {
    pub annotations: String,
    pub lmsys: String,
    pub wildchat: String,
}

impl Revisions {
    fn of(&self, source: Source) -> &str {
        match source {
            Source::Lmsys => &self.lmsys,
            Source::Wildchat => &self.wildchat,
        }
    }
}

/// What a run did: the manifest written beside the artifacts, and what only the terminal gets.
#[derive(Debug)]
pub struct Summary {
    pub directory: PathBuf,
    pub manifest: Manifest,
    /// Annotation inputs the reference would crash on, and what was done with them.
    pub repairs: Vec<String>,
    pub bytes_read: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// The `--json` summary: the run's directory, time and repairs, and the manifest.
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct JsonSummary<'a> {
            directory: &'a Path,
            elapsed_seconds: f64,
            bytes_read: u64,
            missing: usize,
            repairs: &'a [String],
            manifest: &'a Manifest,
        }
        serde_json::to_string_pretty(&JsonSummary {
            directory: &self.directory,
            elapsed_seconds: self.elapsed.as_secs_f64(),
            bytes_read: self.bytes_read,
            missing: self.manifest.missing(),
            repairs: &self.repairs,
            manifest: &self.manifest,
        })
        .expect("a summary serialises")
    }
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
    if hub.settings().offline && options.source_dir.is_none() {
        bail!(
            "HF_HUB_OFFLINE is set, but the source datasets are streamed from the Hub and are not \
             cached.\nNext: download them first (`hf download lmsys/lmsys-chat-1m --repo-type \
             dataset --local-dir DIR/lmsys/lmsys-chat-1m`, and the same for allenai/WildChat-1M) \
             and pass --source-dir DIR, or unset HF_HUB_OFFLINE."
        );
    }
    let annotations_repo = DatasetRepo::new(ANNOTATIONS_REPO, &options.revisions.annotations);
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
    let annotation = match hub
        .cached_download(&annotations_repo, &annotation_file)
        .await
    {
        Err(crate::hub::HubError::EntryNotFound { .. }) => {
            let available = version::available(&hub, &annotations_repo).await?;
            bail!(version::unknown_version_message(&version, &available));
        }
        other => other?,
    };
    let text = std::fs::read_to_string(&annotation.path).with_context(|| {
        format!(
            "could not read the cached annotation file {}",
            annotation.path.display()
        )
    })?;
    let annotation_size = text.len() as u64;
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
        let repo = DatasetRepo::new(source.repo_id(), options.revisions.of(source));
        let shards = match &options.source_dir {
            Some(dir) => local_shards(dir, &repo)?,
            None => resolve_shards(&hub, &repo, options.jobs).await?,
        };
        plans.push((source, Arc::new(targets), shards));
    }

    let mut writer = ArtifactWriter::create(&options.output_dir, &version.to_string())?;
    let mut counts = Counts::default();

    // Every shard gets a channel; scans run `jobs` at a time in shard order, each reading its
    // footer only when it starts, and the merge hands records on in shard order, so the output is
    // the sequential one. Row groups decode one per core at most, whatever --jobs is.
    let decoders = Arc::new(Semaphore::new(crate::cores()));
    let mut feeds = Vec::new();
    let mut scans = Vec::new();
    let mut sources_progress = Vec::new();
    let mut remaining: HashMap<Source, HashSet<String>> = HashMap::new();
    for (source, targets, files) in &plans {
        let bar = progress.source_bar(*source, files.iter().map(|file| file.size).sum());
        let source_progress = Arc::new(SourceProgress::new(targets.len(), files.len(), bar));
        sources_progress.push(Arc::clone(&source_progress));
        remaining.insert(*source, targets.as_ref().clone());
        for file in files {
            let (sender, events) = mpsc::unbounded_channel::<ShardEvent>();
            feeds.push(ShardFeed {
                source: *source,
                path: file.path.clone(),
                events,
            });
            let job = ScanJob {
                hub: Arc::clone(&hub),
                source: *source,
                file: file.clone(),
                targets: Arc::clone(targets),
                index: Arc::clone(&index),
                version: version.to_string(),
                progress: Arc::clone(&source_progress),
                decoders: Arc::clone(&decoders),
            };
            scans.push(job.run(sender));
        }
    }
    // Scans start in shard order, `jobs` at a time, so the shard the merge waits for is always
    // among those running.
    let semaphore = Arc::new(Semaphore::new(options.jobs.max(1)));
    tokio::spawn(async move {
        for scan in scans {
            let Ok(permit) = Arc::clone(&semaphore).acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                scan.await;
                drop(permit);
            });
        }
    });

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
        counts.conversations += 1;
        counts.full_review_rows += record.full_review_rows;
        counts.sycophancy_review_rows += record.sycophancy_rows;
        *counts.specialties.entry(record.specialty).or_default() += 1;
        counts.repairs.extend(record.repairs);
        Ok(())
    })
    .await?;
    let bytes_read = sources_progress.iter().map(|p| p.bytes_read()).sum();

    let mut sources = Vec::new();
    for source in Source::ALL {
        let wanted: Vec<&str> = index.ids_in_order(source).collect();
        let still_missing = remaining.get(&source);
        let missing: Vec<String> = wanted
            .iter()
            .filter(|id| still_missing.is_some_and(|m| m.contains(**id)))
            .map(|id| id.to_string())
            .collect();
        sources.push(SourceCounts {
            source: source.name().to_owned(),
            repository: source.repo_id().to_owned(),
            wanted: wanted.len() as u64,
            found: (wanted.len() - missing.len()) as u64,
            missing,
        });
    }
    let mut repositories = vec![Repository {
        id: annotations_repo.id.clone(),
        revision: annotations_repo.revision.clone(),
        commit: annotation.commit.clone(),
        source_dir: None,
        files: vec![RepositoryFile {
            path: annotation_file.clone(),
            size: annotation_size,
            etag: annotation.etag.clone(),
        }],
    }];
    for (source, _, files) in &plans {
        repositories.push(Repository {
            id: source.repo_id().to_owned(),
            revision: options.revisions.of(*source).to_owned(),
            commit: files.iter().find_map(|file| file.commit.clone()),
            source_dir: options.source_dir.clone(),
            files: files
                .iter()
                .map(|file| RepositoryFile {
                    path: file.path.clone(),
                    size: file.size,
                    etag: file.etag.clone(),
                })
                .collect(),
        });
    }
    let Counts {
        conversations,
        full_review_rows,
        sycophancy_review_rows,
        specialties,
        repairs,
    } = counts;
    let (directory, manifest) = writer.finish(|artifacts| Manifest {
        tool: format!("healthchat {}", env!("CARGO_PKG_VERSION")),
        annotation_version: version.to_string(),
        repositories,
        sources,
        conversations,
        full_review_rows,
        sycophancy_review_rows,
        specialties,
        artifacts,
    })?;
    Ok(Summary {
        directory,
        manifest,
        repairs,
        bytes_read,
        elapsed: started.elapsed(),
    })
}

/// The scan of one shard, feeding the merge.
struct ScanJob {
    hub: Arc<Hub>,
    source: Source,
    file: HubFile,
    targets: Arc<HashSet<String>>,
    index: Arc<AnnotationIndex>,
    version: String,
    progress: Arc<SourceProgress>,
    decoders: Arc<Semaphore>,
}

impl ScanJob {
    /// Reads the shard's footer, streams its row groups and sends the wanted records, then
    /// `Done` or `Failed`.
    async fn run(self, events: mpsc::UnboundedSender<ShardEvent>) {
        let ScanJob {
            hub,
            source,
            file,
            targets,
            index,
            version,
            progress,
            decoders,
        } = self;
        let prepare = Arc::new(move |row: SourceRow| prepare(&index, &version, row));
        let emit = |record: PreparedRecord| {
            progress.saw(&record.id);
            let _ = events.send(ShardEvent::Record(record));
        };
        let size = file.size;
        let result = match Shard::open(&hub, source, file).await {
            Ok(shard) => {
                let data = shard.data_range();
                let scanned = Arc::new(shard)
                    .scan(&hub, &decoders, targets, prepare, emit, |bytes| {
                        progress.read(bytes)
                    })
                    .await;
                // The footer and the bytes around the row groups count as done too.
                progress.read(size - (data.end - data.start));
                scanned
            }
            Err(error) => Err(error),
        };
        if result.is_ok() {
            progress.shard_done();
        }
        let _ = events.send(match result {
            Ok(()) => ShardEvent::Done,
            Err(error) => ShardEvent::Failed(error),
        });
    }
}

/// A source's progress bar as its scans report: the distinct wanted IDs found so far (the merge
/// decides what is written, and comes to the same number), and the bar finished with the last
/// shard rather than with the whole run.
struct SourceProgress {
    found: std::sync::Mutex<HashSet<String>>,
    wanted: usize,
    shards_left: std::sync::atomic::AtomicUsize,
    bar: ProgressBar,
}

impl SourceProgress {
    fn new(wanted: usize, shards: usize, bar: ProgressBar) -> SourceProgress {
        bar.set_message(format!("0/{wanted} found"));
        SourceProgress {
            found: std::sync::Mutex::new(HashSet::new()),
            wanted,
            shards_left: std::sync::atomic::AtomicUsize::new(shards),
            bar,
        }
    }

    fn read(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn bytes_read(&self) -> u64 {
        self.bar.position()
    }

    fn saw(&self, id: &str) {
        let mut found = self.found.lock().expect("no scan panics holding the lock");
        if !found.contains(id) {
            found.insert(id.to_owned());
            self.bar
                .set_message(format!("{}/{} found", found.len(), self.wanted));
        }
    }

    fn shard_done(&self) {
        if self
            .shards_left
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.bar.finish();
        }
    }
}

/// What the merge counts as records are written.
#[derive(Default)]
struct Counts {
    conversations: u64,
    full_review_rows: u64,
    sycophancy_review_rows: u64,
    specialties: BTreeMap<String, u64>,
    repairs: Vec<String>,
}

/// The shards of `repo` in a local copy laid out as on the Hub: `DIR/{owner}/{name}/data/` (as
/// `hf download --local-dir DIR/{owner}/{name}` writes it) or `DIR/datasets/{owner}/{name}/data/`.
fn local_shards(dir: &Path, repo: &DatasetRepo) -> Result<Vec<HubFile>> {
    let candidates = [dir.join(&repo.id), dir.join("datasets").join(&repo.id)];
    let Some(root) = candidates.iter().find(|c| c.join("data").is_dir()) else {
        bail!(
            "--source-dir {} holds no copy of {}: looked for {}\nNext: download it with `hf \
             download {} --repo-type dataset --local-dir {}`.",
            dir.display(),
            repo.id,
            candidates
                .iter()
                .map(|c| c.join("data").display().to_string())
                .collect::<Vec<_>>()
                .join(" and "),
            repo.id,
            candidates[0].display()
        );
    };
    let mut paths: Vec<String> = std::fs::read_dir(root.join("data"))
        .with_context(|| format!("could not list {}", root.join("data").display()))?
        .flatten()
        .map(|entry| format!("data/{}", entry.file_name().to_string_lossy()))
        .filter(|path| is_shard(path))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!(
            "{} holds no train-*.parquet shards",
            root.join("data").display()
        );
    }
    paths
        .into_iter()
        .map(|path| Ok(HubFile::local(repo, &path, root.join(&path))?))
        .collect()
}

fn is_shard(path: &str) -> bool {
    let name = path.strip_prefix("data/").unwrap_or_default();
    name.starts_with("train-") && name.ends_with(".parquet") && !name.contains('/')
}

/// Lists a source's `data/train-*.parquet` shards in path order and resolves each: this is where
/// a gated repo refuses us, before anything is streamed.
async fn resolve_shards(hub: &Arc<Hub>, repo: &DatasetRepo, jobs: usize) -> Result<Vec<HubFile>> {
    let mut paths: Vec<String> = hub
        .list_folder(repo, "data")
        .await?
        .into_iter()
        .filter(|path| is_shard(path))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!(
            "{} has no data/train-*.parquet shards at revision {}",
            repo.id,
            repo.revision
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
    let manifest = &summary.manifest;
    progress.status("");
    progress.status(format!(
        "HealthChat-11K v{} written to {}",
        manifest.annotation_version,
        summary.directory.display()
    ));
    progress.status(format!(
        "  {:<10} {:>8} {:>8} {:>8}",
        "source", "wanted", "found", "missing"
    ));
    for source in &manifest.sources {
        progress.status(format!(
            "  {:<10} {:>8} {:>8} {:>8}",
            source.source,
            source.wanted,
            source.found,
            source.missing.len()
        ));
    }
    for source in manifest.sources.iter().filter(|s| !s.missing.is_empty()) {
        progress.status(format!(
            "  Not found in {} ({} conversations):",
            source.repository,
            source.missing.len()
        ));
        for id in &source.missing {
            progress.status(format!("    - {id}"));
        }
    }
    progress.status("  Conversations per specialty:");
    for (specialty, count) in &manifest.specialties {
        progress.status(format!("    {count:>6}  {specialty}"));
    }
    progress.status(format!(
        "  {} conversations, {} full-review rows, {} sycophancy-review rows",
        manifest.conversations, manifest.full_review_rows, manifest.sycophancy_review_rows
    ));
    for artifact in &manifest.artifacts {
        progress.status(format!(
            "    {:>10}  {}",
            human_bytes(artifact.size),
            artifact.name
        ));
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
        "  Elapsed {seconds:.1} s; read {} of shards ({}/s)",
        human_bytes(summary.bytes_read),
        human_bytes((summary.bytes_read as f64 / seconds.max(1e-3)) as u64)
    ));
}
