//! The container's on-disk format, byte by byte. `docs/format.md` has the same description with
//! the reasoning; keep the two in step.
//!
//! All integers are little-endian. The file is divided into 4 KiB pages.
//!
//! ```text
//! offset 0      header slot A (one page)
//! offset 4096   header slot B (one page)
//! offset 8192.. extents: column-family segments, catalog blobs, free space
//! ```
//!
//! # Header slot (48 bytes used, rest of the page zero)
//!
//! ```text
//!  0  9  magic  "redb-cf\x1A\x0A"
//!  9  1  reserved, 0
//! 10  2  format version (2; version 1 files are read too)
//! 12  4  flags: bit 0 set when the file was at least as long as the catalog's file end
//!          when this slot was committed (every commit of this build sets it; a shorter file
//!          under such a slot has been truncated)
//! 16  8  generation: which commit of the catalog this slot describes
//! 24  8  catalog offset
//! 32  8  catalog length in bytes
//! 40  4  CRC32 of the catalog blob
//! 44  4  CRC32 of bytes 0..44 of this slot
//! ```
//!
//! Odd generations are written to slot A, even ones to slot B, so a torn write of one slot leaves
//! the other (the previous generation) intact. Open takes the newest slot whose checksum holds and
//! whose catalog blob checks out.
//!
//! # Catalog blob (copy-on-write, anywhere in the data area)
//!
//! ```text
//!  0  8  magic "qvcatlg\0"
//!  8  8  generation (equal to the slot's)
//! 16  8  file end: first byte never handed out
//! 24  8  next column family id
//! 32  8  previous catalog offset  (0 with length 0: none)
//! 40  8  previous catalog length
//! 48  4  number of column family records
//! 52  4  number of free extents
//! 56  .. column family records, each:
//!          8 id | 8 logical length | 1 state (1 creating, 2 live) | 1 reserved
//!          | 2 name length | name (UTF-8) | 4 segment count | segments (8 offset, 8 length)...
//!    ..  free extents (8 offset, 8 length)...
//!  end-4 4  CRC32 of everything before it
//! ```
//!
//! The catalog has no size limit of its own (it is as large as its column families and segments
//! need), which is how the container supports thousands of column families and hundreds of
//! thousands of segments. A column family's virtual address space is its segments laid end to
//! end in list order. A segment at offset 0 (header slot A, never data) is a hole: that much
//! virtual space is backed by nothing and reads as zeros (version 2; version 1 has no holes).
//! Every offset and length in a catalog is page aligned, and no two extents (segments other than
//! holes, free extents, this catalog, the previous catalog) overlap.

use crate::cf::name::validate_name;
use crate::error::{Error, Result};
use std::collections::HashSet;

/// Size of a page: the unit of allocation and alignment.
pub(crate) const PAGE: u64 = 4096;
/// Size of one header slot.
pub(crate) const SLOT_SIZE: u64 = PAGE;
/// Offset of the first byte after the two header slots.
pub(crate) const DATA_START: u64 = 2 * SLOT_SIZE;
/// Magic bytes at the start of each header slot.
pub(crate) const MAGIC: &[u8; 9] = b"redb-cf\x1A\x0A";
/// The format version this build writes.
pub(crate) const FORMAT_VERSION: u16 = 2;
/// The oldest format version this build reads: version 1 is version 2 without holes.
pub(crate) const OLDEST_READ_VERSION: u16 = 1;
/// The offset that marks a segment as a hole: virtual space with no bytes behind it. Offset 0 is
/// header slot A, which no data extent can use.
pub(crate) const HOLE: u64 = 0;
/// Bytes of a slot covered by its checksum.
const SLOT_BODY: usize = 44;
/// Bytes of a slot that carry information.
pub(crate) const SLOT_USED: usize = SLOT_BODY + 4;
/// Slot flag: the file reached the catalog's file end before this slot was written.
const FLAG_COVERS_FILE_END: u32 = 1;
const CATALOG_MAGIC: &[u8; 8] = b"qvcatlg\0";
const CATALOG_FIXED: usize = 56;

/// A page-aligned byte range of the container file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Extent {
    pub offset: u64,
    pub len: u64,
}

impl Extent {
    pub(crate) fn end(&self) -> u64 {
        self.offset + self.len
    }

    /// A hole of `len` virtual bytes (see [`HOLE`]).
    pub(crate) fn hole(len: u64) -> Extent {
        Extent { offset: HOLE, len }
    }

    /// Whether this segment is a hole rather than space of the file.
    pub(crate) fn is_hole(&self) -> bool {
        self.offset == HOLE
    }
}

/// Offset of the slot that holds `generation`.
pub(crate) fn slot_offset(generation: u64) -> u64 {
    if generation % 2 == 1 { 0 } else { SLOT_SIZE }
}

/// A decoded header slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub generation: u64,
    pub catalog: Extent,
    pub catalog_crc: u32,
    /// The file was at least the catalog's file end long when this slot was committed, so a
    /// shorter file is a truncated one (slots of older builds lack this promise).
    pub covers_file_end: bool,
}

/// What reading one slot found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotRead {
    Valid(Slot),
    /// Every byte zero: never written.
    Blank,
    /// The magic bytes are missing.
    NoMagic,
    /// Magic present, but the checksum fails (a torn or damaged write).
    BadChecksum,
    /// Checksum holds, but the version is not one we read.
    UnsupportedVersion(u16),
}

impl Slot {
    pub(crate) fn encode(&self) -> [u8; SLOT_USED] {
        let mut out = [0u8; SLOT_USED];
        out[0..9].copy_from_slice(MAGIC);
        out[10..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let flags = if self.covers_file_end {
            FLAG_COVERS_FILE_END
        } else {
            0
        };
        out[12..16].copy_from_slice(&flags.to_le_bytes());
        out[16..24].copy_from_slice(&self.generation.to_le_bytes());
        out[24..32].copy_from_slice(&self.catalog.offset.to_le_bytes());
        out[32..40].copy_from_slice(&self.catalog.len.to_le_bytes());
        out[40..44].copy_from_slice(&self.catalog_crc.to_le_bytes());
        let crc = crc32fast::hash(&out[..SLOT_BODY]);
        out[44..48].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a slot from the first bytes of its page (`bytes` must hold at least
    /// [`SLOT_USED`] bytes; fewer are treated as zeros, which is what a short file holds).
    pub(crate) fn decode(bytes: &[u8]) -> SlotRead {
        let mut buf = [0u8; SLOT_USED];
        let n = bytes.len().min(SLOT_USED);
        buf[..n].copy_from_slice(&bytes[..n]);
        if bytes.iter().all(|&b| b == 0) {
            return SlotRead::Blank;
        }
        if &buf[0..9] != MAGIC {
            if torn_prefix(bytes, MAGIC) {
                // A slot write cut inside its magic: ours, but unreadable.
                return SlotRead::BadChecksum;
            }
            return SlotRead::NoMagic;
        }
        let stored = u32::from_le_bytes(le4(&buf[44..48]));
        if crc32fast::hash(&buf[..SLOT_BODY]) != stored {
            return SlotRead::BadChecksum;
        }
        let version = u16::from_le_bytes([buf[10], buf[11]]);
        if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
            return SlotRead::UnsupportedVersion(version);
        }
        SlotRead::Valid(Slot {
            generation: u64::from_le_bytes(le8(&buf[16..24])),
            catalog: Extent {
                offset: u64::from_le_bytes(le8(&buf[24..32])),
                len: u64::from_le_bytes(le8(&buf[32..40])),
            },
            catalog_crc: u32::from_le_bytes(le4(&buf[40..44])),
            covers_file_end: u32::from_le_bytes(le4(&buf[12..16])) & FLAG_COVERS_FILE_END != 0,
        })
    }
}

/// Whether `bytes` holds a proper prefix of `magic` followed by zeros only (all zeros included):
/// what a write of ours leaves when it is cut inside its magic.
pub(crate) fn torn_prefix(bytes: &[u8], magic: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    end < magic.len() && bytes[..end] == magic[..end]
}

/// Lifecycle state of a column family record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CfRecordState {
    /// redb's create has not returned yet; discarded on open.
    Creating = 1,
    /// Fully created.
    Live = 2,
}

/// One column family as stored in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CfRecord {
    pub id: u64,
    pub name: String,
    pub state: CfRecordState,
    /// The last length redb set (`StorageBackend::set_len`).
    pub len: u64,
    pub segments: Vec<Extent>,
}

/// The full container metadata of one generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Catalog {
    pub generation: u64,
    pub file_end: u64,
    pub next_cf_id: u64,
    pub prev_catalog: Option<Extent>,
    pub cfs: Vec<CfRecord>,
    pub free: Vec<Extent>,
}

impl Catalog {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        out.extend_from_slice(CATALOG_MAGIC);
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.file_end.to_le_bytes());
        out.extend_from_slice(&self.next_cf_id.to_le_bytes());
        let prev = self.prev_catalog.unwrap_or(Extent { offset: 0, len: 0 });
        out.extend_from_slice(&prev.offset.to_le_bytes());
        out.extend_from_slice(&prev.len.to_le_bytes());
        out.extend_from_slice(&count_u32(self.cfs.len()).to_le_bytes());
        out.extend_from_slice(&count_u32(self.free.len()).to_le_bytes());
        for cf in &self.cfs {
            out.extend_from_slice(&cf.id.to_le_bytes());
            out.extend_from_slice(&cf.len.to_le_bytes());
            out.push(cf.state as u8);
            out.push(0);
            // Names are validated to at most 255 bytes before they reach a catalog.
            out.extend_from_slice(&(cf.name.len() as u16).to_le_bytes());
            out.extend_from_slice(cf.name.as_bytes());
            out.extend_from_slice(&count_u32(cf.segments.len()).to_le_bytes());
            for seg in &cf.segments {
                push_extent(&mut out, seg);
            }
        }
        for ext in &self.free {
            push_extent(&mut out, ext);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn encoded_len_hint(&self) -> usize {
        let cf_bytes: usize = self
            .cfs
            .iter()
            .map(|cf| 24 + cf.name.len() + 16 * cf.segments.len())
            .sum();
        CATALOG_FIXED + cf_bytes + 16 * self.free.len() + 4
    }

    /// Decodes and validates a catalog blob read from `at` (`at` is its own extent, used both for
    /// error messages and to check that nothing else overlaps it).
    /// Whether `page` (the first page of a blob) is what a catalog write leaves, whole or cut
    /// at any byte or sector: it starts with the catalog's magic, or with a part of it and zeros.
    pub(crate) fn starts_page(page: &[u8]) -> bool {
        page.starts_with(CATALOG_MAGIC) || torn_prefix(page, CATALOG_MAGIC)
    }

    pub(crate) fn decode(bytes: &[u8], at: Extent) -> Result<Catalog> {
        let corrupt = |what: String| Error::Corrupted {
            what: format!("catalog: {what}"),
            offset: at.offset,
        };
        if bytes.len() < CATALOG_FIXED + 4 {
            return Err(corrupt(format!(
                "blob of {} bytes is too short",
                bytes.len()
            )));
        }
        let (body, crc_bytes) = bytes.split_at(bytes.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(le4(crc_bytes)) {
            return Err(corrupt("checksum mismatch".into()));
        }
        let mut r = Reader {
            bytes: body,
            pos: 0,
        };
        let short = |_| corrupt("truncated record".into());
        if r.take(8).map_err(short)? != CATALOG_MAGIC {
            return Err(corrupt("wrong magic".into()));
        }
        let generation = r.u64().map_err(short)?;
        let file_end = r.u64().map_err(short)?;
        let next_cf_id = r.u64().map_err(short)?;
        let prev = Extent {
            offset: r.u64().map_err(short)?,
            len: r.u64().map_err(short)?,
        };
        let cf_count = r.u32().map_err(short)? as usize;
        let free_count = r.u32().map_err(short)? as usize;
        let mut cfs = Vec::with_capacity(cf_count.min(body.len() / 24));
        for _ in 0..cf_count {
            let id = r.u64().map_err(short)?;
            let len = r.u64().map_err(short)?;
            let state = match r.u8().map_err(short)? {
                1 => CfRecordState::Creating,
                2 => CfRecordState::Live,
                other => return Err(corrupt(format!("column family {id} has state {other}"))),
            };
            r.u8().map_err(short)?;
            let name_len = r.u16().map_err(short)? as usize;
            let name = std::str::from_utf8(r.take(name_len).map_err(short)?)
                .map_err(|_| corrupt(format!("column family {id} has a non-UTF-8 name")))?
                .to_owned();
            validate_name(&name)
                .map_err(|_| corrupt(format!("column family {id} has an invalid name")))?;
            let seg_count = r.u32().map_err(short)? as usize;
            let mut segments = Vec::with_capacity(seg_count.min(body.len() / 16));
            for _ in 0..seg_count {
                segments.push(r.extent().map_err(short)?);
            }
            cfs.push(CfRecord {
                id,
                name,
                state,
                len,
                segments,
            });
        }
        let mut free = Vec::with_capacity(free_count.min(body.len() / 16));
        for _ in 0..free_count {
            free.push(r.extent().map_err(short)?);
        }
        if r.pos != body.len() {
            return Err(corrupt(format!("{} trailing bytes", body.len() - r.pos)));
        }
        let catalog = Catalog {
            generation,
            file_end,
            next_cf_id,
            prev_catalog: (prev.len != 0).then_some(prev),
            cfs,
            free,
        };
        catalog.validate(at).map_err(corrupt)?;
        Ok(catalog)
    }

    /// Structural checks: unique names and ids, aligned extents inside the data area, no
    /// overlaps. Returns what is wrong.
    fn validate(&self, own: Extent) -> std::result::Result<(), String> {
        if self.file_end < DATA_START || !self.file_end.is_multiple_of(PAGE) {
            return Err(format!("file end {} is not valid", self.file_end));
        }
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        let mut extents: Vec<(Extent, &str)> = vec![(own, "this catalog")];
        if let Some(prev) = self.prev_catalog {
            extents.push((prev, "previous catalog"));
        }
        for cf in &self.cfs {
            if !names.insert(cf.name.as_str()) {
                return Err(format!("column family name '{}' appears twice", cf.name));
            }
            if !ids.insert(cf.id) || cf.id >= self.next_cf_id {
                return Err(format!(
                    "column family id {} is duplicated or unissued",
                    cf.id
                ));
            }
            for seg in &cf.segments {
                if seg.is_hole() {
                    if seg.len == 0 || !seg.len.is_multiple_of(PAGE) {
                        return Err(format!("a hole of {} bytes is not page aligned", seg.len));
                    }
                } else {
                    extents.push((*seg, "segment"));
                }
            }
        }
        extents.extend(self.free.iter().map(|f| (*f, "free extent")));
        for (ext, kind) in &extents {
            let aligned = ext.offset % PAGE == 0 && ext.len % PAGE == 0 && ext.len > 0;
            let inside = ext.offset >= DATA_START
                && ext
                    .offset
                    .checked_add(ext.len)
                    .is_some_and(|end| end <= self.file_end);
            if !(aligned && inside) {
                return Err(format!(
                    "{kind} at {}+{} is misaligned or outside the data area",
                    ext.offset, ext.len
                ));
            }
        }
        extents.sort_by_key(|(e, _)| e.offset);
        for pair in extents.windows(2) {
            if pair[0].0.end() > pair[1].0.offset {
                return Err(format!(
                    "{} at {} overlaps {} at {}",
                    pair[0].1, pair[0].0.offset, pair[1].1, pair[1].0.offset
                ));
            }
        }
        Ok(())
    }
}

fn push_extent(out: &mut Vec<u8>, ext: &Extent) {
    out.extend_from_slice(&ext.offset.to_le_bytes());
    out.extend_from_slice(&ext.len.to_le_bytes());
}

fn count_u32(n: usize) -> u32 {
    // A catalog with more than 4 billion entries would need far more memory than any machine
    // quiver targets has, and allocation fails long before; saturating keeps encode total.
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn le8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

fn le4(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    out.copy_from_slice(&bytes[..4]);
    out
}

/// A bounds-checked cursor: every read either succeeds or reports that the input ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

struct Short;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], Short> {
        let end = self.pos.checked_add(n).ok_or(Short)?;
        let slice = self.bytes.get(self.pos..end).ok_or(Short)?;
        self.pos = end;
        Ok(slice)
    }
    fn u8(&mut self) -> std::result::Result<u8, Short> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> std::result::Result<u16, Short> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> std::result::Result<u32, Short> {
        Ok(u32::from_le_bytes(le4(self.take(4)?)))
    }
    fn u64(&mut self) -> std::result::Result<u64, Short> {
        Ok(u64::from_le_bytes(le8(self.take(8)?)))
    }
    fn extent(&mut self) -> std::result::Result<Extent, Short> {
        Ok(Extent {
            offset: self.u64()?,
            len: self.u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cf_count: usize, segs_per_cf: usize) -> (Catalog, Extent) {
        let mut offset = DATA_START;
        let mut cfs = Vec::new();
        for i in 0..cf_count {
            let segments = (0..segs_per_cf)
                .map(|_| {
                    let e = Extent { offset, len: PAGE };
                    offset += PAGE;
                    e
                })
                .collect();
            cfs.push(CfRecord {
                id: i as u64,
                name: format!("cf-{i}"),
                state: if i % 7 == 3 {
                    CfRecordState::Creating
                } else {
                    CfRecordState::Live
                },
                len: (segs_per_cf as u64) * PAGE,
                segments,
            });
        }
        let free = vec![Extent {
            offset,
            len: 3 * PAGE,
        }];
        offset += 3 * PAGE;
        let prev = Extent { offset, len: PAGE };
        let own = Extent {
            offset: offset + PAGE,
            len: PAGE,
        };
        let catalog = Catalog {
            generation: 42,
            file_end: own.end(),
            next_cf_id: cf_count as u64,
            prev_catalog: Some(prev),
            cfs,
            free,
        };
        (catalog, own)
    }

    #[test]
    fn slot_round_trips_and_detects_every_single_byte_change() {
        let slot = Slot {
            generation: 7,
            catalog: Extent {
                offset: 8192,
                len: 100,
            },
            catalog_crc: 0xdead_beef,
            covers_file_end: true,
        };
        let bytes = slot.encode();
        assert_eq!(Slot::decode(&bytes), SlotRead::Valid(slot));
        for i in 0..SLOT_USED {
            let mut damaged = bytes;
            damaged[i] ^= 0x01;
            assert!(
                !matches!(Slot::decode(&damaged), SlotRead::Valid(_)),
                "flipping byte {i} went unnoticed"
            );
        }
        assert_eq!(Slot::decode(&[0u8; 4096]), SlotRead::Blank);
        assert_eq!(Slot::decode(&[1u8; 64]), SlotRead::NoMagic);
    }

    #[test]
    fn slot_with_future_version_is_reported_as_such() {
        let slot = Slot {
            generation: 1,
            catalog: Extent {
                offset: 8192,
                len: 64,
            },
            catalog_crc: 1,
            covers_file_end: false,
        };
        let mut bytes = slot.encode();
        bytes[10..12].copy_from_slice(&9u16.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..SLOT_BODY]);
        bytes[44..48].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Slot::decode(&bytes), SlotRead::UnsupportedVersion(9));
    }

    #[test]
    fn catalog_round_trips_with_1000_column_families_and_100000_segments() {
        let (catalog, own) = sample(1000, 100);
        let bytes = catalog.encode();
        let decoded = Catalog::decode(&bytes, own).expect("valid catalog");
        assert_eq!(decoded, catalog);
        assert_eq!(
            decoded.cfs.iter().map(|c| c.segments.len()).sum::<usize>(),
            100_000
        );
    }

    #[test]
    fn catalog_rejects_every_truncation_and_bit_flip() {
        let (catalog, own) = sample(3, 2);
        let bytes = catalog.encode();
        for cut in 0..bytes.len() {
            assert!(Catalog::decode(&bytes[..cut], own).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x80;
            assert!(Catalog::decode(&damaged, own).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn catalog_validation_rejects_overlaps_and_duplicates() {
        let (mut catalog, own) = sample(2, 1);
        catalog.free.push(catalog.cfs[0].segments[0]);
        let err = Catalog::decode(&catalog.encode(), own).unwrap_err();
        assert!(err.to_string().contains("overlaps"), "{err}");

        let (mut catalog, own) = sample(2, 1);
        catalog.cfs[1].name = catalog.cfs[0].name.clone();
        let err = Catalog::decode(&catalog.encode(), own).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");

        let (mut catalog, own) = sample(2, 1);
        catalog.cfs[0].segments[0].offset += 1;
        let err = Catalog::decode(&catalog.encode(), own).unwrap_err();
        assert!(err.to_string().contains("misaligned"), "{err}");
    }

    #[test]
    fn holes_round_trip_any_number_of_times_and_must_be_page_aligned() {
        let (mut catalog, own) = sample(2, 2);
        // Two holes of the same size in two column families: holes never count as overlapping.
        catalog.cfs[0].segments.insert(1, Extent::hole(64 * PAGE));
        catalog.cfs[1].segments.insert(0, Extent::hole(64 * PAGE));
        let decoded = Catalog::decode(&catalog.encode(), own).expect("holes are valid");
        assert_eq!(decoded, catalog);
        assert!(decoded.cfs[0].segments[1].is_hole());

        catalog.cfs[0].segments[1] = Extent::hole(PAGE + 1);
        let err = Catalog::decode(&catalog.encode(), own).unwrap_err();
        assert!(err.to_string().contains("hole"), "{err}");
        catalog.cfs[0].segments[1] = Extent::hole(0);
        assert!(Catalog::decode(&catalog.encode(), own).is_err());
    }

    #[test]
    fn version_1_slots_are_still_read() {
        let slot = Slot {
            generation: 3,
            catalog: Extent {
                offset: 8192,
                len: 64,
            },
            catalog_crc: 7,
            covers_file_end: false,
        };
        let mut bytes = slot.encode();
        bytes[10..12].copy_from_slice(&1u16.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..SLOT_BODY]);
        bytes[44..48].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Slot::decode(&bytes), SlotRead::Valid(slot));
    }
}
