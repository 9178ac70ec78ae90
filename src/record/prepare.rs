//! The prepare stage: a wanted source row becomes the bytes it adds to each artifact, on the
//! decoding threads, so the in-order hand-over only appends. The record is the source row with
//! its annotation overlaid (`record`), written as Python writes it (`pyjson`), and its review
//! rows (`review`) encoded as `csv.writer` encodes them (`artifacts`). The record itself is
//! kept too, as values, for the dataset's Parquet files (FORMAT.md §10).

use serde::{Deserialize, Serialize};

use super::{overlay, pyjson, review};
use crate::annotations::AnnotationIndex;
use crate::artifacts;
use crate::scan::SourceRow;
use crate::value::Object;

/// A source row merged with its annotation and already serialised, ready to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PreparedRecord {
    pub(crate) id: String,
    /// The JSONL record (FORMAT.md §4) as values, its null values left out.
    pub(crate) record: Object,
    pub(crate) jsonl: Vec<u8>,
    pub(crate) full_review: Vec<u8>,
    pub(crate) full_review_rows: u64,
    pub(crate) sycophancy_review: Vec<u8>,
    pub(crate) sycophancy_rows: u64,
    pub(crate) specialty: String,
    pub(crate) repairs: Vec<String>,
}

/// Prepares a row the scan found; its ID is one of `index`'s.
pub(crate) fn prepare(
    index: &AnnotationIndex,
    version: &str,
    source_row: SourceRow,
) -> PreparedRecord {
    let annotation = index
        .get(&source_row.id)
        .expect("the scan only emits IDs of the annotation index");
    let mut record = overlay::overlay(source_row.row, &annotation.record, version);
    let mut jsonl = Vec::new();
    pyjson::write_object(&mut jsonl, &record);
    let rows = review::review_rows(&record);
    let full_review = artifacts::encode_csv(&rows.full);
    let full_review_rows = rows.full.len() as u64;
    let sycophancy_review = artifacts::encode_csv(&rows.sycophancy);
    let sycophancy_rows = rows.sycophancy.len() as u64;
    let specialty = review::specialty(&record).to_owned();
    let repairs = rows.repairs;
    // Only the Parquet writer reads the values from here on, a missing key as null: without
    // the nulls the table filled in, a record of an annotation file of many keys waits in
    // memory as its few own values (FORMAT.md §12).
    record.drop_nulls();
    PreparedRecord {
        id: source_row.id,
        record,
        jsonl,
        full_review,
        full_review_rows,
        sycophancy_review,
        sycophancy_rows,
        specialty,
        repairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Object, Value};

    #[test]
    fn a_row_becomes_its_jsonl_line_and_review_rows() {
        let index = AnnotationIndex::from_jsonl(
            "{\"conversation_id\": \"c1\", \"dataset_source\": \"lmsys\", \
             \"specialty_conversation_classification\": 4, \"web_url\": \"u\"}\n",
        )
        .unwrap();
        let mut turn = Object::default();
        turn.push("content".into(), Value::Str("hi, doc".into()));
        turn.push("role".into(), Value::Str("user".into()));
        let mut row = Object::default();
        row.push("conversation_id".into(), Value::Str("c1".into()));
        row.push(
            "conversation".into(),
            Value::List(vec![Value::Object(turn)]),
        );
        let prepared = prepare(
            &index,
            "2.1.0",
            SourceRow {
                id: "c1".into(),
                row,
            },
        );
        assert_eq!(
            String::from_utf8(prepared.jsonl).unwrap(),
            "{\"conversation_id\": \"c1\", \"conversation\": [{\"content\": \"hi, doc\", \
             \"role\": \"user\"}], \"dataset_source\": \"lmsys\", \
             \"specialty_conversation_classification\": 4, \"web_url\": \"u\", \
             \"dataset_version\": \"2.1.0\"}"
        );
        assert_eq!(
            String::from_utf8(prepared.full_review).unwrap(),
            "c1,u,Cardiology,0,user,\"hi, doc\",\r\n"
        );
        assert_eq!(prepared.full_review_rows, 1);
        assert_eq!(prepared.sycophancy_rows, 0);
        assert_eq!(prepared.specialty, "Cardiology");
    }
}
