//! Records of shards ahead of the one being handed on, waiting on disk in an unnamed file that
//! disappears with the process, so memory stays flat whatever the scheduling. Each record is
//! its length then its `postcard` encoding, derived from the record's type.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use crate::record::PreparedRecord;

/// Records waiting on disk, in an unnamed file that disappears with the process.
pub(super) struct Spool {
    file: BufWriter<File>,
    /// The encoding of the record being appended, reused.
    encoded: Vec<u8>,
}

impl Spool {
    pub(super) fn new(dir: &Path) -> std::io::Result<Spool> {
        Ok(Spool {
            file: BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(dir)?),
            encoded: Vec::new(),
        })
    }

    pub(super) fn append(&mut self, record: &PreparedRecord) -> std::io::Result<()> {
        self.encoded.clear();
        // Through `io::Write`, which copies slices whole (`to_extend` goes byte by byte).
        postcard::to_io(record, &mut self.encoded).map_err(std::io::Error::other)?;
        self.file
            .write_all(&(self.encoded.len() as u64).to_le_bytes())?;
        self.file.write_all(&self.encoded)?;
        Ok(())
    }

    /// The records in the order they were appended.
    pub(super) fn records(
        self,
    ) -> std::io::Result<impl Iterator<Item = std::io::Result<PreparedRecord>>> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        let end = file.stream_position()?;
        file.rewind()?;
        let mut input = BufReader::with_capacity(256 * 1024, file);
        let mut position = 0;
        let mut encoded = Vec::new();
        Ok(std::iter::from_fn(move || {
            (position < end).then(|| {
                let mut length = [0; 8];
                input.read_exact(&mut length)?;
                let length =
                    usize::try_from(u64::from_le_bytes(length)).map_err(std::io::Error::other)?;
                encoded.resize(length, 0);
                input.read_exact(&mut encoded)?;
                position += (length + 8) as u64;
                postcard::from_bytes(&encoded).map_err(std::io::Error::other)
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Object, Timestamp, Value};

    #[test]
    fn records_read_back_as_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(dir.path()).unwrap();
        let records: Vec<PreparedRecord> = (0..3)
            .map(|i| {
                let mut record = Object::default();
                record.push("n".into(), Value::Int(i as i64));
                record.push(
                    "scores".into(),
                    Value::List(vec![
                        Value::Float(f64::INFINITY),
                        Value::Float(-0.5),
                        Value::Null,
                    ]),
                );
                record.push(
                    "at".into(),
                    Value::Timestamp(Timestamp {
                        micros: -1,
                        utc: true,
                    }),
                );
                PreparedRecord {
                    id: format!("id{i}"),
                    record,
                    jsonl: format!("{{\"n\": {i}}}").into_bytes(),
                    full_review: vec![b'x'; i],
                    full_review_rows: i as u64,
                    sycophancy_review: Vec::new(),
                    sycophancy_rows: 0,
                    specialty: "N/A".to_owned(),
                    repairs: vec!["r".to_owned(); i],
                }
            })
            .collect();
        for record in &records {
            spool.append(record).unwrap();
        }
        let read: Vec<PreparedRecord> = spool.records().unwrap().map(Result::unwrap).collect();
        assert_eq!(read, records);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "unnamed");
    }
}
