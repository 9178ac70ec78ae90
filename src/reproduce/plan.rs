//! An earlier build as its manifest describes it: the annotation version, the commit of each
//! repository, the sources and the outputs (FORMAT.md §9). A manifest is input like a listing:
//! every commit, name and path in it is checked before it names a revision or a file.

use std::error::Error;
use std::path::{Path, PathBuf};

use super::{ReproduceError, shown};
use crate::annotations::{ANNOTATIONS_REPO, AnnotationVersion};
use crate::cli::{GenerateArgs, RevisionArgs};
use crate::hub::HubError;
use crate::manifest::{Manifest, Repository};
use crate::shards::FindError;
use crate::source::Source;

/// The dataset card (FORMAT.md §10): with the Parquet files, what tells a full build from a
/// `--reference-only` one.
const CARD: &str = "README.md";

/// What an earlier build read and wrote, from its manifest, checked.
#[derive(Debug)]
pub(crate) struct Rebuild {
    pub(super) path: PathBuf,
    pub(super) earlier: Manifest,
    version: AnnotationVersion,
    sources: Vec<Source>,
    reference_only: bool,
}

impl Rebuild {
    /// The build the manifest at `path` describes; any value in it that cannot describe one is
    /// an error naming it.
    pub(crate) fn read(path: &Path) -> Result<Rebuild, ReproduceError> {
        let earlier = Manifest::read(path).map_err(ReproduceError::Manifest)?;
        let unusable = |problem: String| ReproduceError::Unusable {
            path: path.to_owned(),
            problem,
        };
        let version = earlier.annotation_version.parse().map_err(|_| {
            unusable(format!(
                "its annotation_version `{}` is not MAJOR.MINOR.PATCH",
                shown(&earlier.annotation_version)
            ))
        })?;
        let sources = included_sources(&earlier).map_err(unusable)?;
        check_repositories(&earlier.repositories).map_err(unusable)?;
        check_artifacts(&earlier).map_err(unusable)?;
        let reference_only = !earlier
            .artifacts
            .iter()
            .any(|artifact| artifact.name == CARD || artifact.name.ends_with(".parquet"));
        Ok(Rebuild {
            path: path.to_owned(),
            earlier,
            version,
            sources,
            reference_only,
        })
    }

    /// `args` set to build what the earlier build did: its version, sources and outputs, each
    /// repository at its commit. The other flags (`--output-dir`, `--source-dir`, ...) stay.
    pub(crate) fn apply(&self, args: &mut GenerateArgs) {
        let reference = |repo: &str| match self.repository(repo) {
            Some(repository) => pinned_reference(repository),
            None => "main".to_owned(),
        };
        args.version = Some(self.version);
        args.sources = self.sources.clone();
        args.reference_only = self.reference_only;
        args.revisions = RevisionArgs {
            annotations_revision: reference(ANNOTATIONS_REPO),
            lmsys_revision: reference(Source::Lmsys.repo_id()),
            wildchat_revision: reference(Source::Wildchat.repo_id()),
        };
    }

    /// Status lines: what is rebuilt, and from which commits.
    pub(crate) fn describe(&self) -> Vec<String> {
        let sources: Vec<&str> = self.sources.iter().map(|source| source.name()).collect();
        let mut lines = vec![format!(
            "Rebuilding what {} describes: HealthChat-11K v{}, sources {}{}",
            self.path.display(),
            self.version,
            sources.join(", "),
            if self.reference_only {
                ", reference files only"
            } else {
                ""
            }
        )];
        for repository in &self.earlier.repositories {
            lines.push(match &repository.commit {
                Some(commit) => format!("  {} at {}", repository.id, commit.to_ascii_lowercase()),
                None => format!(
                    "  {}: the earlier build read a local copy and recorded no commit; revision \
                     `{}`",
                    repository.id, repository.revision
                ),
            });
        }
        lines
    }

    /// `error`, or, when the Hub has no longer a commit the manifest names, an error that says
    /// so, naming the repository and the commit.
    pub(crate) fn explain(&self, error: anyhow::Error) -> anyhow::Error {
        let gone = error.chain().find_map(|cause| {
            let (repo, revision) = revision_not_found(cause)?;
            let repository = self.repository(repo)?;
            let commit = repository.commit.as_deref()?;
            commit.eq_ignore_ascii_case(revision).then_some(repository)
        });
        match gone {
            Some(repository) => ReproduceError::CommitGone {
                path: self.path.clone(),
                repo: repository.id.clone(),
                commit: pinned_reference(repository),
                version: self.version.to_string(),
                source_repo: repository.id != ANNOTATIONS_REPO,
            }
            .into(),
            None => error,
        }
    }

    /// The new build's manifest told in the earlier build's terms, so that the dataset card,
    /// which names them, can be the same (FORMAT.md §9): a repository at the earlier commit
    /// keeps the revision the earlier build asked for; one read from `--source-dir` whose files
    /// have the earlier build's SHA-256, size and path is that commit's files, and is named so.
    pub(crate) fn restore_revisions(&self, manifest: &mut Manifest) {
        for repository in &mut manifest.repositories {
            let Some(earlier) = self.repository(&repository.id) else {
                continue;
            };
            let same_commit = match (&repository.commit, &earlier.commit) {
                (Some(now), Some(before)) => now.eq_ignore_ascii_case(before),
                (None, Some(_)) => same_files(repository, earlier),
                (_, None) => false,
            };
            if same_commit {
                repository.revision = earlier.revision.clone();
                repository.commit = earlier.commit.as_deref().map(str::to_ascii_lowercase);
            }
        }
    }

    fn repository(&self, id: &str) -> Option<&Repository> {
        self.earlier
            .repositories
            .iter()
            .find(|repository| repository.id == id)
    }
}

/// What the rebuild asks for of a repository: its commit, else (a local copy) its revision.
fn pinned_reference(repository: &Repository) -> String {
    match &repository.commit {
        Some(commit) => commit.to_ascii_lowercase(),
        None => repository.revision.clone(),
    }
}

/// The repository and revision of a `RevisionNotFound` answer, wherever it is wrapped.
fn revision_not_found<'a>(cause: &'a (dyn Error + 'static)) -> Option<(&'a str, &'a str)> {
    let hub = match cause.downcast_ref::<FindError>() {
        Some(FindError::Hub(hub)) => hub,
        _ => cause.downcast_ref::<HubError>()?,
    };
    match hub {
        HubError::RevisionNotFound { repo, revision } => Some((repo, revision)),
        _ => None,
    }
}

fn same_files(now: &Repository, earlier: &Repository) -> bool {
    !now.files.is_empty()
        && now.files.len() == earlier.files.len()
        && now.files.iter().zip(&earlier.files).all(|(a, b)| {
            a.path == b.path
                && a.size == b.size
                && a.sha256.is_some()
                && a.sha256.as_deref().map(str::to_ascii_lowercase)
                    == b.sha256.as_deref().map(str::to_ascii_lowercase)
        })
}

/// The manifest's `included_sources` (all when absent), in scan order; every source it names is
/// one of the two.
fn included_sources(earlier: &Manifest) -> Result<Vec<Source>, String> {
    let parse = |name: &String| {
        Source::from_dataset_source(name).ok_or_else(|| {
            format!(
                "it names the source `{}`, which is neither lmsys nor wildchat",
                shown(name)
            )
        })
    };
    for counts in &earlier.sources {
        parse(&counts.source)?;
    }
    let included = earlier
        .included_sources
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match included.is_empty() {
        true => Source::ALL.to_vec(),
        false => Source::included(&included),
    })
}

/// Each repository is one healthchat reads, listed once, at a 40-hex commit, with a plain
/// revision and plain file paths; the annotation repository is among them.
fn check_repositories(repositories: &[Repository]) -> Result<(), String> {
    let known = [
        ANNOTATIONS_REPO,
        Source::Lmsys.repo_id(),
        Source::Wildchat.repo_id(),
    ];
    for (n, repository) in repositories.iter().enumerate() {
        let id = &repository.id;
        if !known.contains(&id.as_str()) {
            return Err(format!(
                "it names the repository `{}`, which healthchat does not read",
                shown(id)
            ));
        }
        if repositories[..n].iter().any(|other| &other.id == id) {
            return Err(format!("it lists {id} twice"));
        }
        if let Some(commit) = &repository.commit
            && !is_commit(commit)
        {
            return Err(format!(
                "its commit `{}` of {id} is not 40 hexadecimal digits",
                shown(commit)
            ));
        }
        if !is_plain_path(&repository.revision) {
            return Err(format!(
                "its revision `{}` of {id} is not a branch, tag or commit name",
                shown(&repository.revision)
            ));
        }
        if let Some(file) = repository.files.iter().find(|f| !is_plain_path(&f.path)) {
            return Err(format!(
                "its file `{}` of {id} is not a plain path inside the repository",
                shown(&file.path)
            ));
        }
    }
    if !repositories.iter().any(|r| r.id == ANNOTATIONS_REPO) {
        return Err(format!("it does not list {ANNOTATIONS_REPO}"));
    }
    Ok(())
}

/// Some artifacts, each a plain file name with a SHA-256.
fn check_artifacts(earlier: &Manifest) -> Result<(), String> {
    if earlier.artifacts.is_empty() {
        return Err("it lists no artifacts, so nothing could be compared".to_owned());
    }
    for artifact in &earlier.artifacts {
        if !is_plain_file_name(&artifact.name) {
            return Err(format!(
                "its artifact `{}` is not a plain file name",
                shown(&artifact.name)
            ));
        }
        if artifact.sha256.len() != 64 || !is_hex(&artifact.sha256) {
            return Err(format!(
                "the SHA-256 `{}` of its artifact {} is not 64 hexadecimal digits",
                shown(&artifact.sha256),
                artifact.name
            ));
        }
    }
    Ok(())
}

fn is_hex(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A commit as the Hub names it: 40 hexadecimal digits.
fn is_commit(value: &str) -> bool {
    value.len() == 40 && is_hex(value)
}

/// A name of a file in the artifacts directory: one component that neither climbs nor hides.
fn is_plain_file_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && !value.starts_with('.')
        && !value
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':') || c.is_control())
}

/// A revision (`main`, `refs/pr/1`, `v2.1.0`) or a path in a repository: `/`-separated
/// components of letters, digits, `.`, `_` and `-`, none empty or starting with `.`.
fn is_plain_path(value: &str) -> bool {
    value.len() <= 1024
        && value.split('/').all(|component| {
            !component.is_empty()
                && !component.starts_with('.')
                && component
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_a_directory_are_refused() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", ".hidden", "C:x", "a\nb",
        ] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
        assert!(is_plain_file_name("HealthChat-11K_v2.1.0.jsonl"));
        for bad in ["", "/main", "a//b", "a/../b", "..", "a/.x", "a b", "main/"] {
            assert!(!is_plain_path(bad), "{bad:?}");
        }
        for good in [
            "main",
            "refs/pr/1",
            "v2.1.0",
            "data/train-00000-of-00004.parquet",
        ] {
            assert!(is_plain_path(good), "{good:?}");
        }
        assert!(is_commit(&"aB3".repeat(14)[..40]));
        assert!(!is_commit(&"g".repeat(40)));
        assert!(!is_commit("abc"));
    }
}
