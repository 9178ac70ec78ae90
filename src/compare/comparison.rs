//! Two sides compared, source by source: which conversations are on one side only, and of those
//! on both, which changed their specialty, taxonomy codes, LQST labels or (both sides holding
//! it) source text. The definitions are README.md's, "What changed between versions".

use std::collections::HashSet;

use super::changes::{Change, Field};
use super::counts::Counts;
use super::detail;
use super::fields::{self, Compared};
use super::key::Key;
use super::records::Records;
use crate::source::Source;
use crate::value::Object;

#[derive(Debug)]
pub struct Comparison {
    /// Every source, in scan order.
    pub sources: Vec<SourceDiff>,
    /// True when both sides hold the source text (artifacts JSONL), so `text_changed` applies.
    pub text_compared: bool,
}

impl Comparison {
    /// No conversation on one side only, and every shared record equal but `dataset_version`
    /// (an annotation version against an artifacts JSONL: on the annotation's keys).
    pub fn identical(&self) -> bool {
        self.sources
            .iter()
            .all(|s| s.only_a == 0 && s.only_b == 0 && s.changed == 0)
    }
}

#[derive(Debug)]
pub struct SourceDiff {
    pub source: Source,
    pub only_a: usize,
    pub only_b: usize,
    pub both: usize,
    pub specialty_changed: usize,
    pub codes_changed: usize,
    pub lqst_changed: usize,
    /// None when a side does not hold the source text.
    pub text_changed: Option<usize>,
    /// Conversations in both whose records differ in any way (`dataset_version` aside; an
    /// annotation against an artifacts record, on the annotation's keys).
    pub changed: usize,
    /// (A's specialty name, B's) of each conversation whose specialty changed.
    pub transitions: Counts<(String, String)>,
    /// Codes added to, or removed from, a user message.
    pub codes_gained: Counts<String>,
    pub codes_lost: Counts<String>,
    /// Top-level keys that differ, a conversation counting once per key.
    pub keys_changed: Counts<String>,
}

impl SourceDiff {
    fn new(source: Source, text_compared: bool) -> SourceDiff {
        SourceDiff {
            source,
            only_a: 0,
            only_b: 0,
            both: 0,
            specialty_changed: 0,
            codes_changed: 0,
            lqst_changed: 0,
            text_changed: text_compared.then_some(0),
            changed: 0,
            transitions: Counts::default(),
            codes_gained: Counts::default(),
            codes_lost: Counts::default(),
            keys_changed: Counts::default(),
        }
    }
}

/// Compares A with B; with `changes`, every change is added to it as a row.
pub fn compare(a: &Records, b: &Records, mut changes: Option<&mut Vec<Change>>) -> Comparison {
    let text_compared = a.has_text() && b.has_text();
    let compared = match (a.has_text(), b.has_text()) {
        (false, true) => Compared::KeysOfA,
        (true, false) => Compared::KeysOfB,
        _ => Compared::Every,
    };
    let sources = Source::ALL
        .into_iter()
        .map(|source| {
            let mut diff = SourceDiff::new(source, text_compared);
            let (ids_a, ids_b) = (a.ids(source), b.ids(source));
            let in_a: HashSet<&str> = ids_a.iter().copied().collect();
            let in_b: HashSet<&str> = ids_b.iter().copied().collect();
            for &id in &ids_a {
                let pair = in_b
                    .contains(id)
                    .then(|| a.get(id).zip(b.get(id)))
                    .flatten();
                let Some((record_a, record_b)) = pair else {
                    diff.only_a += 1;
                    if let Some(changes) = changes.as_deref_mut() {
                        changes.push(Change::new(id, source, Field::Removed));
                    }
                    continue;
                };
                diff.both += 1;
                let mut rows = changes.as_deref_mut().map(|changes| Rows {
                    changes,
                    id,
                    source,
                });
                tally_pair(&mut diff, [&record_a, &record_b], compared, rows.as_mut());
            }
            for &id in ids_b.iter().filter(|id| !in_a.contains(*id)) {
                diff.only_b += 1;
                if let Some(changes) = changes.as_deref_mut() {
                    changes.push(Change::new(id, source, Field::Added));
                }
            }
            diff
        })
        .collect();
    Comparison {
        sources,
        text_compared,
    }
}

/// Where the rows of one conversation's changes go.
struct Rows<'c> {
    changes: &'c mut Vec<Change>,
    id: &'c str,
    source: Source,
}

impl Rows<'_> {
    fn push(&mut self, field: Field, fill: impl FnOnce(&mut Change)) {
        let mut change = Change::new(self.id, self.source, field);
        fill(&mut change);
        self.changes.push(change);
    }
}

/// Counts what changed between two records of one conversation, adding its rows to `rows`.
fn tally_pair(
    diff: &mut SourceDiff,
    [a, b]: [&Object; 2],
    compared: Compared,
    mut rows: Option<&mut Rows>,
) {
    let keys_changed = fields::keys_changed(a, b, compared);
    if keys_changed.is_empty() {
        return;
    }
    diff.changed += 1;
    for key in &keys_changed {
        diff.keys_changed.add((*key).to_owned());
    }

    if fields::specialty(a) != fields::specialty(b) {
        diff.specialty_changed += 1;
        let names = (fields::specialty_name(a), fields::specialty_name(b));
        if let Some(rows) = rows.as_deref_mut() {
            rows.push(Field::Specialty, |change| {
                (change.before, change.after) = names.clone();
            });
        }
        diff.transitions.add(names);
    }

    let (codes_a, codes_b) = (fields::codes(a), fields::codes(b));
    if codes_a != codes_b {
        diff.codes_changed += 1;
        // The turn of the k-th user message: in B's conversation, else in A's.
        let user_turns = [fields::user_turns(b), fields::user_turns(a)];
        for message in detail::message_codes(&codes_a, &codes_b) {
            for code in &message.gained {
                diff.codes_gained.add(code.display());
            }
            for code in &message.lost {
                diff.codes_lost.add(code.display());
            }
            if let Some(rows) = rows.as_deref_mut() {
                rows.push(Field::TaxonomyCodes, |change| {
                    change.user_message = Some(message.message);
                    change.turn_index = user_turns
                        .iter()
                        .find_map(|turns| turns.get(message.message))
                        .map(ToString::to_string);
                    change.before = joined(message.before.unwrap_or_default().iter());
                    change.after = joined(message.after.unwrap_or_default().iter());
                });
            }
        }
    }

    let (lqst_a, lqst_b) = (fields::lqst(a), fields::lqst(b));
    if lqst_a != lqst_b {
        diff.lqst_changed += 1;
        if let Some(rows) = rows.as_deref_mut() {
            for turn in detail::turn_labels(&lqst_a, &lqst_b) {
                rows.push(Field::Lqst, |change| {
                    change.turn_index = Some(turn.turn.display());
                    change.before = joined(turn.before.into_iter());
                    change.after = joined(turn.after.into_iter());
                });
            }
        }
    }

    if let Some(text_changed) = &mut diff.text_changed
        && keys_changed.iter().any(|key| fields::is_source_key(key))
    {
        *text_changed += 1;
        if let Some(rows) = rows {
            for text in detail::text_changes(a, b, &keys_changed) {
                rows.push(Field::Text, |change| {
                    change.key = text.key.to_owned();
                    change.turn_index = text.turn.map(|turn| turn.to_string());
                    (change.before, change.after) = (text.before, text.after);
                });
            }
        }
    }
}

/// Values as the review CSV joins codes: `"; "` between them.
fn joined<'k, 'r: 'k>(keys: impl Iterator<Item = &'k Key<'r>>) -> String {
    keys.map(Key::display).collect::<Vec<_>>().join("; ")
}
