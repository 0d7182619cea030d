//! The in-memory mirror of a collection's vectors: what exact search scans.
//!
//! A scan of redb's B-tree pays a page-cache lookup and a cursor step per vector, and redb's
//! 4 KiB pages hold only two 384-d f32 vectors each; the mirror instead keeps every vector of a
//! collection in one buffer, with its norms and id, so a scan is one sequential pass over memory
//! (the benchmark `scan` compares it with a plain streaming read).
//!
//! The buffer is made of blocks of sixteen vectors stored component-major (component 0 of the
//! sixteen, then component 1, ...): one SIMD register then holds one component of a whole
//! block, so a broadcast query component and one FMA advance sixteen dot products, with no
//! horizontal sums (see [`block_dots_4x4`](crate::vector::distance::block_dots_4x4)).
//!
//! The mirror is loaded from the vector table when a collection is first opened (the load time
//! and its memory are reported by [`MirrorStats`]), or, for a collection with an approximate
//! index (whose searches read the index's own copy of the vectors), on its first exact search,
//! so an application that only searches the index holds one copy of its vectors, not two. Once
//! loaded it is updated by every write after its redb commit returns, under the collection's
//! writer lock (which the deferred load also takes), so it always equals the latest committed
//! state once a write call has returned. It is never written to disk: after a crash it is
//! rebuilt from what redb recovered. Deletes move the last vector into the freed slot, so the
//! blocks stay dense.

use crate::vector::distance::block_scalar::{LANES, block_bytes};
use crate::vector::distance::norm_squared_stored;
use crate::vector::distance::stored_scalar::element_at;
use crate::vector::element::Element;
use crate::vector::metric::Norm;
use std::collections::HashMap;
use std::time::Duration;

/// Size and load cost of a collection's in-memory mirror.
///
/// ```
/// let stats = quiver::vector::MirrorStats::default();
/// assert_eq!(stats.vectors, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MirrorStats {
    /// Vectors held.
    pub vectors: usize,
    /// Heap bytes used (vectors, norms, ids and the id map).
    pub memory_bytes: usize,
    /// How long loading it from the store took when the collection was opened.
    pub load_time: Duration,
}

pub(crate) struct Mirror {
    pub element: Element,
    pub dim: usize,
    /// Bytes per block of [`LANES`] vectors.
    block_size: usize,
    /// Blocks back to back; slot `s` is lane `s % LANES` of block `s / LANES`. Lanes past the
    /// last vector are zero.
    data: Vec<u8>,
    norms: Vec<Norm>,
    ids: Vec<u64>,
    slots: HashMap<u64, usize>,
    pub load_time: Duration,
}

impl Mirror {
    pub fn new(element: Element, dim: usize) -> Mirror {
        Mirror {
            element,
            dim,
            block_size: block_bytes(dim, element),
            data: Vec::new(),
            norms: Vec::new(),
            ids: Vec::new(),
            slots: HashMap::new(),
            load_time: Duration::ZERO,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Number of blocks (the last one may be partly filled).
    pub fn blocks(&self) -> usize {
        self.len().div_ceil(LANES)
    }

    /// The bytes of block `b` (`b < blocks()`).
    #[inline]
    pub fn block(&self, b: usize) -> &[u8] {
        &self.data[b * self.block_size..(b + 1) * self.block_size]
    }

    /// Byte offset of component `d` of `slot`.
    #[inline]
    fn offset(&self, slot: usize, d: usize) -> usize {
        let size = self.element.size();
        (slot / LANES) * self.block_size + (d * LANES + slot % LANES) * size
    }

    /// Writes a vector in its stored (row) form into `slot`'s lane.
    fn write_lane(&mut self, slot: usize, bytes: &[u8]) {
        let size = self.element.size();
        for (d, component) in bytes.chunks_exact(size).take(self.dim).enumerate() {
            let at = self.offset(slot, d);
            self.data[at..at + size].copy_from_slice(component);
        }
    }

    /// Copies the lane of slot `from` into slot `to`, then zeroes `from`.
    fn move_lane(&mut self, from: usize, to: usize) {
        let size = self.element.size();
        for d in 0..self.dim {
            let (source, target) = (self.offset(from, d), self.offset(to, d));
            self.data.copy_within(source..source + size, target);
            self.data[source..source + size].fill(0);
        }
    }

    /// Inserts or replaces the vector of `id` (`bytes` is its stored form).
    pub fn upsert(&mut self, id: u64, bytes: &[u8]) {
        debug_assert_eq!(bytes.len(), self.dim * self.element.size());
        let norm = Norm::from_squared(norm_squared_stored(bytes, self.element));
        let slot = match self.slots.get(&id) {
            Some(&slot) => {
                self.norms[slot] = norm;
                slot
            }
            None => {
                let slot = self.ids.len();
                if slot.is_multiple_of(LANES) {
                    self.data.resize(self.data.len() + self.block_size, 0);
                }
                self.slots.insert(id, slot);
                self.ids.push(id);
                self.norms.push(norm);
                slot
            }
        };
        self.write_lane(slot, bytes);
    }

    /// Removes `id` if present, moving the last vector into its slot.
    pub fn remove(&mut self, id: u64) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if slot != last {
            let moved = self.ids[last];
            self.ids[slot] = moved;
            self.norms[slot] = self.norms[last];
            self.move_lane(last, slot);
            self.slots.insert(moved, slot);
        } else {
            for d in 0..self.dim {
                let at = self.offset(slot, d);
                self.data[at..at + self.element.size()].fill(0);
            }
        }
        self.ids.pop();
        self.norms.pop();
        self.data.truncate(self.blocks() * self.block_size);
    }

    #[inline]
    pub fn norm(&self, slot: usize) -> Norm {
        self.norms[slot]
    }

    #[inline]
    pub fn id(&self, slot: usize) -> u64 {
        self.ids[slot]
    }

    /// The squared Euclidean distance from `query` to the vector in `slot`, accumulated in f64
    /// (used to re-rank L2 candidates exactly).
    pub fn l2_squared_exact(&self, slot: usize, query: &[f32]) -> f32 {
        let base = (slot / LANES) * self.block_size;
        let block = &self.data[base..base + self.block_size];
        let lane = slot % LANES;
        query
            .iter()
            .take(self.dim)
            .enumerate()
            .map(|(d, q)| {
                let v = element_at(block, self.element, d * LANES + lane);
                let diff = f64::from(*q) - f64::from(v);
                diff * diff
            })
            .sum::<f64>() as f32
    }

    /// Releases spare capacity (after the bulk load on open).
    pub fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
        self.norms.shrink_to_fit();
        self.ids.shrink_to_fit();
        self.slots.shrink_to_fit();
    }

    pub fn slot_of(&self, id: u64) -> Option<usize> {
        self.slots.get(&id).copied()
    }

    pub fn stats(&self) -> MirrorStats {
        let map_entry = std::mem::size_of::<(u64, usize)>() + 1;
        MirrorStats {
            vectors: self.len(),
            memory_bytes: self.data.capacity()
                + self.norms.capacity() * std::mem::size_of::<Norm>()
                + self.ids.capacity() * 8
                + self.slots.capacity() * map_entry,
            load_time: self.load_time,
        }
    }

    /// The stored (row) form of the vector in `slot`, gathered from its lane.
    #[cfg(test)]
    fn row(&self, slot: usize) -> Vec<u8> {
        let size = self.element.size();
        (0..self.dim)
            .flat_map(|d| {
                let at = self.offset(slot, d);
                self.data[at..at + size].to_vec()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn upsert_replace_and_remove_keep_lanes_dense_and_consistent() {
        let mut mirror = Mirror::new(Element::F32, 3);
        let vector = |id: u64| [id as f32, 1.0, -(id as f32)];
        for id in 0..40u64 {
            mirror.upsert(id, &bytes(&vector(id)));
        }
        assert_eq!(mirror.blocks(), 3);
        mirror.upsert(2, &bytes(&[20.0, 0.0, 0.0]));
        assert_eq!(mirror.norm(mirror.slot_of(2).unwrap()).squared, 400.0);
        for id in [1u64, 1, 39, 17, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13] {
            mirror.remove(id);
        }
        assert_eq!(mirror.len(), 40 - 13);
        assert_eq!(mirror.blocks(), 2);
        for id in
            (0..40u64).filter(|id| ![1, 39, 17, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13].contains(id))
        {
            let slot = mirror.slot_of(id).unwrap();
            assert_eq!(mirror.id(slot), id);
            let expected = if id == 2 {
                [20.0, 0.0, 0.0]
            } else {
                vector(id)
            };
            assert_eq!(mirror.row(slot), bytes(&expected), "id {id}");
        }
        // Lanes past the last vector are zero.
        for slot in mirror.len()..mirror.blocks() * LANES {
            assert!(mirror.row(slot).iter().all(|b| *b == 0), "slot {slot}");
        }
        assert_eq!(mirror.slot_of(1), None);
        assert!(mirror.stats().memory_bytes >= 27 * 12);
    }
}
