//! Exact search: a parallel scan of one or more collection mirrors.
//!
//! The slots of every collection searched are cut into chunks; rayon runs the chunks on its
//! pool (so several collections and the parts of one big collection all spread over the
//! cores), each chunk keeps a bounded heap per query, and the heaps are merged at the end.
//!
//! A batch of queries is scanned in one pass: for every stored vector, the queries are taken
//! four at a time by [`dot4_stored`], which reads (and for f16 converts) each group of stored
//! components once for four queries, so the batch costs one pass over memory and a quarter of
//! the loads. The batch path derives every metric from the dot product and the stored norms
//! (`|q - v|^2 = |q|^2 + |v|^2 - 2 q.v` for L2), so its distances can differ from the
//! one-query path in the last bits; both are checked against a brute-force reference.

use crate::vector::distance::{dot4_stored, dot4x2_stored};
use crate::vector::metric::{Metric, Norm};
use crate::vector::mirror::Mirror;
use crate::vector::topk::{Candidate, TopK};
use rayon::prelude::*;
use std::ops::Range;

/// A query with its norm computed once.
pub(crate) struct Prepared<'q> {
    pub vector: &'q [f32],
    pub norm: Norm,
}

impl<'q> Prepared<'q> {
    pub fn new(vector: &'q [f32]) -> Prepared<'q> {
        Prepared {
            vector,
            norm: Norm::from_squared(vector.iter().map(|x| x * x).sum()),
        }
    }
}

/// Which slots of a mirror a search may return.
pub(crate) enum Allow {
    All,
    /// Only these slots (used when few are allowed: only they are visited).
    Slots(Vec<usize>),
    /// A flag per slot (used when many are allowed).
    Mask(Vec<bool>),
}

impl Allow {
    /// Chooses the representation for a set of allowed slots out of `len`.
    pub fn from_slots(mut slots: Vec<usize>, len: usize) -> Allow {
        if slots.len() * 8 < len {
            slots.sort_unstable();
            slots.dedup();
            Allow::Slots(slots)
        } else {
            let mut mask = vec![false; len];
            for slot in slots {
                if let Some(flag) = mask.get_mut(slot) {
                    *flag = true;
                }
            }
            Allow::Mask(mask)
        }
    }
}

/// One collection taking part in a search.
pub(crate) struct Source<'a> {
    /// Index used in candidates to say which source they came from.
    pub index: u32,
    pub mirror: &'a Mirror,
    pub metric: Metric,
    pub allow: Allow,
}

/// A unit of work: a range of slots (or of allowed-slot list positions) of one source.
struct Task {
    source: usize,
    range: Range<usize>,
}

fn tasks(sources: &[Source<'_>]) -> Vec<Task> {
    let total: usize = sources.iter().map(|s| visit_count(s)).sum();
    let threads = rayon::current_num_threads().max(1);
    let chunk = (total / (threads * 4)).max(2048);
    let mut out = Vec::new();
    for (source, s) in sources.iter().enumerate() {
        let n = visit_count(s);
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            out.push(Task {
                source,
                range: start..end,
            });
            start = end;
        }
    }
    out
}

fn visit_count(source: &Source<'_>) -> usize {
    match &source.allow {
        Allow::Slots(slots) => slots.len(),
        _ => source.mirror.len(),
    }
}

/// Calls `visit(slot)` for every allowed slot of `source` among positions `range`.
#[inline]
fn for_each_slot(source: &Source<'_>, range: Range<usize>, mut visit: impl FnMut(usize)) {
    match &source.allow {
        Allow::All => range.for_each(visit),
        Allow::Slots(slots) => slots[range].iter().for_each(|&slot| visit(slot)),
        Allow::Mask(mask) => {
            for slot in range {
                if mask[slot] {
                    visit(slot);
                }
            }
        }
    }
}

/// The `k` nearest stored vectors to `query` over all sources, closest first.
pub(crate) fn search(sources: &[Source<'_>], query: &Prepared<'_>, k: usize) -> Vec<Candidate> {
    tasks(sources)
        .into_par_iter()
        .map(|task| {
            let source = &sources[task.source];
            let mirror = source.mirror;
            let mut top = TopK::new(k);
            for_each_slot(source, task.range, |slot| {
                let distance = source.metric.distance(
                    query.vector,
                    query.norm,
                    mirror.vector(slot),
                    mirror.norm(slot),
                    mirror.element,
                );
                top.push(Candidate {
                    distance,
                    source: source.index,
                    id: mirror.id(slot),
                });
            });
            top
        })
        .reduce(|| TopK::new(k), TopK::merge)
        .into_sorted()
}

/// Stored vectors scanned together by a batch: a group of four queries is loaded from L2 once per
/// tile and then reused from L1 for every pair of the tile. 32 measured best of 8, 16 and 32 for
/// 384-d and 784-d f32 and f16 (`cargo bench --bench scan`).
const TILE: usize = 32;

/// Calls `visit(tile)` for the allowed slots of `source` among positions `range`, up to
/// [`TILE`] at a time.
#[inline]
fn for_each_tile(source: &Source<'_>, range: Range<usize>, mut visit: impl FnMut(&[usize])) {
    let mut tile = [0usize; TILE];
    let mut len = 0;
    for_each_slot(source, range, |slot| {
        tile[len] = slot;
        len += 1;
        if len == TILE {
            visit(&tile);
            len = 0;
        }
    });
    if len > 0 {
        visit(&tile[..len]);
    }
}

/// The `k` nearest for each query of a batch, in one pass over the data: stored vectors are
/// taken a tile at a time, and within a tile two at a time against queries four at a time
/// ([`dot4x2_stored`]), so each stored vector is read from memory once for the whole batch,
/// each query group is read once per tile, and each load feeds several FMAs.
pub(crate) fn search_batch(
    sources: &[Source<'_>],
    queries: &[Prepared<'_>],
    k: usize,
) -> Vec<Vec<Candidate>> {
    if queries.is_empty() {
        return Vec::new();
    }
    let fresh = || vec![TopK::new(k); queries.len()];
    tasks(sources)
        .into_par_iter()
        .map(|task| {
            let source = &sources[task.source];
            // One copy of the loop per metric, so the distance is computed without a branch.
            match source.metric {
                Metric::Cosine => batch_task(source, task.range, queries, k, |dot, q, v| {
                    Metric::Cosine.distance_from_dot(dot, q, v)
                }),
                Metric::Dot => batch_task(source, task.range, queries, k, |dot, q, v| {
                    Metric::Dot.distance_from_dot(dot, q, v)
                }),
                Metric::L2 => batch_task(source, task.range, queries, k, |dot, q, v| {
                    Metric::L2.distance_from_dot(dot, q, v)
                }),
            }
        })
        .reduce(fresh, |a, b| {
            a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect()
        })
        .into_iter()
        .map(TopK::into_sorted)
        .collect()
}

/// One task of a batched search: the slots of `range` against every query.
#[inline(always)]
fn batch_task(
    source: &Source<'_>,
    range: Range<usize>,
    queries: &[Prepared<'_>],
    k: usize,
    distance: impl Fn(f32, Norm, Norm) -> f32 + Copy,
) -> Vec<TopK> {
    let mirror = source.mirror;
    let mut tops = vec![TopK::new(k); queries.len()];
    for_each_tile(source, range, |tile| {
        for (group, group_tops) in queries.chunks(4).zip(tops.chunks_mut(4)) {
            // A short last group repeats its first query; the extra results are dropped.
            let pick = |i: usize| group.get(i).unwrap_or(&group[0]).vector;
            let four = [pick(0), pick(1), pick(2), pick(3)];
            let norms: [Norm; 4] = std::array::from_fn(|i| group.get(i).unwrap_or(&group[0]).norm);
            // The bar each query's candidates must clear; padding lanes can never clear it.
            let mut worst: [f32; 4] =
                std::array::from_fn(|i| group_tops.get(i).map_or(f32::NEG_INFINITY, TopK::worst));
            let mut push = |slot: usize, dots: [f32; 4]| {
                let norm = mirror.norm(slot);
                let distances: [f32; 4] =
                    std::array::from_fn(|i| distance(dots[i], norms[i], norm));
                // One branch for the common case: no query of the group wants this vector.
                let wanted = distances
                    .iter()
                    .zip(&worst)
                    .fold(false, |any, (d, w)| any | (d <= w));
                if !wanted {
                    return;
                }
                for (i, top) in group_tops.iter_mut().enumerate() {
                    top.push(Candidate {
                        distance: distances[i],
                        source: source.index,
                        id: mirror.id(slot),
                    });
                    worst[i] = top.worst();
                }
            };
            for pair in tile.chunks(2) {
                match *pair {
                    [first, second] => {
                        let [a, b] = dot4x2_stored(
                            four,
                            mirror.vector(first),
                            mirror.vector(second),
                            mirror.element,
                        );
                        push(first, a);
                        push(second, b);
                    }
                    [only] => push(only, dot4_stored(four, mirror.vector(only), mirror.element)),
                    _ => {}
                }
            }
        }
    });
    tops
}
