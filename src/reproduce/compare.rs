//! A rebuild beside the earlier build (FORMAT.md §9): each artifact's SHA-256 against the one the
//! earlier manifest lists, and per source the conversations one build has that the other lacks.
//! `manifest.json` itself is not compared: it holds what differs from run to run (bytes
//! fetched, rows from the cache).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use super::{Rebuild, shown};
use crate::manifest::Manifest;

/// Conversation IDs shown per source and kind on the terminal; `--json` has all of them.
const SHOWN_IDS: usize = 10;

/// How a rebuild compares with the earlier build (`reproduction` in `--json`).
#[derive(Debug, Serialize)]
pub(crate) struct Reproduction {
    /// The earlier build's manifest.
    pub(crate) manifest: PathBuf,
    pub(crate) reproduced: bool,
    /// The tool that made the earlier build (`healthchat X.Y.Z`).
    pub(crate) earlier_tool: String,
    pub(crate) artifacts_compared: usize,
    /// The artifacts that differ, in the earlier manifest's order, then those only in this
    /// build.
    pub(crate) artifacts: Vec<ArtifactDifference>,
    /// Per source with a difference.
    pub(crate) conversations: Vec<ConversationDifference>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ArtifactDifference {
    pub(crate) name: String,
    /// The SHA-256 the earlier manifest lists; `None` for a file only this build has.
    pub(crate) earlier: Option<String>,
    /// This build's; `None` for a file only the earlier build had.
    pub(crate) now: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ConversationDifference {
    pub(crate) source: String,
    pub(crate) repository: String,
    /// Found by the earlier build, missing now (removed upstream), in annotation-file order.
    pub(crate) missing_now: Vec<String>,
    /// Missing from the earlier build, found now, in the earlier manifest's order.
    pub(crate) found_now: Vec<String>,
}

impl Rebuild {
    /// The new build's `manifest` beside the earlier one.
    pub(crate) fn compare(&self, manifest: &Manifest) -> Reproduction {
        let earlier = &self.earlier;
        let mut artifacts: Vec<ArtifactDifference> = earlier
            .artifacts
            .iter()
            .filter_map(|before| {
                let now = manifest.artifacts.iter().find(|a| a.name == before.name);
                let same = now.is_some_and(|now| now.sha256.eq_ignore_ascii_case(&before.sha256));
                (!same).then(|| ArtifactDifference {
                    name: before.name.clone(),
                    earlier: Some(before.sha256.clone()),
                    now: now.map(|now| now.sha256.clone()),
                })
            })
            .collect();
        artifacts.extend(
            manifest
                .artifacts
                .iter()
                .filter(|now| !earlier.artifacts.iter().any(|a| a.name == now.name))
                .map(|now| ArtifactDifference {
                    name: now.name.clone(),
                    earlier: None,
                    now: Some(now.sha256.clone()),
                }),
        );
        let conversations: Vec<ConversationDifference> = manifest
            .sources
            .iter()
            .filter_map(|counts| {
                let before: &[String] = earlier
                    .sources
                    .iter()
                    .find(|s| s.source == counts.source)
                    .map_or(&[], |s| &s.missing);
                let missing_before: HashSet<&str> = before.iter().map(String::as_str).collect();
                let missing_now: HashSet<&str> =
                    counts.missing.iter().map(String::as_str).collect();
                let difference = ConversationDifference {
                    source: counts.source.clone(),
                    repository: counts.repository.clone(),
                    missing_now: only_in(&counts.missing, &missing_before),
                    found_now: only_in(before, &missing_now),
                };
                (!difference.missing_now.is_empty() || !difference.found_now.is_empty())
                    .then_some(difference)
            })
            .collect();
        Reproduction {
            manifest: self.path.clone(),
            reproduced: artifacts.is_empty() && conversations.is_empty(),
            earlier_tool: earlier.tool.clone(),
            artifacts_compared: earlier.artifacts.len(),
            artifacts,
            conversations,
        }
    }
}

/// The IDs of `ids` not in `other`, each once, in order.
fn only_in(ids: &[String], other: &HashSet<&str>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.iter()
        .filter(|id| !other.contains(id.as_str()) && seen.insert(id.as_str()))
        .cloned()
        .collect()
}

impl Reproduction {
    /// The status lines: the build reproduced, or each difference (at most [`SHOWN_IDS`] IDs per
    /// source and kind).
    pub(crate) fn lines(&self) -> Vec<String> {
        let manifest = self.manifest.display();
        if self.reproduced {
            return vec![format!(
                "Reproduced the build of {manifest}: all {} artifacts have the SHA-256 it lists.",
                self.artifacts_compared
            )];
        }
        let this_tool = format!("healthchat {}", env!("CARGO_PKG_VERSION"));
        let mut lines = vec![match self.earlier_tool == this_tool {
            true => format!("Not the build of {manifest}:"),
            false => format!(
                "Not the build of {manifest} (made by `{}`; this is {this_tool}):",
                shown(&self.earlier_tool)
            ),
        }];
        // Names and SHA-256 are plain (checked when the manifest was read).
        for artifact in &self.artifacts {
            let name = &artifact.name;
            lines.push(match (&artifact.earlier, &artifact.now) {
                (Some(earlier), Some(now)) => format!(
                    "  differs:  {name}: SHA-256 {}..., the manifest lists {}...",
                    now.get(..16).unwrap_or(now),
                    earlier.get(..16).unwrap_or(earlier)
                ),
                (Some(_), None) => format!("  only in the earlier build:  {name}"),
                (None, _) => format!("  only in this build:  {name}"),
            });
        }
        for difference in &self.conversations {
            for (ids, what) in [
                (
                    &difference.missing_now,
                    "the earlier build had, missing now",
                ),
                (
                    &difference.found_now,
                    "found now, missing from the earlier build",
                ),
            ] {
                if ids.is_empty() {
                    continue;
                }
                lines.push(format!(
                    "  Conversations of {} {what} ({}):",
                    difference.repository,
                    ids.len()
                ));
                lines.extend(
                    ids.iter()
                        .take(SHOWN_IDS)
                        .map(|id| format!("    - {}", shown(id))),
                );
                if ids.len() > SHOWN_IDS {
                    lines.push(format!(
                        "    and {} more (all of them in --json)",
                        ids.len() - SHOWN_IDS
                    ));
                }
            }
        }
        lines
    }

    /// The error of a rebuild that is not the earlier build, its artifacts in `directory`.
    pub(crate) fn error(&self, directory: &Path) -> NotReproduced {
        let mut names: Vec<&str> = self.artifacts.iter().map(|a| a.name.as_str()).collect();
        let more = names.len().saturating_sub(SHOWN_IDS);
        names.truncate(SHOWN_IDS);
        let more = format!("and {more} more");
        if self.artifacts.len() > SHOWN_IDS {
            names.push(&more);
        }
        let (differ, compared) = (self.artifacts.len(), self.artifacts_compared);
        let mut what = Vec::new();
        if differ > 0 {
            what.push(format!(
                "{differ} of its {compared} artifacts {} ({})",
                if differ == 1 { "differs" } else { "differ" },
                names.join(", ")
            ));
        }
        let count = |ids: fn(&ConversationDifference) -> &Vec<String>| -> usize {
            self.conversations.iter().map(|d| ids(d).len()).sum()
        };
        let missing_now = count(|d| &d.missing_now);
        if missing_now > 0 {
            what.push(format!(
                "{} it had {} missing now",
                conversations(missing_now),
                if missing_now == 1 { "is" } else { "are" }
            ));
        }
        let found_now = count(|d| &d.found_now);
        if found_now > 0 {
            what.push(format!(
                "{} missing from it {} found now",
                conversations(found_now),
                if found_now == 1 { "is" } else { "are" }
            ));
        }
        NotReproduced {
            manifest: self.manifest.clone(),
            differences: what.join("; "),
            directory: directory.to_owned(),
        }
    }
}

fn conversations(n: usize) -> String {
    match n {
        1 => "1 conversation".to_owned(),
        n => format!("{n} conversations"),
    }
}

/// A rebuild that is not the earlier build; its artifacts were still written (exit status 4).
#[derive(Debug, Error)]
#[error(
    "the build of {} was not reproduced: {differences}; the artifacts were written to {}",
    manifest.display(),
    directory.display()
)]
pub(crate) struct NotReproduced {
    manifest: PathBuf,
    differences: String,
    directory: PathBuf,
}

impl NotReproduced {
    pub(crate) fn next_step(&self) -> String {
        format!(
            "the lines before this one list each difference (not with --quiet), as does \
             `reproduction` in --json; with the earlier artifacts directory, `healthchat diff \
             EARLIER {}` shows every conversation that changed.",
            self.directory.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id{i:02}")).collect()
    }

    #[test]
    fn ids_are_compared_in_order_each_once() {
        let other: HashSet<&str> = ["b"].into_iter().collect();
        let listed = ["a", "b", "c", "a"].map(str::to_owned);
        assert_eq!(only_in(&listed, &other), ["a", "c"]);
    }

    #[test]
    fn the_terminal_shows_ten_ids_per_source_and_the_error_counts_them() {
        let reproduction = Reproduction {
            manifest: PathBuf::from("m.json"),
            reproduced: false,
            earlier_tool: "healthchat 0.0.1\u{1b}[2J".to_owned(),
            artifacts_compared: 3,
            artifacts: vec![ArtifactDifference {
                name: "a.jsonl".to_owned(),
                earlier: Some("0".repeat(64)),
                now: None,
            }],
            conversations: vec![ConversationDifference {
                source: "wildchat".to_owned(),
                repository: "allenai/WildChat-1M".to_owned(),
                missing_now: ids(12),
                found_now: Vec::new(),
            }],
        };
        let lines = reproduction.lines();
        assert!(lines[0].contains("made by `healthchat 0.0.1\\u{1b}[2J`"));
        assert_eq!(lines[1], "  only in the earlier build:  a.jsonl");
        assert!(lines[2].ends_with("the earlier build had, missing now (12):"));
        assert_eq!(lines[3], "    - id00");
        assert_eq!(lines[12], "    - id09");
        assert_eq!(lines[13], "    and 2 more (all of them in --json)");
        assert_eq!(lines.len(), 14);
        assert_eq!(
            reproduction.error(Path::new("out")).to_string(),
            "the build of m.json was not reproduced: 1 of its 3 artifacts differs (a.jsonl); 12 \
             conversations it had are missing now; the artifacts were written to out"
        );
    }
}
