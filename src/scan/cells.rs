//! One Arrow cell as the Python object `datasets` hands the reference generator
//! (FORMAT.md §4): struct → dict in field order, list → list, timestamp → datetime.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_schema::{DataType, TimeUnit};

use crate::value::{Object, Timestamp, Value};

/// Why a cell has no JSON value.
pub(super) enum CellError {
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

/// A cell's value. Binary values are text columns read as bytes (see `schema`), checked here.
pub(super) fn arrow_value(array: &dyn Array, row: usize) -> Result<Value, CellError> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BinaryArray, BinaryViewArray, Int64Array, ListArray, StructArray,
        TimestampNanosecondArray,
    };
    use arrow_buffer::OffsetBuffer;
    use arrow_schema::Field;

    use super::*;

    #[test]
    fn structs_keep_field_order_and_lists_their_items() {
        // Text as `schema` has it read: binary views.
        let roles: ArrayRef = Arc::new(BinaryViewArray::from(vec![
            b"user".as_slice(),
            b"assistant".as_slice(),
        ]));
        let turns: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let turns_struct = StructArray::from(vec![
            (
                Arc::new(Field::new("role", DataType::BinaryView, true)),
                roles,
            ),
            (Arc::new(Field::new("turn", DataType::Int64, true)), turns),
        ]);
        let list = ListArray::new(
            Arc::new(Field::new("item", turns_struct.data_type().clone(), true)),
            OffsetBuffer::from_lengths([2]),
            Arc::new(turns_struct),
            None,
        );
        let Ok(Value::List(items)) = arrow_value(&list, 0) else {
            panic!("a list")
        };
        let second = items[1].as_object().unwrap();
        let entries: Vec<_> = second.iter().collect();
        assert_eq!(
            entries,
            [
                ("role", &Value::Str("assistant".into())),
                ("turn", &Value::Null)
            ]
        );
    }

    #[test]
    fn timestamps_become_microseconds_and_foreign_zones_are_refused() {
        let utc = TimestampNanosecondArray::from(vec![1_500_000_999]).with_timezone("UTC");
        assert_eq!(
            arrow_value(&utc, 0).ok(),
            Some(Value::Timestamp(Timestamp {
                micros: 1_500_000,
                utc: true
            }))
        );
        let paris = TimestampNanosecondArray::from(vec![0]).with_timezone("Europe/Paris");
        assert!(matches!(
            arrow_value(&paris, 0),
            Err(CellError::Unsupported(_))
        ));
    }

    #[test]
    fn text_read_as_bytes_is_checked() {
        let bytes = BinaryArray::from_vec(vec![b"ok", b"\xff"]);
        assert_eq!(arrow_value(&bytes, 0).ok(), Some(Value::Str("ok".into())));
        assert!(matches!(arrow_value(&bytes, 1), Err(CellError::NotUtf8)));
        // Views of long values (more than 12 bytes live outside the view).
        let long = "a message longer than twelve bytes";
        let views = BinaryViewArray::from(vec![long.as_bytes(), b"\xffa long invalid one"]);
        assert_eq!(arrow_value(&views, 0).ok(), Some(Value::Str(long.into())));
        assert!(matches!(arrow_value(&views, 1), Err(CellError::NotUtf8)));
    }
}
