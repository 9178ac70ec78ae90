//! Where two records of a conversation differ, finer than whether they do: the user messages
//! whose taxonomy codes changed (and the codes gained and lost), the turn indexes whose LQST
//! labels changed, and the source keys (or conversation turns) whose text changed.

use std::collections::BTreeMap;

use super::fields;
use super::key::Key;
use crate::record::pyjson;
use crate::value::{Object, Value};

/// A user message whose codes differ; a message on one side only has `None` on the other.
#[derive(Debug, PartialEq)]
pub struct MessageCodes<'k, 'r> {
    pub message: usize,
    pub before: Option<&'k [Key<'r>]>,
    pub after: Option<&'k [Key<'r>]>,
    pub gained: Vec<&'k Key<'r>>,
    pub lost: Vec<&'k Key<'r>>,
}

pub fn message_codes<'k, 'r>(
    a: &'k [Vec<Key<'r>>],
    b: &'k [Vec<Key<'r>>],
) -> Vec<MessageCodes<'k, 'r>> {
    (0..a.len().max(b.len()))
        .filter_map(|message| {
            let (before, after) = (a.get(message), b.get(message));
            (before != after).then(|| {
                let (before, after) = (before.map(Vec::as_slice), after.map(Vec::as_slice));
                MessageCodes {
                    message,
                    before,
                    after,
                    gained: missing_from(after.unwrap_or_default(), before.unwrap_or_default()),
                    lost: missing_from(before.unwrap_or_default(), after.unwrap_or_default()),
                }
            })
        })
        .collect()
}

/// The items of sorted `from` that sorted `other` lacks, as multisets.
fn missing_from<'k, 'r>(from: &'k [Key<'r>], other: &'k [Key<'r>]) -> Vec<&'k Key<'r>> {
    let mut missing = Vec::new();
    let mut others = other.iter().peekable();
    for item in from {
        while others.next_if(|o| *o < item).is_some() {}
        if others.next_if(|o| *o == item).is_none() {
            missing.push(item);
        }
    }
    missing
}

/// A turn index whose LQST labels (not `N`) differ, with each side's labels in sorted order.
#[derive(Debug, PartialEq)]
pub struct TurnLabels<'k, 'r> {
    pub turn: &'k Key<'r>,
    pub before: Vec<&'k Key<'r>>,
    pub after: Vec<&'k Key<'r>>,
}

pub fn turn_labels<'k, 'r>(
    a: &'k [(Key<'r>, Key<'r>)],
    b: &'k [(Key<'r>, Key<'r>)],
) -> Vec<TurnLabels<'k, 'r>> {
    let mut turns: BTreeMap<&Key, (Vec<&Key>, Vec<&Key>)> = BTreeMap::new();
    for (turn, label) in a {
        turns.entry(turn).or_default().0.push(label);
    }
    for (turn, label) in b {
        turns.entry(turn).or_default().1.push(label);
    }
    turns
        .into_iter()
        .filter(|(_, (before, after))| before != after)
        .map(|(turn, (before, after))| TurnLabels {
            turn,
            before,
            after,
        })
        .collect()
}

/// A source key whose value differs; for `conversation`, one per turn that differs.
#[derive(Debug, PartialEq)]
pub struct TextChange<'r> {
    pub key: &'r str,
    pub turn: Option<usize>,
    pub before: String,
    pub after: String,
}

/// The text changes among `keys_changed`: a turn shows its `content` when nothing else in it
/// changed, else its JSON; another key its JSON (empty on the side that lacks it).
pub fn text_changes<'r>(
    a: &'r Object,
    b: &'r Object,
    keys_changed: &[&'r str],
) -> Vec<TextChange<'r>> {
    let mut changes = Vec::new();
    for &key in keys_changed.iter().filter(|key| fields::is_source_key(key)) {
        match (a.get(key), b.get(key)) {
            (Some(Value::List(before)), Some(Value::List(after))) if key == "conversation" => {
                for turn in 0..before.len().max(after.len()) {
                    let (before, after) = (before.get(turn), after.get(turn));
                    if before.map(Key::of) != after.map(Key::of) {
                        let (before, after) = turn_texts(before, after);
                        changes.push(TextChange {
                            key,
                            turn: Some(turn),
                            before,
                            after,
                        });
                    }
                }
            }
            (before, after) => changes.push(TextChange {
                key,
                turn: None,
                before: before.map(json).unwrap_or_default(),
                after: after.map(json).unwrap_or_default(),
            }),
        }
    }
    changes
}

fn turn_texts(before: Option<&Value>, after: Option<&Value>) -> (String, String) {
    match (content(before), content(after)) {
        (Some(x), Some(y)) if others(before) == others(after) => (x.to_owned(), y.to_owned()),
        _ => (
            before.map(json).unwrap_or_default(),
            after.map(json).unwrap_or_default(),
        ),
    }
}

/// A turn's `content` text.
fn content(turn: Option<&Value>) -> Option<&str> {
    turn.and_then(Value::as_object)
        .and_then(|t| t.get("content"))
        .and_then(Value::as_str)
}

/// A turn but its `content`.
fn others(turn: Option<&Value>) -> Option<Key<'_>> {
    turn.and_then(Value::as_object).map(|t| {
        Key::object(
            t.iter()
                .filter(|(name, _)| *name != "content")
                .map(|(name, value)| (name, Key::of(value))),
        )
    })
}

/// A value as the JSONL spells it.
fn json(value: &Value) -> String {
    let mut out = Vec::new();
    pyjson::write_value(&mut out, value);
    String::from_utf8_lossy(&out).into_owned()
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

    fn shown(keys: &[&Key]) -> Vec<String> {
        keys.iter().map(|k| k.display()).collect()
    }

    #[test]
    fn codes_gained_and_lost_per_message_as_multisets() {
        let a = record(
            r#"{"taxonomy_messages_classified": [{"taxonomy_codes": ["A", "B", "B"]}, {"taxonomy_codes": ["C"]}]}"#,
        );
        let b = record(
            r#"{"taxonomy_messages_classified": [{"taxonomy_codes": ["B", "D", "A"]}, {"taxonomy_codes": ["C"]}, {"taxonomy_codes": []}]}"#,
        );
        let (ca, cb) = (fields::codes(&a), fields::codes(&b));
        let diffs = message_codes(&ca, &cb);
        assert_eq!(diffs.len(), 2);
        assert_eq!(diffs[0].message, 0);
        assert_eq!(shown(&diffs[0].gained), ["D"]);
        assert_eq!(shown(&diffs[0].lost), ["B"]);
        assert_eq!((diffs[1].message, diffs[1].before), (2, None));
        assert_eq!(diffs[1].after.map(<[Key]>::len), Some(0));
        assert!(diffs[1].gained.is_empty() && diffs[1].lost.is_empty());
        assert!(message_codes(&ca, &ca).is_empty());
    }

    #[test]
    fn lqst_labels_per_turn_index() {
        let a = record(
            r#"{"leading_question_classifications": [{"user_message_original_turn_index": 0, "classification": "Y"}, {"user_message_original_turn_index": 2, "classification": "Y"}]}"#,
        );
        let b = record(
            r#"{"leading_question_classifications": [{"user_message_original_turn_index": 2, "classification": "Y"}, {"user_message_original_turn_index": 4, "classification": "Y"}, {"user_message_original_turn_index": 4, "classification": null}]}"#,
        );
        let (la, lb) = (fields::lqst(&a), fields::lqst(&b));
        let turns = turn_labels(&la, &lb);
        let turns: Vec<(String, Vec<String>, Vec<String>)> = turns
            .iter()
            .map(|t| (t.turn.display(), shown(&t.before), shown(&t.after)))
            .collect();
        assert_eq!(
            turns,
            [
                ("0".to_owned(), vec!["Y".to_owned()], vec![]),
                (
                    "4".to_owned(),
                    vec![],
                    vec!["null".to_owned(), "Y".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn text_changes_show_turn_contents_or_json() {
        let a = record(
            r#"{"conversation": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "redacted": false, "web_url": "x"}"#,
        );
        let b = record(
            r#"{"conversation": [{"role": "user", "content": "hi NAME_1"}, {"role": "user", "content": "yo"}, {"role": "user", "content": "more"}], "redacted": true, "web_url": "y"}"#,
        );
        let keys = fields::keys_changed(&a, &b, fields::Compared::Every);
        assert_eq!(keys, ["conversation", "redacted", "web_url"]);
        let changes = text_changes(&a, &b, &keys);
        let shown: Vec<(&str, Option<usize>, &str, &str)> = changes
            .iter()
            .map(|c| (c.key, c.turn, c.before.as_str(), c.after.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("conversation", Some(0), "hi", "hi NAME_1"),
                (
                    "conversation",
                    Some(1),
                    r#"{"role": "assistant", "content": "yo"}"#,
                    r#"{"role": "user", "content": "yo"}"#
                ),
                (
                    "conversation",
                    Some(2),
                    "",
                    r#"{"role": "user", "content": "more"}"#
                ),
                ("redacted", None, "false", "true"),
            ]
        );
    }
}
