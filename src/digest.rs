//! SHA-256 of what is written and of files on disk, as lowercase hex; and the two hashes the Hub
//! uses as ETags: SHA-256 of a large (LFS) file, the git blob SHA-1 of a small one.

use std::io::{Read, Write};
use std::path::Path;

/// The byte count and SHA-256 of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buffer[..read]);
    }
}

/// SHA-256 with the byte count, as lowercase hex.
pub struct Sha256 {
    context: ring::digest::Context,
    size: u64,
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256 {
            context: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// The byte count and the hex digest.
    pub fn finish(self) -> (u64, String) {
        (self.size, hex(self.context.finish().as_ref()))
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

/// A writer that hashes what it passes on, so that a file's SHA-256 needs no second read.
pub struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hash: Sha256::new(),
        }
    }

    /// The inner writer, the byte count and the hex SHA-256 of what was written.
    pub fn finish(self) -> (W, u64, String) {
        let (size, sha256) = self.hash.finish();
        (self.inner, size, sha256)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hash.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Whether `value` has the form of a SHA-256 in hex: 64 hexadecimal digits.
pub fn is_sha256(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What an ETag says a file's bytes hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobId {
    /// 64 hex digits: SHA-256 of the bytes (the Hub's large files).
    Sha256(String),
    /// 40 hex digits: SHA-1 of `blob {len}\0` and the bytes (git's object ID of a small file).
    GitSha1(String),
}

impl BlobId {
    /// The hash an ETag names, if it names one.
    pub fn parse(etag: &str) -> Option<BlobId> {
        let hex = etag.bytes().all(|b| b.is_ascii_hexdigit());
        match etag.len() {
            _ if is_sha256(etag) => Some(BlobId::Sha256(etag.to_ascii_lowercase())),
            40 if hex => Some(BlobId::GitSha1(etag.to_ascii_lowercase())),
            _ => None,
        }
    }

    pub fn matches(&self, bytes: &[u8]) -> bool {
        let mut hasher = self.hasher(bytes.len() as u64);
        hasher.update(bytes);
        self.expected() == hex(hasher.finish().as_ref())
    }

    fn expected(&self) -> &str {
        match self {
            BlobId::Sha256(hex) | BlobId::GitSha1(hex) => hex,
        }
    }

    fn hasher(&self, len: u64) -> ring::digest::Context {
        match self {
            BlobId::Sha256(_) => ring::digest::Context::new(&ring::digest::SHA256),
            BlobId::GitSha1(_) => {
                let mut context =
                    ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
                context.update(format!("blob {len}\0").as_bytes());
                context
            }
        }
    }
}

/// Whether the file at `path` hashes to `id`.
pub fn blob_id_of_file(path: &Path, id: &BlobId) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = id.hasher(file.metadata()?.len());
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(id.expected() == hex(hasher.finish().as_ref()));
        }
        hasher.update(&buffer[..read]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashing_writer_hashes_what_it_writes() {
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"ab").unwrap();
        writer.write_all(b"c").unwrap();
        let (bytes, size, sha256) = writer.finish();
        assert_eq!(bytes, b"abc");
        assert_eq!(size, 3);
        assert_eq!(
            sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn etags_name_sha256_or_git_blob_sha1() {
        // `printf 'hello\n' | git hash-object --stdin` and `sha256sum`.
        let git = BlobId::parse("ce013625030ba8dba906f756967f9e9ca394464a").unwrap();
        assert!(git.matches(b"hello\n"));
        assert!(!git.matches(b"hello"));
        let sha = BlobId::parse("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
            .unwrap();
        assert!(sha.matches(b"hello\n"));
        assert_eq!(BlobId::parse("0123abcd0123abcd0123abcd0123abcd"), None);
        assert_eq!(BlobId::parse("zz"), None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("blob");
        std::fs::write(&file, "hello\n").unwrap();
        assert!(blob_id_of_file(&file, &git).unwrap());
        assert!(blob_id_of_file(&file, &sha).unwrap());
    }

    #[test]
    fn sha256_matches_the_standard_vectors() {
        let mut hasher = Sha256::new();
        hasher.update(b"ab");
        hasher.update(b"c");
        assert_eq!(
            hasher.finish(),
            (
                3,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned()
            )
        );
    }
}
