//! Records as Arrow arrays of the Parquet file's column types (FORMAT.md §10), built from the
//! records' values: what the scan decoded and the annotation holds, NaN and ±Infinity included,
//! never a second parse of the JSONL text (which spells them `NaN` and `Infinity`).

use std::sync::Arc;

use arrow_array::types::{
    ArrowPrimitiveType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    ArrayRef, BinaryViewArray, BooleanArray, GenericBinaryArray, GenericListArray,
    GenericStringArray, NullArray, OffsetSizeTrait, PrimitiveArray, RecordBatch,
    RecordBatchOptions, StringViewArray, StructArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, FieldRef, Fields, SchemaRef, TimeUnit};

use crate::record::pyjson;
use crate::value::{Object, Value};

/// The records as one batch of `schema`; a column a value does not fit is named.
pub(super) fn record_batch(schema: &SchemaRef, records: &[Object]) -> Result<RecordBatch, String> {
    let records: Vec<Option<&Object>> = records.iter().map(Some).collect();
    let columns =
        children(schema.fields(), &records).map_err(|problem| format!("column {problem}"))?;
    let options = RecordBatchOptions::new().with_row_count(Some(records.len()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| e.to_string())
}

/// The arrays of `fields` holding the objects' values (a missing object or key is null); a
/// problem is prefixed with the field's name.
fn children(fields: &Fields, objects: &[Option<&Object>]) -> Result<Vec<ArrayRef>, String> {
    // Each object's keys come in the fields' order, its nulls perhaps dropped: a cursor each.
    let mut cursors = vec![0; objects.len()];
    fields
        .iter()
        .map(|field| {
            let values: Vec<&Value> = objects
                .iter()
                .zip(&mut cursors)
                .map(|(object, cursor)| {
                    object
                        .and_then(|o| o.get_in_order(field.name(), cursor))
                        .unwrap_or(&Value::Null)
                })
                .collect();
            column(field.data_type(), &values)
                .map_err(|problem| format!("`{}`: {problem}", field.name()))
        })
        .collect()
}

/// The array of `data_type` holding `values`, nulls as nulls.
fn column(data_type: &DataType, values: &[&Value]) -> Result<ArrayRef, String> {
    let unfit = |value: &Value| format!("{} does not fit type {data_type}", kind(value));
    let array: ArrayRef = match data_type {
        DataType::Null => match values.iter().find(|v| !v.is_null()) {
            Some(value) => return Err(unfit(value)),
            None => Arc::new(NullArray::new(values.len())),
        },
        DataType::Boolean => Arc::new(
            values
                .iter()
                .map(|value| match value {
                    Value::Null => Ok(None),
                    Value::Bool(b) => Ok(Some(*b)),
                    other => Err(unfit(other)),
                })
                .collect::<Result<BooleanArray, _>>()?,
        ),
        DataType::Int8 => integers::<Int8Type>(values, unfit)?,
        DataType::Int16 => integers::<Int16Type>(values, unfit)?,
        DataType::Int32 => integers::<Int32Type>(values, unfit)?,
        DataType::Int64 => integers::<Int64Type>(values, unfit)?,
        DataType::UInt8 => integers::<UInt8Type>(values, unfit)?,
        DataType::UInt16 => integers::<UInt16Type>(values, unfit)?,
        DataType::UInt32 => integers::<UInt32Type>(values, unfit)?,
        DataType::UInt64 => integers::<UInt64Type>(values, unfit)?,
        DataType::Float16 => floats::<Float16Type>(values, unfit, |x| {
            <Float16Type as ArrowPrimitiveType>::Native::from_f64(x)
        })?,
        DataType::Float32 => floats::<Float32Type>(values, unfit, |x| x as f32)?,
        DataType::Float64 => floats::<Float64Type>(values, unfit, |x| x)?,
        DataType::Utf8 => Arc::new(texts(values, unfit)?.collect::<GenericStringArray<i32>>()),
        DataType::LargeUtf8 => Arc::new(texts(values, unfit)?.collect::<GenericStringArray<i64>>()),
        DataType::Utf8View => Arc::new(texts(values, unfit)?.collect::<StringViewArray>()),
        DataType::Binary => Arc::new(bytes(values, unfit)?.collect::<GenericBinaryArray<i32>>()),
        DataType::LargeBinary => {
            Arc::new(bytes(values, unfit)?.collect::<GenericBinaryArray<i64>>())
        }
        DataType::BinaryView => Arc::new(bytes(values, unfit)?.collect::<BinaryViewArray>()),
        DataType::Timestamp(unit, zone) => {
            let micros = values
                .iter()
                .map(|value| match value {
                    Value::Null => Ok(None),
                    Value::Timestamp(t) => Ok(Some(t.micros)),
                    other => Err(unfit(other)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let in_unit = |scale: fn(i64) -> Option<i64>| {
                micros
                    .iter()
                    .map(|m| {
                        m.map(|m| scale(m).ok_or_else(|| format!("{m} µs overflows {data_type}")))
                            .transpose()
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            match unit {
                TimeUnit::Second => Arc::new(
                    PrimitiveArray::<TimestampSecondType>::from(in_unit(|m| {
                        Some(m.div_euclid(1_000_000))
                    })?)
                    .with_timezone_opt(zone.clone()),
                ) as ArrayRef,
                TimeUnit::Millisecond => Arc::new(
                    PrimitiveArray::<TimestampMillisecondType>::from(in_unit(|m| {
                        Some(m.div_euclid(1_000))
                    })?)
                    .with_timezone_opt(zone.clone()),
                ),
                TimeUnit::Microsecond => Arc::new(
                    PrimitiveArray::<TimestampMicrosecondType>::from(micros)
                        .with_timezone_opt(zone.clone()),
                ),
                TimeUnit::Nanosecond => Arc::new(
                    PrimitiveArray::<TimestampNanosecondType>::from(in_unit(|m| {
                        m.checked_mul(1_000)
                    })?)
                    .with_timezone_opt(zone.clone()),
                ),
            }
        }
        DataType::List(item) => list::<i32>(item, values, unfit)?,
        DataType::LargeList(item) => list::<i64>(item, values, unfit)?,
        DataType::Struct(fields) => structure(fields, values, unfit)?,
        other => return Err(format!("a column of type {other} cannot be written")),
    };
    Ok(array)
}

fn integers<T>(values: &[&Value], unfit: impl Fn(&Value) -> String) -> Result<ArrayRef, String>
where
    T: ArrowPrimitiveType,
    T::Native: TryFrom<i64>,
{
    let array = values
        .iter()
        .map(|value| match value {
            Value::Null => Ok(None),
            Value::Int(i) => T::Native::try_from(*i).map(Some).map_err(|_| unfit(value)),
            other => Err(unfit(other)),
        })
        .collect::<Result<PrimitiveArray<T>, _>>()?;
    Ok(Arc::new(array))
}

/// Floats keep their IEEE value, NaN and ±Infinity included; integers in a float column are
/// the floats they stand for (FORMAT.md §2).
fn floats<T: ArrowPrimitiveType>(
    values: &[&Value],
    unfit: impl Fn(&Value) -> String,
    from_f64: impl Fn(f64) -> T::Native,
) -> Result<ArrayRef, String> {
    let array = values
        .iter()
        .map(|value| match value {
            Value::Null => Ok(None),
            Value::Float(x) => Ok(Some(from_f64(*x))),
            Value::Int(i) => Ok(Some(from_f64(*i as f64))),
            other => Err(unfit(other)),
        })
        .collect::<Result<PrimitiveArray<T>, _>>()?;
    Ok(Arc::new(array))
}

/// A text column's values; a scalar of another kind (a column of mixed kinds, FORMAT.md §10) is
/// its JSONL text.
fn texts<'a>(
    values: &'a [&'a Value],
    unfit: impl Fn(&Value) -> String,
) -> Result<impl Iterator<Item = Option<std::borrow::Cow<'a, str>>>, String> {
    use std::borrow::Cow;
    let texts = values
        .iter()
        .map(|value| match value {
            Value::Null => Ok(None),
            Value::Str(s) => Ok(Some(Cow::Borrowed(s.as_str()))),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Timestamp(_) => {
                let mut text = Vec::new();
                pyjson::write_value(&mut text, value);
                let text = String::from_utf8(text).expect("pyjson writes ASCII");
                // A timestamp's text is its JSONL string, without the quotes.
                Ok(Some(Cow::Owned(text.trim_matches('"').to_owned())))
            }
            other => Err(unfit(other)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(texts.into_iter())
}

fn bytes<'a>(
    values: &'a [&'a Value],
    unfit: impl Fn(&Value) -> String,
) -> Result<impl Iterator<Item = Option<&'a [u8]>>, String> {
    let bytes = values
        .iter()
        .map(|value| match value {
            Value::Null => Ok(None),
            Value::Str(s) => Ok(Some(s.as_bytes())),
            other => Err(unfit(other)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(bytes.into_iter())
}

fn list<O: OffsetSizeTrait>(
    item: &FieldRef,
    values: &[&Value],
    unfit: impl Fn(&Value) -> String,
) -> Result<ArrayRef, String> {
    let mut lengths = Vec::with_capacity(values.len());
    let mut valid = Vec::with_capacity(values.len());
    let mut items = Vec::new();
    for value in values {
        match value {
            Value::Null => {
                lengths.push(0);
                valid.push(false);
            }
            Value::List(list) => {
                lengths.push(list.len());
                valid.push(true);
                items.extend(list.iter());
            }
            other => return Err(unfit(other)),
        }
    }
    let array = GenericListArray::<O>::try_new(
        Arc::clone(item),
        OffsetBuffer::from_lengths(lengths),
        column(item.data_type(), &items)?,
        nulls(valid),
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(array))
}

fn structure(
    fields: &Fields,
    values: &[&Value],
    unfit: impl Fn(&Value) -> String,
) -> Result<ArrayRef, String> {
    let objects = values
        .iter()
        .map(|value| match value {
            Value::Null => Ok(None),
            Value::Object(object) => Ok(Some(object)),
            other => Err(unfit(other)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let children = children(fields, &objects)?;
    let valid = objects.iter().map(Option::is_some).collect();
    let array =
        StructArray::try_new_with_length(fields.clone(), children, nulls(valid), values.len())
            .map_err(|e| e.to_string())?;
    Ok(Arc::new(array))
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    valid.contains(&false).then(|| NullBuffer::from(valid))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Str(_) => "text",
        Value::Timestamp(_) => "a timestamp",
        Value::List(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_schema::{Field, Schema};

    use crate::value::Timestamp;

    fn object(entries: Vec<(&str, Value)>) -> Object {
        let mut object = Object::default();
        for (key, value) in entries {
            object.push(key.to_owned(), value);
        }
        object
    }

    #[test]
    fn non_finite_floats_stay_ieee_values_and_nesting_is_kept() {
        let scores = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Float64, true),
            Field::new("b", DataType::Float64, true),
        ]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new(
                "moderation",
                DataType::List(Arc::new(Field::new("item", scores, true))),
                true,
            ),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
        ]));
        let records = [
            object(vec![
                ("id", Value::Str("x".into())),
                (
                    "moderation",
                    Value::List(vec![
                        Value::Object(object(vec![
                            ("a", Value::Float(f64::NAN)),
                            ("b", Value::Float(f64::INFINITY)),
                        ])),
                        Value::Null,
                        // Keys out of order are found by name.
                        Value::Object(object(vec![
                            ("b", Value::Int(2)),
                            ("a", Value::Float(f64::NEG_INFINITY)),
                        ])),
                    ]),
                ),
                (
                    "at",
                    Value::Timestamp(Timestamp {
                        micros: -1,
                        utc: true,
                    }),
                ),
            ]),
            object(vec![("id", Value::Null)]),
        ];
        let batch = record_batch(&schema, &records).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let moderation = batch.column(1).as_list::<i32>();
        assert!(moderation.is_null(1));
        let items = moderation.value(0);
        let items = items.as_struct();
        assert!(items.is_null(1));
        let a = items.column(0).as_primitive::<Float64Type>();
        let b = items.column(1).as_primitive::<Float64Type>();
        assert!(a.value(0).is_nan());
        assert_eq!(b.value(0), f64::INFINITY);
        assert_eq!(a.value(2), f64::NEG_INFINITY);
        assert_eq!(b.value(2), 2.0);
        let at = batch.column(2).as_primitive::<TimestampNanosecondType>();
        assert_eq!(at.value(0), -1_000);
        assert!(at.is_null(1));
    }

    #[test]
    fn scalars_of_other_kinds_in_a_text_column_are_their_jsonl_text() {
        let schema = Arc::new(Schema::new(vec![Field::new("m", DataType::Utf8, true)]));
        let records: Vec<Object> = [
            Value::Int(1),
            Value::Float(0.5),
            Value::Float(1e16),
            Value::Bool(true),
            Value::Str("x".into()),
            Value::Null,
        ]
        .into_iter()
        .map(|value| object(vec![("m", value)]))
        .collect();
        let batch = record_batch(&schema, &records).unwrap();
        let texts: Vec<Option<&str>> = batch.column(0).as_string::<i32>().iter().collect();
        assert_eq!(
            texts,
            [
                Some("1"),
                Some("0.5"),
                Some("1e+16"),
                Some("true"),
                Some("x"),
                None
            ]
        );
    }

    #[test]
    fn a_value_that_does_not_fit_names_its_column() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let records = [object(vec![("n", Value::List(Vec::new()))])];
        let problem = record_batch(&schema, &records).unwrap_err();
        assert_eq!(problem, "column `n`: a list does not fit type Int64");
    }
}
