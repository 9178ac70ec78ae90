//! The compact form of a conversation ID in a shard's ID index (FORMAT.md §11): the 16 bytes a
//! 32-hex-digit ID spells, else the first 16 bytes of the ID's SHA-256. Two IDs may share a key;
//! a row found through one is always checked against the ID itself.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdKey([u8; 16]);

impl IdKey {
    pub fn of(id: &str) -> IdKey {
        let mut key = [0; 16];
        let bytes = id.as_bytes();
        if bytes.len() == 32 && bytes.iter().all(u8::is_ascii_hexdigit) {
            for (byte, pair) in key.iter_mut().zip(bytes.chunks_exact(2)) {
                *byte = (hex_digit(pair[0]) << 4) | hex_digit(pair[1]);
            }
        } else {
            let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
            key.copy_from_slice(&digest.as_ref()[..16]);
        }
        IdKey(key)
    }
}

fn hex_digit(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_are_their_bytes_and_others_a_hash() {
        let hex = IdKey::of("000102030405060708090a0b0c0d0eff");
        assert_eq!(hex.0[..3], [0, 1, 2]);
        assert_eq!(hex.0[15], 0xff);
        assert_eq!(IdKey::of("000102030405060708090A0B0C0D0EFF"), hex);
        let other = IdKey::of("wildchat-42");
        assert_ne!(other, IdKey::of("wildchat-43"));
        assert_eq!(other, IdKey::of("wildchat-42"));
    }
}
