//! Opening a shard: its footer is read from the tail of the file (one request that also brings
//! the last row groups), checked, and turned into the row groups' byte ranges.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use parquet::file::FOOTER_SIZE;
use parquet::file::metadata::{
    ColumnChunkMetaData, FooterTail, ParquetMetaDataOptions, ParquetMetaDataReader,
    ParquetStatisticsPolicy,
};

use super::error::{NotParquet, ScanError, ShardProblem};
use super::schema::text_as_bytes;
use super::shard::Shard;
use crate::hub::HubApi;
use crate::shards::{ShardFile, ShardReader};
use crate::source::Source;

/// How many bytes from the end of a shard the first footer read asks for; a larger footer takes
/// a second read.
const FOOTER_GUESS: u64 = 1 << 20;

/// The longest footer fetched (FORMAT.md §1): the real shards' are a few hundred kilobytes to
/// a few megabytes; a length field beyond this is damage, not a footer to download.
const MAX_FOOTER: u64 = 64 << 20;

impl Shard {
    /// Reads and checks the footer of `file`. The stream of the bytes before the footer read's
    /// (where the row groups are) is requested at the same time, so a shard costs one round trip
    /// before its bytes flow, not two; it is returned unread, for [`Shard::scan`]. The footer
    /// read's bytes are counted by `on_tail_bytes` as they arrive.
    pub async fn open(
        api: &Arc<HubApi>,
        source: Source,
        file: ShardFile,
        on_tail_bytes: impl Fn(u64),
    ) -> Result<(Shard, ShardReader), ScanError> {
        let not_parquet = |problem: NotParquet| ScanError::Shard {
            repo: source.repo_id(),
            shard: file.path().to_owned(),
            problem: ShardProblem::NotParquet(problem),
        };
        let size = file.size();
        if size < 2 * FOOTER_SIZE as u64 {
            return Err(not_parquet(NotParquet::Checked(format!(
                "it is only {size} bytes long"
            ))));
        }
        let tail_start = size.saturating_sub(FOOTER_GUESS);
        // From byte 0: every byte is hashed (FORMAT.md §1), the 4-byte magic `PAR1` too.
        let mut body = file.read(api, 0, tail_start);
        let (tail, started) = tokio::join!(
            file.fetch(api, tail_start, size, on_tail_bytes),
            body.open_early()
        );
        let tail = tail?;
        started?;
        let footer: &[u8; FOOTER_SIZE] = tail
            .len()
            .checked_sub(FOOTER_SIZE)
            .and_then(|start| tail[start..].try_into().ok())
            .ok_or_else(|| {
                not_parquet(NotParquet::Checked(
                    "its last bytes did not arrive".to_owned(),
                ))
            })?;
        let footer =
            FooterTail::try_new(footer).map_err(|error| not_parquet(NotParquet::Reader(error)))?;
        if footer.is_encrypted_footer() {
            return Err(not_parquet(NotParquet::Checked(
                "its footer is encrypted".to_owned(),
            )));
        }
        let metadata_len = footer.metadata_length() as u64;
        let metadata_end = size - FOOTER_SIZE as u64;
        let metadata_start = metadata_end
            .checked_sub(metadata_len)
            .filter(|_| metadata_len <= MAX_FOOTER)
            .ok_or_else(|| {
                not_parquet(NotParquet::Checked(format!(
                    "its footer claims {metadata_len} bytes of metadata, more than the file \
                     ({size} bytes) or a shard's footer (at most {MAX_FOOTER} bytes) can hold"
                )))
            })?;
        let metadata_bytes = if metadata_start >= tail_start {
            tail.slice((metadata_start - tail_start) as usize..(metadata_end - tail_start) as usize)
        } else {
            file.fetch(api, metadata_start, metadata_end, |_| {})
                .await?
        };
        let shard = Shard::with_footer(source, file, metadata_bytes, tail, tail_start)?;
        Ok((shard, body))
    }

    /// A shard whose footer (`FileMetaData` bytes) is known, with the file's last bytes from
    /// `tail_start` already read (none: `tail_start` is the file's size).
    pub fn with_footer(
        source: Source,
        file: ShardFile,
        metadata_bytes: Bytes,
        tail: Bytes,
        tail_start: u64,
    ) -> Result<Shard, ScanError> {
        let not_parquet = |problem: NotParquet| ScanError::Shard {
            repo: source.repo_id(),
            shard: file.path().to_owned(),
            problem: ShardProblem::NotParquet(problem),
        };
        let metadata_start = file
            .size()
            .checked_sub(FOOTER_SIZE as u64)
            .and_then(|end| end.checked_sub(metadata_bytes.len() as u64))
            .ok_or_else(|| {
                not_parquet(NotParquet::Checked(
                    "its footer is longer than the file".to_owned(),
                ))
            })?;
        if tail_start.checked_add(tail.len() as u64) != Some(file.size()) {
            return Err(not_parquet(NotParquet::Checked(format!(
                "the {} bytes kept from byte {tail_start} do not end where the file does",
                tail.len()
            ))));
        }
        // Statistics are never used (every row group holds a wanted row), and with long text
        // columns they are most of the decoded footer.
        let options = ParquetMetaDataOptions::new()
            .with_column_stats_policy(ParquetStatisticsPolicy::SkipAll)
            .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll)
            .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll);
        let metadata =
            ParquetMetaDataReader::decode_metadata_with_options(&metadata_bytes, Some(&options))
                .map_err(|error| not_parquet(NotParquet::Reader(error)))?;

        let fields = metadata
            .file_metadata()
            .schema_descr()
            .root_schema()
            .get_fields();
        let id_column = fields
            .iter()
            .position(|field| field.name() == source.id_column())
            .ok_or_else(|| ScanError::Shard {
                repo: source.repo_id(),
                shard: file.path().to_owned(),
                problem: ShardProblem::MissingIdColumn {
                    column: source.id_column(),
                    found: fields
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            })?;
        let (metadata, declared_schema) = text_as_bytes(metadata, id_column)
            .map_err(|error| not_parquet(NotParquet::Reader(error)))?;

        let mut row_groups = Vec::new();
        let mut previous_end = 0;
        for (index, row_group) in metadata.metadata().row_groups().iter().enumerate() {
            let mut range: Option<Range<u64>> = None;
            for column in row_group.columns() {
                let chunk = column_chunk_range(column, metadata_start).map_err(|why| {
                    not_parquet(NotParquet::Checked(format!(
                        "its footer says column chunk `{}` of row group {index} {why}",
                        column.column_path()
                    )))
                })?;
                range = Some(match range {
                    Some(range) => range.start.min(chunk.start)..range.end.max(chunk.end),
                    None => chunk,
                });
            }
            let range = range.unwrap_or(previous_end..previous_end);
            if range.start < previous_end {
                return Err(not_parquet(NotParquet::Checked(format!(
                    "its footer says row group {index} starts at byte {}, before the end of the \
                     one before it ({previous_end})",
                    range.start
                ))));
            }
            previous_end = range.end;
            row_groups.push(range);
        }
        Ok(Shard {
            source,
            file,
            declared_schema,
            metadata,
            metadata_bytes,
            id_column,
            row_groups,
            tail,
            tail_start,
        })
    }
}

/// The bytes of a column chunk as its footer gives them (from its dictionary page, else its
/// first data page), checked: a footer is input, and parquet's own `byte_range` panics on the
/// negative numbers a damaged one holds (FORMAT.md §1). Every page offset must lie within the
/// chunk and the chunk before the footer (`metadata_start`), so that nothing reads past it.
fn column_chunk_range(
    column: &ColumnChunkMetaData,
    metadata_start: u64,
) -> Result<Range<u64>, String> {
    let offset = |name: &str, value: i64| {
        u64::try_from(value).map_err(|_| format!("its {name} is {value}, a negative offset"))
    };
    let data_page = offset("data page offset", column.data_page_offset())?;
    let dictionary_page = column
        .dictionary_page_offset()
        .map(|value| offset("dictionary page offset", value))
        .transpose()?;
    let start = dictionary_page.unwrap_or(data_page);
    let length = u64::try_from(column.compressed_size()).map_err(|_| {
        format!(
            "it holds {} bytes, a negative size",
            column.compressed_size()
        )
    })?;
    let end = start
        .checked_add(length)
        .filter(|&end| end <= metadata_start)
        .ok_or_else(|| {
            format!(
                "it holds {length} bytes from byte {start}, past where its data can end \
                 ({metadata_start})"
            )
        })?;
    if !(start..end).contains(&data_page) && length > 0 {
        return Err(format!(
            "its first data page is at byte {data_page}, outside its bytes {start}..{end}"
        ));
    }
    Ok(start..end)
}
