//! Cache prefetch hints. A graph walk knows which memory it will read next (a node's
//! neighbours' vectors, lists and ids) before it reads it; asking for all of it first lets the
//! reads overlap instead of waiting for each miss in turn, which is where a walk over a large
//! graph spends its time.

/// Asks the CPU to start loading the cache lines holding `data` (at most `max_lines` of them).
/// Only a hint: it has no effect on results, and does nothing off x86-64.
#[inline]
pub(crate) fn prefetch<T>(data: &[T], max_lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let bytes: usize = std::mem::size_of_val(data);
        let start = data.as_ptr().cast::<i8>();
        for line in 0..bytes.div_ceil(64).min(max_lines) {
            // SAFETY: a prefetch never faults and has no effect on program state; the address
            // is inside the live slice `data` (line * 64 < its length in bytes).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(line * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, max_lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_any_slice_is_harmless() {
        let data = vec![7u32; 1000];
        prefetch(&data, 16);
        prefetch(&data[999..], 16);
        prefetch::<u32>(&[], 16);
        assert_eq!(data.iter().sum::<u32>(), 7000);
    }
}
