//! SHA-256 of what is written and of files on disk, as lowercase hex; and the two hashes the Hub
//! uses as ETags: SHA-256 of a large (LFS) file, the git blob SHA-1 of a small one.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The byte count and SHA-256 of a file.
pub(crate) fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = crate::local_file::open_regular(path)?;
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
pub(crate) struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hash: Sha256::new(),
        }
    }

    /// The inner writer, the byte count and the hex SHA-256 of what was written.
    pub(crate) fn finish(self) -> (W, u64, String) {
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

/// SHA-256 whose running state can be kept and taken up again (FORMAT.md §11): the state at each
/// row group's start and end is saved, so that a run stopped half-way carries the whole-file
/// hash on from there, and a row group fetched alone later is checked against the states of a
/// read whose whole-file SHA-256 matched. (`ring` keeps its state private; `sha2` exposes the
/// compression function this is built on.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HashState {
    words: [u32; 8],
    /// The bytes of the block not yet compressed (fewer than 64).
    pending: Vec<u8>,
    /// The bytes hashed so far: the file offset the state stands at.
    length: u64,
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

impl HashState {
    pub(crate) fn new() -> HashState {
        HashState {
            words: SHA256_INITIAL,
            pending: Vec::with_capacity(64),
            length: 0,
        }
    }

    /// How many bytes have been hashed: the file offset of the next byte.
    pub(crate) fn position(&self) -> u64 {
        self.length
    }

    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        self.length += bytes.len() as u64;
        if !self.pending.is_empty() {
            let take = (64 - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() < 64 {
                return;
            }
            let block: [u8; 64] = self.pending[..].try_into().expect("64 bytes");
            sha2::block_api::compress256(&mut self.words, &[block]);
            self.pending.clear();
        }
        let (blocks, rest) = bytes.as_chunks::<64>();
        sha2::block_api::compress256(&mut self.words, blocks);
        self.pending.extend_from_slice(rest);
    }

    /// The hex SHA-256 of the bytes hashed so far.
    pub(crate) fn finish(&self) -> String {
        let mut words = self.words;
        let mut last = self.pending.clone();
        last.push(0x80);
        while last.len() % 64 != 56 {
            last.push(0);
        }
        last.extend_from_slice(&(self.length * 8).to_be_bytes());
        sha2::block_api::compress256(&mut words, last.as_chunks::<64>().0);
        let digest: Vec<u8> = words.iter().flat_map(|word| word.to_be_bytes()).collect();
        hex(&digest)
    }
}

impl Default for HashState {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `value` has the form of a SHA-256 in hex: 64 hexadecimal digits.
pub(crate) fn is_sha256(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What an ETag says a file's bytes hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlobId {
    /// 64 hex digits: SHA-256 of the bytes (the Hub's large files).
    Sha256(String),
    /// 40 hex digits: SHA-1 of `blob {len}\0` and the bytes (git's object ID of a small file).
    GitSha1(String),
}

impl BlobId {
    /// The hash an ETag names, if it names one.
    pub(crate) fn parse(etag: &str) -> Option<BlobId> {
        let hex = etag.bytes().all(|b| b.is_ascii_hexdigit());
        match etag.len() {
            _ if is_sha256(etag) => Some(BlobId::Sha256(etag.to_ascii_lowercase())),
            40 if hex => Some(BlobId::GitSha1(etag.to_ascii_lowercase())),
            _ => None,
        }
    }

    pub(crate) fn matches(&self, bytes: &[u8]) -> bool {
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
pub(crate) fn blob_id_of_file(path: &Path, id: &BlobId) -> std::io::Result<bool> {
    let mut file = crate::local_file::open_regular(path)?;
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
    fn a_kept_hash_state_goes_on_to_the_same_digest() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = Sha256::new();
        whole.update(&bytes);
        let (_, expected) = whole.finish();
        for cuts in [vec![], vec![1, 63, 64, 65], vec![3000, 3001, 9999]] {
            let mut state = HashState::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                state.update(&bytes[from..cut]);
                // Saved and read back, as the cache of rows does.
                state = postcard::from_bytes(&postcard::to_stdvec(&state).unwrap()).unwrap();
                from = cut;
            }
            assert_eq!(state.position(), bytes.len() as u64);
            assert_eq!(state.finish(), expected);
        }
        assert_eq!(
            HashState::new().finish(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
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
