//! The in-memory mirror of a collection's vectors: what exact search scans.
//!
//! A scan of redb's B-tree pays a page-cache lookup and a cursor step per vector, and redb's
//! 4 KiB pages hold only two 384-d f32 vectors each; the mirror instead keeps every vector of a
//! collection back to back in one buffer, with its squared norm and id, so a scan is one
//! sequential pass over memory (the benchmark `scan` compares it with a plain streaming read).
//!
//! The mirror is loaded from the vector table when a collection is first opened (the load time
//! and its memory are reported by [`MirrorStats`]) and updated by every write after its redb
//! commit returns, under the collection's writer lock, so it always equals the latest committed
//! state once a write call has returned. It is never written to disk: after a crash it is
//! rebuilt from what redb recovered. Deletes move the last vector into the freed slot, so the
//! buffer stays dense.

use crate::vector::distance::norm_squared_stored;
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
    /// Bytes per vector.
    pub stride: usize,
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
            stride: dim * element.size(),
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

    /// Inserts or replaces the vector of `id` (`bytes` is its stored form).
    pub fn upsert(&mut self, id: u64, bytes: &[u8]) {
        debug_assert_eq!(bytes.len(), self.stride);
        let norm = Norm::from_squared(norm_squared_stored(bytes, self.element));
        match self.slots.get(&id) {
            Some(&slot) => {
                self.data[slot * self.stride..(slot + 1) * self.stride].copy_from_slice(bytes);
                self.norms[slot] = norm;
            }
            None => {
                self.slots.insert(id, self.ids.len());
                self.ids.push(id);
                self.norms.push(norm);
                self.data.extend_from_slice(bytes);
            }
        }
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
            self.data.copy_within(
                last * self.stride..(last + 1) * self.stride,
                slot * self.stride,
            );
            self.slots.insert(moved, slot);
        }
        self.ids.pop();
        self.norms.pop();
        self.data.truncate(last * self.stride);
    }

    /// The stored bytes of the vector in `slot` (`slot < len()`).
    #[inline]
    pub fn vector(&self, slot: usize) -> &[u8] {
        &self.data[slot * self.stride..(slot + 1) * self.stride]
    }

    #[inline]
    pub fn norm(&self, slot: usize) -> Norm {
        self.norms[slot]
    }

    #[inline]
    pub fn id(&self, slot: usize) -> u64 {
        self.ids[slot]
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn upsert_replace_and_remove_keep_slots_dense_and_consistent() {
        let mut mirror = Mirror::new(Element::F32, 2);
        for id in 0..5u64 {
            mirror.upsert(id, &bytes(&[id as f32, 1.0]));
        }
        mirror.upsert(2, &bytes(&[20.0, 0.0]));
        assert_eq!(mirror.len(), 5);
        assert_eq!(mirror.norm(mirror.slot_of(2).unwrap()).squared, 400.0);
        mirror.remove(1);
        mirror.remove(1);
        mirror.remove(4);
        assert_eq!(mirror.len(), 3);
        for id in [0u64, 2, 3] {
            let slot = mirror.slot_of(id).unwrap();
            assert_eq!(mirror.id(slot), id);
            let expected = if id == 2 {
                [20.0, 0.0]
            } else {
                [id as f32, 1.0]
            };
            assert_eq!(mirror.vector(slot), bytes(&expected).as_slice());
        }
        assert_eq!(mirror.slot_of(1), None);
        assert!(mirror.stats().memory_bytes >= 3 * 8);
    }
}
