//! What `diff` compares in a record, each in the canonical form its definition gives
//! (README.md, "What changed between versions"): the specialty, the taxonomy codes per user
//! message, the leading-question (LQST) labels as a multiset, and which top-level keys differ.

use super::key::Key;
use crate::record::review;
use crate::value::{Object, Value};

pub const SPECIALTY: &str = "specialty_conversation_classification";
const TAXONOMY: &str = "taxonomy_messages_classified";
const LQST: &str = "leading_question_classifications";
const TURN_INDEX: &str = "user_message_original_turn_index";
/// Written by `generate` after the annotation; never a difference between two records.
pub const DATASET_VERSION: &str = "dataset_version";

/// The keys of the published annotation files: in an artifacts record, every other key (but
/// `dataset_version`) is the source dataset's, the conversation's text and metadata.
pub const ANNOTATION_KEYS: [&str; 7] = [
    "conversation_id",
    "dataset_source",
    SPECIALTY,
    TAXONOMY,
    "web_url",
    "gpt2_tokenizer_count",
    LQST,
];

/// The specialty code (a missing key reads as null).
pub fn specialty(record: &Object) -> Key<'_> {
    record.get(SPECIALTY).map_or(Key::Null, Key::of)
}

/// The specialty's name (FORMAT.md §6); a code without one is `N/A` with the code.
pub fn specialty_name(record: &Object) -> String {
    match review::specialty(record) {
        "N/A" => format!("N/A ({})", specialty(record).display()),
        name => name.to_owned(),
    }
}

/// Per user message, its taxonomy codes sorted, null codes left out. A null or missing list is
/// empty; a message that is not an object, or whose codes are not a list, has no codes.
pub fn codes(record: &Object) -> Vec<Vec<Key<'_>>> {
    let Some(Value::List(messages)) = record.get(TAXONOMY) else {
        return Vec::new();
    };
    messages
        .iter()
        .map(|message| {
            let codes = message.as_object().and_then(|m| m.get("taxonomy_codes"));
            let Some(Value::List(codes)) = codes else {
                return Vec::new();
            };
            let mut codes: Vec<Key> = codes
                .iter()
                .filter(|code| !code.is_null())
                .map(Key::of)
                .collect();
            codes.sort();
            codes
        })
        .collect()
}

/// The LQST labels that are not `N`, as sorted (turn index, classification) pairs: the multiset
/// the definition compares. An item that is not an object is skipped; a missing turn index or
/// classification reads as null, and a null classification counts (it is not `N`).
pub fn lqst(record: &Object) -> Vec<(Key<'_>, Key<'_>)> {
    let Some(Value::List(items)) = record.get(LQST) else {
        return Vec::new();
    };
    let mut labels: Vec<(Key, Key)> = items
        .iter()
        .filter_map(Value::as_object)
        .filter(|item| item.get("classification").and_then(Value::as_str) != Some("N"))
        .map(|item| {
            let key = |name| item.get(name).map_or(Key::Null, Key::of);
            (key(TURN_INDEX), key("classification"))
        })
        .collect();
    labels.sort();
    labels
}

/// The keys two records are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// Every key of either: both are annotations, or both artifacts records.
    Every,
    /// A's keys: A is an annotation and B an artifacts record, whose other keys are the source
    /// text A lacks.
    KeysOfA,
    /// B's keys, the other way round.
    KeysOfB,
}

/// The top-level keys whose values differ (a key on one side only differs), `dataset_version`
/// aside: A's keys in order, then B's others.
pub fn keys_changed<'r>(a: &'r Object, b: &'r Object, compared: Compared) -> Vec<&'r str> {
    let differs = |name: &str| a.get(name).map(Key::of) != b.get(name).map(Key::of);
    let names_a = a.iter().map(|(name, _)| name);
    let names_b = b.iter().map(|(name, _)| name);
    let names: Vec<&str> = match compared {
        Compared::Every => names_a
            .chain(names_b.filter(|name| a.get(name).is_none()))
            .collect(),
        Compared::KeysOfA => names_a.collect(),
        Compared::KeysOfB => names_b.collect(),
    };
    names
        .into_iter()
        .filter(|name| *name != DATASET_VERSION && differs(name))
        .collect()
}

/// True for a key of the source dataset's, in an artifacts record.
pub fn is_source_key(name: &str) -> bool {
    name != DATASET_VERSION && !ANNOTATION_KEYS.contains(&name)
}

/// The index of each user turn in the record's `conversation` (empty without one).
pub fn user_turns(record: &Object) -> Vec<usize> {
    let Some(Value::List(turns)) = record.get("conversation") else {
        return Vec::new();
    };
    turns
        .iter()
        .enumerate()
        .filter(|(_, turn)| {
            turn.as_object()
                .and_then(|t| t.get("role"))
                .and_then(Value::as_str)
                == Some("user")
        })
        .map(|(index, _)| index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Object {
        match Value::from_json(json).unwrap() {
            Value::Object(object) => object,
            _ => panic!("an object"),
        }
    }

    fn texts(codes: &[Vec<Key>]) -> Vec<Vec<String>> {
        codes
            .iter()
            .map(|m| m.iter().map(Key::display).collect())
            .collect()
    }

    #[test]
    fn specialties_are_named_and_unnamed_codes_shown() {
        assert_eq!(
            specialty_name(&record(r#"{"specialty_conversation_classification": 4}"#)),
            "Cardiology"
        );
        assert_eq!(
            specialty_name(&record(r#"{"specialty_conversation_classification": 4.0}"#)),
            "Cardiology"
        );
        assert_eq!(
            specialty_name(&record(r#"{"specialty_conversation_classification": 0}"#)),
            "N/A (0)"
        );
        assert_eq!(specialty_name(&record("{}")), "N/A (null)");
        assert_eq!(
            specialty(&record(r#"{"specialty_conversation_classification": 4}"#)),
            specialty(&record(r#"{"specialty_conversation_classification": 4.0}"#))
        );
    }

    #[test]
    fn codes_are_sorted_per_message_with_nulls_dropped() {
        let r = record(
            r#"{"taxonomy_messages_classified": [{"taxonomy_codes": ["C5", null, "A1.2"]}, null, {"taxonomy_codes": null}, {}, {"taxonomy_codes": ["B"]}]}"#,
        );
        assert_eq!(
            texts(&codes(&r)),
            [vec!["A1.2", "C5"], vec![], vec![], vec![], vec!["B"]]
        );
        assert!(codes(&record(r#"{"taxonomy_messages_classified": null}"#)).is_empty());
        assert!(codes(&record("{}")).is_empty());
    }

    #[test]
    fn lqst_is_a_multiset_of_the_labels_that_are_not_n() {
        let a = record(
            r#"{"leading_question_classifications": [{"user_message_original_turn_index": 2, "classification": "Y"}, null, {"user_message_original_turn_index": 0, "classification": "N"}, {"user_message_original_turn_index": 4, "classification": null}]}"#,
        );
        let b = record(
            r#"{"leading_question_classifications": [{"classification": null, "user_message_original_turn_index": 4.0}, {"user_message_original_turn_index": 2, "classification": "Y"}]}"#,
        );
        assert_eq!(lqst(&a), lqst(&b));
        let labels: Vec<(String, String)> = lqst(&a)
            .iter()
            .map(|(i, c)| (i.display(), c.display()))
            .collect();
        assert_eq!(
            labels,
            [("2".into(), "Y".into()), ("4".into(), "null".into())]
        );
        assert!(lqst(&record(r#"{"leading_question_classifications": null}"#)).is_empty());
    }

    #[test]
    fn keys_changed_name_every_difference_compared_but_the_version() {
        let a = record(r#"{"x": 1, "y": [1], "dataset_version": "1.0.0", "only_a": null}"#);
        let b = record(r#"{"y": [1.0], "x": 2, "dataset_version": "2.0.0", "only_b": 3}"#);
        assert_eq!(
            keys_changed(&a, &b, Compared::Every),
            ["x", "only_a", "only_b"]
        );
        assert_eq!(keys_changed(&a, &b, Compared::KeysOfA), ["x", "only_a"]);
        assert_eq!(keys_changed(&a, &b, Compared::KeysOfB), ["x", "only_b"]);
        assert!(keys_changed(&a, &a, Compared::Every).is_empty());
        assert!(is_source_key("conversation") && !is_source_key("web_url"));
        assert!(!is_source_key(DATASET_VERSION));
    }

    #[test]
    fn user_turns_are_found_by_role() {
        let r = record(
            r#"{"conversation": [{"role": "user"}, {"role": "assistant"}, null, {"role": "user"}]}"#,
        );
        assert_eq!(user_turns(&r), [0, 3]);
        assert!(user_turns(&record("{}")).is_empty());
    }
}
