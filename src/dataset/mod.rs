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
use parquet::arrow::ArrowWriter;
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

#[derive(Debug, Error)]
pub(crate) enum DatasetError {
    #[error("could not write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
    writers: Vec<SourceWriter>,
}

struct SourceWriter {
    source: Source,
    file_name: String,
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<HashingWriter<File>>,
    /// Records not yet in `writer`, and their IDs, to name one that cannot be written.
    pending: Vec<Object>,
    pending_ids: Vec<String>,
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
            writers: Vec::new(),
        }
    }

    /// Adds a record of `source` (FORMAT.md §4) to the source's Parquet file.
    pub(crate) fn append(
        &mut self,
        source: Source,
        id: &str,
        record: Object,
    ) -> Result<(), DatasetError> {
        let position = match self.writers.iter().position(|w| w.source == source) {
            Some(position) => position,
            None => {
                let writer = self.open(source)?;
                self.writers.push(writer);
                self.writers.len() - 1
            }
        };
        let writer = &mut self.writers[position];
        writer.pending.push(record);
        writer.pending_ids.push(id.to_owned());
        if writer.pending.len() >= ROWS_PER_BATCH {
            writer.flush()?;
        }
        Ok(())
    }

    fn open(&self, source: Source) -> Result<SourceWriter, DatasetError> {
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
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build();
        let writer = ArrowWriter::try_new(
            HashingWriter::new(file),
            Arc::clone(&schema),
            Some(properties),
        )
        .map_err(|e| write_error(std::io::Error::other(e)))?;
        Ok(SourceWriter {
            source,
            file_name,
            path,
            schema,
            writer,
            pending: Vec::with_capacity(ROWS_PER_BATCH),
            pending_ids: Vec::with_capacity(ROWS_PER_BATCH),
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
        for &source in planned {
            let opened = self.writers.iter().any(|w| w.source == source);
            if !opened && self.schemas.get(source).is_some() {
                let writer = self.open(source)?;
                self.writers.push(writer);
            }
        }
        self.writers.sort_by_key(|w| w.source);
        let mut files = Vec::new();
        for mut writer in self.writers {
            writer.flush()?;
            let write_error = |source| DatasetError::Write {
                path: writer.path.clone(),
                source,
            };
            let hashing = writer
                .writer
                .into_inner()
                .map_err(|e| write_error(std::io::Error::other(e)))?;
            let (file, size, sha256) = hashing.finish();
            files.push((writer.source, writer.file_name.clone()));
            let artifact = Artifact {
                name: writer.file_name,
                size,
                sha256,
            };
            artifacts.add(artifact, file);
        }
        Ok(files)
    }
}

impl SourceWriter {
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
