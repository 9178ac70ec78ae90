//! Buffers of row groups' bytes, filled again once a row group is decoded: a fresh buffer of a
//! few MB takes a page fault for every 4 KiB it fills (7 to 9 % of a run's CPU time, with the
//! kernel zeroing the pages). The row group assembler (`scan`) and the reader of local copies
//! (`shard_file`) take them; decoding gives them back.

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// About the row groups decoding and waiting at once: more would only hold memory.
const KEPT: usize = 4;

/// Gives back the bytes of a decoded row group, once nothing else holds them.
pub(crate) fn give_back(bytes: Bytes) {
    if let Ok(bytes) = bytes.try_into_mut() {
        let mut buffer = Vec::from(bytes);
        buffer.clear();
        let mut spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < KEPT {
            spare.push(buffer);
        }
    }
}

/// An empty buffer that holds `length` bytes: a spare one if one is large enough (else the
/// oldest spare one is freed, so that spare buffers follow the row groups' sizes).
pub(crate) fn take(length: usize) -> Vec<u8> {
    let mut spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
    match spare.iter().position(|buffer| buffer.capacity() >= length) {
        Some(position) => spare.swap_remove(position),
        None => {
            if !spare.is_empty() {
                spare.remove(0);
            }
            Vec::with_capacity(length)
        }
    }
}
