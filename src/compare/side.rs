//! What a side of `diff` names: an existing file or directory (an artifacts directory or its
//! JSONL file), else an annotation version. A path wins over a version of the same spelling;
//! `v2.1.0` names the version when a file `2.1.0` is in the way.

use std::path::{Path, PathBuf};

use super::error::CompareError;
use crate::annotations::AnnotationVersion;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    Version(AnnotationVersion),
    /// A JSONL file: the one given, or the one in the directory given.
    Jsonl(PathBuf),
}

impl Side {
    pub fn resolve(argument: &Path) -> Result<Side, CompareError> {
        if argument.is_dir() {
            return jsonl_in(argument).map(Side::Jsonl);
        }
        if argument.exists() {
            return Ok(Side::Jsonl(argument.to_owned()));
        }
        argument
            .to_str()
            .and_then(|text| text.parse().ok())
            .map(Side::Version)
            .ok_or_else(|| CompareError::NotASide {
                argument: argument.display().to_string(),
            })
    }
}

/// The one `HealthChat-11K_v*.jsonl` directly in `directory` (`generate` writes one).
fn jsonl_in(directory: &Path) -> Result<PathBuf, CompareError> {
    let entries = std::fs::read_dir(directory).map_err(|source| CompareError::Read {
        path: directory.to_owned(),
        source,
    })?;
    let mut files: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CompareError::Read {
            path: directory.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("HealthChat-11K_v")
            && name.ends_with(".jsonl")
            && entry.path().is_file()
        {
            files.push(name);
        }
    }
    files.sort();
    match files.as_slice() {
        [] => Err(CompareError::NoJsonl {
            directory: directory.to_owned(),
        }),
        [file] => Ok(directory.join(file)),
        _ => Err(CompareError::SeveralJsonl {
            directory: directory.to_owned(),
            files,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_wins_and_a_version_is_parsed_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("2.1.0");
        std::fs::write(&file, "").unwrap();
        assert_eq!(Side::resolve(&file).unwrap(), Side::Jsonl(file.clone()));
        assert_eq!(
            Side::resolve(Path::new("v2.1.0")).unwrap(),
            Side::Version("2.1.0".parse().unwrap())
        );
        let error = Side::resolve(&dir.path().join("2.1")).unwrap_err();
        assert!(matches!(error, CompareError::NotASide { .. }), "{error}");
    }

    #[test]
    fn a_directory_gives_its_one_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let error = Side::resolve(dir.path()).unwrap_err();
        assert!(matches!(error, CompareError::NoJsonl { .. }), "{error}");
        std::fs::write(dir.path().join("notes.jsonl"), "").unwrap();
        std::fs::create_dir(dir.path().join("HealthChat-11K_v9.jsonl")).unwrap();
        assert!(matches!(
            Side::resolve(dir.path()).unwrap_err(),
            CompareError::NoJsonl { .. }
        ));
        let jsonl = dir.path().join("HealthChat-11K_v2.1.0_wildchat.jsonl");
        std::fs::write(&jsonl, "").unwrap();
        assert_eq!(Side::resolve(dir.path()).unwrap(), Side::Jsonl(jsonl));
        std::fs::write(dir.path().join("HealthChat-11K_v2.0.0.jsonl"), "").unwrap();
        let error = Side::resolve(dir.path()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("HealthChat-11K_v2.0.0.jsonl, HealthChat-11K_v2.1.0_wildchat.jsonl"),
            "{error}"
        );
    }
}
