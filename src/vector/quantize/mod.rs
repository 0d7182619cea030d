//! Compact codes for a first pass over the approximate index: each vector is also kept as int8
//! scalar codes (a quarter of its f32 size) or as binary codes (a thirty-second), the graph walk
//! scores nodes by their codes, and the candidates it keeps are rescored with the exact
//! vectors before the best `k` are returned ([`Quantization`]).
//!
//! Both codes are functions of the vector alone, with no training: an int8 row is the vector
//! divided by its own largest magnitude and rounded to `-127..=127` (its scale kept beside it),
//! a binary row has one bit per component, set where the component is above the vector's mean.
//! So codes never go stale as items come and go, and they are rebuilt from the stored vectors
//! when a collection is opened instead of being stored twice.
//!
//! Kernels: [`dot_i8`] (AVX2 on x86-64, scalar elsewhere) and [`hamming`] (the CPU's popcount
//! where it has one). Each is checked against its scalar reference ([`dot_i8_scalar`],
//! [`hamming_scalar`]) over lengths 0-299 and unaligned offsets. Under Miri, with the features
//! enabled at compile time (`RUSTFLAGS="-C target-feature=+avx2,+fma,+f16c,+popcnt" cargo +nightly
//! miri test --lib quantize`), the AVX2 and popcount kernels run those tests with no undefined
//! behaviour found (about four and a half minutes, so not in CI).
//!
//! ```
//! use quiver::vector::quantize::{dot_i8, quantize_int8};
//! let mut a = [0i8; 3];
//! let mut b = [0i8; 3];
//! let scale_a = quantize_int8(&[1.0, -2.0, 0.5], &mut a);
//! let scale_b = quantize_int8(&[2.0, 1.0, 4.0], &mut b);
//! let approx = dot_i8(&a, &b) as f32 * scale_a * scale_b;
//! assert!((approx - 2.0).abs() < 0.05); // 1*2 - 2*1 + 0.5*4 = 2
//! ```

mod binary;
mod int8;
#[cfg(target_arch = "x86_64")]
mod int8_x86;
mod mode;

pub use binary::{binarize, hamming, hamming_scalar};
pub use int8::{INT8_LIMIT, dot_i8, dot_i8_scalar, int8_kernel_name, quantize_int8};
pub use mode::Quantization;
