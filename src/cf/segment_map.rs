//! Virtual-to-physical mapping of one column family.
//!
//! A column family sees a flat byte range `0..len` (what redb calls the storage). Physically it is
//! a list of segments of the container file laid end to end: virtual offset 0 is the first byte
//! of the first segment, and so on. Only the prefix `0..mapped_end` is backed by segments; bytes
//! past it have never been written and read as zeros.

use crate::cf::format::Extent;
use std::ops::Range;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SegmentMap {
    segments: Vec<Extent>,
    /// `starts[i]` is the virtual offset of `segments[i]`.
    starts: Vec<u64>,
    mapped_end: u64,
}

/// One contiguous piece of a virtual range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Which bytes of the caller's buffer this piece covers.
    pub buf: Range<usize>,
    /// Where they live in the container file; `None` past the mapped end.
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

    pub(crate) fn segments(&self) -> &[Extent] {
        &self.segments
    }

    /// Number of virtual bytes backed by segments.
    pub(crate) fn mapped_end(&self) -> u64 {
        self.mapped_end
    }

    /// Appends a segment at the virtual end, merging it into the last one when it follows it
    /// physically.
    pub(crate) fn push(&mut self, seg: Extent) {
        if seg.len == 0 {
            return;
        }
        match self.segments.last_mut() {
            Some(last) if last.end() == seg.offset => last.len += seg.len,
            _ => {
                self.segments.push(seg);
                self.starts.push(self.mapped_end);
            }
        }
        self.mapped_end += seg.len;
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
                physical: Some(seg.offset + within),
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
}
