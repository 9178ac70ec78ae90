//! `manifest.json` (FORMAT.md §9): what produced an artifacts directory (tool, annotation
//! version, the commit of every repository, every shard with its size and SHA-256), what it holds
//! (counts, missing IDs, SHA-256 of each artifact), and the check `healthchat verify` makes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::annotations::{ANNOTATIONS_REPO, AnnotationFile, AnnotationIndex, AnnotationOrigin};
use crate::digest::hash_file;
use crate::shards::{SourcePlan, Verifications};
use crate::source::Source;
use crate::tally::Tally;

pub(crate) const FILE_NAME: &str = "manifest.json";

/// The layout this build writes and the newest it reads (FORMAT.md §9); a manifest without the
/// field is of layout 1.
pub(crate) const LAYOUT: u64 = 1;

/// Far more than any manifest (one of the full dataset is a few kB): a larger file is not one,
/// and is not read whole.
const MAX_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    #[serde(default = "first_layout")]
    pub(crate) layout: u64,
    /// `healthchat X.Y.Z`.
    pub(crate) tool: String,
    pub(crate) annotation_version: String,
    pub(crate) repositories: Vec<Repository>,
    pub(crate) sources: Vec<SourceCounts>,
    pub(crate) conversations: u64,
    pub(crate) full_review_rows: u64,
    pub(crate) sycophancy_review_rows: u64,
    pub(crate) specialties: BTreeMap<String, u64>,
    /// The sources this directory holds (`--sources`); all of them when absent.
    #[serde(default)]
    pub(crate) included_sources: Vec<String>,
    pub(crate) artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Repository {
    pub(crate) id: String,
    /// The branch, tag or commit asked for.
    pub(crate) revision: String,
    /// The commit the Hub resolved it to; `None` for files read from `--source-dir`.
    pub(crate) commit: Option<String>,
    /// Set when the files were read from disk instead of the Hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) source_dir: Option<PathBuf>,
    pub(crate) files: Vec<RepositoryFile>,
}

impl Repository {
    /// The annotation repository and the version's file, as downloaded and checked (or read
    /// from a local file: then with the folder it was read from, and not verified).
    pub(crate) fn of_annotations(annotations: &AnnotationFile) -> Repository {
        let (revision, commit, source_dir, path, verified) = match &annotations.origin {
            AnnotationOrigin::Hub { repo, cached } => (
                repo.revision().to_owned(),
                cached.commit().map(str::to_owned),
                None,
                annotations.version.file_name(),
                cached.verified(),
            ),
            AnnotationOrigin::Local(path) => (
                "(local file)".to_owned(),
                None,
                // As given, like --source-dir: `.` for a bare file name.
                Some(match path.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                    _ => PathBuf::from("."),
                }),
                path.file_name()
                    .map_or_else(String::new, |name| name.to_string_lossy().into_owned()),
                false,
            ),
        };
        Repository {
            id: ANNOTATIONS_REPO.to_owned(),
            revision,
            commit,
            source_dir,
            files: vec![RepositoryFile {
                path,
                size: annotations.size,
                sha256: Some(annotations.sha256.clone()),
                verified,
                verified_against: verified
                    .then(|| "its blob name in the Hugging Face cache".to_owned()),
                rows_from_cache: 0,
                bytes_fetched: 0,
            }],
        }
    }

    /// A source's repository and shards, as scanned and checked.
    pub(crate) fn of_source(
        plan: &SourcePlan,
        source_dir: Option<&Path>,
        verifications: &Verifications,
    ) -> Repository {
        Repository {
            id: plan.repo.id().to_owned(),
            revision: plan.repo.revision().to_owned(),
            commit: plan.repo.commit().map(str::to_owned),
            source_dir: source_dir.map(PathBuf::from),
            files: plan
                .shards
                .iter()
                .map(|file| {
                    let verification = verifications.of(file);
                    let against = verification.as_ref().and_then(|v| v.against);
                    RepositoryFile {
                        path: file.path().to_owned(),
                        size: file.size(),
                        sha256: verification.as_ref().map(|v| v.sha256.clone()),
                        verified: against.is_some(),
                        verified_against: against.map(|p| p.describe().to_owned()),
                        rows_from_cache: verification.as_ref().map_or(0, |v| v.rows_from_cache),
                        bytes_fetched: verification.as_ref().map_or(0, |v| v.bytes_fetched),
                    }
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RepositoryFile {
    pub(crate) path: String,
    pub(crate) size: u64,
    /// The SHA-256 of the bytes read (FORMAT.md §9), never the storage's own ETag.
    pub(crate) sha256: Option<String>,
    /// Whether that SHA-256 was checked against a published one, and which.
    #[serde(default)]
    pub(crate) verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) verified_against: Option<String>,
    /// Of a source shard: the rows taken from the cache of rows (FORMAT.md §11), and the bytes
    /// read from the Hub or disk (none when the cache held every wanted row).
    #[serde(default)]
    pub(crate) rows_from_cache: u64,
    #[serde(default)]
    pub(crate) bytes_fetched: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SourceCounts {
    pub(crate) source: String,
    pub(crate) repository: String,
    pub(crate) wanted: u64,
    pub(crate) found: u64,
    /// In annotation-file order.
    pub(crate) missing: Vec<String>,
}

impl SourceCounts {
    /// The conversations of `source` that `index` wants, and which of them `tally` found.
    fn of(source: Source, index: &AnnotationIndex, tally: &Tally) -> SourceCounts {
        let wanted: Vec<&str> = index.ids_in_order(source).collect();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|id| tally.is_missing(source, id))
            .map(|id| id.to_string())
            .collect();
        SourceCounts {
            source: source.name().to_owned(),
            repository: source.repo_id().to_owned(),
            wanted: wanted.len() as u64,
            found: (wanted.len() - missing.len()) as u64,
            missing,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Artifact {
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

impl Manifest {
    /// A run's manifest, its artifacts listed once they are written: what was read (the
    /// annotation file, then each of `plans`' shards, from `source_dir` when given, as
    /// `verifications` says they were checked) and what the hand-over's `tally` counted of the
    /// `included` sources.
    pub(crate) fn assemble(
        annotations: &AnnotationFile,
        plans: &[SourcePlan],
        source_dir: Option<&Path>,
        verifications: &Verifications,
        tally: &Tally,
        included: &[Source],
    ) -> Manifest {
        let mut repositories = vec![Repository::of_annotations(annotations)];
        repositories.extend(
            plans
                .iter()
                .map(|plan| Repository::of_source(plan, source_dir, verifications)),
        );
        Manifest {
            layout: LAYOUT,
            tool: format!("healthchat {}", env!("CARGO_PKG_VERSION")),
            annotation_version: annotations.version.to_string(),
            repositories,
            sources: included
                .iter()
                .map(|&source| SourceCounts::of(source, &annotations.index, tally))
                .collect(),
            conversations: tally.conversations,
            full_review_rows: tally.full_review_rows,
            sycophancy_review_rows: tally.sycophancy_review_rows,
            specialties: tally.specialties.clone(),
            included_sources: included.iter().map(|s| s.name().to_owned()).collect(),
            artifacts: Vec::new(),
        }
    }

    /// The source rows taken from the cache of rows.
    pub(crate) fn rows_from_cache(&self) -> u64 {
        self.repositories
            .iter()
            .flat_map(|repo| &repo.files)
            .map(|file| file.rows_from_cache)
            .sum()
    }

    /// The files read whose SHA-256 had nothing to be checked against, as `repo/path`.
    pub(crate) fn unverified(&self) -> Vec<String> {
        self.repositories
            .iter()
            .flat_map(|repo| {
                repo.files
                    .iter()
                    .filter(|file| !file.verified)
                    .map(move |file| format!("{}/{}", repo.id, file.path))
            })
            .collect()
    }

    pub(crate) fn missing(&self) -> usize {
        self.sources.iter().map(|s| s.missing.len()).sum()
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        bytes.push(b'\n');
        bytes
    }

    /// The manifest at `path`, of this layout or an older one (FORMAT.md §9). Its layout is read
    /// first, so that a newer manifest is reported as such rather than as not a manifest.
    pub(crate) fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let read_error = |source| ManifestError::Read {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_BYTES {
            return Err(ManifestError::TooLarge {
                path: path.to_owned(),
            });
        }
        let parse_error = |source| ManifestError::Parse {
            path: path.to_owned(),
            source,
        };
        #[derive(Deserialize)]
        struct Layout {
            #[serde(default = "first_layout")]
            layout: u64,
        }
        let Layout { layout } = serde_json::from_slice(&bytes).map_err(parse_error)?;
        if layout > LAYOUT {
            return Err(ManifestError::Newer {
                path: path.to_owned(),
                layout,
            });
        }
        serde_json::from_slice(&bytes).map_err(parse_error)
    }
}

fn first_layout() -> u64 {
    1
}

/// Why a file cannot be read as a manifest.
#[derive(Debug, Error)]
pub(crate) enum ManifestError {
    #[error("could not read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is not a healthchat manifest: it is larger than {} MiB",
        path.display(),
        MAX_BYTES >> 20
    )]
    TooLarge { path: PathBuf },
    #[error("{} is not a healthchat manifest", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{} was written by a newer healthchat (manifest layout {layout}; this healthchat {} reads \
         layout {LAYOUT} and older)",
        path.display(),
        env!("CARGO_PKG_VERSION")
    )]
    Newer { path: PathBuf, layout: u64 },
}

impl ManifestError {
    /// The next step where it does not depend on what the manifest was read for.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            ManifestError::Newer { .. } => Some(
                "upgrade healthchat (`pip install -U healthchat`, or `cargo install` from a newer \
                 checkout), then run again."
                    .to_owned(),
            ),
            ManifestError::Read { .. }
            | ManifestError::TooLarge { .. }
            | ManifestError::Parse { .. } => None,
        }
    }
}

#[derive(Debug, Error)]
pub(crate) enum VerifyError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(
        "{mismatched} of {artifacts} artifacts in {} do not match its manifest.json",
        directory.display()
    )]
    Mismatched {
        mismatched: usize,
        artifacts: usize,
        directory: PathBuf,
        annotation_version: String,
    },
}

impl VerifyError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            VerifyError::Manifest(ManifestError::Read { .. }) => Some(
                "pass the HealthChat-11K_v{V}_artifacts directory that `healthchat generate` \
                 wrote."
                    .to_owned(),
            ),
            VerifyError::Manifest(error) => error.next_step(),
            VerifyError::Mismatched {
                annotation_version, ..
            } => Some(format!(
                "generate them again with `healthchat generate --version {annotation_version}`."
            )),
        }
    }
}

/// The outcome of checking one artifact against the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    Ok { name: String },
    Missing { name: String },
    Mismatch { name: String, problem: String },
}

/// Reads `dir/manifest.json` and checks the size and SHA-256 of every artifact it lists.
pub(crate) fn verify(dir: &Path) -> Result<(Manifest, Vec<Check>), VerifyError> {
    let manifest = Manifest::read(&dir.join(FILE_NAME))?;
    let checks = manifest
        .artifacts
        .iter()
        .map(|artifact| check(dir, artifact))
        .collect();
    Ok((manifest, checks))
}

fn check(dir: &Path, artifact: &Artifact) -> Check {
    let name = artifact.name.clone();
    // A manifest names files inside its directory, nothing else.
    if Path::new(&name).components().count() != 1 {
        return Check::Mismatch {
            name,
            problem: "the manifest names a path outside the directory".to_owned(),
        };
    }
    let (size, sha256) = match hash_file(&dir.join(&name)) {
        Ok(found) => found,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Check::Missing { name };
        }
        Err(error) => {
            return Check::Mismatch {
                name,
                problem: format!("could not be read: {error}"),
            };
        }
    };
    if size != artifact.size {
        Check::Mismatch {
            name,
            problem: format!("{size} bytes, the manifest says {}", artifact.size),
        }
    } else if sha256 != artifact.sha256 {
        Check::Mismatch {
            name,
            problem: format!("SHA-256 {sha256}, the manifest says {}", artifact.sha256),
        }
    } else {
        Check::Ok { name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_counts_list_the_missing_in_annotation_file_order() {
        let index = AnnotationIndex::from_jsonl(
            "{\"conversation_id\": \"b\", \"dataset_source\": \"wildchat\"}\n\
             {\"conversation_id\": \"a\", \"dataset_source\": \"wildchat\"}\n\
             {\"conversation_id\": \"c\", \"dataset_source\": \"wildchat\"}\n",
        )
        .unwrap();
        let targets = index.targets(Source::Wildchat);
        let mut tally = Tally::new([(Source::Wildchat, &targets)]);
        assert!(tally.is_first(Source::Wildchat, "a"));
        let counts = SourceCounts::of(Source::Wildchat, &index, &tally);
        assert_eq!((counts.wanted, counts.found), (3, 1));
        assert_eq!(counts.missing, ["b", "c"]);
        assert_eq!(SourceCounts::of(Source::Lmsys, &index, &tally).wanted, 0);
    }

    /// A manifest of a build that found nothing, listing `artifacts`.
    fn manifest_listing(artifacts: Vec<Artifact>) -> Manifest {
        Manifest {
            layout: LAYOUT,
            tool: "healthchat 0".to_owned(),
            annotation_version: "1.0.0".to_owned(),
            repositories: Vec::new(),
            sources: Vec::new(),
            conversations: 0,
            full_review_rows: 0,
            sycophancy_review_rows: 0,
            specialties: BTreeMap::new(),
            included_sources: Vec::new(),
            artifacts,
        }
    }

    #[test]
    fn verify_reports_missing_and_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "abc").unwrap();
        std::fs::write(dir.path().join("b.txt"), "abc").unwrap();
        let artifact = |name: &str| Artifact {
            name: name.to_owned(),
            size: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned(),
        };
        let manifest = manifest_listing(vec![
            artifact("a.txt"),
            artifact("b.txt"),
            artifact("c.txt"),
        ]);
        std::fs::write(dir.path().join(FILE_NAME), manifest.to_json()).unwrap();
        std::fs::write(dir.path().join("b.txt"), "abd").unwrap();
        let (read, checks) = verify(dir.path()).unwrap();
        assert_eq!(read, manifest);
        assert!(matches!(&checks[0], Check::Ok { .. }));
        assert!(
            matches!(&checks[1], Check::Mismatch { problem, .. } if problem.contains("SHA-256"))
        );
        assert_eq!(
            checks[2],
            Check::Missing {
                name: "c.txt".to_owned()
            }
        );
    }

    #[test]
    fn a_manifest_is_read_by_its_layout_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let read = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            Manifest::read(&path)
        };
        let mut written: serde_json::Value =
            serde_json::from_slice(&manifest_listing(Vec::new()).to_json()).unwrap();
        written.as_object_mut().unwrap().remove("layout");
        assert_eq!(
            read(&serde_json::to_vec(&written).unwrap()).unwrap().layout,
            1
        );
        written["layout"] = (LAYOUT + 1).into();
        assert!(matches!(
            read(&serde_json::to_vec(&written).unwrap()),
            Err(ManifestError::Newer { layout, .. }) if layout == LAYOUT + 1
        ));
        written["layout"] = "one".into();
        assert!(matches!(
            read(&serde_json::to_vec(&written).unwrap()),
            Err(ManifestError::Parse { .. })
        ));
        let mut huge = vec![b' '; usize::try_from(MAX_BYTES).unwrap()];
        huge.push(b'{');
        assert!(matches!(read(&huge), Err(ManifestError::TooLarge { .. })));
    }
}
