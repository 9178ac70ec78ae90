//! Every file of the cache of rows is one envelope (FORMAT.md §11): a magic, the format version,
//! the payload's length, the payload (`postcard`, derived from its type) and the payload's
//! SHA-256, so a damaged or foreign file is noticed, never misread.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The layout of the cache's files; another number is rebuilt, never read.
pub const FORMAT_VERSION: u16 = 2;
const MAGIC: &[u8; 6] = b"HCROWS";
const HEADER: usize = MAGIC.len() + 2 + 8;
const CHECKSUM: usize = 32;

/// Why an envelope's payload cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// Written by a healthchat with another layout.
    OtherVersion(u16),
    /// Cut short, altered, or not one of ours.
    Damaged(&'static str),
}

pub fn seal(payload: &impl Serialize) -> Vec<u8> {
    // `to_stdvec` copies slices whole; `to_extend` goes byte by byte.
    let encoded = postcard::to_stdvec(payload).expect("cache payloads serialise");
    let mut bytes = Vec::with_capacity(HEADER + encoded.len() + CHECKSUM);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(encoded.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&encoded);
    bytes.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &encoded).as_ref());
    bytes
}

/// The envelopes of a file that holds one after another; with `cut_tail_allowed` (a journal a
/// stopped run was appending to), an envelope cut short at the end is left out rather than
/// called damage.
pub fn open_all<T: DeserializeOwned>(
    mut bytes: &[u8],
    cut_tail_allowed: bool,
) -> Result<Vec<T>, Unusable> {
    let mut payloads = Vec::new();
    while !bytes.is_empty() {
        let whole = match bytes.get(HEADER - 8..HEADER) {
            Some(length) => {
                let length = u64::from_le_bytes(length.try_into().expect("8 bytes"));
                usize::try_from(length)
                    .ok()
                    .and_then(|length| length.checked_add(HEADER + CHECKSUM))
            }
            None => None,
        };
        match whole {
            Some(whole) if whole <= bytes.len() => {
                payloads.push(open(&bytes[..whole])?);
                bytes = &bytes[whole..];
            }
            _ if cut_tail_allowed && bytes.starts_with(&MAGIC[..bytes.len().min(MAGIC.len())]) => {
                break;
            }
            _ => return Err(Unusable::Damaged("it ends in the middle of a record")),
        }
    }
    Ok(payloads)
}

pub fn open<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Unusable> {
    if bytes.len() < HEADER + CHECKSUM || &bytes[..MAGIC.len()] != MAGIC {
        return Err(Unusable::Damaged("it is not a healthchat cache file"));
    }
    let version = u16::from_le_bytes([bytes[6], bytes[7]]);
    if version != FORMAT_VERSION {
        return Err(Unusable::OtherVersion(version));
    }
    let length = u64::from_le_bytes(bytes[8..HEADER].try_into().expect("8 bytes"));
    if length != (bytes.len() - HEADER - CHECKSUM) as u64 {
        return Err(Unusable::Damaged("its length is not the one it states"));
    }
    let (payload, checksum) = bytes[HEADER..].split_at(bytes.len() - HEADER - CHECKSUM);
    if ring::digest::digest(&ring::digest::SHA256, payload).as_ref() != checksum {
        return Err(Unusable::Damaged("its checksum does not match"));
    }
    postcard::from_bytes(payload).map_err(|_| Unusable::Damaged("its payload cannot be decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_payload_opens_and_any_change_is_noticed() {
        let sealed = seal(&("row", 7u32));
        assert_eq!(open::<(String, u32)>(&sealed), Ok(("row".to_owned(), 7)));
        for at in [0, 7, 9, HEADER, sealed.len() - 1] {
            let mut damaged = sealed.clone();
            damaged[at] ^= 1;
            assert!(open::<(String, u32)>(&damaged).is_err(), "byte {at}");
        }
        assert!(open::<(String, u32)>(&sealed[..sealed.len() - 1]).is_err());
        let mut other = sealed.clone();
        other[6] = 9;
        assert_eq!(
            open::<(String, u32)>(&other),
            Err(Unusable::OtherVersion(9))
        );
    }

    #[test]
    fn a_journal_cut_short_keeps_its_whole_records() {
        let mut journal = seal(&1u32);
        journal.extend(seal(&2u32));
        let whole = journal.len();
        journal.extend(&seal(&3u32)[..10]);
        assert_eq!(open_all::<u32>(&journal, true), Ok(vec![1, 2]));
        assert!(open_all::<u32>(&journal, false).is_err());
        assert_eq!(open_all::<u32>(&journal[..whole], false), Ok(vec![1, 2]));
        journal[whole - 3] ^= 1;
        assert!(open_all::<u32>(&journal, true).is_err());
    }
}
