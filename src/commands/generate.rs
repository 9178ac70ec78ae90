//! `healthchat generate`: the whole data flow, from the annotation download to the renamed
//! artifacts directory, as a page of named steps; each step is one stage's module.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::annotations::AnnotationIndex;
use crate::artifacts::{ArtifactNames, ArtifactWriter};
use crate::cli::GenerateArgs;
use crate::dataset::{CARD_FILE_NAME, Card, DatasetWriter, SourceSchemas, render_card};
use crate::digest::Sha256;
use crate::exit::MissingConversations;
use crate::hub::{CachedFile, DatasetRepo, Hub, HubError, HubSettings, ListedFile};
use crate::in_order;
use crate::manifest::{Manifest, Repository, RepositoryFile};
use crate::printer::{Printer, SourceBar};
use crate::row_cache::RowCache;
use crate::schedule::{self, OpenedAhead, ScanReports, ScanSettings};
use crate::shards::{SourcePlan, find_all_shards, plan_sources};
use crate::signal::interruption;
use crate::source::Source;
use crate::summary::Summary;
use crate::tally::Tally;
use crate::version::{self, ANNOTATIONS_REPO, AnnotationVersion};

pub async fn run(args: GenerateArgs) -> Result<()> {
    let printer = Printer::new(args.quiet);
    let hub = Hub::new(HubSettings::from_env())?;
    let summary = tokio::select! {
        summary = generate(hub, &args, &printer) => summary?,
        signal = interruption() => return Err(signal?.into()),
    };
    for line in summary.lines() {
        printer.status(line);
    }
    if args.json {
        printer.result(summary.to_json())?;
    } else {
        printer.result(summary.directory.display())?;
    }
    let missing = summary.manifest.missing();
    if args.strict && missing > 0 {
        return Err(MissingConversations {
            missing,
            directory: summary.directory,
        }
        .into());
    }
    Ok(())
}

async fn generate(hub: Hub, args: &GenerateArgs, printer: &Printer) -> Result<Summary> {
    let started = Instant::now();
    let hub = Arc::new(hub);
    let cache = (!args.no_cache).then(|| RowCache::new(hub.settings().row_cache_dir.clone()));
    check_offline(&hub, args.source_dir.as_deref(), cache.as_ref())?;
    let included = included_sources(&args.sources);
    // The sources are pinned, listed and resolved, and the first shards opened, while the
    // annotation file is chosen, downloaded and parsed: on a distant link the shards' first
    // bytes are on the way by the time the scans know what to look for. Shards are opened
    // only once the version's file is known to exist, and an error on the annotations' side
    // stops the sources' side at once.
    let source_repos = source_repos(args, &included);
    let (chosen, version_chosen) = tokio::sync::oneshot::channel();
    let finding = async {
        let shards = find_all_shards(
            hub.api(),
            &source_repos,
            args.source_dir.as_deref(),
            cache.as_ref(),
        )
        .await;
        let ahead = match version_chosen.await {
            Ok(()) => {
                OpenedAhead::start(hub.api(), &shards, usize::from(args.jobs), cache.as_ref())
            }
            Err(_) => OpenedAhead::default(),
        };
        Ok((shards, ahead))
    };
    let ((annotations_repo, version, annotations), (shards, mut ahead)) =
        tokio::try_join!(annotation_file(&hub, args, printer, chosen), finding)?;
    let plans = plan_sources(&annotations.index, shards, printer)?;
    if let Some(cache) = &cache
        && hub.settings().offline
        && args.source_dir.is_none()
    {
        let needing = schedule::shards_needing_bytes(&plans, cache).await?;
        if !needing.is_empty() {
            bail!(
                "HF_HUB_OFFLINE is set, but the cache of rows in {} does not hold all the rows \
                 this run wants from {} shards: {}.\nNext: run once online (unset \
                 HF_HUB_OFFLINE), or pass --source-dir with a local copy of the sources.",
                cache.root().display(),
                needing.len(),
                needing.join(", ")
            );
        }
    }

    let names = ArtifactNames::new(&version.to_string(), subset_name(&included).as_deref());
    let mut writer = ArtifactWriter::create(&args.output_dir, &names)?;
    let schemas = Arc::new(SourceSchemas::new());
    let mut dataset = (!args.reference_only).then(|| {
        DatasetWriter::new(
            writer.directory(),
            &names,
            &annotations.index,
            Arc::clone(&schemas),
        )
    });
    let bars = progress_bars(printer, &plans);
    let reports = ScanReports {
        schemas: Arc::clone(&schemas),
        verifications: Arc::default(),
        fetched: Arc::default(),
    };
    let feeds = schedule::start_scans(
        hub.api(),
        &plans,
        &bars,
        &annotations.index,
        &reports,
        ScanSettings {
            version: &version.to_string(),
            jobs: usize::from(args.jobs),
            cache: cache.as_ref(),
        },
        &mut ahead,
    );
    // Shards opened for sources this version wants nothing from are cancelled.
    drop(ahead);
    let mut tally = Tally::new(
        plans
            .iter()
            .map(|plan| (plan.source, plan.targets.as_ref())),
    );
    let spool_dir = writer.directory().to_owned();
    in_order::hand_over(feeds, &spool_dir, |source, mut record| {
        if tally.is_first(source, &record.id) {
            writer.append(
                &record.jsonl,
                &record.full_review,
                &record.sycophancy_review,
            )?;
            if let Some(dataset) = &mut dataset {
                dataset.append(source, &record.id, std::mem::take(&mut record.record))?;
            }
            tally.count(record);
        }
        Ok::<_, anyhow::Error>(())
    })
    .await?;

    let mut repositories = vec![annotations.repository(&annotations_repo, &version)];
    repositories.extend(plans.iter().map(|plan| {
        Repository::of_source(plan, args.source_dir.as_deref(), &reports.verifications)
    }));
    let mut manifest = Manifest {
        tool: format!("healthchat {}", env!("CARGO_PKG_VERSION")),
        annotation_version: version.to_string(),
        repositories,
        sources: tally.sources(&annotations.index, &included),
        conversations: tally.conversations,
        full_review_rows: tally.full_review_rows,
        sycophancy_review_rows: tally.sycophancy_review_rows,
        specialties: std::mem::take(&mut tally.specialties),
        included_sources: included.iter().map(|s| s.name().to_owned()).collect(),
        artifacts: Vec::new(),
    };
    if let Some(dataset) = dataset {
        let planned: Vec<Source> = plans.iter().map(|plan| plan.source).collect();
        let mut parquet_files = Vec::new();
        for (source, artifact, file) in dataset.finish(&planned)? {
            parquet_files.push((source, artifact.name.clone()));
            writer.add(artifact, file);
        }
        write_card(
            &mut writer,
            &manifest,
            &version,
            &included,
            &parquet_files,
            &names,
        )?;
    }
    let (directory, manifest) = writer.finish(|artifacts| {
        manifest.artifacts = artifacts;
        manifest
    })?;
    let rows_from_cache = manifest
        .repositories
        .iter()
        .flat_map(|repo| &repo.files)
        .map(|file| file.rows_from_cache)
        .sum();
    Ok(Summary {
        directory,
        manifest,
        repairs: tally.repairs,
        bytes_fetched: reports.fetched.load(Ordering::Relaxed),
        rows_from_cache,
        fetched_from_disk: args.source_dir.is_some(),
        elapsed: started.elapsed(),
    })
}

/// Each included source's repository at the revision asked for.
fn source_repos(args: &GenerateArgs, included: &[Source]) -> Vec<(Source, DatasetRepo)> {
    included
        .iter()
        .map(|&source| {
            let revision = match source {
                Source::Lmsys => &args.revisions.lmsys_revision,
                Source::Wildchat => &args.revisions.wildchat_revision,
            };
            (source, DatasetRepo::new(source.repo_id(), revision))
        })
        .collect()
}

/// `--sources`, each once, in scan order.
fn included_sources(requested: &[Source]) -> Vec<Source> {
    Source::ALL
        .into_iter()
        .filter(|source| requested.contains(source))
        .collect()
}

/// The name a subset of the sources gives its directory and files (None for all of them).
fn subset_name(included: &[Source]) -> Option<String> {
    (included.len() < Source::ALL.len()).then(|| {
        included
            .iter()
            .map(|source| source.name())
            .collect::<Vec<_>>()
            .join("_")
    })
}

/// The annotation repository pinned, the version chosen and its annotation file loaded (said on
/// `chosen` once the file is known to exist).
async fn annotation_file(
    hub: &Hub,
    args: &GenerateArgs,
    printer: &Printer,
    chosen: tokio::sync::oneshot::Sender<()>,
) -> Result<(DatasetRepo, AnnotationVersion, Annotations)> {
    let annotations_repo = hub
        .api()
        .pin(&DatasetRepo::new(
            ANNOTATIONS_REPO,
            &args.revisions.annotations_revision,
        ))
        .await?;
    // The annotation files are listed once: here, when the newest version is wanted, else by
    // `load_annotations` (offline, the cache answers).
    let listed = match args.version.is_none() && !hub.settings().offline {
        true => Some(version::annotation_files(hub, &annotations_repo).await?),
        false => None,
    };
    let version = choose_version(
        hub,
        &annotations_repo,
        args.version,
        listed.as_deref(),
        printer,
    )
    .await?;
    let annotations =
        load_annotations(hub, &annotations_repo, &version, listed, printer, chosen).await?;
    Ok((annotations_repo, version, annotations))
}

/// One line for all sources together, above a bar per source.
fn progress_bars(printer: &Printer, plans: &[SourcePlan]) -> Vec<Arc<SourceBar>> {
    let overall = printer.overall_bar(plans.iter().map(SourcePlan::total_bytes).sum());
    plans
        .iter()
        .map(|plan| {
            Arc::new(printer.source_bar(
                plan.source,
                plan.total_bytes(),
                plan.targets.len(),
                plan.shards.len(),
                &overall,
            ))
        })
        .collect()
}

/// The dataset card, `README.md`, among the artifacts.
fn write_card(
    writer: &mut ArtifactWriter,
    manifest: &Manifest,
    version: &AnnotationVersion,
    included: &[Source],
    parquet_files: &[(Source, String)],
    names: &ArtifactNames,
) -> Result<()> {
    let text = render_card(&Card {
        version,
        tool: &manifest.tool,
        sources: included,
        parquet_files,
        reference_files: &names.reference_files(),
        counts: &manifest.sources,
        repositories: &manifest.repositories,
        specialties: &manifest.specialties,
        conversations: manifest.conversations,
    });
    writer.add_file(CARD_FILE_NAME, text.as_bytes())?;
    Ok(())
}

/// Offline, the rows come from the cache of rows or the shards from `--source-dir`.
fn check_offline(hub: &Hub, source_dir: Option<&Path>, cache: Option<&RowCache>) -> Result<()> {
    if hub.settings().offline && source_dir.is_none() && cache.is_none() {
        bail!(
            "HF_HUB_OFFLINE is set with --no-cache: the source datasets are streamed from the Hub, \
             and this run may not use the cache of rows.\nNext: drop --no-cache, or download the \
             sources first (`hf download lmsys/lmsys-chat-1m --repo-type dataset --local-dir \
             DIR/lmsys/lmsys-chat-1m`, and the same for allenai/WildChat-1M) and pass \
             --source-dir DIR, or unset HF_HUB_OFFLINE."
        );
    }
    Ok(())
}

/// `--version`, or the newest version on the Hub (offline: in the cache), said aloud.
async fn choose_version(
    hub: &Hub,
    repo: &DatasetRepo,
    requested: Option<AnnotationVersion>,
    listed: Option<&[(AnnotationVersion, ListedFile)]>,
    printer: &Printer,
) -> Result<AnnotationVersion> {
    if let Some(version) = requested {
        return Ok(version);
    }
    let newest = version::newest(hub, repo, listed).await?;
    printer.status(format!(
        "Using the newest annotation version, {newest} (pin it with --version {newest})"
    ));
    Ok(newest)
}

/// The annotation file in the Hugging Face cache and its index.
struct Annotations {
    file: CachedFile,
    size: u64,
    sha256: String,
    index: Arc<AnnotationIndex>,
}

impl Annotations {
    fn repository(&self, repo: &DatasetRepo, version: &AnnotationVersion) -> Repository {
        Repository {
            id: repo.id().to_owned(),
            revision: repo.revision().to_owned(),
            commit: self.file.commit().map(str::to_owned),
            source_dir: None,
            files: vec![RepositoryFile {
                path: version.file_name(),
                size: self.size,
                sha256: Some(self.sha256.clone()),
                verified: self.file.verified(),
                verified_against: self
                    .file
                    .verified()
                    .then(|| "its blob name in the Hugging Face cache".to_owned()),
                rows_from_cache: 0,
                bytes_fetched: 0,
            }],
        }
    }
}

/// Downloads the version's annotation file into the cache (or finds it there; offline, the cache
/// alone answers) and indexes it, with the repository's annotation files `listed` already or
/// listed here. A version without a file is reported with the versions that exist; one with a
/// file is said on `found` before the file is fetched.
async fn load_annotations(
    hub: &Hub,
    repo: &DatasetRepo,
    version: &AnnotationVersion,
    listed: Option<Vec<(AnnotationVersion, ListedFile)>>,
    printer: &Printer,
    found: tokio::sync::oneshot::Sender<()>,
) -> Result<Annotations> {
    let file_name = version.file_name();
    printer.status(format!("Fetching {file_name} from {}", repo.id()));
    let file = if hub.settings().offline {
        hub.cache()
            .lookup(repo, &file_name)
            .await?
            .ok_or_else(|| HubError::NotCached {
                repo: repo.id().to_owned(),
                file: file_name.clone(),
                cache: hub.cache().dir().to_owned(),
            })?
    } else {
        let listed = match listed {
            Some(listed) => listed,
            None => version::annotation_files(hub, repo).await?,
        };
        let Some((_, file)) = listed.iter().find(|(listed, _)| listed == version) else {
            let available: Vec<AnnotationVersion> = listed.iter().map(|(v, _)| *v).collect();
            bail!(version::unknown_version_message(version, &available));
        };
        let _ = found.send(());
        hub.cached_download(repo, file).await?
    };
    // Reading, hashing and indexing take a CPU for a while: off the runtime's threads, so the
    // shard listings and resolutions joined with this go on meanwhile.
    let path = file.path().to_owned();
    let (size, sha256, index) = tokio::task::spawn_blocking(move || {
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "could not read the cached annotation file {}",
                path.display()
            )
        })?;
        let mut hash = Sha256::new();
        hash.update(text.as_bytes());
        let (size, sha256) = hash.finish();
        let index = AnnotationIndex::from_jsonl(text)
            .with_context(|| format!("{file_name} cannot be used"))?;
        anyhow::Ok((size, sha256, index))
    })
    .await
    .expect("indexing the annotations does not panic")?;
    Ok(Annotations {
        file,
        size,
        sha256,
        index: Arc::new(index),
    })
}
