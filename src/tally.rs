//! What the in-order hand-over keeps and counts: of rows sharing a wanted ID, only the first
//! (FORMAT.md §3); per source what is still missing; the totals the manifest records.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::record::PreparedRecord;
use crate::source::Source;

#[derive(Default)]
pub(crate) struct Tally {
    /// The IDs of each source not found yet.
    remaining: HashMap<Source, HashSet<String>>,
    pub(crate) conversations: u64,
    pub(crate) full_review_rows: u64,
    pub(crate) sycophancy_review_rows: u64,
    pub(crate) specialties: BTreeMap<String, u64>,
    pub(crate) repairs: Vec<String>,
}

impl Tally {
    pub(crate) fn new<'a>(
        targets: impl IntoIterator<Item = (Source, &'a HashSet<String>)>,
    ) -> Tally {
        Tally {
            remaining: targets
                .into_iter()
                .map(|(source, ids)| (source, ids.clone()))
                .collect(),
            ..Tally::default()
        }
    }

    /// True for the first row with this wanted ID: it is written, later ones are not.
    pub(crate) fn is_first(&mut self, source: Source, id: &str) -> bool {
        self.remaining
            .get_mut(&source)
            .is_some_and(|remaining| remaining.remove(id))
    }

    /// Counts a record that was written.
    pub(crate) fn count(&mut self, record: PreparedRecord) {
        self.conversations += 1;
        self.full_review_rows += record.full_review_rows;
        self.sycophancy_review_rows += record.sycophancy_rows;
        *self.specialties.entry(record.specialty).or_default() += 1;
        self.repairs.extend(record.repairs);
    }

    /// True for a wanted ID of `source` that no row had.
    pub(crate) fn is_missing(&self, source: Source, id: &str) -> bool {
        self.remaining
            .get(&source)
            .is_some_and(|remaining| remaining.contains(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations::AnnotationIndex;

    #[test]
    fn the_first_row_of_an_id_wins_and_the_rest_are_missing() {
        let index = AnnotationIndex::from_jsonl(
            "{\"conversation_id\": \"a\", \"dataset_source\": \"wildchat\"}\n\
             {\"conversation_id\": \"b\", \"dataset_source\": \"wildchat\"}\n",
        )
        .unwrap();
        let targets = index.targets(Source::Wildchat);
        let mut tally = Tally::new([(Source::Wildchat, &targets)]);
        assert!(tally.is_first(Source::Wildchat, "a"));
        assert!(!tally.is_first(Source::Wildchat, "a"));
        assert!(!tally.is_first(Source::Lmsys, "b"));
        assert!(!tally.is_missing(Source::Wildchat, "a"));
        assert!(tally.is_missing(Source::Wildchat, "b"));
        assert!(!tally.is_missing(Source::Lmsys, "b"));
    }
}
