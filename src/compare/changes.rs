//! `diff --csv FILE`: one row per change, for a reviewer to sort and filter.

use std::path::Path;

use super::error::CompareError;
use crate::source::Source;

pub const HEADER: [&str; 8] = [
    "conversation_id",
    "source",
    "field",
    "key",
    "user_message",
    "turn_index",
    "before",
    "after",
];

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
    Specialty,
    TaxonomyCodes,
    Lqst,
    Text,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Added => "added",
            Field::Removed => "removed",
            Field::Specialty => "specialty",
            Field::TaxonomyCodes => "taxonomy_codes",
            Field::Lqst => "lqst",
            Field::Text => "text",
        }
    }
}

/// One row: `key` names the source key of a text change; `user_message` is the k of the k-th
/// user message (taxonomy codes); `turn_index` the turn in `conversation` where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub conversation_id: String,
    pub source: Source,
    pub field: Field,
    pub key: String,
    pub user_message: Option<usize>,
    pub turn_index: Option<String>,
    pub before: String,
    pub after: String,
}

impl Change {
    /// A change with nothing but its field yet.
    pub fn new(conversation_id: &str, source: Source, field: Field) -> Change {
        Change {
            conversation_id: conversation_id.to_owned(),
            source,
            field,
            key: String::new(),
            user_message: None,
            turn_index: None,
            before: String::new(),
            after: String::new(),
        }
    }
}

/// Writes the rows to `path` (UTF-8, rows ending in CRLF as Python's `csv.writer` ends them),
/// through a temporary file renamed into place: an error leaves no half-written file.
pub fn write_csv(path: &Path, changes: &[Change]) -> Result<(), CompareError> {
    let error = |source: std::io::Error| CompareError::WriteCsv {
        path: path.to_owned(),
        source,
    };
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file = tempfile::NamedTempFile::new_in(directory).map_err(error)?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    let csv_error = |e: csv::Error| error(std::io::Error::other(e));
    writer.write_record(HEADER).map_err(csv_error)?;
    for change in changes {
        let user_message = change
            .user_message
            .map(|k| k.to_string())
            .unwrap_or_default();
        writer
            .write_record([
                change.conversation_id.as_str(),
                change.source.name(),
                change.field.name(),
                &change.key,
                &user_message,
                change.turn_index.as_deref().unwrap_or_default(),
                &change.before,
                &change.after,
            ])
            .map_err(csv_error)?;
    }
    let file = writer
        .into_inner()
        .map_err(|e| error(std::io::Error::other(e.to_string())))?;
    file.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_whole_and_quoted_where_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.csv");
        let mut change = Change::new("abc", Source::Wildchat, Field::TaxonomyCodes);
        change.user_message = Some(1);
        change.turn_index = Some("2".to_owned());
        change.before = "A1.2; C5".to_owned();
        change.after = "say \"hi\", then".to_owned();
        write_csv(
            &path,
            &[change, Change::new("d", Source::Lmsys, Field::Removed)],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "conversation_id,source,field,key,user_message,turn_index,before,after\r\n\
             abc,wildchat,taxonomy_codes,,1,2,A1.2; C5,\"say \"\"hi\"\", then\"\r\n\
             d,lmsys,removed,,,,,\r\n"
        );
        let error = write_csv(&dir.path().join("no/such/dir.csv"), &[]).unwrap_err();
        assert!(matches!(error, CompareError::WriteCsv { .. }), "{error}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
