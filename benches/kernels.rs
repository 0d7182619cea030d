//! Distance kernels against their scalar reference, same data, same run:
//! `cargo bench --bench kernels` prints one JSON object per kernel with ns per vector pair and
//! the speedup. This is what justifies the `unsafe` SIMD code.

use half::f16;
use quiver::vector::distance::{self, scalar};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

const DIM: usize = 384;
const VECTORS: usize = 20_000;

fn time_per_pair<T>(query: &[T], base: &[T], kernel: impl Fn(&[T], &[T]) -> f32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut acc = 0.0f32;
        for row in base.chunks_exact(DIM) {
            acc += kernel(black_box(query), black_box(row));
        }
        black_box(acc);
        best = best.min(start.elapsed().as_nanos() as f64 / VECTORS as f64);
    }
    best
}

fn main() {
    let values: Vec<f32> = (0..DIM * (VECTORS + 1))
        .map(|i| ((i * 2_654_435_761usize) % 2000) as f32 / 1000.0 - 1.0)
        .collect();
    let (query, base) = values.split_at(DIM);
    let halves: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
    let (query16, base16) = halves.split_at(DIM);
    let report = |element: &str, metric: &str, simd: f64, reference: f64| {
        println!(
            "{}",
            json!({
                "bench": "kernel", "kernels": distance::kernel_name(), "element": element,
                "metric": metric, "dim": DIM, "simd_ns": (simd * 10.0).round() / 10.0,
                "scalar_ns": (reference * 10.0).round() / 10.0,
                "speedup": (reference / simd * 100.0).round() / 100.0,
            })
        );
    };
    type Pair<T> = (&'static str, fn(&[T], &[T]) -> f32, fn(&[T], &[T]) -> f32);
    let f32_kernels: [Pair<f32>; 3] = [
        ("dot", distance::dot_f32, scalar::dot_f32),
        ("l2", distance::l2_squared_f32, scalar::l2_squared_f32),
        ("cosine", distance::cosine_distance_f32, |a, b| {
            scalar::cosine_f32(a, b).distance()
        }),
    ];
    let f16_kernels: [Pair<f16>; 3] = [
        ("dot", distance::dot_f16, scalar::dot_f16),
        ("l2", distance::l2_squared_f16, scalar::l2_squared_f16),
        ("cosine", distance::cosine_distance_f16, |a, b| {
            scalar::cosine_f16(a, b).distance()
        }),
    ];
    for (metric, simd, reference) in f32_kernels {
        report(
            "f32",
            metric,
            time_per_pair(query, base, simd),
            time_per_pair(query, base, reference),
        );
    }
    for (metric, simd, reference) in f16_kernels {
        let simd = time_per_pair(query16, base16, simd);
        report(
            "f16",
            metric,
            simd,
            time_per_pair(query16, base16, reference),
        );
    }
}
