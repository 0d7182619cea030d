//! Virtual-to-physical mapping of one column family.
//!
//! A column family sees a flat byte range `0..len` (what redb calls the storage). Physically it is
//! a list of segments of the container file laid end to end: virtual offset 0 is the first byte
//! of the first segment, and so on. A segment may be a hole (see [`Extent::hole`]): virtual space
//! with nothing behind it. Holes exist because redb does not fill its file from the bottom up:
//! right after it doubles its length it may write a page near the new end (its buddy allocator
//! takes a free block of the exact order before splitting a larger one, and the end of the new
//! length is where the odd-sized blocks are). Backing everything below such a page would put
//! the whole new half on disk; a hole keeps it virtual until redb writes there. Bytes in a hole or
//! past the last segment have never been written and read as zeros.

use crate::cf::format::Extent;
use std::ops::Range;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SegmentMap {
    /// Segments and holes in virtual order.
    segments: Vec<Extent>,
    /// `starts[i]` is the virtual offset of `segments[i]`.
    starts: Vec<u64>,
    /// Virtual bytes the list describes, holes included.
    mapped_end: u64,
    /// Bytes of the file behind the list (holes excluded).
    backed: u64,
}

/// One contiguous piece of a virtual range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Which bytes of the caller's buffer this piece covers.
    pub buf: Range<usize>,
    /// Where they live in the container file; `None` in a hole or past the mapped end.
    pub physical: Option<u64>,
}

impl SegmentMap {
    pub(crate) fn from_segments(segments: Vec<Extent>) -> SegmentMap {
        let mut map = SegmentMap::default();
        for seg in segments {
            map.push(seg);
        }
        map
    }

    /// The segments and holes in virtual order.
    pub(crate) fn segments(&self) -> &[Extent] {
        &self.segments
    }

    /// The file space behind the map (its segments without the holes).
    pub(crate) fn file_extents(&self) -> impl Iterator<Item = Extent> + '_ {
        self.segments.iter().copied().filter(|s| !s.is_hole())
    }

    /// Number of virtual bytes the map describes, holes included.
    pub(crate) fn mapped_end(&self) -> u64 {
        self.mapped_end
    }

    /// Number of file bytes behind the map.
    pub(crate) fn backed(&self) -> u64 {
        self.backed
    }

    /// Appends a segment or hole at the virtual end, merging it into the last one when it follows
    /// it physically (or both are holes).
    pub(crate) fn push(&mut self, seg: Extent) {
        if seg.len == 0 {
            return;
        }
        match self.segments.last_mut() {
            Some(last) if last.is_hole() && seg.is_hole() => last.len += seg.len,
            Some(last) if !last.is_hole() && !seg.is_hole() && last.end() == seg.offset => {
                last.len += seg.len
            }
            _ => {
                self.segments.push(seg);
                self.starts.push(self.mapped_end);
            }
        }
        self.mapped_end += seg.len;
        if !seg.is_hole() {
            self.backed += seg.len;
        }
    }

    /// The first unbacked virtual range (a hole, or everything past the mapped end, as
    /// `mapped_end..u64::MAX`) that overlaps `offset..end`; `None` if the range is fully backed.
    pub(crate) fn first_unbacked(&self, offset: u64, end: u64) -> Option<Range<u64>> {
        let first = self.starts.partition_point(|&start| start <= offset);
        for idx in first.saturating_sub(1)..self.segments.len() {
            let start = self.starts[idx];
            if start >= end {
                return None;
            }
            let seg = self.segments[idx];
            if seg.is_hole() && start + seg.len > offset {
                return Some(start..start + seg.len);
            }
        }
        (end > self.mapped_end).then_some(self.mapped_end..u64::MAX)
    }

    /// The physical end of the segment that ends exactly at virtual offset `at`, if one does (a
    /// new segment placed there and following it physically merges with it).
    pub(crate) fn physical_end_before(&self, at: u64) -> Option<u64> {
        let idx = self.starts.partition_point(|&start| start < at);
        let seg = self.segments.get(idx.checked_sub(1)?)?;
        (self.starts[idx - 1] + seg.len == at && !seg.is_hole()).then(|| seg.end())
    }

    /// Puts file space `seg` behind the virtual range `at..at + seg.len`, which must be
    /// unbacked (inside holes or past the mapped end; a gap before `at` becomes a hole). Returns
    /// false, changing nothing, if part of the range is already backed.
    pub(crate) fn back(&mut self, at: u64, seg: Extent) -> bool {
        let end = at + seg.len;
        let mut out = SegmentMap::default();
        let mut placed = false;
        for (&start, &entry) in self.starts.iter().zip(&self.segments) {
            let entry_end = start + entry.len;
            if entry_end <= at {
                out.push(entry);
                continue;
            }
            if start >= end {
                if !placed {
                    out.push(seg);
                    placed = true;
                }
                out.push(entry);
                continue;
            }
            if !entry.is_hole() {
                return false;
            }
            if start < at {
                out.push(Extent::hole(at - start));
            }
            if !placed {
                out.push(seg);
                placed = true;
            }
            if entry_end > end {
                out.push(Extent::hole(entry_end - end));
            }
        }
        if !placed {
            out.push(Extent::hole(at.saturating_sub(out.mapped_end)));
            out.push(seg);
        }
        *self = out;
        true
    }

    /// Splits the virtual range `offset..offset + len` into physically contiguous pieces.
    pub(crate) fn pieces(&self, offset: u64, len: usize) -> Vec<Piece> {
        let mut out = Vec::with_capacity(1);
        let end = offset + len as u64;
        let mut pos = offset;
        // Index of the segment holding `pos`: the last one starting at or before it.
        let mut idx = self.starts.partition_point(|&start| start <= pos);
        while pos < end {
            let buf_start = (pos - offset) as usize;
            if pos >= self.mapped_end || idx == 0 {
                out.push(Piece {
                    buf: buf_start..len,
                    physical: None,
                });
                break;
            }
            let seg = self.segments[idx - 1];
            let seg_start = self.starts[idx - 1];
            let within = pos - seg_start;
            let take = (seg.len - within).min(end - pos);
            out.push(Piece {
                buf: buf_start..buf_start + take as usize,
                physical: (!seg.is_hole()).then_some(seg.offset + within),
            });
            pos += take;
            idx += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physically_adjacent_segments_merge() {
        let mut map = SegmentMap::default();
        map.push(Extent {
            offset: 8192,
            len: 4096,
        });
        map.push(Extent {
            offset: 12288,
            len: 8192,
        });
        assert_eq!(
            map.segments(),
            &[Extent {
                offset: 8192,
                len: 12288
            }]
        );
        assert_eq!(map.mapped_end(), 12288);
    }

    #[test]
    fn a_range_across_segments_and_past_the_end_splits_into_pieces() {
        let map = SegmentMap::from_segments(vec![
            Extent {
                offset: 40960,
                len: 4096,
            },
            Extent {
                offset: 8192,
                len: 4096,
            },
        ]);
        let pieces = map.pieces(4000, 4300);
        assert_eq!(
            pieces,
            vec![
                Piece {
                    buf: 0..96,
                    physical: Some(40960 + 4000)
                },
                Piece {
                    buf: 96..4192,
                    physical: Some(8192)
                },
                Piece {
                    buf: 4192..4300,
                    physical: None
                },
            ]
        );
        assert_eq!(map.pieces(0, 0), vec![]);
    }

    fn ext(offset: u64, len: u64) -> Extent {
        Extent { offset, len }
    }

    #[test]
    fn a_write_far_past_the_end_is_backed_behind_a_hole() {
        let mut map = SegmentMap::from_segments(vec![ext(8192, 4096)]);
        assert_eq!(map.first_unbacked(0, 4096), None);
        assert_eq!(map.first_unbacked(40960, 45056), Some(4096..u64::MAX));
        assert!(map.back(40960, ext(16384, 8192)));
        assert_eq!(
            map.segments(),
            &[ext(8192, 4096), Extent::hole(36864), ext(16384, 8192)]
        );
        assert_eq!((map.mapped_end(), map.backed()), (49152, 12288));
        // The hole reads as zeros; the segments where they are.
        let pieces = map.pieces(0, 49152);
        assert_eq!(
            pieces.iter().map(|p| p.physical).collect::<Vec<_>>(),
            vec![Some(8192), None, Some(16384)]
        );
        assert_eq!(map.first_unbacked(8192, 12288), Some(4096..40960));
        assert_eq!(map.first_unbacked(40960, 49152), None);
        assert_eq!(map.physical_end_before(4096), Some(12288));
        assert_eq!(map.physical_end_before(40960), None);
    }

    #[test]
    fn backing_the_middle_of_a_hole_splits_it_and_backed_ranges_are_refused() {
        let mut map =
            SegmentMap::from_segments(vec![ext(8192, 4096), Extent::hole(40960), ext(65536, 4096)]);
        let before = map.clone();
        // Overlaps the backed first segment.
        assert!(!map.back(0, ext(90112, 8192)));
        assert_eq!(map, before);
        assert!(map.back(16384, ext(90112, 8192)));
        assert_eq!(
            map.segments(),
            &[
                ext(8192, 4096),
                Extent::hole(12288),
                ext(90112, 8192),
                Extent::hole(20480),
                ext(65536, 4096)
            ]
        );
        assert_eq!(map.mapped_end(), before.mapped_end());
        // Filling the hole right after the first segment, physically contiguous with it, merges.
        assert!(map.back(4096, ext(12288, 12288)));
        assert_eq!(map.segments()[0], ext(8192, 16384));
        assert_eq!(map.segments()[1], ext(90112, 8192));
        assert_eq!(map.backed(), 4096 + 12288 + 8192 + 4096);
    }

    #[test]
    fn the_last_hole_can_be_backed_past_the_mapped_end() {
        let mut map = SegmentMap::from_segments(vec![ext(8192, 4096), Extent::hole(8192)]);
        assert!(map.back(8192, ext(32768, 16384)));
        assert_eq!(
            map.segments(),
            &[ext(8192, 4096), Extent::hole(4096), ext(32768, 16384)]
        );
        assert_eq!(map.mapped_end(), 24576);
    }
}
