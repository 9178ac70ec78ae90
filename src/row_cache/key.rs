//! The compact form of a conversation ID in a shard's ID index (FORMAT.md §11): the 16 bytes a
//! 32-hex-digit ID spells, else the first 16 bytes of the ID's SHA-256. Two IDs may share a key;
//! a row found through one is always checked against the ID itself.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdKey([u8; 16]);

impl IdKey {
    /// Every row of every shard read gets one: a table lookup per digit, not a branch.
    pub fn of(id: &str) -> IdKey {
        let mut key = [0; 16];
        let bytes = id.as_bytes();
        if bytes.len() == 32 {
            let mut invalid = 0;
            for (byte, pair) in key.iter_mut().zip(bytes.as_chunks::<2>().0) {
                let (high, low) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
                invalid |= high | low;
                *byte = (high << 4) | (low & 0x0f);
            }
            if invalid & 0xf0 == 0 {
                return IdKey(key);
            }
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        key.copy_from_slice(&digest.as_ref()[..16]);
        IdKey(key)
    }
}

/// Each byte's value as a hex digit, `0xff` for a byte that is not one.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut digit = 0;
    while digit < 10 {
        table[b'0' as usize + digit] = digit as u8;
        digit += 1;
    }
    let mut letter = 0;
    while letter < 6 {
        table[b'a' as usize + letter] = 10 + letter as u8;
        table[b'A' as usize + letter] = 10 + letter as u8;
        letter += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_are_their_bytes_and_others_a_hash() {
        let hex = IdKey::of("000102030405060708090a0b0c0d0eff");
        assert_eq!(hex.0[..3], [0, 1, 2]);
        assert_eq!(hex.0[15], 0xff);
        assert_eq!(IdKey::of("000102030405060708090A0B0C0D0EFF"), hex);
        assert_ne!(IdKey::of("000102030405060708090a0b0c0d0eFg"), hex);
        let other = IdKey::of("wildchat-42");
        assert_ne!(other, IdKey::of("wildchat-43"));
        assert_eq!(other, IdKey::of("wildchat-42"));
    }
}
