//! The in-order hand-over (FORMAT.md §3): shard scans run in parallel, but their records
//! are handed on in the sequential order, shard after shard, rows in file order. Records of
//! shards ahead of the one being handed on wait (`waiting`) in memory up to a budget, beyond it
//! in a `spool` on disk.

mod spool;
mod waiting;

use std::path::Path;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use thiserror::Error;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::record::PreparedRecord;
use crate::scan::ScanError;
use crate::source::Source;
use waiting::Waiting;

/// The bytes (estimated) that records of shards ahead may hold in memory, all shards together,
/// before they wait on disk: the records of a few shards of the bench corpus, a small part of
/// the memory a run takes.
const MEMORY_BUDGET: usize = 32 << 20;

/// What a shard's scan sends, in order; a channel that closes without `Done` or `Failed` means
/// the scan task died.
pub(crate) enum ShardEvent {
    Record(PreparedRecord),
    Done,
    Failed(ScanError),
}

/// One shard's scan, as the hand-over sees it.
pub(crate) struct ShardFeed {
    pub(crate) source: Source,
    pub(crate) path: String,
    pub(crate) events: UnboundedReceiver<ShardEvent>,
}

#[derive(Debug, Error)]
pub(crate) enum HandOverError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("the scan of {path} of {repo} stopped unexpectedly")]
    Stopped { repo: &'static str, path: String },
    #[error("could not use a temporary file in {dir}")]
    Spool {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

impl HandOverError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            HandOverError::Scan(error) => error.next_step(),
            HandOverError::Stopped { .. } => None,
            HandOverError::Spool { .. } => {
                Some("check free disk space in the output directory, then run again.".to_owned())
            }
        }
    }
}

/// Hands every record of `feeds` to `accept` in feed order, as the feeds' scans produce them.
pub(crate) async fn hand_over<E>(
    feeds: Vec<ShardFeed>,
    spool_dir: &Path,
    accept: impl FnMut(Source, PreparedRecord) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<HandOverError>,
{
    hand_over_within(feeds, spool_dir, MEMORY_BUDGET, accept).await
}

/// [`hand_over`], with records ahead held in memory up to `memory_budget` bytes.
async fn hand_over_within<E>(
    feeds: Vec<ShardFeed>,
    spool_dir: &Path,
    memory_budget: usize,
    mut accept: impl FnMut(Source, PreparedRecord) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<HandOverError>,
{
    let spool_error = |source| HandOverError::Spool {
        dir: spool_dir.display().to_string(),
        source,
    };
    let labels: Vec<(Source, String)> = feeds.iter().map(|f| (f.source, f.path.clone())).collect();
    let streams: Vec<BoxStream<'static, (usize, Option<ShardEvent>)>> = feeds
        .into_iter()
        .enumerate()
        .map(|(index, feed)| {
            // Yields the feed's events, then `None` once when its channel closes.
            stream::unfold(Some(feed.events), move |events| async move {
                let mut events = events?;
                match events.recv().await {
                    Some(event) => Some(((index, Some(event)), Some(events))),
                    None => Some(((index, None), None)),
                }
            })
            .boxed()
        })
        .collect();
    let mut events = stream::select_all(streams);
    let mut waiting: Vec<Waiting> = labels.iter().map(|_| Waiting::default()).collect();
    let mut in_memory = 0;
    let mut done = vec![false; labels.len()];
    let mut head = 0;
    loop {
        while head < labels.len() {
            let records = std::mem::take(&mut waiting[head])
                .drain(&mut in_memory)
                .map_err(spool_error)?;
            for record in records {
                accept(labels[head].0, record.map_err(spool_error)?)?;
            }
            if !done[head] {
                break;
            }
            head += 1;
        }
        if head == labels.len() {
            return Ok(());
        }
        let (index, event) = events.next().await.ok_or_else(|| HandOverError::Stopped {
            repo: labels[head].0.repo_id(),
            path: labels[head].1.clone(),
        })?;
        match event {
            Some(ShardEvent::Record(record)) if index == head => accept(labels[index].0, record)?,
            Some(ShardEvent::Record(record)) => waiting[index]
                .add(record, &mut in_memory, memory_budget, spool_dir)
                .map_err(spool_error)?,
            Some(ShardEvent::Done) => done[index] = true,
            Some(ShardEvent::Failed(error)) => return Err(HandOverError::Scan(error).into()),
            None if done[index] => {}
            None => {
                return Err(HandOverError::Stopped {
                    repo: labels[index].0.repo_id(),
                    path: labels[index].1.clone(),
                }
                .into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Object, Value};
    use tokio::sync::mpsc;

    fn record(id: &str) -> PreparedRecord {
        let mut record = Object::default();
        record.push("id".to_owned(), Value::Str(id.to_owned()));
        PreparedRecord {
            id: id.to_owned(),
            record,
            jsonl: format!("{{\"id\": \"{id}\"}}").into_bytes(),
            full_review: b"a,b\r\n".to_vec(),
            full_review_rows: 1,
            sycophancy_review: Vec::new(),
            sycophancy_rows: 0,
            specialty: "Cardiology".to_owned(),
            repairs: vec![format!("repaired {id}")],
        }
    }

    #[tokio::test]
    async fn records_come_out_in_feed_order_whatever_order_they_arrive_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut feeds = Vec::new();
        let mut senders = Vec::new();
        for (i, source) in [Source::Lmsys, Source::Lmsys, Source::Wildchat]
            .into_iter()
            .enumerate()
        {
            let (sender, events) = mpsc::unbounded_channel();
            feeds.push(ShardFeed {
                source,
                path: format!("shard-{i}"),
                events,
            });
            senders.push(sender);
        }
        // The last shard finishes first, the first one last.
        for (shard, ids) in [(2, ["c1", "c2"]), (1, ["b1", "b2"]), (0, ["a1", "a2"])] {
            for id in ids {
                senders[shard].send(ShardEvent::Record(record(id))).unwrap();
            }
            senders[shard].send(ShardEvent::Done).unwrap();
        }
        let mut seen = Vec::new();
        // Room in memory for one record: the others ahead wait on disk.
        let one_record = 3 * record("c1").jsonl.len() + b"a,b\r\n".len();
        hand_over_within(feeds, dir.path(), one_record, |source, record| {
            assert_eq!(record, self::record(&record.id));
            seen.push((source, record.id));
            Ok::<_, HandOverError>(())
        })
        .await
        .unwrap();
        let ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2", "b1", "b2", "c1", "c2"]);
        assert_eq!(seen[4].0, Source::Wildchat);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "spools are unnamed"
        );
    }

    #[tokio::test]
    async fn a_scan_that_dies_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (sender, events) = mpsc::unbounded_channel();
        drop(sender);
        let feeds = vec![ShardFeed {
            source: Source::Wildchat,
            path: "data/x.parquet".to_owned(),
            events,
        }];
        let error = hand_over(feeds, dir.path(), |_, _| Ok::<_, HandOverError>(()))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("data/x.parquet"));
    }
}
