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

use crate::vector::distance::dot4_stored;
use crate::vector::metric::Metric;
use crate::vector::mirror::Mirror;
use crate::vector::topk::{Candidate, TopK};
use rayon::prelude::*;
use std::ops::Range;

/// A query with its norms computed once.
pub(crate) struct Prepared<'q> {
    pub vector: &'q [f32],
    pub norm: f32,
    pub norm_sq: f32,
}

impl<'q> Prepared<'q> {
    pub fn new(vector: &'q [f32]) -> Prepared<'q> {
        let norm_sq: f32 = vector.iter().map(|x| x * x).sum();
        Prepared {
            vector,
            norm: norm_sq.sqrt(),
            norm_sq,
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
                    mirror.norm_squared(slot),
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

/// The `k` nearest for each query of a batch, in one pass over the data.
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
            let mirror = source.mirror;
            let mut tops = fresh();
            for_each_slot(source, task.range, |slot| {
                let stored = mirror.vector(slot);
                let stored_norm_sq = mirror.norm_squared(slot);
                let id = mirror.id(slot);
                for (group, group_tops) in queries.chunks(4).zip(tops.chunks_mut(4)) {
                    // A short last group repeats its first query; the extra results are dropped.
                    let pick = |i: usize| group.get(i).unwrap_or(&group[0]).vector;
                    let dots =
                        dot4_stored([pick(0), pick(1), pick(2), pick(3)], stored, mirror.element);
                    for ((query, top), dot) in group.iter().zip(group_tops.iter_mut()).zip(dots) {
                        let distance = source.metric.distance_from_dot(
                            dot,
                            query.norm,
                            query.norm_sq,
                            stored_norm_sq,
                        );
                        top.push(Candidate {
                            distance,
                            source: source.index,
                            id,
                        });
                    }
                }
            });
            tops
        })
        .reduce(fresh, |a, b| {
            a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect()
        })
        .into_iter()
        .map(TopK::into_sorted)
        .collect()
}
