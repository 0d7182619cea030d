//! Free space of the container: best-fit allocation with merging of adjacent ranges.
//!
//! Two indexes over the same set of extents: by offset (to merge neighbours when a range is
//! returned) and by (length, offset) (to find the smallest range that fits). Both operations are
//! logarithmic in the number of free ranges.

use crate::cf::format::Extent;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default, Clone)]
pub(crate) struct FreeList {
    by_offset: BTreeMap<u64, u64>,
    by_size: BTreeSet<(u64, u64)>,
}

impl FreeList {
    /// Adds a range, merging it with free neighbours.
    pub(crate) fn insert(&mut self, ext: Extent) {
        if ext.len == 0 {
            return;
        }
        let (mut offset, mut len) = (ext.offset, ext.len);
        if let Some((&prev_off, &prev_len)) = self.by_offset.range(..offset).next_back()
            && prev_off + prev_len == offset
        {
            self.remove(prev_off, prev_len);
            offset = prev_off;
            len += prev_len;
        }
        if let Some(&next_len) = self.by_offset.get(&(offset + len)) {
            self.remove(offset + len, next_len);
            len += next_len;
        }
        self.by_offset.insert(offset, len);
        self.by_size.insert((len, offset));
    }

    fn remove(&mut self, offset: u64, len: u64) {
        self.by_offset.remove(&offset);
        self.by_size.remove(&(len, offset));
    }

    /// Takes `len` bytes from the smallest free range that holds them (lowest offset among equal
    /// sizes). The rest of that range stays free.
    pub(crate) fn take_best_fit(&mut self, len: u64) -> Option<Extent> {
        let &(found_len, offset) = self.by_size.range((len, 0)..).next()?;
        self.remove(offset, found_len);
        if found_len > len {
            self.insert(Extent {
                offset: offset + len,
                len: found_len - len,
            });
        }
        Some(Extent { offset, len })
    }

    /// The largest free range, if any.
    pub(crate) fn largest(&self) -> Option<u64> {
        self.by_size.iter().next_back().map(|&(len, _)| len)
    }

    /// All free ranges in offset order.
    pub(crate) fn extents(&self) -> impl Iterator<Item = Extent> + '_ {
        self.by_offset
            .iter()
            .map(|(&offset, &len)| Extent { offset, len })
    }

    /// Total free bytes.
    pub(crate) fn total(&self) -> u64 {
        self.by_offset.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(offset: u64, len: u64) -> Extent {
        Extent { offset, len }
    }

    #[test]
    fn adjacent_ranges_merge_in_any_order() {
        let mut free = FreeList::default();
        free.insert(ext(8192, 4096));
        free.insert(ext(16384, 4096));
        free.insert(ext(12288, 4096));
        assert_eq!(free.extents().collect::<Vec<_>>(), vec![ext(8192, 12288)]);
        assert_eq!(free.total(), 12288);
    }

    #[test]
    fn best_fit_picks_the_smallest_range_that_fits_and_keeps_the_rest() {
        let mut free = FreeList::default();
        free.insert(ext(0, 40960));
        free.insert(ext(100_000 * 4096, 8192));
        free.insert(ext(200_000 * 4096, 16384));
        assert_eq!(free.take_best_fit(8192), Some(ext(100_000 * 4096, 8192)));
        assert_eq!(free.take_best_fit(12288), Some(ext(200_000 * 4096, 12288)));
        assert_eq!(
            free.take_best_fit(4096),
            Some(ext(200_000 * 4096 + 12288, 4096))
        );
        assert_eq!(free.take_best_fit(81920), None);
        assert_eq!(free.largest(), Some(40960));
    }
}
