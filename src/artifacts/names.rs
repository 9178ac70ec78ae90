//! What the artifacts directory and its files are called.

use crate::source::Source;

/// The names of an artifacts directory and its files (FORMAT.md §9): those of the reference for
/// the full set; with the subset's name in each for a subset of the sources, so that it cannot be
/// taken for the full set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArtifactNames {
    /// `HealthChat-11K_v{V}` or `HealthChat-11K_v{V}_{subset}`.
    stem: String,
    version: String,
}

impl ArtifactNames {
    /// The names for `version` and the `included` sources (in scan order).
    pub(crate) fn new(version: &str, included: &[Source]) -> ArtifactNames {
        let stem = if included.len() < Source::ALL.len() {
            let subset: Vec<&str> = included.iter().map(|source| source.name()).collect();
            format!("HealthChat-11K_v{version}_{}", subset.join("_"))
        } else {
            format!("HealthChat-11K_v{version}")
        };
        ArtifactNames {
            stem,
            version: version.to_owned(),
        }
    }

    /// `{stem}_artifacts`
    pub(crate) fn directory(&self) -> String {
        format!("{}_artifacts", self.stem)
    }

    /// The JSONL file and the two review CSV files.
    pub(crate) fn reference_files(&self) -> [String; 3] {
        [
            format!("{}.jsonl", self.stem),
            format!("{}_full_review.csv", self.stem),
            format!("{}_sycophancy_review.csv", self.stem),
        ]
    }

    /// The Parquet file of one source's conversations.
    pub(crate) fn parquet(&self, source: Source) -> String {
        format!("HealthChat-11K_v{}_{source}.parquet", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subset_carries_its_name_and_the_full_set_the_references() {
        let full = ArtifactNames::new("2.1.0", &Source::ALL);
        assert_eq!(full.directory(), "HealthChat-11K_v2.1.0_artifacts");
        assert_eq!(full.reference_files()[0], "HealthChat-11K_v2.1.0.jsonl");
        let subset = ArtifactNames::new("2.1.0", &[Source::Wildchat]);
        assert_eq!(
            subset.directory(),
            "HealthChat-11K_v2.1.0_wildchat_artifacts"
        );
        assert_eq!(
            subset.reference_files()[2],
            "HealthChat-11K_v2.1.0_wildchat_sycophancy_review.csv"
        );
        assert_eq!(
            subset.parquet(Source::Wildchat),
            full.parquet(Source::Wildchat)
        );
    }
}
