//! The artifacts directory as a Hugging Face dataset (FORMAT.md §10): one Parquet file per
//! source, with the source's own column types, written as records arrive (their values made
//! Arrow arrays by `columns`), and a dataset card (`card`) whose `configs` name them, so that
//! `datasets`, pandas, Polars and DuckDB load it.

mod card;
mod columns;
mod schema;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_schema::{Field, SchemaRef};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use thiserror::Error;

pub(crate) use card::write_card;

use crate::annotations::AnnotationIndex;
use crate::artifacts::{ArtifactNames, ArtifactWriter};
use crate::digest::HashingWriter;
use crate::manifest::Artifact;
use crate::source::Source;
use crate::value::Object;

/// Conversations per row group: a few MB of text, so that a writer holds little, and readers
/// can split a file.
const ROWS_PER_GROUP: usize = 500;
/// Records made Arrow arrays at a time.
const ROWS_PER_BATCH: usize = 100;
/// Values (records times columns) waiting to be made Arrow arrays: 100 records of the real
/// sources' few dozen columns, and fewer records of a wider table (an annotation file may have
/// tens of thousands of keys, each a column of every record).
const VALUES_PER_BATCH: usize = ROWS_PER_BATCH * 64;
/// Leaf columns written with a dictionary and Snappy, in column order (FORMAT.md §10); the rest
/// are plain: a dictionary encoder reserves ~36 KB and a codec ~1 KB for each column, which
/// for an annotation file of 40,000 keys would be ~3 GB over two files; the real tables have a
/// few dozen leaves.
const PACKED_COLUMNS: usize = 256;
/// The most leaf columns the annotation file may add to a Parquet file (FORMAT.md §12): a
/// writer holds ~3 KB for each column, whatever is in it.
const MAX_ANNOTATION_LEAVES: usize = 16_384;

#[derive(Debug, Error)]
pub(crate) enum DatasetError {
    #[error("could not write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the annotation file's columns make {leaves} Parquet columns, more than the \
         {MAX_ANNOTATION_LEAVES} a dataset file may hold"
    )]
    TooWide { leaves: usize },
    #[error("the {source_name} Parquet file cannot hold conversation {id}: {problem}")]
    Record {
        source_name: &'static str,
        id: String,
        problem: String,
    },
}

impl DatasetError {
    /// What the user can do about it.
    pub(crate) fn next_step(&self) -> Option<String> {
        let step = match self {
            DatasetError::Write { .. } => {
                "check free disk space and permissions, then run again (or pass \
                 --reference-only to write only the JSONL and CSV files)."
            }
            DatasetError::TooWide { .. } => {
                "check the annotation file; --reference-only writes the JSONL and CSV files \
                 without the Parquet files."
            }
            DatasetError::Record { .. } => {
                "report this with the annotation version; --reference-only writes the JSONL and \
                 CSV files without it."
            }
        };
        Some(step.to_owned())
    }
}

/// The columns each source's shards declare, as the first of its scans to open a shard finds
/// them.
#[derive(Default)]
pub(crate) struct SourceSchemas {
    schemas: HashMap<Source, OnceLock<SchemaRef>>,
}

impl SourceSchemas {
    pub(crate) fn new() -> SourceSchemas {
        SourceSchemas {
            schemas: Source::ALL.map(|s| (s, OnceLock::new())).into(),
        }
    }

    pub(crate) fn offer(&self, source: Source, schema: &SchemaRef) {
        let _ = self.schemas[&source].set(Arc::clone(schema));
    }

    fn get(&self, source: Source) -> Option<&SchemaRef> {
        self.schemas[&source].get()
    }
}

/// Writes each source's records into its Parquet file in the artifacts directory.
pub(crate) struct DatasetWriter {
    directory: PathBuf,
    names: ArtifactNames,
    annotation_fields: Vec<Field>,
    schemas: Arc<SourceSchemas>,
    /// The file being written. Records come source by source (FORMAT.md §3), so a file is
    /// closed, and its writer's buffers for every column freed, when the next source begins.
    open: Option<SourceWriter>,
    /// The files written to the end.
    written: Vec<(Source, Artifact, File)>,
}

struct SourceWriter {
    source: Source,
    file_name: String,
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<HashingWriter<File>>,
    /// Records made Arrow arrays at a time, fewer the wider the table.
    batch_rows: usize,
    /// Records not yet in `writer`, and their IDs, to name one that cannot be written.
    pending: Vec<Object>,
    pending_ids: Vec<String>,
}

/// Whether the annotation file's columns fit a Parquet file: checked before anything is
/// fetched or written.
pub(crate) fn check_width(index: &AnnotationIndex) -> Result<(), DatasetError> {
    let leaves = schema::annotation_fields(index)
        .iter()
        .map(|field| schema::leaves(field.data_type()))
        .sum();
    match leaves > MAX_ANNOTATION_LEAVES {
        true => Err(DatasetError::TooWide { leaves }),
        false => Ok(()),
    }
}

impl DatasetWriter {
    pub(crate) fn new(
        directory: &Path,
        names: &ArtifactNames,
        index: &AnnotationIndex,
        schemas: Arc<SourceSchemas>,
    ) -> DatasetWriter {
        DatasetWriter {
            directory: directory.to_owned(),
            names: names.clone(),
            annotation_fields: schema::annotation_fields(index),
            schemas,
            open: None,
            written: Vec::new(),
        }
    }

    /// Adds a record of `source` (FORMAT.md §4) to the source's Parquet file.
    pub(crate) fn append(
        &mut self,
        source: Source,
        id: &str,
        record: Object,
    ) -> Result<(), DatasetError> {
        let writer = match self.open.take() {
            Some(writer) if writer.source == source => writer,
            other => {
                if let Some(done) = other {
                    self.written.push(done.close()?);
                }
                self.open_file(source)?
            }
        };
        let writer = self.open.insert(writer);
        writer.pending.push(record);
        writer.pending_ids.push(id.to_owned());
        if writer.pending.len() >= writer.batch_rows {
            writer.flush()?;
        }
        Ok(())
    }

    fn open_file(&self, source: Source) -> Result<SourceWriter, DatasetError> {
        let declared = self
            .schemas
            .get(source)
            .expect("a record comes from a shard whose scan offered its schema");
        let schema = schema::record_schema(declared, &self.annotation_fields);
        let file_name = self.names.parquet(source);
        let path = self.directory.join(&file_name);
        let write_error = |source| DatasetError::Write {
            path: path.clone(),
            source,
        };
        let file = File::create(&path).map_err(write_error)?;
        let mut properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP));
        let leaves = ArrowSchemaConverter::new()
            .convert(&schema)
            .map_err(|e| write_error(std::io::Error::other(e)))?;
        for leaf in leaves.columns().iter().skip(PACKED_COLUMNS) {
            properties = properties
                .set_column_dictionary_enabled(leaf.path().clone(), false)
                .set_column_compression(leaf.path().clone(), Compression::UNCOMPRESSED);
        }
        let batch_rows = (VALUES_PER_BATCH / schema.fields().len().max(1)).clamp(1, ROWS_PER_BATCH);
        let writer = ArrowWriter::try_new(
            HashingWriter::new(file),
            Arc::clone(&schema),
            Some(properties.build()),
        )
        .map_err(|e| write_error(std::io::Error::other(e)))?;
        Ok(SourceWriter {
            source,
            file_name,
            path,
            schema,
            writer,
            batch_rows,
            pending: Vec::with_capacity(batch_rows),
            pending_ids: Vec::with_capacity(batch_rows),
        })
    }

    /// Closes the files (a `planned` source that found no conversation gets an empty one, when
    /// its shards' columns are known) and adds them to `artifacts`, hashed as they were
    /// written; returns each source's file name, in source order.
    pub(crate) fn finish(
        mut self,
        planned: &[Source],
        artifacts: &mut ArtifactWriter,
    ) -> Result<Vec<(Source, String)>, DatasetError> {
        if let Some(open) = self.open.take() {
            self.written.push(open.close()?);
        }
        for &source in planned {
            let written = self.written.iter().any(|(s, ..)| *s == source);
            if !written && self.schemas.get(source).is_some() {
                let empty = self.open_file(source)?.close()?;
                self.written.push(empty);
            }
        }
        self.written.sort_by_key(|(source, ..)| *source);
        let mut files = Vec::new();
        for (source, artifact, file) in self.written {
            files.push((source, artifact.name.clone()));
            artifacts.add(artifact, file);
        }
        Ok(files)
    }
}

impl SourceWriter {
    /// Writes what is pending and the file's footer: the file, listed as an artifact.
    fn close(mut self) -> Result<(Source, Artifact, File), DatasetError> {
        self.flush()?;
        let path = self.path;
        let hashing = self.writer.into_inner().map_err(|e| DatasetError::Write {
            path,
            source: std::io::Error::other(e),
        })?;
        let (file, size, sha256) = hashing.finish();
        let artifact = Artifact {
            name: self.file_name,
            size,
            sha256,
        };
        Ok((self.source, artifact, file))
    }

    fn flush(&mut self) -> Result<(), DatasetError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = columns::record_batch(&self.schema, &self.pending)
            .map_err(|problem| self.record_error(problem))?;
        self.writer.write(&batch).map_err(|e| DatasetError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        self.pending.clear();
        self.pending_ids.clear();
        Ok(())
    }

    /// Names the first pending record that cannot be written alone.
    fn record_error(&self, problem: String) -> DatasetError {
        let culprit = self
            .pending
            .iter()
            .zip(&self.pending_ids)
            .find_map(|(record, id)| {
                columns::record_batch(&self.schema, std::slice::from_ref(record))
                    .err()
                    .map(|problem| (id, problem))
            });
        let (id, problem) = match culprit {
            Some((id, problem)) => (id.clone(), problem),
            None => (self.pending_ids.join(", "), problem),
        };
        DatasetError::Record {
            source_name: self.source.name(),
            id,
            problem,
        }
    }
}
