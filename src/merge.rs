//! The ordered merge (SPEC §3): shard scans run in parallel, but their records are handed on in
//! the sequential order, shard after shard, rows in file order. Records of shards ahead of the
//! one being handed on wait in unnamed temporary files, not in memory, so memory stays flat
//! whatever the corpus size and scheduling.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use thiserror::Error;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::scan::ScanError;
use crate::source::Source;

/// A source row merged with its annotation and already serialised, ready to append.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRecord {
    pub id: String,
    pub jsonl: Vec<u8>,
    pub full_review: Vec<u8>,
    pub full_review_rows: u64,
    pub sycophancy_review: Vec<u8>,
    pub sycophancy_rows: u64,
    pub specialty: String,
    pub repairs: Vec<String>,
}

/// What a shard's scan sends, in order; a channel that closes without `Done` or `Failed` means
/// the scan task died.
pub enum ShardEvent {
    Record(PreparedRecord),
    Done,
    Failed(ScanError),
}

/// One shard's scan, as the merge sees it.
pub struct ShardFeed {
    pub source: Source,
    pub path: String,
    pub events: UnboundedReceiver<ShardEvent>,
}

#[derive(Debug, Error)]
pub enum MergeError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("the scan of {path} of {repo} stopped unexpectedly")]
    Stopped { repo: &'static str, path: String },
    #[error(
        "could not use a temporary file in {dir}: {source}\nNext: check free disk space in the output directory, then run again."
    )]
    Spool {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// Hands every record of `feeds` to `accept` in feed order, as the feeds' scans produce them.
pub async fn merge<E>(
    feeds: Vec<ShardFeed>,
    spool_dir: &Path,
    mut accept: impl FnMut(Source, PreparedRecord) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<MergeError>,
{
    let spool_error = |source| MergeError::Spool {
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
    let mut spools: Vec<Option<Spool>> = labels.iter().map(|_| None).collect();
    let mut done = vec![false; labels.len()];
    let mut head = 0;
    loop {
        while head < labels.len() {
            if let Some(spool) = spools[head].take() {
                for record in spool.records().map_err(spool_error)? {
                    accept(labels[head].0, record.map_err(spool_error)?)?;
                }
            }
            if !done[head] {
                break;
            }
            head += 1;
        }
        if head == labels.len() {
            return Ok(());
        }
        let (index, event) = events.next().await.ok_or_else(|| MergeError::Stopped {
            repo: labels[head].0.repo_id(),
            path: labels[head].1.clone(),
        })?;
        match event {
            Some(ShardEvent::Record(record)) if index == head => accept(labels[index].0, record)?,
            Some(ShardEvent::Record(record)) => {
                let spool = match &mut spools[index] {
                    Some(spool) => spool,
                    empty => empty.insert(Spool::new(spool_dir).map_err(spool_error)?),
                };
                spool.append(&record).map_err(spool_error)?;
            }
            Some(ShardEvent::Done) => done[index] = true,
            Some(ShardEvent::Failed(error)) => return Err(MergeError::Scan(error).into()),
            None if done[index] => {}
            None => {
                return Err(MergeError::Stopped {
                    repo: labels[index].0.repo_id(),
                    path: labels[index].1.clone(),
                }
                .into());
            }
        }
    }
}

/// Records waiting on disk, in an unnamed file that disappears with the process.
struct Spool {
    file: BufWriter<File>,
}

impl Spool {
    fn new(dir: &Path) -> std::io::Result<Spool> {
        Ok(Spool {
            file: BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(dir)?),
        })
    }

    fn append(&mut self, record: &PreparedRecord) -> std::io::Result<()> {
        let out = &mut self.file;
        write_bytes(out, record.id.as_bytes())?;
        write_bytes(out, &record.jsonl)?;
        write_bytes(out, &record.full_review)?;
        out.write_all(&record.full_review_rows.to_le_bytes())?;
        write_bytes(out, &record.sycophancy_review)?;
        out.write_all(&record.sycophancy_rows.to_le_bytes())?;
        write_bytes(out, record.specialty.as_bytes())?;
        out.write_all(&(record.repairs.len() as u64).to_le_bytes())?;
        for repair in &record.repairs {
            write_bytes(out, repair.as_bytes())?;
        }
        Ok(())
    }

    /// The records in the order they were appended.
    fn records(self) -> std::io::Result<impl Iterator<Item = std::io::Result<PreparedRecord>>> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        let end = file.stream_position()?;
        file.rewind()?;
        let mut input = BufReader::with_capacity(256 * 1024, file);
        let mut position = 0;
        Ok(std::iter::from_fn(move || {
            (position < end).then(|| {
                let record = read_record(&mut input)?;
                position = input.stream_position()?;
                Ok(record)
            })
        }))
    }
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

fn read_u64(input: &mut impl Read) -> std::io::Result<u64> {
    let mut bytes = [0; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn read_bytes(input: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(read_u64(input)?).map_err(std::io::Error::other)?;
    let mut bytes = vec![0; len];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn read_string(input: &mut impl Read) -> std::io::Result<String> {
    String::from_utf8(read_bytes(input)?).map_err(std::io::Error::other)
}

fn read_record(input: &mut impl Read) -> std::io::Result<PreparedRecord> {
    Ok(PreparedRecord {
        id: read_string(input)?,
        jsonl: read_bytes(input)?,
        full_review: read_bytes(input)?,
        full_review_rows: read_u64(input)?,
        sycophancy_review: read_bytes(input)?,
        sycophancy_rows: read_u64(input)?,
        specialty: read_string(input)?,
        repairs: (0..read_u64(input)?)
            .map(|_| read_string(input))
            .collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn record(id: &str) -> PreparedRecord {
        PreparedRecord {
            id: id.to_owned(),
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
        merge(feeds, dir.path(), |source, record| {
            assert_eq!(record, self::record(&record.id));
            seen.push((source, record.id));
            Ok::<_, MergeError>(())
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
        let error = merge(feeds, dir.path(), |_, _| Ok::<_, MergeError>(()))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("data/x.parquet"));
    }
}
