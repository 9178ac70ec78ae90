//! Decoding one row group: the ID column first for every row, the other columns only for the
//! rows whose ID is wanted.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, DataType};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use super::cells::{CellError, arrow_value};
use super::error::{DecodeFailure, ScanError, ShardProblem};
use super::shard::{RowGroupBytes, Shard, SourceRow};
use crate::row_cache::IdKey;
use crate::value::{Object, Value};

/// The most rows decoded in one batch. A row group's rows come in one batch (the real
/// shards' hold ~1,000), but its row count is the footer's word, and the reader reserves
/// room for a batch before it reads one.
const MAX_BATCH_ROWS: usize = 1 << 16;

fn batch_size(rows_in_group: i64) -> usize {
    usize::try_from(rows_in_group)
        .unwrap_or(1)
        .clamp(1, MAX_BATCH_ROWS)
}

/// What the ID column of a row group says, as the row filter reads it.
#[derive(Default)]
struct IdColumn {
    /// The row number of each wanted row, in order.
    wanted: Vec<u32>,
    /// Every row's ID key, when the shard's ID index is being built.
    keys: Option<Vec<IdKey>>,
    rows_seen: u32,
}

/// A row group decoded: its wanted rows with their row numbers, and (when asked for) the ID key
/// of every row.
pub(super) struct DecodedRows {
    pub rows: Vec<(u32, SourceRow)>,
    pub keys: Vec<IdKey>,
}

impl Shard {
    /// The wanted rows of row group `index`, in file order, with their row numbers; with
    /// `index_ids`, the ID key of every row too.
    pub(super) fn decode_row_group(
        &self,
        index: usize,
        window: RowGroupBytes,
        targets: &Arc<HashSet<String>>,
        index_ids: bool,
    ) -> Result<DecodedRows, ScanError> {
        let decode_error = |error: DecodeFailure| {
            self.problem(ShardProblem::Decode {
                row_group: index,
                error,
            })
        };
        let id_mask = ProjectionMask::roots(self.metadata.parquet_schema(), [self.id_column]);
        let predicate_targets = Arc::clone(targets);
        let id_column = Arc::new(Mutex::new(IdColumn {
            keys: index_ids.then(Vec::new),
            ..IdColumn::default()
        }));
        let seen = Arc::clone(&id_column);
        let predicate = ArrowPredicateFn::new(id_mask, move |batch: RecordBatch| {
            let ids = batch.column(0).as_ref();
            let wanted = wanted_ids(ids, &predicate_targets)?;
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            let first = seen.rows_seen;
            seen.wanted.extend(
                (0..wanted.len())
                    .filter(|&row| wanted.value(row))
                    .map(|row| first + row as u32),
            );
            seen.rows_seen += wanted.len() as u32;
            if let Some(keys) = &mut seen.keys {
                id_keys(ids, keys)?;
            }
            Ok(wanted)
        });
        let rows_in_group = self.metadata.metadata().row_group(index).num_rows();
        let bytes = window.bytes.clone();
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(window, self.metadata.clone())
                .with_row_groups(vec![index])
                .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
                .with_batch_size(batch_size(rows_in_group))
                .build()
                .map_err(|error| decode_error(error.into()))?;

        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|error| decode_error(error.into()))?;
            let schema = batch.schema();
            for row in 0..batch.num_rows() {
                let mut object = Object::with_capacity(batch.num_columns());
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    let value = arrow_value(column.as_ref(), row).map_err(|error| {
                        let column = field.name().clone();
                        self.problem(match error {
                            CellError::Unsupported(data_type) => {
                                ShardProblem::UnsupportedType { column, data_type }
                            }
                            CellError::NotUtf8 => ShardProblem::NotUtf8 { column },
                        })
                    })?;
                    object.push(field.name().clone(), value);
                }
                let id = object
                    .get(self.source.id_column())
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                rows.push(SourceRow { id, row: object });
            }
        }
        crate::shards::spare_buffers::give_back(bytes);
        let id_column =
            std::mem::take(&mut *id_column.lock().unwrap_or_else(PoisonError::into_inner));
        if id_column.wanted.len() != rows.len() {
            return Err(decode_error(DecodeFailure::Parquet(ParquetError::General(
                format!(
                    "the row filter kept {} rows and the reader gave {}",
                    id_column.wanted.len(),
                    rows.len()
                ),
            ))));
        }
        Ok(DecodedRows {
            rows: id_column.wanted.into_iter().zip(rows).collect(),
            keys: id_column.keys.unwrap_or_default(),
        })
    }
}

/// Appends the ID key of every row of `ids` (a null ID is the empty one's).
fn id_keys(ids: &dyn Array, keys: &mut Vec<IdKey>) -> Result<(), ArrowError> {
    let key = |id: Option<&str>| IdKey::of(id.unwrap_or_default());
    match ids.data_type() {
        DataType::Utf8 => keys.extend(ids.as_string::<i32>().iter().map(key)),
        DataType::LargeUtf8 => keys.extend(ids.as_string::<i64>().iter().map(key)),
        DataType::Utf8View => keys.extend(ids.as_string_view().iter().map(key)),
        other => {
            return Err(ArrowError::SchemaError(format!(
                "the ID column is {other}, not a string"
            )));
        }
    }
    Ok(())
}

/// The row-group predicate: is this row's ID wanted?
fn wanted_ids(ids: &dyn Array, targets: &HashSet<String>) -> Result<BooleanArray, ArrowError> {
    let wanted = |id: Option<&str>| Some(id.is_some_and(|id| targets.contains(id)));
    match ids.data_type() {
        DataType::Utf8 => Ok(ids.as_string::<i32>().iter().map(wanted).collect()),
        DataType::LargeUtf8 => Ok(ids.as_string::<i64>().iter().map(wanted).collect()),
        DataType::Utf8View => Ok(ids.as_string_view().iter().map(wanted).collect()),
        other => Err(ArrowError::SchemaError(format!(
            "the ID column is {other}, not a string"
        ))),
    }
}

impl RowGroupBytes {
    fn local(&self, start: u64, length: usize) -> Result<Range<usize>, ParquetError> {
        let outside = || {
            ParquetError::EOF(format!(
                "bytes {start}..{} are outside the row group ({}..{})",
                start + length as u64,
                self.offset,
                self.offset + self.bytes.len() as u64
            ))
        };
        let local_start = start.checked_sub(self.offset).ok_or_else(outside)? as usize;
        let local_end = local_start + length;
        if local_end > self.bytes.len() {
            return Err(outside());
        }
        Ok(local_start..local_end)
    }
}

impl Length for RowGroupBytes {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for RowGroupBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        let local = self.local(start, 0)?;
        Ok(bytes::Buf::reader(self.bytes.slice(local.start..)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        Ok(self.bytes.slice(self.local(start, length)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;

    #[test]
    fn only_wanted_ids_pass_the_predicate() {
        let targets: HashSet<String> = ["b".to_owned()].into();
        let ids = StringArray::from(vec![Some("a"), Some("b"), None]);
        let wanted = wanted_ids(&ids, &targets).unwrap();
        assert_eq!(wanted, BooleanArray::from(vec![false, true, false]));
        let numbers = arrow_array::Int64Array::from(vec![1]);
        assert!(wanted_ids(&numbers, &targets).is_err());
    }

    #[test]
    fn a_row_group_window_answers_only_for_its_bytes() {
        let window = RowGroupBytes {
            offset: 100,
            bytes: Bytes::from_static(b"0123456789"),
            file_len: 1000,
        };
        assert_eq!(window.len(), 1000);
        assert_eq!(&window.get_bytes(102, 3).unwrap()[..], b"234");
        assert!(window.get_bytes(99, 2).is_err());
        assert!(window.get_bytes(108, 3).is_err());
    }
}
