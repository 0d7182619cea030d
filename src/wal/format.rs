//! The log's bytes. All integers little-endian.
//!
//! ```text
//! offset 0            log header (one 4 KiB page)
//! offset 4096         half 0
//! offset 4096 + H     half 1          (H = half size, a multiple of 4096)
//! ```
//!
//! # Log header (48 bytes used)
//!
//! ```text
//!  0  8  magic "qvrlog\0\x01"
//!  8  2  format version (1)
//! 10  2  reserved
//! 12  4  reserved
//! 16  8  half size in bytes
//! 24 20  reserved
//! 44  4  CRC32 of bytes 0..44
//! ```
//!
//! # Batch
//!
//! Batches are appended back to back from the start of a half. Generation `g` is written to
//! half `g % 2`; within a generation, batch sequence numbers start at 0 and increase by one.
//!
//! ```text
//!  0  4  magic "QVB1"
//!  4  4  payload length P
//!  8  8  generation
//! 16  8  sequence number within the generation
//! 24  P  records
//! 24+P 4 CRC32 of bytes 0..24+P
//! ```
//!
//! A batch is valid only if all of it is present and its checksum holds. Stale batches of
//! earlier laps through a half carry older generations and are rejected.
//!
//! # Record
//!
//! ```text
//!  0  1  kind: 1 write, 2 zero range, 3 set length, 4 compressed write
//!  1  8  offset in the main file (set length: the new length)
//!  9  8  length in bytes of what follows (zero range: of the range; set length: 0)
//! 17  .. write: the bytes; compressed write: 4-byte original length, then the LZ4 block
//! ```
//!
//! Page images are mostly zeros, so writes are LZ4-compressed when that saves at least a
//! quarter of their size; the bytes logged per commit, not the fsyncs, limit group commit.

use std::fmt;

/// Size of the log header page.
pub(crate) const LOG_HEADER_SIZE: u64 = 4096;
/// Largest half the log may have: recovery reads a half into memory.
pub(crate) const MAX_HALF_SIZE: u64 = 1 << 30;
const LOG_MAGIC: &[u8; 8] = b"qvrlog\0\x01";
const LOG_VERSION: u16 = 1;
const BATCH_MAGIC: &[u8; 4] = b"QVB1";
/// Bytes before a batch's payload.
pub(crate) const BATCH_HEADER: usize = 24;
/// Bytes after a batch's payload.
pub(crate) const BATCH_TRAILER: usize = 4;
/// Bytes a record adds before its data.
pub(crate) const RECORD_HEADER: usize = 17;
/// Writes shorter than this are logged as they are.
const MIN_COMPRESS: usize = 512;

/// One change to the main file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Write { offset: u64, data: Vec<u8> },
    Zero { offset: u64, len: u64 },
    SetLen { len: u64 },
}

impl Record {
    /// The change this record describes, borrowing its bytes.
    #[cfg(test)]
    pub(crate) fn as_change(&self) -> Change<'_> {
        match self {
            Record::Write { offset, data } => Change::Write {
                offset: *offset,
                data,
            },
            Record::Zero { offset, len } => Change::Zero {
                offset: *offset,
                len: *len,
            },
            Record::SetLen { len } => Change::SetLen { len: *len },
        }
    }

    /// Encodes the record (see [`Change::encode_into`]).
    #[cfg(test)]
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        self.as_change().encode_into(out);
    }
}

/// A change to log, borrowing the written bytes from the caller: encoding reads them once,
/// straight into the log buffer (or the compressor), without an owned copy first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    Write { offset: u64, data: &'a [u8] },
    Zero { offset: u64, len: u64 },
    SetLen { len: u64 },
}

impl Change<'_> {
    /// Encodes the change as one record, compressing a write when that pays.
    pub(crate) fn encode_into(self, out: &mut Vec<u8>) {
        if let Change::Write { offset, data } = self
            && data.len() >= MIN_COMPRESS
            && let Ok(original) = u32::try_from(data.len())
        {
            let compressed = lz4_flex::block::compress(data);
            if compressed.len() + 4 <= data.len() * 3 / 4 {
                out.push(4);
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&(compressed.len() as u64 + 4).to_le_bytes());
                out.extend_from_slice(&original.to_le_bytes());
                out.extend_from_slice(&compressed);
                return;
            }
        }
        let (kind, offset, len, data): (u8, u64, u64, &[u8]) = match self {
            Change::Write { offset, data } => (1, offset, data.len() as u64, data),
            Change::Zero { offset, len } => (2, offset, len, &[]),
            Change::SetLen { len } => (3, len, 0, &[]),
        };
        out.push(kind);
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(data);
    }
}

/// Why a byte range is not a valid batch (replay stops there; this is not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadBatch {
    /// Fewer bytes than the batch claims.
    Short,
    /// Wrong magic: no batch starts here.
    NoMagic,
    /// The checksum does not hold: a torn or partial write.
    Checksum,
    /// The records inside do not parse.
    Records,
}

impl fmt::Display for BadBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            BadBatch::Short => "truncated batch",
            BadBatch::NoMagic => "no batch magic",
            BadBatch::Checksum => "batch checksum mismatch",
            BadBatch::Records => "malformed records",
        };
        f.write_str(text)
    }
}

/// A decoded batch header with its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub generation: u64,
    pub sequence: u64,
    pub records: Vec<Record>,
    /// Total encoded size (header, payload, trailer).
    pub encoded_len: usize,
}

/// Encodes one batch from already encoded records.
pub(crate) fn encode_batch(generation: u64, sequence: u64, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(BATCH_MAGIC);
    // Payloads are bounded by the half size, which is checked to fit in u32 on open.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Decodes the batch at the start of `bytes`.
pub(crate) fn decode_batch(bytes: &[u8]) -> Result<Batch, BadBatch> {
    let header = bytes.get(..BATCH_HEADER).ok_or(BadBatch::Short)?;
    if &header[0..4] != BATCH_MAGIC {
        return Err(BadBatch::NoMagic);
    }
    let payload_len = u32::from_le_bytes(arr(&header[4..8])) as usize;
    let total = BATCH_HEADER
        .checked_add(payload_len)
        .and_then(|n| n.checked_add(BATCH_TRAILER))
        .ok_or(BadBatch::Short)?;
    let all = bytes.get(..total).ok_or(BadBatch::Short)?;
    let (body, crc) = all.split_at(total - BATCH_TRAILER);
    if crc32fast::hash(body) != u32::from_le_bytes(arr(crc)) {
        return Err(BadBatch::Checksum);
    }
    let records = decode_records(&body[BATCH_HEADER..]).ok_or(BadBatch::Records)?;
    Ok(Batch {
        generation: u64::from_le_bytes(arr(&header[8..16])),
        sequence: u64::from_le_bytes(arr(&header[16..24])),
        records,
        encoded_len: total,
    })
}

fn decode_records(mut payload: &[u8]) -> Option<Vec<Record>> {
    let mut records = Vec::new();
    while !payload.is_empty() {
        let head = payload.get(..RECORD_HEADER)?;
        let kind = head[0];
        let offset = u64::from_le_bytes(arr(&head[1..9]));
        let len = u64::from_le_bytes(arr(&head[9..17]));
        payload = &payload[RECORD_HEADER..];
        let record = match kind {
            1 => {
                let n = usize::try_from(len).ok()?;
                let data = payload.get(..n)?.to_vec();
                payload = &payload[n..];
                offset.checked_add(len)?;
                Record::Write { offset, data }
            }
            2 => {
                offset.checked_add(len)?;
                Record::Zero { offset, len }
            }
            3 if len == 0 => Record::SetLen { len: offset },
            4 => {
                let n = usize::try_from(len).ok()?;
                let body = payload.get(..n)?;
                payload = &payload[n..];
                let original = u32::from_le_bytes(arr(body.get(..4)?)) as usize;
                let data = lz4_flex::block::decompress(&body[4..], original).ok()?;
                offset.checked_add(data.len() as u64)?;
                Record::Write { offset, data }
            }
            _ => return None,
        };
        records.push(record);
    }
    Some(records)
}

/// The log header page's used bytes.
pub(crate) fn encode_log_header(half_size: u64) -> [u8; 48] {
    let mut out = [0u8; 48];
    out[0..8].copy_from_slice(LOG_MAGIC);
    out[8..10].copy_from_slice(&LOG_VERSION.to_le_bytes());
    out[16..24].copy_from_slice(&half_size.to_le_bytes());
    let crc = crc32fast::hash(&out[..44]);
    out[44..48].copy_from_slice(&crc.to_le_bytes());
    out
}

/// What the log header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogHeader {
    /// Never written (a new or interrupted log).
    Blank,
    /// A valid header with this half size.
    Valid { half_size: u64 },
    /// Present but unreadable: a header of ours, damaged or cut by a crash while written.
    Bad(&'static str),
    /// Not a quiver log's header at all (another program's file): never written to.
    Foreign,
}

pub(crate) fn decode_log_header(bytes: &[u8]) -> LogHeader {
    if bytes.iter().all(|&b| b == 0) {
        return LogHeader::Blank;
    }
    let Some(used) = bytes.get(..48) else {
        return LogHeader::Bad("truncated header");
    };
    if &used[0..8] != LOG_MAGIC {
        return if crate::cf::format::torn_prefix(bytes, LOG_MAGIC) {
            LogHeader::Bad("header write cut inside its magic")
        } else {
            LogHeader::Foreign
        };
    }
    if crc32fast::hash(&used[..44]) != u32::from_le_bytes(arr(&used[44..48])) {
        return LogHeader::Bad("header checksum mismatch");
    }
    if u16::from_le_bytes([used[8], used[9]]) != LOG_VERSION {
        return LogHeader::Bad("unsupported log version");
    }
    let half_size = u64::from_le_bytes(arr(&used[16..24]));
    if half_size == 0 || half_size % 4096 != 0 || half_size > MAX_HALF_SIZE {
        return LogHeader::Bad("invalid half size");
    }
    LogHeader::Valid { half_size }
}

fn arr<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_records() -> Vec<Record> {
        let mut page = vec![0u8; 4096];
        page[..100].copy_from_slice(&[7; 100]);
        let mut noise = vec![0u8; 2048];
        rand::Rng::fill(
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9),
            &mut noise[..],
        );
        vec![
            Record::Write {
                offset: 8192,
                data: vec![1, 2, 3],
            },
            // Compressible: logged compressed, decoded back to the same bytes.
            Record::Write {
                offset: 12288,
                data: page,
            },
            // Incompressible: logged as it is.
            Record::Write {
                offset: 16384,
                data: noise,
            },
            Record::Zero {
                offset: 4096,
                len: 1 << 20,
            },
            Record::SetLen { len: 65536 },
            Record::Write {
                offset: 0,
                data: vec![],
            },
        ]
    }

    fn encode(generation: u64, sequence: u64, records: &[Record]) -> Vec<u8> {
        let mut payload = Vec::new();
        for r in records {
            r.encode_into(&mut payload);
        }
        let mut out = Vec::new();
        encode_batch(generation, sequence, &payload, &mut out);
        out
    }

    #[test]
    fn compressible_pages_are_logged_compressed_and_noise_is_not() {
        let mut out = Vec::new();
        Record::Write {
            offset: 0,
            data: vec![0; 4096],
        }
        .encode_into(&mut out);
        assert_eq!(out[0], 4);
        assert!(out.len() < 200, "{} bytes", out.len());
        let mut out = Vec::new();
        sample_records()[2].encode_into(&mut out);
        assert_eq!(out[0], 1, "incompressible data must be logged as it is");
    }

    #[test]
    fn batches_round_trip() {
        let bytes = encode(7, 3, &sample_records());
        let batch = decode_batch(&bytes).unwrap();
        assert_eq!(batch.records, sample_records());
        assert_eq!((batch.generation, batch.sequence), (7, 3));
        assert_eq!(batch.encoded_len, bytes.len());
    }

    #[test]
    fn every_truncation_and_bit_flip_is_rejected() {
        let bytes = encode(2, 0, &sample_records());
        for cut in 0..bytes.len() {
            assert!(decode_batch(&bytes[..cut]).is_err(), "cut {cut}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode_batch(&bad).is_err(), "flip {i}");
        }
    }

    #[test]
    fn log_header_round_trips_and_rejects_damage() {
        let header = encode_log_header(1 << 20);
        assert_eq!(
            decode_log_header(&header),
            LogHeader::Valid { half_size: 1 << 20 }
        );
        assert_eq!(decode_log_header(&[0; 4096]), LogHeader::Blank);
        let mut bad = header;
        bad[20] ^= 1;
        assert!(matches!(decode_log_header(&bad), LogHeader::Bad(_)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = decode_batch(&bytes);
            let _ = decode_log_header(&bytes);
        }

        #[test]
        fn mutated_batches_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = encode(5, 9, &sample_records());
            for (index, byte) in flips {
                let i = index.index(bytes.len());
                bytes[i] ^= byte;
            }
            let _ = decode_batch(&bytes);
        }

        #[test]
        fn records_with_a_valid_checksum_but_garbage_payload_never_panic(
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut bytes = Vec::new();
            encode_batch(1, 0, &payload, &mut bytes);
            let _ = decode_batch(&bytes);
        }
    }
}
