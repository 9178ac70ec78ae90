//! Files on the user's disk as input, as untrusted as the network (FORMAT.md §12): only
//! regular files are read (a FIFO would block a read for ever, a device never end), a lock file
//! is opened without truncating it and without following a link at its name, and the caches'
//! folders are made or entered only as directories, never through a link, so that a link planted
//! in a cache cannot empty, lock or delete a file elsewhere.

use std::fs::{File, FileType, OpenOptions};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The longest small text file read (FORMAT.md §12): a token file, a ref, the metadata `hf
/// download` writes beside a file; each is a line or three.
pub const SMALL_TEXT: u64 = 64 << 10;

/// Why a file on disk is not opened.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeFile {
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is {0}, not a directory")]
    NotDirectory(&'static str),
    #[error("it is a symbolic link, which is never followed there (remove it)")]
    Link,
    #[error("it holds more than {limit} bytes, more than any such file")]
    TooLarge { limit: u64 },
}

impl From<UnsafeFile> for std::io::Error {
    fn from(problem: UnsafeFile) -> std::io::Error {
        let kind = match problem {
            UnsafeFile::TooLarge { .. } => std::io::ErrorKind::InvalidData,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, problem)
    }
}

fn kind_of(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

fn regular(file_type: FileType) -> std::io::Result<()> {
    match file_type.is_file() {
        true => Ok(()),
        false => Err(UnsafeFile::NotRegular(kind_of(file_type)).into()),
    }
}

/// Options that never wait for the other end of a FIFO (checked after opening, so that what
/// was opened is what was checked) and, with `no_follow`, refuse a link at the path itself
/// (on Unix; elsewhere links are rare and need privileges to make).
fn options(no_follow: bool) -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let follow = if no_follow { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | follow);
    }
    #[cfg(not(unix))]
    let _ = no_follow;
    options
}

/// Why a file could not be read, in a few words (for messages that take a fixed text).
pub fn why_unreadable(error: &std::io::Error) -> &'static str {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<UnsafeFile>())
    {
        Some(UnsafeFile::Link) => "it is a symbolic link",
        Some(UnsafeFile::NotRegular(_) | UnsafeFile::NotDirectory(_)) => "it is not a regular file",
        Some(UnsafeFile::TooLarge { .. }) => "it is larger than any such file",
        None => "it cannot be read",
    }
}

/// The metadata of `path` (following links) if it is a regular file: an error says what it is
/// instead.
pub fn check_regular(path: &Path) -> std::io::Result<std::fs::Metadata> {
    let metadata = std::fs::metadata(path)?;
    regular(metadata.file_type())?;
    Ok(metadata)
}

/// Opens `path` (following links) for reading if it is a regular file.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    check_regular(path)?;
    let file = options(false).read(true).open(path)?;
    regular(file.metadata()?.file_type())?;
    Ok(file)
}

/// The bytes of the regular file `path`, refused beyond `limit`.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_limited(open_regular(path)?, limit)
}

/// The bytes of `path`, a file this program wrote: as [`read_regular`], and a link at its name
/// is refused, not followed.
pub fn read_own(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = options(true).read(true).open(path).map_err(|error| {
        match is_link_refusal(&error, path) {
            true => UnsafeFile::Link.into(),
            false => error,
        }
    })?;
    regular(file.metadata()?.file_type())?;
    read_limited(file, limit)
}

fn read_limited(file: File, limit: u64) -> std::io::Result<Vec<u8>> {
    let length = file.metadata()?.len();
    if length > limit {
        return Err(UnsafeFile::TooLarge { limit }.into());
    }
    // At most `limit`, checked above.
    let mut bytes = Vec::with_capacity(length as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(UnsafeFile::TooLarge { limit }.into());
    }
    Ok(bytes)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_to_string(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
}

/// Opens the lock file `path` for `flock`, creating it if `create`: never truncated (the name
/// may be another program's file), never through a link at its name, never a FIFO.
pub fn open_lock(path: &Path, create: bool) -> std::io::Result<File> {
    let file = options(true)
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
        .map_err(|error| match is_link_refusal(&error, path) {
            true => UnsafeFile::Link.into(),
            false => error,
        })?;
    regular(file.metadata()?.file_type())?;
    Ok(file)
}

/// `O_NOFOLLOW` refuses a link with `ELOOP`.
fn is_link_refusal(error: &std::io::Error, path: &Path) -> bool {
    #[cfg(unix)]
    let refused = error.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    let refused = false;
    refused && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether `path` is a directory itself, not a link to one.
fn directory(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => Ok(true),
        Ok(metadata) if metadata.file_type().is_symlink() => Err(UnsafeFile::Link.into()),
        Ok(metadata) => Err(UnsafeFile::NotDirectory(kind_of(metadata.file_type())).into()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// `base/relative`, made where missing, each directory below `base` made here or entered only if
/// it is one (not a link). `base` itself is the user's choice and may be a link.
pub fn make_dirs_below(base: &Path, relative: &Path) -> std::io::Result<PathBuf> {
    Ok(walk_below(base, relative, true)?.unwrap_or_else(|| base.join(relative)))
}

/// `base/relative` if each directory below `base` is one (not a link); `None` if one is
/// missing.
pub fn dirs_below(base: &Path, relative: &Path) -> std::io::Result<Option<PathBuf>> {
    walk_below(base, relative, false)
}

fn walk_below(base: &Path, relative: &Path, create: bool) -> std::io::Result<Option<PathBuf>> {
    if create {
        std::fs::create_dir_all(base)?;
    }
    let mut path = base.to_owned();
    for component in relative.components() {
        let Component::Normal(name) = component else {
            return Err(UnsafeFile::NotDirectory("not a plain name").into());
        };
        path.push(name);
        if directory(&path).map_err(|error| naming(&path, error))? {
            continue;
        }
        if !create {
            return Ok(None);
        }
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            // Made meanwhile by another run: it must be a directory too.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                directory(&path).map_err(|error| naming(&path, error))?;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(Some(path))
}

/// An error about `path`, naming it, for messages that do not.
pub fn naming(path: &Path, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn fifo(path: &Path) {
        let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn only_regular_files_are_read_and_within_their_limit() {
        let dir = tempfile::tempdir().unwrap();
        let pipe = dir.path().join("pipe");
        fifo(&pipe);
        let error = read_regular(&pipe, 10).unwrap_err();
        assert_eq!(error.to_string(), "it is a FIFO, not a regular file");
        let error = read_regular(dir.path(), 10).unwrap_err();
        assert_eq!(error.to_string(), "it is a directory, not a regular file");
        let file = dir.path().join("file");
        std::fs::write(&file, "12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap(), b"12345");
        let error = read_regular(&file, 4).unwrap_err();
        assert!(error.to_string().contains("more than 4 bytes"), "{error}");
        let error = read_regular_to_string(Path::new("/dev/null"), 4).unwrap_err();
        assert!(error.to_string().contains("character device"), "{error}");
    }

    #[test]
    fn locks_neither_truncate_nor_follow_nor_wait() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious");
        std::fs::write(&precious, "keep").unwrap();
        let link = dir.path().join("a.lock");
        std::os::unix::fs::symlink(&precious, &link).unwrap();
        let error = open_lock(&link, true).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        open_lock(&precious, false).unwrap();
        assert_eq!(std::fs::read(&precious).unwrap(), b"keep");
        let pipe = dir.path().join("b.lock");
        fifo(&pipe);
        assert!(
            open_lock(&pipe, true)
                .unwrap_err()
                .to_string()
                .contains("FIFO")
        );
    }

    #[test]
    fn directories_below_a_base_are_never_links() {
        let base = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let made = make_dirs_below(base.path(), Path::new("a/b")).unwrap();
        assert_eq!(made, base.path().join("a/b"));
        assert!(made.is_dir());
        assert_eq!(
            dirs_below(base.path(), Path::new("a/b")).unwrap(),
            Some(made)
        );
        assert_eq!(dirs_below(base.path(), Path::new("a/c")).unwrap(), None);
        std::os::unix::fs::symlink(elsewhere.path(), base.path().join("a/c")).unwrap();
        let error = make_dirs_below(base.path(), Path::new("a/c/d")).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        let error = dirs_below(base.path(), Path::new("a/c/d")).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(make_dirs_below(base.path(), Path::new("../x")).is_err());
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }
}
