//! Exact search: a parallel scan of one or more collection mirrors.
//!
//! A mirror is made of blocks of sixteen vectors stored component-major (see [`mirror`]
//! (super::mirror)). The blocks of every collection searched are cut into chunks; rayon runs
//! the chunks on its pool (so several collections and the parts of one big collection all spread
//! over the cores), each chunk keeps a bounded heap per query, and the heaps are merged at the end.
//!
//! Within a chunk, a single query takes the blocks one after the other ([`block_dots_1`]: one
//! sequential stream through memory, which the prefetcher follows best); a batch takes them four
//! at a time, with every group of four queries against the same four blocks ([`block_dots_4x4`]),
//! so a batch reads each stored vector from memory once and each load and each broadcast query
//! component feed four FMAs of sixteen lanes. The kernels give
//! dot products only: every metric is derived from the dot product and the stored norms
//! (`1 - q.v / (|q| |v|)`, `-q.v`, `|q|^2 + |v|^2 - 2 q.v`), and a candidate is looked at
//! further only if it beats the worst of its query's current top k. For L2 that expansion
//! cancels when the norms are large next to the distance (pixel data: a relative error near
//! 1e-4), so an L2 search keeps twice k candidates and re-ranks them with exact distances.

use crate::vector::distance::{BLOCK_LANES, block_dots_1, block_dots_4x4};
use crate::vector::fields::resolved::Resolution;
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
pub(crate) struct Allow {
    /// A flag per slot; `None` allows every slot.
    mask: Option<Vec<bool>>,
    /// The blocks holding allowed slots, when few are allowed (only they are visited); `None`
    /// visits every block.
    blocks: Option<Vec<usize>>,
}

impl Allow {
    /// Every slot.
    pub fn all() -> Allow {
        Allow {
            mask: None,
            blocks: None,
        }
    }

    /// The slots of `mirror` holding what `resolution` admits.
    pub fn for_resolution(resolution: &Resolution, mirror: &Mirror) -> Allow {
        match resolution {
            Resolution::Allow(ids) => {
                let slots = ids.iter().filter_map(|id| mirror.slot_of(*id)).collect();
                Allow::from_slots(slots, mirror.len())
            }
            Resolution::Deny(ids) => {
                let slots: Vec<usize> = ids.iter().filter_map(|id| mirror.slot_of(*id)).collect();
                Allow::except_slots(&slots, mirror.len())
            }
        }
    }

    /// Every slot but `slots`, out of `len`.
    pub fn except_slots(slots: &[usize], len: usize) -> Allow {
        let mut mask = vec![true; len];
        for &slot in slots {
            if let Some(flag) = mask.get_mut(slot) {
                *flag = false;
            }
        }
        Allow {
            mask: Some(mask),
            blocks: None,
        }
    }

    /// Only `slots`, out of `len`.
    pub fn from_slots(slots: Vec<usize>, len: usize) -> Allow {
        let mut mask = vec![false; len];
        for &slot in &slots {
            if let Some(flag) = mask.get_mut(slot) {
                *flag = true;
            }
        }
        let blocks = (slots.len() * 8 < len).then(|| {
            let mut blocks: Vec<usize> = slots.iter().map(|s| s / BLOCK_LANES).collect();
            blocks.sort_unstable();
            blocks.dedup();
            blocks
        });
        Allow {
            mask: Some(mask),
            blocks,
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

impl Source<'_> {
    /// How many blocks a scan visits.
    fn block_count(&self) -> usize {
        match &self.allow.blocks {
            Some(blocks) => blocks.len(),
            None => self.mirror.blocks(),
        }
    }

    /// The block at position `i` of the visit order.
    #[inline]
    fn block_at(&self, i: usize) -> usize {
        match &self.allow.blocks {
            Some(blocks) => blocks[i],
            None => i,
        }
    }
}

/// A unit of work: a range of block positions of one source.
struct Task {
    source: usize,
    range: Range<usize>,
}

fn tasks(sources: &[Source<'_>]) -> Vec<Task> {
    let total: usize = sources.iter().map(Source::block_count).sum();
    let threads = rayon::current_num_threads().max(1);
    // At least 128 blocks (2,048 vectors) per task, and about four tasks per thread.
    let chunk = (total / (threads * 4)).max(128);
    let mut out = Vec::new();
    for (source, s) in sources.iter().enumerate() {
        let n = s.block_count();
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

/// The `k` nearest stored vectors to `query` over all sources, closest first.
pub(crate) fn search(sources: &[Source<'_>], query: &Prepared<'_>, k: usize) -> Vec<Candidate> {
    search_batch(sources, std::slice::from_ref(query), k)
        .pop()
        .unwrap_or_default()
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
    // L2 from the dot product loses precision when the norms are large next to the distance
    // (|q|^2 + |v|^2 - 2 q.v cancels): scan for more candidates, then re-rank them exactly.
    let any_l2 = sources.iter().any(|s| s.metric == Metric::L2);
    let k_scan = if any_l2 {
        k.saturating_mul(2).max(k.saturating_add(16))
    } else {
        k
    };
    let fresh = || vec![TopK::new(k_scan); queries.len()];
    let candidates: Vec<Vec<Candidate>> = tasks(sources)
        .into_par_iter()
        .map(|task| {
            let source = &sources[task.source];
            // One copy of the loop per metric, so the distance is computed without a branch.
            match source.metric {
                Metric::Cosine => scan_task(source, task.range, queries, k_scan, |dot, q, v| {
                    Metric::Cosine.distance_from_dot(dot, q, v)
                }),
                Metric::Dot => scan_task(source, task.range, queries, k_scan, |dot, q, v| {
                    Metric::Dot.distance_from_dot(dot, q, v)
                }),
                Metric::L2 => scan_task(source, task.range, queries, k_scan, |dot, q, v| {
                    Metric::L2.distance_from_dot(dot, q, v)
                }),
            }
        })
        .reduce(fresh, |a, b| {
            a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect()
        })
        .into_iter()
        .map(TopK::into_sorted)
        .collect();
    if !any_l2 {
        return candidates;
    }
    candidates
        .into_iter()
        .zip(queries)
        .map(|(list, query)| rerank_l2(sources, query, list, k))
        .collect()
}

/// Replaces the L2 distances of `list` by exact ones (accumulated in f64 from the stored
/// values) and keeps the `k` nearest.
fn rerank_l2(
    sources: &[Source<'_>],
    query: &Prepared<'_>,
    list: Vec<Candidate>,
    k: usize,
) -> Vec<Candidate> {
    let mut top = TopK::new(k);
    for mut candidate in list {
        let source = &sources[candidate.source as usize];
        if source.metric == Metric::L2
            && let Some(slot) = source.mirror.slot_of(candidate.id)
        {
            candidate.distance = source.mirror.l2_squared_exact(slot, query.vector);
        }
        top.push(candidate);
    }
    top.into_sorted()
}

/// Offers the sixteen lanes of `block` (with their dot products against `query`) to `top`.
#[inline(always)]
fn offer_block(
    source: &Source<'_>,
    block: usize,
    dots: &[f32; 16],
    query: &Prepared<'_>,
    top: &mut TopK,
    distance: impl Fn(f32, Norm, Norm) -> f32,
) {
    let mirror = source.mirror;
    let first = block * BLOCK_LANES;
    let valid = mirror.len().saturating_sub(first).min(BLOCK_LANES);
    let mut distances = [f32::INFINITY; 16];
    for (lane, d) in distances.iter_mut().enumerate().take(valid) {
        *d = distance(dots[lane], query.norm, mirror.norm(first + lane));
    }
    // One comparison per lane and one branch per block for the common case: nothing wanted.
    let worst = top.worst();
    if !distances.iter().fold(false, |any, d| any | (*d <= worst)) {
        return;
    }
    for (lane, d) in distances.iter().enumerate().take(valid) {
        let slot = first + lane;
        if source.allow.mask.as_ref().is_some_and(|mask| !mask[slot]) {
            continue;
        }
        top.push(Candidate {
            distance: *d,
            source: source.index,
            id: mirror.id(slot),
        });
    }
}

/// One task: the blocks at positions `range` of `source` against every query.
#[inline(always)]
fn scan_task(
    source: &Source<'_>,
    range: Range<usize>,
    queries: &[Prepared<'_>],
    k: usize,
    distance: impl Fn(f32, Norm, Norm) -> f32 + Copy,
) -> Vec<TopK> {
    let mirror = source.mirror;
    let element = mirror.element;
    let mut tops = vec![TopK::new(k); queries.len()];
    if let [query] = queries {
        for position in range {
            let block = source.block_at(position);
            let dots = block_dots_1(query.vector, mirror.block(block), element);
            offer_block(source, block, &dots, query, &mut tops[0], distance);
        }
        return tops;
    }
    for start in range.clone().step_by(4) {
        // A short last group repeats its first block; the extra results are dropped.
        let count = (range.end - start).min(4);
        let pick = |i: usize| source.block_at(start + if i < count { i } else { 0 });
        let blocks = [pick(0), pick(1), pick(2), pick(3)];
        let bytes = blocks.map(|b| mirror.block(b));
        for (query_group, group_tops) in queries.chunks(4).zip(tops.chunks_mut(4)) {
            let pick_query = |i: usize| query_group.get(i).unwrap_or(&query_group[0]).vector;
            let four = [pick_query(0), pick_query(1), pick_query(2), pick_query(3)];
            let dots = block_dots_4x4(four, bytes, element);
            for ((query, top), query_dots) in
                query_group.iter().zip(group_tops.iter_mut()).zip(&dots)
            {
                for (i, block) in blocks.iter().enumerate().take(count) {
                    offer_block(source, *block, &query_dots[i], query, top, distance);
                }
            }
        }
    }
    tops
}
