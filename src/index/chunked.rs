//! A copy-on-write vector in fixed-size chunks: cloning it copies only the chunk pointers, and a
//! write copies only the chunk it lands in (if a clone still shares it).
//!
//! This is how the in-memory index keeps snapshots, the way redb keeps MVCC for its pages: a
//! writer clones the published index (cheap), changes its copy while readers keep searching the
//! old one, commits the redb transaction, then publishes the copy. A commit that fails simply
//! drops its copy.

use std::sync::Arc;

/// Elements of type `T` in chunks of `chunk_len` (tested below: the type is crate-private).
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
    chunk_len: usize,
}

impl<T> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
            len: self.len,
            chunk_len: self.chunk_len,
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// An empty vector with chunks of `chunk_len` elements (at least 1).
    pub fn new(chunk_len: usize) -> Chunked<T> {
        Chunked {
            chunks: Vec::new(),
            len: 0,
            chunk_len: chunk_len.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `count` copies of `value`.
    pub fn extend_with(&mut self, count: usize, value: T) {
        let mut left = count;
        while left > 0 {
            let used = self.len % self.chunk_len;
            if used == 0 {
                self.chunks
                    .push(Arc::new(Vec::with_capacity(self.chunk_len)));
            }
            let take = left.min(self.chunk_len - used);
            // The last chunk exists: one was pushed above when the previous one was full.
            if let Some(last) = self.chunks.last_mut() {
                Arc::make_mut(last).extend(std::iter::repeat_n(value.clone(), take));
            }
            self.len += take;
            left -= take;
        }
    }

    /// `count` elements from `start`; they must lie in one chunk (callers use record sizes that
    /// divide the chunk length). Out of range gives `None`.
    #[inline]
    pub fn slice(&self, start: usize, count: usize) -> Option<&[T]> {
        let chunk = self.chunks.get(start / self.chunk_len)?;
        let offset = start % self.chunk_len;
        chunk.get(offset..offset + count)
    }

    /// Mutable form of [`slice`](Self::slice); copies the chunk first if a clone shares it.
    pub fn slice_mut(&mut self, start: usize, count: usize) -> Option<&mut [T]> {
        let chunk = self.chunks.get_mut(start / self.chunk_len)?;
        let offset = start % self.chunk_len;
        Arc::make_mut(chunk).get_mut(offset..offset + count)
    }

    /// Element `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        self.slice(index, 1).map(|s| &s[0])
    }

    /// Replaces element `index` (ignored past the end).
    pub fn set(&mut self, index: usize, value: T) {
        if let Some(slot) = self.slice_mut(index, 1) {
            slot[0] = value;
        }
    }

    /// Heap bytes held (shared chunks counted in full).
    pub fn memory_bytes(&self) -> usize {
        self.chunks.len() * (self.chunk_len * std::mem::size_of::<T>() + 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_chunks_until_written() {
        let mut a: Chunked<u32> = Chunked::new(4);
        a.extend_with(10, 1);
        assert_eq!(a.len(), 10);
        let b = a.clone();
        a.set(5, 9);
        a.slice_mut(8, 2).unwrap().copy_from_slice(&[3, 4]);
        assert_eq!(a.slice(4, 4).unwrap(), &[1, 9, 1, 1]);
        assert_eq!(b.slice(4, 4).unwrap(), &[1, 1, 1, 1]);
        assert_eq!(a.slice(8, 2).unwrap(), &[3, 4]);
        assert_eq!(b.slice(8, 2).unwrap(), &[1, 1]);
        // Untouched chunks are still shared.
        assert!(Arc::ptr_eq(&a.chunks[0], &b.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks[1], &b.chunks[1]));
        assert_eq!(a.get(10), None);
        assert_eq!(a.slice(8, 4), None);
        a.extend_with(3, 2);
        assert_eq!((a.len(), b.len()), (13, 10));
        assert_eq!(a.slice(10, 2).unwrap(), &[2, 2]);
        assert_eq!(a.get(12), Some(&2));
    }
}
