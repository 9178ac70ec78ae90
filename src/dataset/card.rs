//! The dataset card, `README.md` (FORMAT.md §10): YAML front matter that the Hub and `datasets`
//! read (`configs` naming each source's Parquet file as split `train`, licences, size), then what
//! the directory holds, how it was built and under which terms.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::annotations::AnnotationVersion;
use crate::artifacts::{ArtifactError, ArtifactNames, ArtifactWriter};
use crate::manifest::{Manifest, Repository, SourceCounts};
use crate::source::Source;

pub(super) const FILE_NAME: &str = "README.md";

/// What the card says.
pub(super) struct Card<'a> {
    pub(crate) version: &'a AnnotationVersion,
    pub(crate) tool: &'a str,
    /// The sources this directory holds, in scan order.
    pub(crate) sources: &'a [Source],
    /// Each source's Parquet file.
    pub(crate) parquet_files: &'a [(Source, String)],
    pub(crate) reference_files: &'a [String; 3],
    pub(crate) counts: &'a [SourceCounts],
    pub(crate) repositories: &'a [Repository],
    pub(crate) specialties: &'a BTreeMap<String, u64>,
    pub(crate) conversations: u64,
}

/// The first version whose WildChat-derived annotations are ODC-BY rather than CC BY-NC-SA.
const WILDCHAT_ODC_BY_SINCE: (u64, u64, u64) = (2, 1, 0);

const CITATION: &str = r#"@article{paruchuri2025s,
  title={"What's Up, Doc?": Analyzing How Users Seek Health Information in Large-Scale Conversational AI Datasets},
  author={Paruchuri, Akshay and Aziz, Maryam and Vartak, Rohit and Ali, Ayman and Uchehara, Best and Liu, Xin and Chatterjee, Ishan and Agrawal, Monica},
  journal={arXiv preprint arXiv:2506.21532},
  year={2025}
}"#;

/// The licence of each source's annotations in `version`, as the Hub names licences.
fn licence(source: Source, version: &AnnotationVersion) -> &'static str {
    match source {
        Source::Wildchat if version.at_least(WILDCHAT_ODC_BY_SINCE) => "odc-by",
        _ => "cc-by-nc-sa-4.0",
    }
}

/// The Hub's size category for `n` rows.
fn size_category(n: u64) -> &'static str {
    match n {
        0..1_000 => "n<1K",
        1_000..10_000 => "1K<n<10K",
        10_000..100_000 => "10K<n<100K",
        _ => "100K<n<1M",
    }
}

/// Adds the card of a run's artifacts to them: `manifest` says what was read and counted,
/// `parquet_files` names each of the `included` sources' Parquet file.
pub(crate) fn write_card(
    artifacts: &mut ArtifactWriter,
    manifest: &Manifest,
    version: &AnnotationVersion,
    included: &[Source],
    parquet_files: &[(Source, String)],
    names: &ArtifactNames,
) -> Result<(), ArtifactError> {
    let text = render_card(&Card {
        version,
        tool: &manifest.tool,
        sources: included,
        parquet_files,
        reference_files: &names.reference_files(),
        counts: &manifest.sources,
        repositories: &manifest.repositories,
        specialties: &manifest.specialties,
        conversations: manifest.conversations,
    });
    artifacts.add_file(FILE_NAME, text.as_bytes())
}

fn render_card(card: &Card<'_>) -> String {
    let mut licences: Vec<&str> = card
        .sources
        .iter()
        .map(|source| licence(*source, card.version))
        .collect();
    licences.dedup();
    let mut text = String::from("---\npretty_name: HealthChat-11K\nlicense:\n");
    for licence in &licences {
        let _ = writeln!(text, "- {licence}");
    }
    let _ = writeln!(
        text,
        "tags:\n- medical\n- health\n- conversational\nsize_categories:\n- {}\nsource_datasets:",
        size_category(card.conversations)
    );
    for source in card.sources {
        let _ = writeln!(text, "- {}", source.repo_id());
    }
    text.push_str("configs:\n");
    for (source, file) in card.parquet_files {
        let _ = writeln!(
            text,
            "- config_name: {source}\n  data_files:\n  - split: train\n    path: {file}"
        );
    }
    text.push_str("---\n\n");

    let holds = match card.sources {
        [only] => format!(
            "the {only} subset only (conversations from {})",
            only.repo_id()
        ),
        _ => "every source".to_owned(),
    };
    let _ = write!(
        text,
        "# HealthChat-11K v{version}\n\n\
         {n} real conversations in which people ask chatbots about their health, annotated \
         with a clinicians' taxonomy (specialty, per-message taxonomy codes, leading questions that \
         can make a model sycophantic), from the paper [\"What's Up, Doc?\": Analyzing How Users \
         Seek Health Information in Large-Scale Conversational AI \
         Datasets](https://arxiv.org/abs/2506.21532) (Findings of EMNLP 2025). This directory holds \
         {holds}.\n\n",
        version = card.version,
        n = card.conversations,
    );

    text.push_str("## Contents\n\n| config (split `train`) | file | conversations | annotated | not found in the source |\n|---|---|---|---|---|\n");
    for (source, file) in card.parquet_files {
        let counts = card.counts.iter().find(|c| c.source == source.name());
        let (found, wanted, missing) =
            counts.map_or((0, 0, 0), |c| (c.found, c.wanted, c.missing.len()));
        let _ = writeln!(
            text,
            "| `{source}` | `{file}` | {found} | {wanted} | {missing} |"
        );
    }
    let [jsonl, full, sycophancy] = card.reference_files;
    let _ = write!(
        text,
        "\nEach Parquet file keeps its source's own columns and types (nested lists and structs, \
         timestamps as timestamps), then the annotation columns and `dataset_version`, one row per \
         conversation in the order of `{jsonl}`. Beside them, the reference generator's files, \
         byte for byte: `{jsonl}` (one conversation per line), `{full}` (one row per turn) and \
         `{sycophancy}` (one row per leading question seeking treatment); `manifest.json` lists \
         every file with its SHA-256 (`healthchat verify` checks them).\n\n\
         ```python\nfrom datasets import load_dataset\n"
    );
    for (source, _) in card.parquet_files {
        let _ = writeln!(
            text,
            "{source} = load_dataset(\"path/to/this/directory\", \"{source}\", split=\"train\")"
        );
    }
    text.push_str(
        "```\n\n## Conversations per specialty\n\n| specialty | conversations |\n|---|---|\n",
    );
    for (specialty, count) in card.specialties {
        let _ = writeln!(text, "| {specialty} | {count} |");
    }

    let _ = write!(
        text,
        "\n## How it was built\n\nBy `{tool}`, which joins the annotations with the source \
         datasets by conversation ID (`healthchat generate --version {version}{sources}`), from \
         these commits:\n\n| repository | revision | commit |\n|---|---|---|\n",
        tool = card.tool,
        version = card.version,
        sources = match card.sources {
            [only] => format!(" --sources {only}"),
            _ => String::new(),
        },
    );
    for repository in card.repositories {
        let _ = writeln!(
            text,
            "| [{id}](https://huggingface.co/datasets/{id}) | `{revision}` | `{commit}` |",
            id = repository.id,
            revision = repository.revision,
            commit = repository.commit.as_deref().unwrap_or("(local copy)"),
        );
    }

    text.push_str(
        "\n## Licences\n\nEach part keeps its own terms; you are responsible for complying with \
         all of them.\n\n",
    );
    for source in card.sources {
        let line = match (source, licence(*source, card.version)) {
            (Source::Lmsys, _) => {
                "- Annotations of `lmsys` conversations: CC BY-NC-SA 4.0. Their conversation \
                 text: the LMSYS-Chat-1M Dataset License Agreement, accepted on \
                 <https://huggingface.co/datasets/lmsys/lmsys-chat-1m>; it restricts \
                 redistribution."
            }
            (Source::Wildchat, "odc-by") => {
                "- Annotations of `wildchat` conversations: ODC-BY 1.0. Their conversation text: \
                 ODC-BY 1.0 (<https://huggingface.co/datasets/allenai/WildChat-1M>)."
            }
            (Source::Wildchat, _) => {
                "- Annotations of `wildchat` conversations: CC BY-NC-SA 4.0 (ODC-BY from version \
                 2.1.0). Their conversation text: ODC-BY 1.0 \
                 (<https://huggingface.co/datasets/allenai/WildChat-1M>)."
            }
        };
        text.push_str(line);
        text.push('\n');
    }
    let _ = write!(text, "\n## Citation\n\n```bibtex\n{CITATION}\n```\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_text(version: &str, sources: &[Source]) -> String {
        let version: AnnotationVersion = version.parse().unwrap();
        let parquet_files: Vec<(Source, String)> = sources
            .iter()
            .map(|s| (*s, format!("HealthChat-11K_v{version}_{s}.parquet")))
            .collect();
        let reference_files = ["a.jsonl".to_owned(), "b.csv".to_owned(), "c.csv".to_owned()];
        render_card(&Card {
            version: &version,
            tool: "healthchat 0.1.0",
            sources,
            parquet_files: &parquet_files,
            reference_files: &reference_files,
            counts: &[],
            repositories: &[],
            specialties: &BTreeMap::from([("Cardiology".to_owned(), 3)]),
            conversations: 12_000,
        })
    }

    #[test]
    fn licences_follow_the_version_and_the_sources() {
        let both = card_text("2.1.0", &Source::ALL);
        assert!(both.starts_with(
            "---\npretty_name: HealthChat-11K\nlicense:\n- cc-by-nc-sa-4.0\n- odc-by\n"
        ));
        assert!(both.contains("- 10K<n<100K\n"));
        assert!(both.contains("- config_name: lmsys\n  data_files:\n  - split: train\n    path: HealthChat-11K_v2.1.0_lmsys.parquet\n"));
        let old = card_text("2.0.0", &Source::ALL);
        assert!(old.contains("license:\n- cc-by-nc-sa-4.0\ntags:"));
        let wildchat = card_text("2.1.0", &[Source::Wildchat]);
        assert!(wildchat.contains("license:\n- odc-by\ntags:"));
        assert!(wildchat.contains("source_datasets:\n- allenai/WildChat-1M\nconfigs:"));
        assert!(!wildchat.contains("config_name: lmsys"));
        assert!(wildchat.contains("--sources wildchat"));
        assert!(wildchat.contains("@article{paruchuri2025s"));
    }
}
