//! A copy-on-write vector of fixed-length records in chunks: cloning it copies only the chunk
//! pointers, and a write copies only the chunk it lands in (if a clone still shares it).
//!
//! This is how the in-memory index keeps snapshots, the way redb keeps MVCC for its pages: a
//! writer clones the published index (cheap), changes its copy while readers keep searching the
//! old one, commits the redb transaction, then publishes the copy. A commit that fails simply
//! drops its copy.
//!
//! A chunk holds a power of two of records, so finding a record is a shift and a mask: searches
//! look up several records per visited node (its list, its vector, its flags), and a division by
//! a run-time chunk length on each of them was measurable.

use std::sync::Arc;

/// Records of `record_len` elements of type `T`, `1 << shift` records per chunk (tested below:
/// the type is crate-private).
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    /// Elements (not records) held.
    len: usize,
    record_len: usize,
    shift: u32,
}

impl<T> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
            len: self.len,
            record_len: self.record_len,
            shift: self.shift,
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// An empty vector of records of `record_len` elements (at least 1), in chunks of
    /// `records_per_chunk` records (rounded up to a power of two).
    pub fn new(record_len: usize, records_per_chunk: usize) -> Chunked<T> {
        Chunked {
            chunks: Vec::new(),
            len: 0,
            record_len: record_len.max(1),
            shift: records_per_chunk
                .max(1)
                .next_power_of_two()
                .trailing_zeros(),
        }
    }

    fn chunk_len(&self) -> usize {
        self.record_len << self.shift
    }

    /// Elements held (records times their length).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Values per record.
    pub fn record_len(&self) -> usize {
        self.record_len
    }

    /// Appends `count` records, every element `value`.
    pub fn extend_with(&mut self, count: usize, value: T) {
        let chunk_len = self.chunk_len();
        let mut left = count * self.record_len;
        while left > 0 {
            let used = self.len % chunk_len;
            if used == 0 {
                self.chunks.push(Arc::new(Vec::with_capacity(chunk_len)));
            }
            let take = left.min(chunk_len - used);
            // The last chunk exists: one was pushed above when the previous one was full.
            if let Some(last) = self.chunks.last_mut() {
                Arc::make_mut(last).extend(std::iter::repeat_n(value.clone(), take));
            }
            self.len += take;
            left -= take;
        }
    }

    /// Record `index`; `None` past the end.
    #[inline]
    pub fn record(&self, index: usize) -> Option<&[T]> {
        let chunk = self.chunks.get(index >> self.shift)?;
        let start = (index & ((1 << self.shift) - 1)) * self.record_len;
        chunk.get(start..start + self.record_len)
    }

    /// Mutable form of [`record`](Self::record); copies the chunk first if a clone shares it.
    pub fn record_mut(&mut self, index: usize) -> Option<&mut [T]> {
        let mask = (1 << self.shift) - 1;
        let record_len = self.record_len;
        let chunk = self.chunks.get_mut(index >> self.shift)?;
        let start = (index & mask) * record_len;
        Arc::make_mut(chunk).get_mut(start..start + record_len)
    }

    /// The first element of record `index` (the element itself for one-element records).
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        self.record(index)?.first()
    }

    /// Replaces the first element of record `index` (ignored past the end).
    pub fn set(&mut self, index: usize, value: T) {
        if let Some(slot) = self.record_mut(index).and_then(|r| r.first_mut()) {
            *slot = value;
        }
    }

    /// The elements in order, a chunk at a time (for passes over all of them).
    pub fn chunks(&self) -> impl Iterator<Item = &[T]> + '_ {
        self.chunks.iter().map(|chunk| chunk.as_slice())
    }

    /// Heap bytes held (shared chunks counted in full).
    pub fn memory_bytes(&self) -> usize {
        self.chunks.len() * (self.chunk_len() * std::mem::size_of::<T>() + 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_chunks_until_written() {
        // Records of 2 elements, 2 records (4 elements) per chunk.
        let mut a: Chunked<u32> = Chunked::new(2, 2);
        a.extend_with(5, 1);
        assert_eq!(a.len(), 10);
        let b = a.clone();
        a.set(2, 9);
        a.record_mut(4).unwrap().copy_from_slice(&[3, 4]);
        assert_eq!(a.record(2).unwrap(), &[9, 1]);
        assert_eq!(b.record(2).unwrap(), &[1, 1]);
        assert_eq!(a.record(4).unwrap(), &[3, 4]);
        assert_eq!(b.record(4).unwrap(), &[1, 1]);
        // Untouched chunks are still shared.
        assert!(Arc::ptr_eq(&a.chunks[0], &b.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks[1], &b.chunks[1]));
        assert_eq!(a.record(5), None);
        assert_eq!(a.get(5), None);
        a.extend_with(2, 2);
        assert_eq!((a.len(), b.len()), (14, 10));
        assert_eq!(a.record(5).unwrap(), &[2, 2]);
        assert_eq!(a.get(6), Some(&2));
        assert_eq!(a.get(7), None);
    }

    #[test]
    fn chunk_sizes_round_up_to_a_power_of_two() {
        let mut a: Chunked<u8> = Chunked::new(3, 3);
        a.extend_with(9, 7);
        // Four records per chunk: records 0-3, 4-7, 8.
        assert_eq!(a.chunks.len(), 3);
        for i in 0..9 {
            assert_eq!(a.record(i).unwrap(), &[7, 7, 7]);
        }
        assert_eq!(a.record(9), None);
    }
}
