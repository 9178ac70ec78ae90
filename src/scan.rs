//! Shard scan (SPEC §3): each Parquet shard is read in one streaming request after its footer
//! (whose bytes serve the row groups they cover), and every row group is decoded as soon as its
//! bytes have arrived, while the next ones download. Only the ID column is decoded for every row;
//! the other columns only for rows that are wanted.

use std::collections::{HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Schema, TimeUnit};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
    RowFilter,
};
use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::errors::ParquetError;
use parquet::file::FOOTER_SIZE;
use parquet::file::metadata::{
    FileMetaData, FooterTail, ParquetMetaData, ParquetMetaDataOptions, ParquetMetaDataReader,
    ParquetStatisticsPolicy,
};
use parquet::file::reader::{ChunkReader, Length};
use parquet::schema::types::{SchemaDescriptor, Type as SchemaType, TypePtr};
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::hub::{Hub, HubError, HubFile};
use crate::source::Source;
use crate::value::{Object, Timestamp, Value};

/// How many bytes from the end of a shard the first footer read asks for; a larger footer takes
/// a second read.
const FOOTER_GUESS: u64 = 1 << 20;
/// Row groups of one shard handed to decoding threads and not yet emitted, while the download
/// goes on; how many decode at once across shards is the caller's `decoders` semaphore.
const DECODE_WINDOW: usize = 2;

#[derive(Debug, Error)]
pub enum ScanError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("{shard} of {repo} is not a readable Parquet file: {problem}")]
    NotParquet {
        repo: &'static str,
        shard: String,
        problem: String,
    },
    #[error(
        "{shard} of {repo}, row group {row_group}, could not be decoded (corrupt or truncated?): {source}"
    )]
    Decode {
        repo: &'static str,
        shard: String,
        row_group: usize,
        #[source]
        source: ParquetError,
    },
    #[error("{shard} of {repo} has no `{column}` column (its columns: {found})")]
    MissingIdColumn {
        repo: &'static str,
        shard: String,
        column: &'static str,
        found: String,
    },
    #[error("column `{column}` of {shard} in {repo} holds text that is not valid UTF-8")]
    NotUtf8 {
        repo: &'static str,
        shard: String,
        column: String,
    },
    #[error(
        "column `{column}` of {shard} in {repo} has type {data_type}, which the reference cannot write as JSON"
    )]
    UnsupportedType {
        repo: &'static str,
        shard: String,
        column: String,
        data_type: DataType,
    },
}

/// A source row whose ID is wanted.
#[derive(Debug)]
pub struct SourceRow {
    pub id: String,
    pub row: Object,
}

/// A shard whose footer has been read.
pub struct Shard {
    pub source: Source,
    pub file: HubFile,
    metadata: ArrowReaderMetadata,
    id_column: usize,
    /// Byte ranges of the row groups, in file order.
    row_groups: Vec<Range<u64>>,
    /// The end of the file as the footer read fetched it, from `tail_start`: the scan does not
    /// download again the row-group bytes it holds.
    tail: Bytes,
    tail_start: u64,
}

impl Shard {
    /// Reads and checks the footer of `file`.
    pub async fn open(hub: &Hub, source: Source, file: HubFile) -> Result<Shard, ScanError> {
        let not_parquet = |problem: String| ScanError::NotParquet {
            repo: source.repo_id(),
            shard: file.path.clone(),
            problem,
        };
        let size = file.size;
        if size < 2 * FOOTER_SIZE as u64 {
            return Err(not_parquet(format!("it is only {size} bytes long")));
        }
        let tail_start = size.saturating_sub(FOOTER_GUESS);
        let tail = hub.fetch_range(&file, tail_start, size).await?;
        let footer: [u8; FOOTER_SIZE] = tail[tail.len() - FOOTER_SIZE..]
            .try_into()
            .expect("FOOTER_SIZE bytes");
        let footer = FooterTail::try_new(&footer).map_err(|e| not_parquet(e.to_string()))?;
        if footer.is_encrypted_footer() {
            return Err(not_parquet("its footer is encrypted".to_owned()));
        }
        let metadata_len = footer.metadata_length() as u64;
        let metadata_end = size - FOOTER_SIZE as u64;
        let metadata_start = metadata_end.checked_sub(metadata_len).ok_or_else(|| {
            not_parquet(format!(
                "its footer claims {metadata_len} bytes of metadata"
            ))
        })?;
        let metadata_bytes = if metadata_start >= tail_start {
            tail.slice((metadata_start - tail_start) as usize..(metadata_end - tail_start) as usize)
        } else {
            hub.fetch_range(&file, metadata_start, metadata_end).await?
        };
        // Statistics are never used (every row group holds a wanted row), and with long text
        // columns they are most of the decoded footer.
        let options = ParquetMetaDataOptions::new()
            .with_column_stats_policy(ParquetStatisticsPolicy::SkipAll)
            .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll)
            .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll);
        let metadata =
            ParquetMetaDataReader::decode_metadata_with_options(&metadata_bytes, Some(&options))
                .map_err(|e| not_parquet(e.to_string()))?;

        let fields = metadata
            .file_metadata()
            .schema_descr()
            .root_schema()
            .get_fields();
        let id_column = fields
            .iter()
            .position(|field| field.name() == source.id_column())
            .ok_or_else(|| ScanError::MissingIdColumn {
                repo: source.repo_id(),
                shard: file.path.clone(),
                column: source.id_column(),
                found: fields
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let metadata =
            text_as_bytes(metadata, id_column).map_err(|e| not_parquet(e.to_string()))?;

        let mut row_groups = Vec::new();
        let mut previous_end = 0;
        for row_group in metadata.metadata().row_groups() {
            let ranges = row_group.columns().iter().map(|column| {
                let (start, length) = column.byte_range();
                start..start + length
            });
            let range = ranges
                .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))
                .unwrap_or(previous_end..previous_end);
            if range.start < previous_end || range.end > metadata_start {
                return Err(not_parquet(format!(
                    "row group byte ranges are out of order or overlap the footer ({range:?})"
                )));
            }
            previous_end = range.end;
            row_groups.push(range);
        }
        Ok(Shard {
            source,
            file,
            metadata,
            id_column,
            row_groups,
            tail,
            tail_start,
        })
    }

    /// The bytes the scan downloads: from the first row group to the end of the last.
    pub fn data_range(&self) -> Range<u64> {
        match (self.row_groups.first(), self.row_groups.last()) {
            (Some(first), Some(last)) => first.start..last.end,
            _ => 0..0,
        }
    }

    /// Streams the shard and calls `emit` with every row whose ID is in `targets`, in file
    /// order, after `prepare` has turned it into what the caller keeps. `prepare` runs on the
    /// decoding threads, each row group holding one of `decoders`' permits, which all the scans
    /// of a run share. Duplicates within the shard are all emitted: the caller decides.
    pub async fn scan<T, P, E>(
        self: Arc<Self>,
        hub: &Hub,
        decoders: &Arc<Semaphore>,
        targets: Arc<HashSet<String>>,
        prepare: Arc<P>,
        mut emit: E,
        mut on_bytes: impl FnMut(u64),
    ) -> Result<(), ScanError>
    where
        T: Send + 'static,
        P: Fn(SourceRow) -> T + Send + Sync + 'static,
        E: FnMut(T),
    {
        let data = self.data_range();
        // Download up to where the footer read began; the rest is already here.
        let download_end = data.end.min(self.tail_start.max(data.start));
        let mut reader = hub.read_range(&self.file, data.start, download_end);
        let mut tail_used = false;
        let mut buffer = Vec::new();
        let mut buffer_start = data.start;
        let mut next_group = 0;
        let mut decoding = VecDeque::new();
        while next_group < self.row_groups.len() {
            let range = self.row_groups[next_group].clone();
            let buffered_end = buffer_start + buffer.len() as u64;
            if buffered_end < range.end {
                match reader.next_chunk().await? {
                    Some(chunk) => {
                        on_bytes(chunk.len() as u64);
                        // One allocation per row group instead of doubling as chunks arrive.
                        let missing = (range.end - buffered_end) as usize;
                        buffer.reserve(missing.max(chunk.len()));
                        buffer.extend_from_slice(&chunk);
                    }
                    None if !tail_used && buffered_end == download_end => {
                        tail_used = true;
                        let from = (download_end - self.tail_start) as usize;
                        let to = (data.end - self.tail_start) as usize;
                        on_bytes((to - from) as u64);
                        buffer.extend_from_slice(&self.tail[from..to]);
                    }
                    None => {
                        return Err(ScanError::NotParquet {
                            repo: self.source.repo_id(),
                            shard: self.file.path.clone(),
                            problem: "the data ended before the last row group".to_owned(),
                        });
                    }
                }
                continue;
            }
            // The row group is complete: hand its bytes to a decoding thread, keep the rest.
            let split = (range.end - buffer_start) as usize;
            let rest = buffer.split_off(split);
            let mut group_bytes = std::mem::replace(&mut buffer, rest);
            let skip = (range.start - buffer_start) as usize;
            group_bytes.drain(..skip);
            buffer_start = range.end;
            let window = RowGroupBytes {
                offset: range.start,
                bytes: Bytes::from(group_bytes),
                file_len: self.file.size,
            };
            let shard = Arc::clone(&self);
            let targets = Arc::clone(&targets);
            let prepare = Arc::clone(&prepare);
            let index = next_group;
            // Waiting here also stops this stream's download: row groups wait as TCP backpressure,
            // not in memory, however many shards stream at once.
            let permit = Arc::clone(decoders)
                .acquire_owned()
                .await
                .expect("the decoder semaphore is never closed");
            decoding.push_back(tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let rows = shard.decode_row_group(index, window, &targets)?;
                Ok::<_, ScanError>(rows.into_iter().map(|row| prepare(row)).collect::<Vec<T>>())
            }));
            next_group += 1;
            while decoding.len() >= DECODE_WINDOW {
                let decoded = decoding
                    .pop_front()
                    .expect("non-empty")
                    .await
                    .expect("decoding does not panic")?;
                decoded.into_iter().for_each(&mut emit);
            }
        }
        while let Some(task) = decoding.pop_front() {
            let decoded = task.await.expect("decoding does not panic")?;
            decoded.into_iter().for_each(&mut emit);
        }
        Ok(())
    }

    fn decode_row_group(
        &self,
        index: usize,
        window: RowGroupBytes,
        targets: &Arc<HashSet<String>>,
    ) -> Result<Vec<SourceRow>, ScanError> {
        let decode_error = |source: ParquetError| ScanError::Decode {
            repo: self.source.repo_id(),
            shard: self.file.path.clone(),
            row_group: index,
            source,
        };
        let id_mask = ProjectionMask::roots(self.metadata.parquet_schema(), [self.id_column]);
        let predicate_targets = Arc::clone(targets);
        let predicate = ArrowPredicateFn::new(id_mask, move |batch: RecordBatch| {
            wanted_ids(batch.column(0).as_ref(), &predicate_targets)
        });
        let rows_in_group = self.metadata.metadata().row_group(index).num_rows();
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(window, self.metadata.clone())
                .with_row_groups(vec![index])
                .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
                .with_batch_size(usize::try_from(rows_in_group).unwrap_or(1).max(1))
                .build()
                .map_err(decode_error)?;

        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| decode_error(ParquetError::ArrowError(e.to_string())))?;
            let schema = batch.schema();
            for row in 0..batch.num_rows() {
                let mut object = Object::with_capacity(batch.num_columns());
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    let value = arrow_value(column.as_ref(), row).map_err(|error| match error {
                        CellError::Unsupported(data_type) => ScanError::UnsupportedType {
                            repo: self.source.repo_id(),
                            shard: self.file.path.clone(),
                            column: field.name().clone(),
                            data_type,
                        },
                        CellError::NotUtf8 => ScanError::NotUtf8 {
                            repo: self.source.repo_id(),
                            shard: self.file.path.clone(),
                            column: field.name().clone(),
                        },
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
        Ok(rows)
    }
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

/// Why a cell has no JSON value.
enum CellError {
    /// A type the reference cannot write as JSON.
    Unsupported(DataType),
    /// A text column's value is not UTF-8.
    NotUtf8,
}

impl From<DataType> for CellError {
    fn from(data_type: DataType) -> Self {
        CellError::Unsupported(data_type)
    }
}

/// The footer with every text column but the ID column typed as plain bytes, to be read as
/// Arrow binary. parquet-rs checks the UTF-8 of a text column's whole dictionary page (up to
/// 1 MB a row group) though a row group holds a handful of wanted rows: that was 18 % of a run's
/// CPU time. `arrow_value` checks the wanted values instead.
fn text_as_bytes(
    metadata: ParquetMetaData,
    id_column: usize,
) -> Result<ArrowReaderMetadata, ParquetError> {
    let file = metadata.file_metadata();
    let root = file.schema_descr().root_schema();
    let fields = root
        .get_fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            if index == id_column {
                Ok(Arc::clone(field))
            } else {
                bytes_type(field)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let root = SchemaType::group_type_builder(root.name())
        .with_fields(fields)
        .build()?;
    let file_metadata = FileMetaData::new(
        file.version(),
        file.num_rows(),
        file.created_by().map(str::to_owned),
        file.key_value_metadata().cloned(),
        Arc::new(SchemaDescriptor::new(Arc::new(root))),
        file.column_orders().cloned(),
    );
    let metadata = Arc::new(ParquetMetaData::new(
        file_metadata,
        metadata.row_groups().to_vec(),
    ));
    // The Arrow schema the file carries still says "string" for those columns: ask for binary,
    // or the reader would build string arrays from unchecked bytes.
    let hinted = ArrowReaderMetadata::try_new(Arc::clone(&metadata), ArrowReaderOptions::new())?;
    let schema = hinted.schema();
    let binary_fields: Vec<FieldRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            if index == id_column {
                Arc::clone(field)
            } else {
                Arc::new(binary_field(field))
            }
        })
        .collect();
    let binary_schema = Arc::new(Schema::new_with_metadata(
        binary_fields,
        schema.metadata().clone(),
    ));
    ArrowReaderMetadata::try_new(
        metadata,
        ArrowReaderOptions::new().with_schema(binary_schema),
    )
}

/// A Parquet type with its UTF-8 annotations removed.
fn bytes_type(parquet_type: &TypePtr) -> Result<TypePtr, ParquetError> {
    let info = parquet_type.get_basic_info();
    if parquet_type.is_primitive() {
        let is_text = parquet_type.get_physical_type() == PhysicalType::BYTE_ARRAY
            && (matches!(info.logical_type_ref(), Some(LogicalType::String))
                || info.converted_type() == ConvertedType::UTF8);
        if !is_text {
            return Ok(Arc::clone(parquet_type));
        }
        let builder = SchemaType::primitive_type_builder(info.name(), PhysicalType::BYTE_ARRAY)
            .with_repetition(info.repetition())
            .with_id(info.has_id().then(|| info.id()));
        return Ok(Arc::new(builder.build()?));
    }
    let fields = parquet_type
        .get_fields()
        .iter()
        .map(bytes_type)
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = SchemaType::group_type_builder(info.name())
        .with_fields(fields)
        .with_converted_type(info.converted_type())
        .with_logical_type(info.logical_type_ref().cloned())
        .with_id(info.has_id().then(|| info.id()));
    if info.has_repetition() {
        builder = builder.with_repetition(info.repetition());
    }
    Ok(Arc::new(builder.build()?))
}

/// An Arrow field with its string types, however nested, made binary.
fn binary_field(field: &Field) -> Field {
    field.clone().with_data_type(binary_type(field.data_type()))
}

fn binary_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8 => DataType::Binary,
        DataType::LargeUtf8 => DataType::LargeBinary,
        DataType::Utf8View => DataType::BinaryView,
        DataType::List(item) => DataType::List(Arc::new(binary_field(item))),
        DataType::LargeList(item) => DataType::LargeList(Arc::new(binary_field(item))),
        DataType::FixedSizeList(item, size) => {
            DataType::FixedSizeList(Arc::new(binary_field(item)), *size)
        }
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| binary_field(f)).collect())
        }
        DataType::Dictionary(key, value) => {
            DataType::Dictionary(key.clone(), Box::new(binary_type(value)))
        }
        other => other.clone(),
    }
}

/// One cell as the Python object `datasets` would hand the reference (struct → dict in field
/// order, list → list, timestamp → datetime). Binary values are text columns read as bytes
/// (see `text_as_bytes`).
fn arrow_value(array: &dyn Array, row: usize) -> Result<Value, CellError> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    let value = match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Value::Int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Int(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::Int(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::Int(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => {
            let value = array.as_primitive::<UInt64Type>().value(row);
            Value::Int(i64::try_from(value).map_err(|_| CellError::Unsupported(DataType::UInt64))?)
        }
        DataType::Float16 => Value::Float(array.as_primitive::<Float16Type>().value(row).to_f64()),
        DataType::Float32 => Value::Float(array.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => Value::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Str(array.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Value::Str(array.as_string::<i64>().value(row).to_owned()),
        DataType::Utf8View => Value::Str(array.as_string_view().value(row).to_owned()),
        DataType::Binary => text(array.as_binary::<i32>().value(row))?,
        DataType::LargeBinary => text(array.as_binary::<i64>().value(row))?,
        DataType::BinaryView => text(array.as_binary_view().value(row))?,
        DataType::Timestamp(unit, tz) => {
            let utc = match tz.as_deref() {
                None => false,
                Some("UTC" | "utc" | "Etc/UTC" | "+00:00" | "Z") => true,
                Some(_) => return Err(array.data_type().clone().into()),
            };
            let micros = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .saturating_mul(1_000),
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => array
                    .as_primitive::<TimestampNanosecondType>()
                    .value(row)
                    .div_euclid(1_000),
            };
            Value::Timestamp(Timestamp { micros, utc })
        }
        DataType::List(_) => list_values(array.as_list::<i32>().value(row).as_ref())?,
        DataType::LargeList(_) => list_values(array.as_list::<i64>().value(row).as_ref())?,
        DataType::FixedSizeList(_, _) => {
            list_values(array.as_fixed_size_list().value(row).as_ref())?
        }
        DataType::Struct(fields) => {
            let columns = array.as_struct().columns();
            let mut object = Object::with_capacity(fields.len());
            for (field, column) in fields.iter().zip(columns) {
                object.push(field.name().clone(), arrow_value(column.as_ref(), row)?);
            }
            Value::Object(object)
        }
        other => return Err(other.clone().into()),
    };
    Ok(value)
}

fn text(bytes: &[u8]) -> Result<Value, CellError> {
    std::str::from_utf8(bytes)
        .map(|text| Value::Str(text.to_owned()))
        .map_err(|_| CellError::NotUtf8)
}

fn list_values(items: &dyn Array) -> Result<Value, CellError> {
    (0..items.len())
        .map(|i| arrow_value(items, i))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::List)
}

/// The bytes of one row group, addressed by file offset, so the Parquet reader can decode it
/// without the rest of the file.
struct RowGroupBytes {
    offset: u64,
    bytes: Bytes,
    file_len: u64,
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
