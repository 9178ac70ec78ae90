//! `healthchat generate`: the whole data flow, from the annotation download to the renamed
//! artifacts directory, as a page of named steps; each step is one stage's module.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Result;

use crate::annotations::AnnotationFile;
use crate::artifacts::{ArtifactNames, ArtifactWriter};
use crate::cli::GenerateArgs;
use crate::dataset::{self, DatasetWriter, SourceSchemas};
use crate::exit::MissingConversations;
use crate::hub::{Hub, HubSettings};
use crate::in_order;
use crate::manifest::Manifest;
use crate::printer::Printer;
use crate::reproduce::Rebuild;
use crate::row_cache::RowCache;
use crate::schedule::{self, OpenedAhead, ScanReports, ScanSettings};
use crate::shards::{self, FindError, SourcePlan, SourceShards};
use crate::signal::interruption;
use crate::source::Source;
use crate::summary::Summary;
use crate::tally::Tally;

pub(super) async fn run(mut args: GenerateArgs) -> Result<()> {
    let printer = match args.progress_json {
        true => Printer::with_json_progress(args.quiet),
        false => Printer::new(args.quiet),
    };
    // `--manifest`: the earlier build's settings replace the flags it conflicts with.
    let rebuild = args.manifest.as_deref().map(Rebuild::read).transpose()?;
    if let Some(rebuild) = &rebuild {
        rebuild.apply(&mut args);
        for line in rebuild.describe() {
            printer.status(line);
        }
    }
    let hub = Hub::new(HubSettings::from_env().reporting_retries_to(printer.clone()))?;
    let outcome = tokio::select! {
        summary = generate(hub, &args, rebuild.as_ref(), &printer) => summary,
        signal = interruption() => Err(match signal {
            Ok(interrupted) => interrupted.into(),
            Err(error) => error.into(),
        }),
    };
    printer.end_progress(outcome.is_ok());
    let mut summary = match (outcome, &rebuild) {
        (Ok(summary), _) => summary,
        (Err(error), Some(rebuild)) => return Err(rebuild.explain(error)),
        (Err(error), None) => return Err(error),
    };
    summary.reproduction = rebuild.map(|rebuild| rebuild.compare(&summary.manifest));
    for line in summary.lines() {
        printer.status(line);
    }
    for line in summary.reproduction.iter().flat_map(|r| r.lines()) {
        printer.status(line);
    }
    if args.json {
        printer.result(summary.to_json())?;
    } else {
        printer.result(summary.directory.display())?;
    }
    // A build that is not the earlier one says so first: its missing conversations are part of
    // the difference.
    if let Some(reproduction) = &summary.reproduction
        && !reproduction.reproduced
    {
        return Err(reproduction.error(&summary.directory).into());
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

/// The build `args` ask for; with `rebuild`, its manifest in the earlier build's terms.
async fn generate(
    hub: Hub,
    args: &GenerateArgs,
    rebuild: Option<&Rebuild>,
    printer: &Printer,
) -> Result<Summary> {
    let started = Instant::now();
    let hub = Arc::new(hub);
    let cache = (!args.no_cache).then(|| RowCache::new(hub.settings().row_cache_dir.clone()));
    shards::check_offline(
        hub.settings().offline,
        args.source_dir.as_deref(),
        cache.as_ref(),
    )?;
    let included = Source::included(&args.sources);
    let (annotations, (shards, mut ahead)) =
        annotations_and_shards(&hub, args, &included, cache.as_ref(), printer).await?;
    let index = &annotations.index;
    let version = annotations.version.to_string();
    if !args.reference_only {
        dataset::check_width(index)?;
    }
    let plans = shards::plan_sources(index, shards, printer)?;
    check_offline_rows(&hub, args, cache.as_ref(), &plans).await?;

    let names = ArtifactNames::new(&version, &included);
    let mut writer = ArtifactWriter::create(&args.output_dir, &names)?;
    let schemas = Arc::new(SourceSchemas::new());
    let mut dataset = (!args.reference_only)
        .then(|| DatasetWriter::new(writer.directory(), &names, index, Arc::clone(&schemas)));
    let reports = ScanReports {
        schemas: Arc::clone(&schemas),
        verifications: Arc::default(),
        fetched: Arc::default(),
    };
    let feeds = schedule::start_scans(
        hub.api(),
        &plans,
        &shards::progress_bars(printer, &plans),
        index,
        &reports,
        ScanSettings {
            version: &version,
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
    let mut duplicates = 0;
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
        } else {
            duplicates += 1;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await?;

    let mut manifest = Manifest::assemble(
        &annotations,
        &plans,
        args.source_dir.as_deref(),
        &reports.verifications,
        &tally,
        &included,
    );
    if let Some(rebuild) = rebuild {
        rebuild.restore_revisions(&mut manifest);
    }
    if let Some(dataset) = dataset {
        let planned: Vec<Source> = plans.iter().map(|plan| plan.source).collect();
        let parquet_files = dataset.finish(&planned, &mut writer)?;
        let version = &annotations.version;
        dataset::write_card(
            &mut writer,
            &manifest,
            version,
            &included,
            &parquet_files,
            &names,
        )?;
    }
    let (directory, manifest) = writer.finish(|artifacts| Manifest {
        artifacts,
        ..manifest
    })?;
    Ok(Summary {
        directory,
        manifest,
        repairs: tally.repairs,
        duplicates,
        bytes_fetched: reports.fetched.load(Ordering::Relaxed),
        fetched_from_disk: args.source_dir.is_some(),
        elapsed: started.elapsed(),
        reproduction: None,
    })
}

/// The annotation file, and the included sources' shards with the first of them opened, found
/// together. On a distant link the shards' first bytes are on the way by the time the scans
/// know what to look for. Shards are opened only once the version's file is known to exist,
/// and an error on the annotations' side stops the sources' side at once.
async fn annotations_and_shards(
    hub: &Hub,
    args: &GenerateArgs,
    included: &[Source],
    cache: Option<&RowCache>,
    printer: &Printer,
) -> Result<(AnnotationFile, (SourceShards, OpenedAhead))> {
    let (chosen, version_chosen) = tokio::sync::oneshot::channel();
    let found = move || {
        let _ = chosen.send(());
    };
    let annotations = async {
        match &args.annotations {
            Some(path) => AnnotationFile::read_local(path, args.version, found).await,
            None => {
                let revision = &args.revisions.annotations_revision;
                AnnotationFile::download(hub, revision, args.version, printer, found).await
            }
        }
    };
    let repos = shards::source_repos(included, &args.revisions);
    let finding = async {
        let shards =
            shards::find_all_shards(hub.api(), &repos, args.source_dir.as_deref(), cache).await;
        let ahead = match version_chosen.await {
            Ok(()) => {
                OpenedAhead::start(hub.api(), &shards, usize::from(args.jobs), cache, printer)
            }
            Err(_) => OpenedAhead::default(),
        };
        Ok((shards, ahead))
    };
    tokio::try_join!(annotations, finding)
}

/// Offline from the cache of rows (no `--source-dir`), every wanted row must be there, as no
/// shard's bytes can be.
async fn check_offline_rows(
    hub: &Hub,
    args: &GenerateArgs,
    cache: Option<&RowCache>,
    plans: &[SourcePlan],
) -> Result<()> {
    let Some(cache) = cache.filter(|_| hub.settings().offline && args.source_dir.is_none()) else {
        return Ok(());
    };
    let needing = schedule::shards_needing_bytes(plans, cache).await?;
    if !needing.is_empty() {
        return Err(FindError::OfflineRowsMissing {
            cache: cache.root().to_owned(),
            shards: needing,
        }
        .into());
    }
    Ok(())
}
