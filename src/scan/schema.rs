//! The footer's schema rewritten so text columns are read as bytes: parquet-rs checks the UTF-8
//! of a text column's whole dictionary page (up to 1 MB a row group) though a row group holds a
//! handful of wanted rows; that was 18 % of a run's CPU time. `cells` checks the wanted values.
//! They are read as binary views, which point into the decompressed dictionary page rather than
//! copy it into an offsets buffer first (about 4 % of the CPU time of a run from local files).

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::errors::ParquetError;
use parquet::file::metadata::{FileMetaData, ParquetMetaData};
use parquet::schema::types::{SchemaDescriptor, Type as SchemaType, TypePtr};

/// The footer with every text column but the ID column typed as plain bytes, to be read as
/// Arrow binary; and the Arrow schema the shard declares, text as text.
pub(super) fn text_as_bytes(
    metadata: ParquetMetaData,
    id_column: usize,
) -> Result<(ArrowReaderMetadata, SchemaRef), ParquetError> {
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
    let declared = Arc::clone(schema);
    let reader = ArrowReaderMetadata::try_new(
        metadata,
        ArrowReaderOptions::new().with_schema(binary_schema),
    )?;
    Ok((reader, declared))
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

/// An Arrow field with its string types, however nested, made binary views.
fn binary_field(field: &Field) -> Field {
    field.clone().with_data_type(binary_type(field.data_type()))
}

fn binary_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::BinaryView,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_strings_become_binary_and_the_rest_stays() {
        let message = DataType::Struct(
            vec![
                Field::new("role", DataType::Utf8, true),
                Field::new("turn", DataType::Int64, true),
            ]
            .into(),
        );
        let conversation = DataType::List(Arc::new(Field::new("item", message, true)));
        let binary = binary_type(&conversation);
        let DataType::List(item) = &binary else {
            panic!("still a list")
        };
        let DataType::Struct(fields) = item.data_type() else {
            panic!("still a struct")
        };
        assert_eq!(fields[0].data_type(), &DataType::BinaryView);
        assert_eq!(fields[1].data_type(), &DataType::Int64);
        assert_eq!(binary_type(&DataType::LargeUtf8), DataType::BinaryView);
    }
}
