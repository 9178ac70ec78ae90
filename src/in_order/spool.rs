//! Records of shards ahead of the one being handed on, waiting on disk in an unnamed file that
//! disappears with the process, so memory stays flat whatever the scheduling.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use crate::prepare::PreparedRecord;

/// Records waiting on disk, in an unnamed file that disappears with the process.
pub(super) struct Spool {
    file: BufWriter<File>,
}

impl Spool {
    pub fn new(dir: &Path) -> std::io::Result<Spool> {
        Ok(Spool {
            file: BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(dir)?),
        })
    }

    pub fn append(&mut self, record: &PreparedRecord) -> std::io::Result<()> {
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
    pub fn records(self) -> std::io::Result<impl Iterator<Item = std::io::Result<PreparedRecord>>> {
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

    #[test]
    fn records_read_back_as_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(dir.path()).unwrap();
        let records: Vec<PreparedRecord> = (0..3)
            .map(|i| PreparedRecord {
                id: format!("id{i}"),
                jsonl: format!("{{\"n\": {i}}}").into_bytes(),
                full_review: vec![b'x'; i],
                full_review_rows: i as u64,
                sycophancy_review: Vec::new(),
                sycophancy_rows: 0,
                specialty: "N/A".to_owned(),
                repairs: vec!["r".to_owned(); i],
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
