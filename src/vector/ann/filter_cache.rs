//! The prepared allow-lists of recent filtered searches, per collection.
//!
//! Preparing an id allow-list for a graph walk (the node bitset of [`NodeFilter`]) is one pass
//! over every node's id: about a third of a filtered search on 100k items. Applications repeat
//! their filters (a tenant's documents, the items in stock), so, like a search engine's filter
//! cache, the last [`ENTRIES`] prepared lists are kept, each with the index version it was built
//! for and a copy of its ids. A search uses an entry only if its index version is the one being
//! searched and its ids are equal element by element to the search's (a comparison at memory
//! speed, a few microseconds), so a hit gives exactly the result a fresh preparation would.
//! An entry costs 8 bytes per allowed id plus one bit per node.
//!
//! [`NodeFilter`]: crate::vector::ann::allow::NodeFilter

use crate::vector::ann::AnnIndex;
use parking_lot::Mutex;
use std::sync::{Arc, Weak};

/// A shared run of `u64` words: an entry's ids or its node bitset.
type Bits = Arc<[u64]>;

/// Prepared allow-lists kept per collection.
const ENTRIES: usize = 4;

struct Entry {
    /// The index version the bits describe (a `Weak` keeps its address from being reused).
    index: Weak<AnnIndex>,
    ids: Arc<[u64]>,
    nodes: Arc<[u64]>,
}

/// Recently prepared allow-lists, most recent first.
#[derive(Default)]
pub(crate) struct FilterCache {
    entries: Mutex<Vec<Entry>>,
}

impl FilterCache {
    /// The node bitset prepared for `ids` on `index`, if it is cached.
    pub fn get(&self, index: &Arc<AnnIndex>, ids: &[u64]) -> Option<Arc<[u64]>> {
        let current = Arc::downgrade(index);
        // (ids, nodes) of the entries that could match.
        let candidates: Vec<(Bits, Bits)> = self
            .entries
            .lock()
            .iter()
            .filter(|e| e.ids.len() == ids.len() && Weak::ptr_eq(&e.index, &current))
            .map(|e| (e.ids.clone(), e.nodes.clone()))
            .collect();
        // Compared outside the lock: concurrent searches do not wait on each other's copies.
        let (_, nodes) = candidates
            .into_iter()
            .find(|(cached, _)| **cached == *ids)?;
        // The hit becomes the most recent entry.
        let mut entries = self.entries.lock();
        if let Some(at) = entries.iter().position(|e| Arc::ptr_eq(&e.nodes, &nodes)) {
            let entry = entries.remove(at);
            entries.insert(0, entry);
        }
        Some(nodes)
    }

    /// Remembers `nodes` as the bitset of `ids` on `index`, dropping the oldest entry when full
    /// and entries of other index versions (they can never be used again).
    pub fn insert(&self, index: &Arc<AnnIndex>, ids: &[u64], nodes: Arc<[u64]>) {
        let current = Arc::downgrade(index);
        let mut entries = self.entries.lock();
        entries.retain(|e| Weak::ptr_eq(&e.index, &current));
        entries.truncate(ENTRIES - 1);
        entries.insert(
            0,
            Entry {
                index: current,
                ids: Arc::from(ids),
                nodes,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::ann::allow::tests::index_with;

    #[test]
    fn entries_serve_only_equal_lists_on_the_same_index_version() {
        let cache = FilterCache::default();
        let v1 = Arc::new(index_with(10, |i| i as u64));
        let v2 = Arc::new(index_with(10, |i| i as u64));
        let bits: Arc<[u64]> = Arc::from(vec![0b1010u64]);
        cache.insert(&v1, &[1, 3], bits.clone());
        assert!(Arc::ptr_eq(&cache.get(&v1, &[1, 3]).unwrap(), &bits));
        // Same length, other ids; same ids, other order; another index version.
        assert!(cache.get(&v1, &[1, 4]).is_none());
        assert!(cache.get(&v1, &[3, 1]).is_none());
        assert!(cache.get(&v2, &[1, 3]).is_none());
        // Inserting for a new version drops the old version's entries.
        cache.insert(&v2, &[5], Arc::from(vec![1u64]));
        assert!(cache.get(&v1, &[1, 3]).is_none());
        assert_eq!(cache.entries.lock().len(), 1);
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let cache = FilterCache::default();
        let index = Arc::new(index_with(10, |i| i as u64));
        for id in 0..ENTRIES as u64 {
            cache.insert(&index, &[id], Arc::from(vec![id]));
        }
        // Using the oldest makes it the most recent; the next insert evicts id 1's entry.
        assert!(cache.get(&index, &[0]).is_some());
        cache.insert(&index, &[99], Arc::from(vec![99u64]));
        assert!(cache.get(&index, &[0]).is_some());
        assert!(cache.get(&index, &[1]).is_none());
        for id in [2, 3, 99] {
            assert!(cache.get(&index, &[id]).is_some(), "id {id}");
        }
    }
}
