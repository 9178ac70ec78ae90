//! Annotation versions (FORMAT.md §1): `MAJOR.MINOR.PATCH`, one JSONL file each in the annotation
//! repository.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Result;
use thiserror::Error;

use crate::hub::{DatasetRepo, Hub, ListedFile};

/// The repository of the annotation files, one per version (FORMAT.md §1).
pub(crate) const ANNOTATIONS_REPO: &str = "yahskapar/HealthChat-11K";

const FILE_PREFIX: &str = "HealthChat-11K_master_annotations_v";
const FILE_SUFFIX: &str = ".jsonl";

/// Why no annotation version, or not the one asked for, can be used.
#[derive(Debug, Error)]
pub(crate) enum VersionError {
    #[error(
        "annotation version {requested} does not exist on the Hub; available versions: {}",
        list(available).unwrap_or_else(|| "none".to_owned())
    )]
    Unknown {
        requested: AnnotationVersion,
        available: Vec<AnnotationVersion>,
    },
    #[error(
        "HF_HUB_OFFLINE is set and no annotation file of {repo} is in the cache {}",
        cache.display()
    )]
    NoneCached { repo: String, cache: PathBuf },
    #[error(
        "HF_HUB_OFFLINE is set and annotation version {requested} ({} of {repo}) is not in the \
         Hugging Face cache {}; versions cached: {}",
        requested.file_name(),
        cache.display(),
        list(cached).unwrap_or_else(|| "none".to_owned())
    )]
    NotCached {
        requested: AnnotationVersion,
        repo: String,
        cache: PathBuf,
        cached: Vec<AnnotationVersion>,
    },
    #[error("{repo} holds no {FILE_PREFIX}*{FILE_SUFFIX} annotation file")]
    NoneListed { repo: String },
    #[error(
        "the version of the annotation file {} is not known: its name is not \
         {FILE_PREFIX}{{V}}{FILE_SUFFIX} and no --version was given",
        path.display()
    )]
    NotInFileName { path: PathBuf },
}

impl VersionError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            VersionError::Unknown { available, .. } => Some(format!(
                "run again with one of them, e.g. --version {}",
                available
                    .last()
                    .map_or("2.1.0".to_owned(), ToString::to_string)
            )),
            VersionError::NoneCached { .. } => {
                Some("run once with network access (unset HF_HUB_OFFLINE) to cache one.".to_owned())
            }
            VersionError::NotCached { cached, .. } if !cached.is_empty() => Some(
                "run once with network access (unset HF_HUB_OFFLINE) to cache it, or use a \
                 cached version."
                    .to_owned(),
            ),
            VersionError::NotCached { .. } => {
                Some("run once with network access (unset HF_HUB_OFFLINE) to cache it.".to_owned())
            }
            VersionError::NoneListed { .. } => None,
            VersionError::NotInFileName { .. } => Some(
                "say which version it is with --version, e.g. --version 2.2.0 for a draft of \
                 the next one."
                    .to_owned(),
            ),
        }
    }
}

/// `1.0.0, 2.0.0`, or `None` for no versions.
fn list(versions: &[AnnotationVersion]) -> Option<String> {
    let names: Vec<String> = versions.iter().map(ToString::to_string).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AnnotationVersion {
    major: u64,
    minor: u64,
    patch: u64,
}

impl AnnotationVersion {
    /// True for `(major, minor, patch)` and later versions.
    pub fn at_least(&self, (major, minor, patch): (u64, u64, u64)) -> bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }

    pub fn file_name(&self) -> String {
        format!("{FILE_PREFIX}{self}{FILE_SUFFIX}")
    }

    /// The version of `HealthChat-11K_master_annotations_v{V}.jsonl`.
    pub(super) fn from_file_name(path: &str) -> Option<AnnotationVersion> {
        path.strip_prefix(FILE_PREFIX)?
            .strip_suffix(FILE_SUFFIX)?
            .parse()
            .ok()
    }
}

impl FromStr for AnnotationVersion {
    type Err = String;

    /// `2.0.0` (a leading `v` is accepted, as in `v2.0.0`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid =
            || format!("`{text}` is not a version of the form MAJOR.MINOR.PATCH, e.g. 2.1.0");
        let digits = text.strip_prefix('v').unwrap_or(text);
        let parts: Vec<&str> = digits.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(invalid());
        };
        let number = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            part.parse::<u64>().map_err(|_| invalid())
        };
        Ok(AnnotationVersion {
            major: number(major)?,
            minor: number(minor)?,
            patch: number(patch)?,
        })
    }
}

impl fmt::Display for AnnotationVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The annotation files at the top of the repository, with their versions, oldest first.
pub(super) async fn annotation_files(
    hub: &Hub,
    repo: &DatasetRepo,
) -> Result<Vec<(AnnotationVersion, ListedFile)>> {
    let mut files: Vec<(AnnotationVersion, ListedFile)> = hub
        .api()
        .list_folder(repo, "")
        .await?
        .into_iter()
        .filter_map(|file| Some((AnnotationVersion::from_file_name(file.path())?, file)))
        .collect();
    files.sort_by_key(|(version, _)| *version);
    Ok(files)
}

/// The versions whose annotation file is in the repository (offline: in the cache), oldest
/// first.
pub(super) async fn available(hub: &Hub, repo: &DatasetRepo) -> Result<Vec<AnnotationVersion>> {
    if !hub.settings().offline {
        let files = annotation_files(hub, repo).await?;
        return Ok(files.into_iter().map(|(version, _)| version).collect());
    }
    let mut versions: Vec<AnnotationVersion> = hub
        .cache()
        .files(repo)
        .iter()
        .filter_map(|path| AnnotationVersion::from_file_name(path))
        .collect();
    versions.sort();
    Ok(versions)
}

/// A version for `healthchat versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionEntry {
    pub(crate) version: AnnotationVersion,
    pub(crate) newest: bool,
    /// Its file is in the local Hugging Face cache.
    pub(crate) cached: bool,
}

/// The versions on the Hub (oldest first), or in the cache when offline.
pub(crate) async fn list_versions(hub: &Hub, repo: &DatasetRepo) -> Result<Vec<VersionEntry>> {
    let versions = available(hub, repo).await?;
    let newest = versions.last().copied();
    // Offline, `available` listed the cache itself.
    let cached_files = (!hub.settings().offline).then(|| hub.cache().files(repo));
    Ok(versions
        .into_iter()
        .map(|version| VersionEntry {
            version,
            newest: Some(version) == newest,
            cached: cached_files
                .as_ref()
                .is_none_or(|files| files.contains(&version.file_name())),
        })
        .collect())
}

/// The newest version: of `listed` when the repository's files were listed already, else of
/// [`available`].
pub(super) async fn newest(
    hub: &Hub,
    repo: &DatasetRepo,
    listed: Option<&[(AnnotationVersion, ListedFile)]>,
) -> Result<AnnotationVersion> {
    let versions = match listed {
        Some(listed) => listed.iter().map(|(version, _)| *version).collect(),
        None => available(hub, repo).await?,
    };
    match versions.last() {
        Some(newest) => Ok(*newest),
        None if hub.settings().offline => Err(VersionError::NoneCached {
            repo: repo.id().to_owned(),
            cache: hub.cache().dir().to_owned(),
        }
        .into()),
        None => Err(VersionError::NoneListed {
            repo: repo.id().to_owned(),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_order_and_name_their_file() {
        let v: AnnotationVersion = "2.10.0".parse().unwrap();
        assert!(v > "2.9.1".parse().unwrap());
        assert_eq!(
            "v1.0.0".parse::<AnnotationVersion>().unwrap().to_string(),
            "1.0.0"
        );
        assert_eq!(
            v.file_name(),
            "HealthChat-11K_master_annotations_v2.10.0.jsonl"
        );
        assert_eq!(AnnotationVersion::from_file_name(&v.file_name()), Some(v));
        assert_eq!(AnnotationVersion::from_file_name("README.md"), None);
        for bad in ["2.0", "2.0.0.0", "a.b.c", "2..0", "", "2.0.-1"] {
            assert!(bad.parse::<AnnotationVersion>().is_err(), "{bad}");
        }
    }
}
