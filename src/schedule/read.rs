//! One read of a shard, as its entry in the cache of rows plans it (FORMAT.md §11): the footer
//! kept (else the shard opened: footer read, body requested), the row groups the entry indexes
//! but lacks wanted rows of fetched alone, the rest of the file (all of it without an entry)
//! streamed, hashed and decoded, and the rows the entry keeps added in file order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ahead::OpenedShard;
use super::job::ShardScan;
use super::ledger::{FoundGroups, FoundRow, Ledger, Read};
use crate::record::{PreparedRecord, prepare};
use crate::row_cache::{GroupRun, ReadPlan, ShardEntry, StoredRow};
use crate::scan::{ReadKind, ScanError, ScanRequest, Shard, ShardProblem, SourceRow};
use crate::shards::{ShardFile, ShardReader};

impl ShardScan {
    /// One read of `file`, its footer from `entry` or from `opened` (the shard opened ahead)
    /// or fetched now; what is decoded goes into `entry` as it comes.
    pub(super) async fn read_once(
        &self,
        file: &ShardFile,
        mut entry: Option<&mut ShardEntry>,
        opened: Option<OpenedShard>,
    ) -> Result<Read, ScanError> {
        let bytes_fetched = AtomicU64::new(0);
        // The footer read of a shard opened ahead was on the bar as it arrived.
        let count_ahead = |bytes| {
            bytes_fetched.fetch_add(bytes, Ordering::Relaxed);
            self.context.fetched.fetch_add(bytes, Ordering::Relaxed);
        };
        let count_fetched = |bytes| {
            count_ahead(bytes);
            self.bar.read(bytes);
        };
        let (shard, opened_body) = self
            .open(file, &mut entry, opened, &count_fetched, &count_ahead)
            .await?;
        self.context
            .schemas
            .offer(self.source, &shard.declared_schema);
        let shard = Arc::new(shard);
        self.fit(&shard, &mut entry);
        let plan = entry
            .as_deref()
            .map_or_else(ReadPlan::whole_file, |entry| entry.plan(&self.keys));
        let index_ids = entry.is_some();
        let mut ledger = Ledger::new(entry, self.notes());

        let mut failure = self
            .read_lacking(&shard, file, plan.lacking, &mut ledger, &count_fetched)
            .await?;
        let mut sha256 = None;
        if let (None, Some((first, state))) = (&failure, plan.to_the_end) {
            // Up to the footer read's bytes, which the shard holds already (kept in the entry
            // when the read goes on after a stop).
            let (tail_start, _) = shard.tail();
            let body = match opened_body {
                Some(body) if first == 0 => body,
                _ if state.position() <= tail_start => {
                    file.read(&self.context.api, state.position(), tail_start)
                }
                _ => file.read(&self.context.api, state.position(), file.size()),
            };
            let request = ScanRequest {
                body,
                kind: ReadKind::ToTheEnd { first, state },
                index_ids,
                targets: Arc::clone(&self.targets),
                prepare: self.prepare(index_ids),
                decoders: Arc::clone(&self.context.decoders),
            };
            let scanned = Arc::clone(&shard)
                .scan(request, |group| ledger.keep_streamed(group), &count_fetched)
                .await?;
            let expected = self.file.expected().map(|(sha256, _)| sha256);
            ledger.finish_read(scanned.failure.is_none() && scanned.sha256.as_deref() == expected);
            sha256 = scanned.sha256;
            failure = scanned.failure;
        }

        let (records, rows_from_cache) = self.with_kept_rows(ledger).await?;
        for record in &records {
            self.bar.saw(&record.id);
        }
        // What the cache spared counts as read too, so the bars end full.
        let bytes_fetched = bytes_fetched.into_inner();
        self.bar.read(file.size().saturating_sub(bytes_fetched));
        Ok(Read {
            sha256,
            failure,
            records,
            rows_from_cache,
            bytes_fetched,
        })
    }

    /// The shard with its footer: the one `entry` keeps (no body then: the plan says what to
    /// fetch), or read now with the body of the bytes before it requested; a footer read now is
    /// kept in `entry`, which is left out of this read if it cannot be written.
    async fn open(
        &self,
        file: &ShardFile,
        entry: &mut Option<&mut ShardEntry>,
        opened: Option<OpenedShard>,
        count_fetched: impl Fn(u64),
        count_ahead: impl Fn(u64),
    ) -> Result<(Shard, Option<ShardReader>), ScanError> {
        if let Some(kept) = entry
            .as_deref()
            .and_then(|entry| entry.kept_footer(file.size()))
        {
            let shard = Shard::with_footer(
                self.source,
                file.clone(),
                kept.metadata,
                kept.tail,
                kept.tail_start,
            )?;
            return Ok((shard, None));
        }
        let opened = match opened {
            Some(opened) => opened.get(file, self.source).await,
            None => None,
        };
        let (shard, body) = match opened {
            Some(opened) => {
                let (shard, body) = opened?;
                count_ahead(shard.tail().1.len() as u64);
                (shard, body)
            }
            None => {
                Shard::open(&self.context.api, self.source, file.clone(), &count_fetched).await?
            }
        };
        let (tail_start, tail) = shard.tail();
        if let Some(kept) = entry.as_deref_mut() {
            let footer = shard.metadata_bytes.to_vec();
            if !self
                .notes()
                .write(|| kept.write_footer(footer, tail_start, tail.to_vec()))
            {
                *entry = None;
            }
        }
        Ok((shard, Some(body)))
    }

    /// Empties an entry whose index is not that of `shard`'s footer, keeping the footer: the
    /// read starts again from the first row group.
    fn fit(&self, shard: &Shard, entry: &mut Option<&mut ShardEntry>) {
        let Some(kept) = entry.as_deref_mut() else {
            return;
        };
        if kept.fits(shard.row_groups()) {
            return;
        }
        let (tail_start, tail) = shard.tail();
        let footer = shard.metadata_bytes.to_vec();
        if !self.notes().write(|| {
            kept.clear()?;
            kept.write_footer(footer, tail_start, tail.to_vec())
        }) {
            *entry = None;
        }
    }

    /// The row groups of `runs` fetched, a request per run, each checked against the states its
    /// entry indexed; what went wrong decoding, if anything did.
    async fn read_lacking(
        &self,
        shard: &Arc<Shard>,
        file: &ShardFile,
        runs: Vec<GroupRun>,
        ledger: &mut Ledger<'_>,
        count_fetched: impl Fn(u64) + Copy,
    ) -> Result<Option<ScanError>, ScanError> {
        for run in runs {
            let range = shard.byte_range(&run.groups);
            let request = ScanRequest {
                body: file.read(&self.context.api, range.start, range.end),
                kind: ReadKind::Groups {
                    groups: run.groups,
                    states: run.states,
                },
                index_ids: false,
                targets: Arc::clone(&self.targets),
                prepare: self.prepare(true),
                decoders: Arc::clone(&self.context.decoders),
            };
            let mut decoded = Vec::new();
            let scanned = Arc::clone(shard)
                .scan(request, |group| decoded.push(group), count_fetched)
                .await?;
            if let Some(failure) = scanned.failure {
                return Ok(Some(failure));
            }
            ledger.keep_fetched(decoded);
        }
        Ok(None)
    }

    /// Every row group's records in file order: those this read decoded, and the wanted rows
    /// the entry keeps of the others, with how many those are.
    async fn with_kept_rows(
        &self,
        ledger: Ledger<'_>,
    ) -> Result<(Vec<PreparedRecord>, u64), ScanError> {
        let kept = ledger
            .entry()
            .map(|entry| {
                entry.rows_wanted(&self.targets, |group| ledger.found.contains_key(&group))
            })
            .unwrap_or_default();
        let mut found = ledger.found;
        let rows_from_cache = kept.len() as u64;
        let prepare = self.prepare(false);
        let prepared = tokio::task::spawn_blocking(move || {
            let mut groups = FoundGroups::new();
            for row in kept {
                let group = row.group as usize;
                let source_row = SourceRow {
                    id: row.id,
                    row: row.row,
                };
                let found = prepare(group, row.position, source_row);
                groups.entry(group).or_default().push(found.record);
            }
            groups
        })
        .await
        .map_err(|_| self.problem(ShardProblem::ScanPanicked))?;
        found.extend(prepared);
        Ok((found.into_values().flatten().collect(), rows_from_cache))
    }

    /// Turns a wanted source row into its record (and, with `keep_source`, the row for the
    /// cache), on the decoding threads.
    fn prepare(
        &self,
        keep_source: bool,
    ) -> Arc<impl Fn(usize, u32, SourceRow) -> FoundRow + Send + Sync + 'static> {
        let (index, version) = (
            Arc::clone(&self.context.index),
            self.context.version.clone(),
        );
        Arc::new(move |group: usize, position: u32, row: SourceRow| {
            let cached =
                keep_source.then(|| StoredRow::new(group as u32, position, &row.id, &row.row));
            FoundRow {
                cached,
                record: prepare(&index, &version, row),
            }
        })
    }
}
