//! A comparison as the terminal shows it (counts first, then the most common changes, a few
//! lines whatever the size) and as `--json` prints it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::comparison::{Comparison, SourceDiff};
use super::counts::Counts;
use crate::annotations::ANNOTATIONS_REPO;

/// How many of the most common transitions and codes the terminal shows per source.
const TOP: usize = 5;

/// One side as the report names it.
#[derive(Debug, Serialize)]
pub struct SideReport {
    /// As given on the command line.
    pub argument: String,
    /// The annotation version, for a version side.
    pub version: Option<String>,
    /// The revision of the annotation repository it was read at, for a version side.
    pub revision: Option<String>,
    /// The file read: the cached annotation file, or the JSONL.
    pub file: PathBuf,
}

impl SideReport {
    fn describe(&self) -> String {
        match (&self.version, &self.revision) {
            (Some(version), Some(revision)) => {
                format!("annotation version {version} ({ANNOTATIONS_REPO} at {revision})")
            }
            _ => self.file.display().to_string(),
        }
    }
}

/// The terminal report.
pub fn lines(comparison: &Comparison, a: &SideReport, b: &SideReport) -> Vec<String> {
    let mut lines = vec![
        format!("A: {}", a.describe()),
        format!("B: {}", b.describe()),
    ];
    let sources = &comparison.sources;
    let sum = |count: Count| sources.iter().map(count).sum::<usize>();
    if comparison.identical() {
        let per_source: Vec<String> = sources
            .iter()
            .map(|s| format!("{} {}", s.both, s.source))
            .collect();
        lines.push(format!(
            "Identical: the same {} conversations ({}), every record equal apart from \
             dataset_version.",
            sum(|s| s.both),
            per_source.join(", ")
        ));
        return lines;
    }
    lines.push(format!(
        "Different: {} conversations only in A, {} only in B, {} of the {} in both changed.",
        sum(|s| s.only_a),
        sum(|s| s.only_b),
        sum(|s| s.changed),
        sum(|s| s.both)
    ));
    lines.push(String::new());
    lines.extend(table(comparison));
    if !comparison.text_compared {
        lines.push(
            "Source text is compared only when both sides are artifacts directories (or their \
             JSONL files)."
                .to_owned(),
        );
    }
    for diff in sources {
        let most_common = most_common(diff);
        if !most_common.is_empty() {
            lines.push(String::new());
            lines.extend(most_common);
        }
    }
    lines
}

/// One of a source's counts.
type Count = fn(&SourceDiff) -> usize;

fn table(comparison: &Comparison) -> Vec<String> {
    let sources = &comparison.sources;
    let mut rows: Vec<(&str, Vec<String>)> =
        vec![("", sources.iter().map(|s| s.source.to_string()).collect())];
    let counts: [(&str, Count); 7] = [
        ("only in A", |s| s.only_a),
        ("only in B", |s| s.only_b),
        ("in both", |s| s.both),
        ("changed", |s| s.changed),
        ("specialty changed", |s| s.specialty_changed),
        ("codes changed", |s| s.codes_changed),
        ("LQST changed", |s| s.lqst_changed),
    ];
    for (label, count) in counts {
        rows.push((
            label,
            sources.iter().map(|s| count(s).to_string()).collect(),
        ));
    }
    rows.push((
        "source text changed",
        sources
            .iter()
            .map(|s| s.text_changed.map_or("n/a".to_owned(), |n| n.to_string()))
            .collect(),
    ));
    rows.into_iter()
        .map(|(label, cells)| {
            let cells: Vec<String> = cells.iter().map(|cell| format!("{cell:>9}")).collect();
            format!("  {label:<20}{}", cells.join(""))
        })
        .collect()
}

/// A source's most common specialty transitions, codes gained and lost, and changed keys.
fn most_common(diff: &SourceDiff) -> Vec<String> {
    let mut lines = Vec::new();
    let source = diff.source;
    let transitions = diff.transitions.most_common();
    if !transitions.is_empty() {
        lines.push(format!("{source}: specialty changes, most common first:"));
        for ((before, after), count) in transitions.iter().take(TOP) {
            lines.push(format!("  {count:>6}  {before} → {after}"));
        }
        if transitions.len() > TOP {
            lines.push(format!(
                "          and {} other transitions",
                transitions.len() - TOP
            ));
        }
    }
    for (what, counts, unit) in [
        (
            "taxonomy codes gained most often",
            &diff.codes_gained,
            "messages",
        ),
        (
            "taxonomy codes lost most often",
            &diff.codes_lost,
            "messages",
        ),
        ("keys changed", &diff.keys_changed, "conversations"),
    ] {
        if !counts.is_empty() {
            lines.push(format!("{source}: {what}: {}", top(counts, unit)));
        }
    }
    lines
}

/// `A1.2 (30 messages), C5 (12), ...`: the most common, and how many others there are.
fn top(counts: &Counts<String>, unit: &str) -> String {
    let entries = counts.most_common();
    let mut shown: Vec<String> = entries
        .iter()
        .take(TOP)
        .enumerate()
        .map(|(i, (name, count))| match i {
            0 => format!("{name} ({count} {unit})"),
            _ => format!("{name} ({count})"),
        })
        .collect();
    if entries.len() > TOP {
        shown.push(format!("and {} others", entries.len() - TOP));
    }
    shown.join(", ")
}

/// The `--json` report.
pub fn json(comparison: &Comparison, a: &SideReport, b: &SideReport) -> String {
    #[derive(Serialize)]
    struct Report<'a> {
        identical: bool,
        a: &'a SideReport,
        b: &'a SideReport,
        text_compared: bool,
        /// By source name (`lmsys`, `wildchat`: scan order is name order).
        sources: BTreeMap<&'static str, SourceJson>,
    }
    serde_json::to_string_pretty(&Report {
        identical: comparison.identical(),
        a,
        b,
        text_compared: comparison.text_compared,
        sources: comparison
            .sources
            .iter()
            .map(|diff| (diff.source.name(), SourceJson::new(diff)))
            .collect(),
    })
    .expect("a report serialises")
}

#[derive(Serialize)]
struct SourceJson {
    only_a: usize,
    only_b: usize,
    both: usize,
    specialty_changed: usize,
    codes_changed: usize,
    lqst_changed: usize,
    text_changed: Option<usize>,
    changed: usize,
    specialty_transitions: Vec<Transition>,
    codes_gained: Vec<Named>,
    codes_lost: Vec<Named>,
    keys_changed: Vec<Named>,
}

#[derive(Serialize)]
struct Transition {
    before: String,
    after: String,
    conversations: usize,
}

#[derive(Serialize)]
struct Named {
    name: String,
    count: usize,
}

impl SourceJson {
    fn new(diff: &SourceDiff) -> SourceJson {
        let named = |counts: &Counts<String>| {
            counts
                .most_common()
                .into_iter()
                .map(|(name, count)| Named {
                    name: name.clone(),
                    count,
                })
                .collect()
        };
        SourceJson {
            only_a: diff.only_a,
            only_b: diff.only_b,
            both: diff.both,
            specialty_changed: diff.specialty_changed,
            codes_changed: diff.codes_changed,
            lqst_changed: diff.lqst_changed,
            text_changed: diff.text_changed,
            changed: diff.changed,
            specialty_transitions: diff
                .transitions
                .most_common()
                .into_iter()
                .map(|((before, after), conversations)| Transition {
                    before: before.clone(),
                    after: after.clone(),
                    conversations,
                })
                .collect(),
            codes_gained: named(&diff.codes_gained),
            codes_lost: named(&diff.codes_lost),
            keys_changed: named(&diff.keys_changed),
        }
    }
}
