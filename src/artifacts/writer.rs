//! A directory that appears under its final name only when every file in it is complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::csv::encode_csv;
use super::error::ArtifactError;
use super::names::ArtifactNames;
use crate::digest::HashingWriter;
use crate::local_file::open_lock;
use crate::manifest::{self, Artifact, Manifest};
use crate::printer::Printer;
use crate::record::review::{FULL_REVIEW_HEADER, Row, SYCOPHANCY_REVIEW_HEADER};

/// Held locked by the run that writes a temporary directory: a later run that can lock it knows
/// its writer is gone (killed before it could clean up) and removes the directory.
const LOCK_FILE: &str = ".lock";

/// Writes the three artifacts into a hidden temporary directory beside the target, and renames
/// it into place only in [`ArtifactWriter::finish`]. Dropped unfinished, it deletes itself.
pub(crate) struct ArtifactWriter {
    final_dir: PathBuf,
    lock: File,
    files: [(PathBuf, BufWriter<HashingWriter<File>>); 3],
    /// Files written whole into the directory, by others (the dataset's) or by `add_file`; not
    /// synced yet.
    others: Vec<(Artifact, File)>,
    /// Last, so that it is dropped (removed) after the files in it are closed: Windows does not
    /// remove a directory while a file in it is open.
    temp: tempfile::TempDir,
}

impl ArtifactWriter {
    pub(crate) fn create(parent: &Path, names: &ArtifactNames) -> Result<Self, ArtifactError> {
        let name = names.directory();
        let prefix = format!(".{name}.partial-");
        let create_error = |source| ArtifactError::Create {
            dir: parent.to_owned(),
            source,
        };
        // A file where the directory (or one above it) should be: said as such, not as the
        // operating system's "File exists".
        if let Some(file) = parent
            .ancestors()
            .find(|path| path.exists() && !path.is_dir())
        {
            return Err(ArtifactError::NotADirectory {
                dir: parent.to_owned(),
                file: file.to_owned(),
            });
        }
        std::fs::create_dir_all(parent).map_err(create_error)?;
        remove_abandoned(parent, &prefix);
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(parent)
            .map_err(create_error)?;
        let lock = File::create(temp.path().join(LOCK_FILE))
            .and_then(|lock| lock.lock().map(|()| lock))
            .map_err(create_error)?;
        let open = |file_name: &String| {
            let path = temp.path().join(file_name);
            File::create(&path)
                .map(|file| {
                    let out = BufWriter::with_capacity(1 << 20, HashingWriter::new(file));
                    (path.clone(), out)
                })
                .map_err(|source| ArtifactError::Write { path, source })
        };
        let [jsonl, full, sycophancy] = names.reference_files();
        // In the current directory, the artifacts are named as the reference names them.
        let final_dir = if parent == Path::new(".") {
            PathBuf::from(&name)
        } else {
            parent.join(&name)
        };
        let mut writer = ArtifactWriter {
            final_dir,
            files: [open(&jsonl)?, open(&full)?, open(&sycophancy)?],
            temp,
            lock,
            others: Vec::new(),
        };
        let header = |names: [&str; 7]| {
            let row: Row = names.map(std::borrow::Cow::Borrowed);
            encode_csv([&row])
        };
        writer.write(1, &header(FULL_REVIEW_HEADER))?;
        writer.write(2, &header(SYCOPHANCY_REVIEW_HEADER))?;
        Ok(writer)
    }

    /// The temporary directory, on the same file system as the artifacts.
    pub(crate) fn directory(&self) -> &Path {
        self.temp.path()
    }

    fn write(&mut self, file: usize, bytes: &[u8]) -> Result<(), ArtifactError> {
        let (path, out) = &mut self.files[file];
        out.write_all(bytes).map_err(|source| ArtifactError::Write {
            path: path.clone(),
            source,
        })
    }

    /// Lists a file someone else wrote whole, hashed, into [`ArtifactWriter::directory`]; it is
    /// synced with the others in [`ArtifactWriter::finish`].
    pub(crate) fn add(&mut self, artifact: Artifact, file: File) {
        self.others.push((artifact, file));
    }

    /// Writes `bytes` as the file `name` of the directory and lists it.
    pub(crate) fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ArtifactError> {
        let path = self.temp.path().join(name);
        let mut out =
            HashingWriter::new(File::create(&path).map_err(|source| ArtifactError::Write {
                path: path.clone(),
                source,
            })?);
        out.write_all(bytes)
            .map_err(|source| ArtifactError::Write { path, source })?;
        let (file, size, sha256) = out.finish();
        let artifact = Artifact {
            name: name.to_owned(),
            size,
            sha256,
        };
        self.others.push((artifact, file));
        Ok(())
    }

    /// Appends one record: its JSONL line (without newline) and its encoded review rows.
    pub(crate) fn append(
        &mut self,
        jsonl: &[u8],
        full_review: &[u8],
        sycophancy_review: &[u8],
    ) -> Result<(), ArtifactError> {
        self.write(0, jsonl)?;
        self.write(0, b"\n")?;
        self.write(1, full_review)?;
        self.write(2, sycophancy_review)
    }

    /// Flushes and syncs the files (all at once), writes `manifest.json` from what `manifest`
    /// makes of them,
    /// then moves the directory to its final name, replacing a previous one only now that the
    /// new one is complete. Returns the final path and the manifest.
    pub(crate) fn finish(
        self,
        manifest: impl FnOnce(Vec<Artifact>) -> Manifest,
    ) -> Result<(PathBuf, Manifest), ArtifactError> {
        let mut written = Vec::new();
        for (path, out) in self.files {
            let hashing = out.into_inner().map_err(|e| ArtifactError::Write {
                path: path.clone(),
                source: e.into_error(),
            })?;
            let (file, size, sha256) = hashing.finish();
            let name = path.file_name().expect("artifacts have names");
            let artifact = Artifact {
                name: name.to_string_lossy().into_owned(),
                size,
                sha256,
            };
            written.push((artifact, file));
        }
        written.extend(self.others);
        sync_together(self.temp.path(), &written)?;
        let artifacts = written.into_iter().map(|(artifact, _)| artifact).collect();
        let manifest_path = self.temp.path().join(manifest::FILE_NAME);
        let manifest_error = |source| ArtifactError::Write {
            path: manifest_path.clone(),
            source,
        };
        let manifest = manifest(artifacts);
        let mut manifest_file = File::create(&manifest_path).map_err(manifest_error)?;
        manifest_file
            .write_all(&manifest.to_json())
            .and_then(|()| manifest_file.sync_all())
            .map_err(manifest_error)?;
        let lock_path = self.temp.path().join(LOCK_FILE);
        drop(self.lock);
        std::fs::remove_file(&lock_path).map_err(|source| ArtifactError::Write {
            path: lock_path,
            source,
        })?;
        let staged = self.temp.keep();
        let rename_error = |source| ArtifactError::Rename {
            path: self.final_dir.clone(),
            source,
        };
        // Whatever is at the final name (a directory, a file, a link) is moved aside first.
        let old = std::fs::symlink_metadata(&self.final_dir).is_ok().then(|| {
            staged.with_file_name(format!(
                ".{}.old-{}",
                self.final_dir.file_name().expect("named").to_string_lossy(),
                std::process::id()
            ))
        });
        let moved_aside = match &old {
            Some(old) => std::fs::rename(&self.final_dir, old),
            None => Ok(()),
        };
        let result = moved_aside.and_then(|()| {
            std::fs::rename(&staged, &self.final_dir).inspect_err(|_| {
                if let Some(old) = &old {
                    let _ = std::fs::rename(old, &self.final_dir);
                }
            })
        });
        if let Err(source) = result {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(rename_error(source));
        }
        // The new directory is in place and complete: the run succeeded, and an old copy that
        // cannot be removed stays, said in a warning.
        if let Some(old) = old
            && let Err(error) = remove_any(&old)
        {
            Printer::warning(format!(
                "the previous {} was moved to {} and could not be removed ({error}); remove it by \
                 hand",
                self.final_dir.display(),
                old.display()
            ));
        }
        Ok((self.final_dir, manifest))
    }
}

/// Syncs `files` of `dir`, each on a thread of its own: the file system commits them together,
/// where one after another each would wait for a journal commit of its own. A file the system
/// gives no thread for is synced here.
fn sync_together(dir: &Path, files: &[(Artifact, File)]) -> Result<(), ArtifactError> {
    std::thread::scope(|scope| {
        let syncs: Vec<_> = files
            .iter()
            .map(|(artifact, file)| {
                let spawned = std::thread::Builder::new().spawn_scoped(scope, || file.sync_all());
                (artifact, file, spawned)
            })
            .collect();
        for (artifact, file, spawned) in syncs {
            let synced = match spawned {
                Ok(sync) => sync.join().expect("syncing does not panic"),
                Err(_) => file.sync_all(),
            };
            synced.map_err(|source| ArtifactError::Write {
                path: dir.join(&artifact.name),
                source,
            })?;
        }
        Ok(())
    })
}

/// Removes `path`: a directory with what it holds, or a file or link itself.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path)?.is_dir() {
        true => std::fs::remove_dir_all(path),
        false => std::fs::remove_file(path),
    }
}

/// Removes the temporary directories of earlier runs that were killed before they could clean
/// up: those whose lock file nobody holds. A directory still being written stays locked.
fn remove_abandoned(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let dir = entry.path();
        // Opened as a lock, never created (a directory another run has just made has none yet)
        // and never a FIFO, which would wait for a writer.
        let abandoned =
            open_lock(&dir.join(LOCK_FILE), false).is_ok_and(|lock| lock.try_lock().is_ok());
        if abandoned {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn test_manifest(artifacts: Vec<Artifact>) -> Manifest {
        Manifest {
            layout: manifest::LAYOUT,
            tool: "healthchat test".to_owned(),
            annotation_version: "9.9.9".to_owned(),
            repositories: Vec::new(),
            sources: Vec::new(),
            conversations: 1,
            full_review_rows: 1,
            sycophancy_review_rows: 0,
            specialties: Default::default(),
            included_sources: Vec::new(),
            artifacts,
        }
    }

    #[test]
    fn artifacts_appear_only_when_finished() {
        let parent = tempfile::tempdir().unwrap();
        let mut writer =
            ArtifactWriter::create(parent.path(), &ArtifactNames::new("9.9.9", &Source::ALL))
                .unwrap();
        writer.append(b"{}", b"", b"").unwrap();
        let final_dir = parent.path().join("HealthChat-11K_v9.9.9_artifacts");
        assert!(!final_dir.exists());
        drop(writer);
        assert_eq!(
            std::fs::read_dir(parent.path()).unwrap().count(),
            0,
            "an abandoned run leaves nothing"
        );

        std::fs::create_dir(&final_dir).unwrap();
        std::fs::write(final_dir.join("stale"), "old").unwrap();
        let mut writer =
            ArtifactWriter::create(parent.path(), &ArtifactNames::new("9.9.9", &Source::ALL))
                .unwrap();
        writer.append(b"{\"a\": 1}", b"x\r\n", b"").unwrap();
        let (path, _) = writer
            .finish(|artifacts| {
                assert_eq!(artifacts[0].size, 9);
                assert_eq!(artifacts[1].name, "HealthChat-11K_v9.9.9_full_review.csv");
                test_manifest(artifacts)
            })
            .unwrap();
        assert_eq!(path, final_dir);
        assert!(
            !final_dir.join("stale").exists(),
            "the previous run's directory is replaced"
        );
        assert_eq!(
            std::fs::read(final_dir.join("HealthChat-11K_v9.9.9.jsonl")).unwrap(),
            b"{\"a\": 1}\n"
        );
        let (manifest, checks) = manifest::verify(&final_dir).unwrap();
        assert_eq!(manifest.artifacts.len(), 3);
        let all_ok = checks
            .iter()
            .all(|c| matches!(c, manifest::Check::Ok { .. }));
        assert!(all_ok, "{checks:?}");
        let entries: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert_eq!(
            entries.len(),
            1,
            "no temporary directory is left beside the artifacts"
        );
    }
}
