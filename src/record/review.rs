//! The two review tables derived from each emitted record (FORMAT.md §6 and §7), with the
//! repairs for inputs the reference would crash on.

use std::borrow::Cow;

use crate::value::{Object, Value};

pub const FULL_REVIEW_HEADER: [&str; 7] = [
    "Conversation ID",
    "Web URL",
    "Specialty",
    "Turn Index",
    "Role",
    "Message Text",
    "Taxonomy Codes",
];

pub const SYCOPHANCY_REVIEW_HEADER: [&str; 7] = [
    "Conversation ID",
    "Web URL",
    "User Message Original Turn Index",
    "Prior Assistant Message Text",
    "User Message Text",
    "Taxonomy Codes",
    "LQST Classification",
];

const SPECIALTIES: [&str; 22] = [
    "General Health",
    "Mental Health",
    "Allergy and Immunology",
    "Cardiology",
    "Dermatology",
    "Endocrinology",
    "Gastroenterology",
    "Hematology/Oncology",
    "Infectious Disease",
    "Nephrology",
    "Neurology",
    "Obstetrics and Gynecology (OB/GYN)",
    "Ophthalmology",
    "Fitness/Orthopedics/Sports Medicine",
    "Otolaryngology (ENT)",
    "Pediatrics",
    "Pulmonology",
    "Rheumatology",
    "Urology",
    "Dentistry",
    "Diet and Nutrition",
    "Not a Health Conversation",
];

const TEXT_NOT_FOUND: &str = "TEXT NOT FOUND";

pub type Row<'a> = [Cow<'a, str>; 7];

/// The review rows of one record, and the repairs made on the way.
#[derive(Debug, Default)]
pub struct ReviewRows<'a> {
    pub full: Vec<Row<'a>>,
    pub sycophancy: Vec<Row<'a>>,
    /// One line per input the reference would crash on or misread, saying what was done.
    pub repairs: Vec<String>,
}

/// The specialty label of a record (`N/A` when the code is not 1–22), matching a Python `dict`
/// lookup, where `4.0` and `True` are keys equal to `4` and `1`.
pub fn specialty(record: &Object) -> &'static str {
    let code = match record.get("specialty_conversation_classification") {
        Some(Value::Int(i)) => Some(*i),
        Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 1e9 => Some(*f as i64),
        Some(Value::Bool(b)) => Some(i64::from(*b)),
        _ => None,
    };
    code.and_then(|c| usize::try_from(c).ok())
        .and_then(|c| c.checked_sub(1))
        .and_then(|i| SPECIALTIES.get(i).copied())
        .unwrap_or("N/A")
}

pub fn review_rows(record: &Object) -> ReviewRows<'_> {
    let mut rows = ReviewRows::default();
    let id = text(record.get("conversation_id"));
    let web_url = match record.get("web_url") {
        None => Cow::Borrowed("N/A"),
        Some(value) => text(Some(value)),
    };

    let conversation: &[Value] = match record.get("conversation") {
        Some(Value::List(turns)) => turns,
        _ => {
            rows.repairs
                .push(format!("{id}: conversation is null; no turns written"));
            &[]
        }
    };
    let turns: Vec<Option<&Object>> = conversation.iter().map(Value::as_object).collect();
    if turns.iter().any(Option::is_none) {
        rows.repairs
            .push(format!("{id}: a conversation turn is null; it was skipped"));
    }
    let taxonomy = Taxonomy::new(record, &id, &mut rows.repairs);

    // user_ordinals[i]: how many user turns precede turn i (its k if it is a user turn).
    let mut user_ordinals = Vec::with_capacity(turns.len());
    let mut users_seen = 0;
    for turn in &turns {
        user_ordinals.push(users_seen);
        if turn.is_some_and(is_user) {
            users_seen += 1;
        }
    }
    let codes_of_turn = |i: usize| -> String {
        match turns[i] {
            Some(turn) if is_user(turn) => taxonomy.codes(user_ordinals[i]),
            _ => String::new(),
        }
    };

    let specialty = specialty(record);
    for (index, turn) in turns.iter().enumerate() {
        let Some(turn) = turn else { continue };
        rows.full.push([
            id.clone(),
            web_url.clone(),
            Cow::Borrowed(specialty),
            Cow::Owned(index.to_string()),
            text(turn.get("role")),
            text(turn.get("content")),
            Cow::Owned(codes_of_turn(index)),
        ]);
    }

    let Some(Value::List(items)) = record.get("leading_question_classifications") else {
        return rows;
    };
    let content = |i: usize| turns[i].map_or(Cow::Borrowed(""), |turn| text(turn.get("content")));
    for item in items {
        let Some(item) = item.as_object() else {
            rows.repairs.push(format!(
                "{id}: a leading-question item is null; it was skipped"
            ));
            continue;
        };
        let classification = item.get("classification");
        if classification.and_then(Value::as_str) == Some("N") {
            continue;
        }
        let Some(Value::Int(turn_index)) = item.get("user_message_original_turn_index") else {
            rows.repairs.push(format!(
                "{id}: a leading-question item has no integer user_message_original_turn_index; \
                 it was skipped"
            ));
            continue;
        };
        let turn_index = *turn_index;
        let (prior, user_text, codes) = match usize::try_from(turn_index) {
            Ok(i) if i < turns.len() => {
                let prior = if i > 0 {
                    content(i - 1)
                } else {
                    Cow::Borrowed("")
                };
                (prior, content(i), codes_of_turn(i))
            }
            Ok(i) if i == turns.len() => {
                let prior = if i > 0 {
                    content(i - 1)
                } else {
                    Cow::Borrowed("")
                };
                (prior, Cow::Borrowed(TEXT_NOT_FOUND), String::new())
            }
            _ => {
                rows.repairs.push(format!(
                    "{id}: leading-question turn index {turn_index} is outside the conversation \
                     ({} turns); wrote {TEXT_NOT_FOUND}",
                    turns.len()
                ));
                (
                    Cow::Borrowed(""),
                    Cow::Borrowed(TEXT_NOT_FOUND),
                    String::new(),
                )
            }
        };
        rows.sycophancy.push([
            id.clone(),
            web_url.clone(),
            Cow::Owned(turn_index.to_string()),
            prior,
            user_text,
            Cow::Owned(codes),
            text(classification),
        ]);
    }
    rows
}

fn is_user(turn: &Object) -> bool {
    turn.get("role").and_then(Value::as_str) == Some("user")
}

/// `taxonomy_messages_classified`: per user turn, its taxonomy codes.
struct Taxonomy<'a> {
    per_user_turn: Vec<Option<&'a [Value]>>,
}

impl<'a> Taxonomy<'a> {
    fn new(record: &'a Object, id: &str, repairs: &mut Vec<String>) -> Self {
        let items: &[Value] = match record.get("taxonomy_messages_classified") {
            Some(Value::List(items)) => items,
            _ => {
                repairs.push(format!(
                    "{id}: taxonomy_messages_classified is null; treated as empty"
                ));
                &[]
            }
        };
        let mut null_codes = false;
        let per_user_turn = items
            .iter()
            .map(
                |item| match item.as_object().map(|o| o.get("taxonomy_codes")) {
                    Some(Some(Value::List(codes))) => {
                        null_codes |= codes.iter().any(Value::is_null);
                        Some(codes.as_slice())
                    }
                    _ => {
                        null_codes = true;
                        None
                    }
                },
            )
            .collect();
        if null_codes {
            repairs.push(format!(
                "{id}: a taxonomy_messages_classified item, its taxonomy_codes or a code is \
                 null; it was skipped"
            ));
        }
        Self { per_user_turn }
    }

    /// The codes of the k-th user turn, sorted by code point and joined with "; "; null codes
    /// are left out.
    fn codes(&self, k: usize) -> String {
        let Some(Some(codes)) = self.per_user_turn.get(k) else {
            return String::new();
        };
        let mut codes: Vec<Cow<str>> = codes
            .iter()
            .filter(|c| !c.is_null())
            .map(|c| text(Some(c)))
            .collect();
        codes.sort();
        codes.join("; ")
    }
}

/// How Python's `csv.writer` renders a cell: `None` as empty, otherwise `str(value)`.
fn text(value: Option<&Value>) -> Cow<'_, str> {
    match value {
        None | Some(Value::Null) => Cow::Borrowed(""),
        Some(Value::Str(s)) => Cow::Borrowed(s),
        Some(Value::Bool(true)) => Cow::Borrowed("True"),
        Some(Value::Bool(false)) => Cow::Borrowed("False"),
        Some(Value::Int(i)) => Cow::Owned(i.to_string()),
        Some(other) => {
            let mut out = Vec::new();
            super::pyjson::write_value(&mut out, other);
            Cow::Owned(String::from_utf8(out).expect("pyjson writes ASCII"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Object {
        match Value::from_json(json).unwrap() {
            Value::Object(object) => object,
            _ => panic!("not an object"),
        }
    }

    fn strings(rows: &[Row<'_>]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|row| row.iter().map(|f| f.to_string()).collect())
            .collect()
    }

    const CONVERSATION: &str = r#"[
        {"role": "user", "content": "q0"}, {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"}, {"role": "assistant", "content": null}]"#;

    #[test]
    fn full_review_has_a_row_per_turn_with_codes_on_user_turns() {
        let r = record(&format!(
            r#"{{"conversation_id": "c", "web_url": "u", "specialty_conversation_classification": 4,
                "conversation": {CONVERSATION},
                "taxonomy_messages_classified": [{{"taxonomy_codes": ["b", "A", "a"]}}]}}"#
        ));
        let rows = review_rows(&r);
        assert_eq!(
            strings(&rows.full),
            [
                ["c", "u", "Cardiology", "0", "user", "q0", "A; a; b"],
                ["c", "u", "Cardiology", "1", "assistant", "a1", ""],
                ["c", "u", "Cardiology", "2", "user", "q2", ""],
                ["c", "u", "Cardiology", "3", "assistant", "", ""],
            ]
        );
        assert!(rows.sycophancy.is_empty());
        assert!(rows.repairs.is_empty());
    }

    #[test]
    fn web_url_is_na_only_when_the_key_is_absent() {
        let absent = record(
            r#"{"conversation_id": "c", "conversation": [{"role": "user", "content": "x"}], "taxonomy_messages_classified": []}"#,
        );
        assert_eq!(review_rows(&absent).full[0][1], "N/A");
        let null = record(
            r#"{"conversation_id": "c", "web_url": null, "conversation": [{"role": "user", "content": "x"}], "taxonomy_messages_classified": []}"#,
        );
        assert_eq!(review_rows(&null).full[0][1], "");
    }

    #[test]
    fn specialties_map_like_a_python_dict_lookup() {
        let label = |code: &str| {
            specialty(&record(&format!(
                r#"{{"specialty_conversation_classification": {code}}}"#
            )))
        };
        assert_eq!(label("1"), "General Health");
        assert_eq!(label("12"), "Obstetrics and Gynecology (OB/GYN)");
        assert_eq!(label("22"), "Not a Health Conversation");
        assert_eq!(label("4.0"), "Cardiology");
        assert_eq!(label("true"), "General Health");
        for other in ["0", "23", "-1", "null", "\"4\"", "4.5"] {
            assert_eq!(label(other), "N/A", "{other}");
        }
        assert_eq!(specialty(&Object::default()), "N/A");
    }

    #[test]
    fn sycophancy_rows_follow_the_reference() {
        let r = record(&format!(
            r#"{{"conversation_id": "c", "web_url": "u", "conversation": {CONVERSATION},
                "taxonomy_messages_classified": [{{"taxonomy_codes": ["T1"]}}, {{"taxonomy_codes": ["Q2", "P1"]}}],
                "leading_question_classifications": [
                    {{"user_message_original_turn_index": 0, "classification": "Y"}},
                    {{"user_message_original_turn_index": 2, "classification": "N"}},
                    {{"user_message_original_turn_index": 2, "classification": "Partial"}},
                    {{"user_message_original_turn_index": 1, "classification": null}},
                    {{"user_message_original_turn_index": 4, "classification": "Y"}}]}}"#
        ));
        let rows = review_rows(&r);
        assert_eq!(
            strings(&rows.sycophancy),
            [
                ["c", "u", "0", "", "q0", "T1", "Y"],
                ["c", "u", "2", "a1", "q2", "P1; Q2", "Partial"],
                ["c", "u", "1", "q0", "a1", "", ""],
                ["c", "u", "4", "", "TEXT NOT FOUND", "", "Y"],
            ]
        );
        assert!(
            rows.repairs.is_empty(),
            "i == len is what the reference does: {:?}",
            rows.repairs
        );
    }

    #[test]
    fn inputs_the_reference_crashes_on_are_repaired_and_counted() {
        let r = record(&format!(
            r#"{{"conversation_id": "c", "conversation": {CONVERSATION},
                "taxonomy_messages_classified": [null, {{"taxonomy_codes": [null, "Z"]}}],
                "leading_question_classifications": [
                    null,
                    {{"user_message_original_turn_index": null, "classification": "Y"}},
                    {{"user_message_original_turn_index": -1, "classification": "Y"}},
                    {{"user_message_original_turn_index": 9, "classification": "Y"}}]}}"#
        ));
        let rows = review_rows(&r);
        assert_eq!(rows.full[0][6], "", "a null taxonomy item gives no codes");
        assert_eq!(rows.full[2][6], "Z", "a null code is left out");
        assert_eq!(
            strings(&rows.sycophancy),
            [
                ["c", "N/A", "-1", "", "TEXT NOT FOUND", "", "Y"],
                ["c", "N/A", "9", "", "TEXT NOT FOUND", "", "Y"],
            ]
        );
        assert_eq!(rows.repairs.len(), 5, "{:#?}", rows.repairs);
        assert!(rows.repairs.iter().all(|r| r.starts_with("c: ")));

        let null_lists = record(
            r#"{"conversation_id": "d", "conversation": null, "taxonomy_messages_classified": null,
            "leading_question_classifications": [{"user_message_original_turn_index": 0, "classification": "Y"}]}"#,
        );
        let rows = review_rows(&null_lists);
        assert!(rows.full.is_empty());
        assert_eq!(
            strings(&rows.sycophancy),
            [["d", "N/A", "0", "", "TEXT NOT FOUND", "", "Y"]]
        );
        assert_eq!(rows.repairs.len(), 2);

        let null_turn = record(
            r#"{"conversation_id": "e", "conversation": [null, {"role": "user", "content": "x"}],
            "taxonomy_messages_classified": [{"taxonomy_codes": ["K"]}]}"#,
        );
        let rows = review_rows(&null_turn);
        assert_eq!(
            strings(&rows.full),
            [["e", "N/A", "N/A", "1", "user", "x", "K"]]
        );
        assert_eq!(rows.repairs.len(), 1);
    }
}
