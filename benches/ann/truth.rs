//! Exact ground truth computed by the harness itself, independently of quiver's kernels: every
//! base row is screened with a plain f32 loop, and the best `2k + 16` candidates per query are
//! re-ranked with distances recomputed in f64. (An f32 error of ~1e-7 cannot move a row across
//! that many ranks; for fashion-mnist the f32 partial sums of squared byte differences are exact.)

use crate::data::{Dataset, Distance};
use crate::output::progress;
use quiver::datasets::Matrix;
use rayon::prelude::*;

/// Exact neighbours, nearest first: ids (base rows) and their distances.
pub struct Truth {
    pub ids: Matrix<i32>,
    pub distances: Matrix<f32>,
}

const LANES: usize = 16;

/// The dataset's distance in f32 with sixteen independent partial sums (vectorisable, and a
/// different summation order than any quiver kernel).
fn screen(distance: Distance, query: &[f32], row: &[f32]) -> f32 {
    let mut sums = [0.0f32; LANES];
    let (q_chunks, r_chunks) = (query.chunks_exact(LANES), row.chunks_exact(LANES));
    let (q_rest, r_rest) = (q_chunks.remainder(), r_chunks.remainder());
    for (q, r) in q_chunks.zip(r_chunks) {
        for lane in 0..LANES {
            sums[lane] += match distance {
                Distance::OneMinusDot => q[lane] * r[lane],
                Distance::L2Squared => (q[lane] - r[lane]) * (q[lane] - r[lane]),
            };
        }
    }
    for (lane, (q, r)) in q_rest.iter().zip(r_rest).enumerate() {
        sums[lane] += match distance {
            Distance::OneMinusDot => q * r,
            Distance::L2Squared => (q - r) * (q - r),
        };
    }
    let total: f64 = sums.iter().map(|s| f64::from(*s)).sum();
    match distance {
        Distance::OneMinusDot => (1.0 - total) as f32,
        Distance::L2Squared => total as f32,
    }
}

/// The exact top `k` of one query among `rows` (all base rows when `None`).
fn top_k(
    distance: Distance,
    base: &Matrix<f32>,
    query: &[f32],
    rows: Option<&[u32]>,
    k: usize,
) -> Vec<(i32, f32)> {
    let mut screened: Vec<(f32, u32)> = match rows {
        Some(rows) => rows
            .iter()
            .map(|r| (screen(distance, query, base.row(*r as usize)), *r))
            .collect(),
        None => base
            .iter()
            .enumerate()
            .map(|(r, v)| (screen(distance, query, v), r as u32))
            .collect(),
    };
    let keep = (2 * k + 16).min(screened.len());
    if keep < screened.len() {
        screened.select_nth_unstable_by(keep, |a, b| a.0.total_cmp(&b.0));
        screened.truncate(keep);
    }
    let mut exact: Vec<(f64, u32)> = screened
        .iter()
        .map(|(_, r)| (distance.exact(query, base.row(*r as usize)), *r))
        .collect();
    exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    exact
        .into_iter()
        .take(k)
        .map(|(d, r)| (r as i32, d as f32))
        .collect()
}

/// Exact top `k` per query among `rows` (all base rows when `None`). Queries whose candidate set
/// is smaller than `k` get all of it, padded with id -1 at infinite distance.
pub fn brute_force(
    distance: Distance,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    k: usize,
    rows: Option<&[u32]>,
) -> Truth {
    let bar = progress(queries.rows(), "truth");
    let per_query: Vec<Vec<(i32, f32)>> = (0..queries.rows())
        .into_par_iter()
        .map(|q| {
            let found = top_k(distance, base, queries.row(q), rows, k);
            bar.inc(1);
            found
        })
        .collect();
    bar.finish_and_clear();
    assemble(per_query, k)
}

fn assemble(per_query: Vec<Vec<(i32, f32)>>, k: usize) -> Truth {
    let mut ids = Vec::with_capacity(per_query.len() * k);
    let mut distances = Vec::with_capacity(per_query.len() * k);
    for row in per_query {
        let padding = k - row.len().min(k);
        ids.extend(row.iter().map(|x| x.0));
        distances.extend(row.iter().map(|x| x.1));
        ids.extend(std::iter::repeat_n(-1, padding));
        distances.extend(std::iter::repeat_n(f32::INFINITY, padding));
    }
    Truth {
        // Both hold exactly k values per query, so the row length always divides them.
        ids: Matrix::new(k, ids).expect("k ids per query"),
        distances: Matrix::new(k, distances).expect("k distances per query"),
    }
}

/// Exact top `k` among the `allowed` base rows (sorted). Where the unfiltered top-100 of a query
/// already holds `k` allowed rows, those are its filtered answer (the unfiltered list is exact
/// and sorted); the other queries are brute-forced over the allowed rows.
pub fn filtered(data: &Dataset, allowed: &[u32], k: usize) -> Truth {
    filtered_each(data, k, |_, row| allowed.binary_search(&row).is_ok())
}

/// Exact top `k` per query `q` among the base rows `allows(q, row)` admits (each query its
/// own filter: a deny-list per user, say), the same way as [`filtered`].
pub fn filtered_each(
    data: &Dataset,
    k: usize,
    allows: impl Fn(usize, u32) -> bool + Sync,
) -> Truth {
    let bar = progress(data.queries.rows(), "truth");
    let per_query: Vec<Vec<(i32, f32)>> = (0..data.queries.rows())
        .into_par_iter()
        .map(|q| {
            let from_unfiltered: Vec<(i32, f32)> = data
                .truth
                .ids
                .row(q)
                .iter()
                .zip(data.truth.distances.row(q))
                .filter(|(id, _)| **id >= 0 && allows(q, **id as u32))
                .take(k)
                .map(|(id, d)| (*id, *d))
                .collect();
            let found = if from_unfiltered.len() == k {
                from_unfiltered
            } else {
                let rows: Vec<u32> = (0..data.base.rows() as u32)
                    .filter(|row| allows(q, *row))
                    .collect();
                top_k(
                    data.distance,
                    &data.base,
                    data.queries.row(q),
                    Some(&rows),
                    k,
                )
            };
            bar.inc(1);
            found
        })
        .collect();
    bar.finish_and_clear();
    assemble(per_query, k)
}
