//! SHA-256 of what is written and of files on disk, as lowercase hex.

use std::io::Read;
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
        let digest = self.context.finish();
        let hex = digest
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        (self.size, hex)
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
