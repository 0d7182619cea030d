//! The loop shared by the SIMD query-against-stored kernels of every instruction set.

/// Generates `unsafe fn $name(query: &[f32], bytes: &[u8], element: Element) -> f32`: a fold of
/// `$step` over the query and a stored vector, `$width` lanes per register and four registers
/// per iteration (to hide the FMA latency), then `$sum4` of the four registers and a scalar tail
/// adding `$tail` for the last `n % $width` components. The caller's module must have `Element`,
/// `common_len` and `element_at` in scope, and `$load_query` / `$load_stored` with the signatures
/// of the AVX2 ones.
///
/// Safety of the generated function: the CPU must have `$features`.
macro_rules! pairwise_kernel {
    (
        $name:ident, $features:literal, $width:literal, $zero:expr,
        $load_query:ident, $load_stored:ident, $sum4:ident,
        |$acc:ident, $x:ident, $y:ident| $step:expr,
        |$q:ident, $s:ident| $tail:expr
    ) => {
        /// # Safety
        /// The CPU must have the instructions this function is compiled for.
        #[target_feature(enable = $features)]
        unsafe fn $name(query: &[f32], bytes: &[u8], element: Element) -> f32 {
            let n = common_len(query, bytes, element);
            let p = bytes.as_ptr();
            let mut acc = [$zero; 4];
            let mut i = 0;
            while i + 4 * $width <= n {
                for (k, lane) in acc.iter_mut().enumerate() {
                    let at = i + $width * k;
                    // SAFETY: at + width <= i + 4 * width <= n: inside the query and the
                    // stored bytes; the caller guarantees the CPU features.
                    let ($x, $y) =
                        unsafe { ($load_query(query, at), $load_stored(p, element, at)) };
                    let $acc = *lane;
                    *lane = $step;
                }
                i += 4 * $width;
            }
            while i + $width <= n {
                // SAFETY: i + width <= n, as above.
                let ($x, $y) = unsafe { ($load_query(query, i), $load_stored(p, element, i)) };
                let $acc = acc[0];
                acc[0] = $step;
                i += $width;
            }
            let mut sum = $sum4(acc);
            for (j, $q) in query.iter().enumerate().take(n).skip(i) {
                let $s = element_at(bytes, element, j);
                sum += $tail;
            }
            sum
        }
    };
}
