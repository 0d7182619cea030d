//! Recovery: replay the log into the main file before anything reads it.
//!
//! Each half is scanned from its start for its longest valid prefix: batches of one generation
//! (the first batch's, which must match the half's parity) with consecutive sequence numbers
//! from 0, each complete and checksummed. The newest generation `m` and, if the other half holds
//! generation `m - 1`, that one first, are applied in order: writes, zeroed ranges and length
//! changes exactly as they were made. (Generation `m - 1` is then either needed, or already in
//! the main file and complete: see the retirement rule in [`super::writer`].) Then the main file
//! is fsynced, and only then are both halves retired with the markers of generations `m + 1` and
//! `m + 2`. Replaying is idempotent, so a crash during replay is recovered by replaying again.

use crate::error::{Error, Result};
use crate::io::{FileIo, write_zeros};
use crate::wal::format::{
    Batch, LOG_HEADER_SIZE, LogHeader, MAX_HALF_SIZE, Record, decode_batch, decode_log_header,
    encode_log_header,
};
use crate::wal::writer::{half_offset, marker};

/// What recovery found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// Half size of the existing (or newly created) log.
    pub half_size: u64,
    /// Generation for the next batch.
    pub next_generation: u64,
    /// Batches applied.
    pub batches: u64,
    /// Bytes of log applied.
    pub bytes: u64,
}

/// The valid prefix of one half.
struct HalfScan {
    generation: u64,
    batches: Vec<Batch>,
    bytes: u64,
}

fn scan_half(half: &[u8], parity: u64) -> Option<HalfScan> {
    let mut pos = 0usize;
    let mut batches: Vec<Batch> = Vec::new();
    while let Ok(batch) = decode_batch(&half[pos..]) {
        let expected_generation = batches.first().map_or(batch.generation, |b| b.generation);
        if batch.generation != expected_generation
            || batch.generation % 2 != parity
            || batch.sequence != batches.len() as u64
        {
            break;
        }
        pos += batch.encoded_len;
        batches.push(batch);
    }
    let generation = batches.first()?.generation;
    Some(HalfScan {
        generation,
        batches,
        bytes: pos as u64,
    })
}

/// Creates a fresh log of two halves of `half_size` bytes, zero-filled so that later
/// fdatasyncs need no metadata updates.
fn create(log: &dyn FileIo, half_size: u64) -> Result<()> {
    log.set_len(0)?;
    write_zeros(log, LOG_HEADER_SIZE, 2 * half_size)?;
    log.sync_data()?;
    log.write_at(0, &encode_log_header(half_size))?;
    log.sync_data()?;
    Ok(())
}

/// The half size implied by a log file's length (header page plus two halves), if plausible.
fn half_size_from_len(len: u64) -> Option<u64> {
    let halves = len.checked_sub(LOG_HEADER_SIZE)?;
    let half = halves / 2;
    (halves % 2 == 0 && half > 0 && half % 4096 == 0 && half <= MAX_HALF_SIZE).then_some(half)
}

fn scan_both(log: &dyn FileIo, half_size: u64) -> Result<Vec<HalfScan>> {
    let mut scans = Vec::new();
    for parity in 0..2u64 {
        // Half sizes are at most MAX_HALF_SIZE (checked by the header decoder).
        let mut half = vec![0u8; half_size as usize];
        log.read_at(LOG_HEADER_SIZE + parity * half_size, &mut half)?;
        scans.extend(scan_half(&half, parity));
    }
    scans.sort_by_key(|s| s.generation);
    Ok(scans)
}

/// Replays `log` into `main` and makes the result durable, then retires both halves for the
/// generations that follow. Creates the log if it is new.
pub(crate) fn recover(log: &dyn FileIo, main: &dyn FileIo, half_size: u64) -> Result<Recovered> {
    let mut page = vec![0u8; LOG_HEADER_SIZE as usize];
    log.read_at(0, &mut page)?;
    let (half_size, scans) = match decode_log_header(&page) {
        LogHeader::Blank => {
            // A log that never got its header never held a batch.
            create(log, half_size)?;
            (half_size, Vec::new())
        }
        LogHeader::Valid { half_size } => {
            // The header is written after the halves are zero-filled, so a log shorter than
            // its header claims has been cut; trusting it would grow the file to that size.
            let needed = LOG_HEADER_SIZE + 2 * half_size;
            let len = log.len()?;
            if len < needed {
                return Err(Error::Corrupted {
                    what: format!(
                        "log header claims halves of {half_size} bytes ({needed} in all) but the log has {len} bytes"
                    ),
                    offset: 0,
                });
            }
            (half_size, scan_both(log, half_size)?)
        }
        LogHeader::Foreign => return Err(Error::NotQuiverFile),
        LogHeader::Bad(what) => {
            // The header is written once, before any batch. A bad header over halves without a
            // single valid batch is an interrupted creation; anything else is corruption.
            let empty = match half_size_from_len(log.len()?) {
                Some(half) => scan_both(log, half)?.is_empty(),
                None => log.len()? <= LOG_HEADER_SIZE + 2 * half_size,
            };
            if !empty {
                return Err(Error::Corrupted {
                    what: format!("log header: {what}, but the log holds batches"),
                    offset: 0,
                });
            }
            create(log, half_size)?;
            (half_size, Vec::new())
        }
    };
    let newest = match scans.last() {
        Some(scan) => scan.generation,
        None => {
            // Nothing valid at the start of either half. Zero them, so that a stale batch
            // deeper in a half can never pass for a continuation of the generations below.
            write_zeros(log, LOG_HEADER_SIZE, 2 * half_size)?;
            1
        }
    };
    let mut recovered = Recovered {
        half_size,
        next_generation: newest + 1,
        batches: 0,
        bytes: 0,
    };
    for scan in scans.iter().filter(|s| s.generation + 1 >= newest) {
        for batch in &scan.batches {
            for record in &batch.records {
                apply(main, record)?;
            }
        }
        recovered.batches += scan.batches.len() as u64;
        recovered.bytes += scan.bytes;
    }
    main.sync_all()?;
    // Everything is in the main file now: retire both halves, the one holding the older
    // generation first, each durably before the next. Destroying the newest generation's start
    // while the older one is intact would let a later replay apply the older generation without
    // the newer one after it. Appends continue in generation `newest + 1`, after its marker.
    for generation in [newest + 1, newest + 2] {
        log.write_at(half_offset(generation, half_size), &marker(generation))?;
        log.sync_data()?;
    }
    Ok(recovered)
}

fn apply(main: &dyn FileIo, record: &Record) -> Result<()> {
    match record {
        Record::Write { offset, data } => main.write_at(*offset, data)?,
        Record::Zero { offset, len } => main.zero_range(*offset, *len)?,
        Record::SetLen { len } => main.set_len(*len)?,
    }
    Ok(())
}
