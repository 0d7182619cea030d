//! Timing a setting (one thread one query at a time, best of several passes; all cores in
//! batches of 64) and scoring its answers (ann-benchmarks recall and id overlap).

use crate::data::Distance;
use crate::output::{Speed, progress};
use crate::truth::Truth;
use quiver::datasets::Matrix;
use quiver::datasets::recall::{EPSILON, recall_by_distance, recall_by_ids};
use quiver::vector::{Collection, Filter, Hit, VectorType};
use rayon::prelude::*;
use std::time::Instant;

/// A setting's speed and, per query, the answers of its best single-thread pass.
pub type Timed = (Speed, Vec<Vec<Hit>>);

/// A pass slower than this is not repeated (the peers' script applies the same rule).
const LONG_PASS_S: f64 = 60.0;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

/// Runs `queries` through `collection`'s search under `filter` (see [`search_with`]).
pub fn search<V: VectorType>(
    collection: &Collection<V, u8>,
    queries: &[&[f32]],
    k: usize,
    filter: &Filter<'_, u8>,
    passes: usize,
) -> Result<Timed, Box<dyn std::error::Error>> {
    search_with(
        queries,
        passes,
        |query| collection.search_filtered(query, k, filter),
        |chunk| collection.search_batch(chunk, k, filter),
    )
}

/// Times a search that answers one query at a time: [`search_with`] with `one` for the batched
/// passes too, each batch's queries spread over rayon's threads.
pub fn search_each(
    queries: &[&[f32]],
    passes: usize,
    one: impl Fn(&[f32]) -> quiver::Result<Vec<Hit>> + Sync,
) -> Result<Timed, Box<dyn std::error::Error>> {
    search_with(queries, passes, &one, |chunk| {
        chunk.par_iter().map(|query| one(query)).collect()
    })
}

/// One timed pass: its seconds, each query's latency in microseconds, and the answers.
type Pass = (f64, Vec<f64>, Vec<Vec<Hit>>);

/// Runs every query through `one` on `pool` (one thread), one at a time.
fn time_pass(
    pool: &rayon::ThreadPool,
    queries: &[&[f32]],
    label: &str,
    one: &(impl Fn(&[f32]) -> quiver::Result<Vec<Hit>> + Sync),
) -> quiver::Result<Pass> {
    let bar = progress(queries.len(), label);
    let pass = pool.install(|| -> quiver::Result<Pass> {
        let mut latencies = Vec::with_capacity(queries.len());
        let mut results = Vec::with_capacity(queries.len());
        let started = Instant::now();
        for query in queries {
            let t = Instant::now();
            results.push(one(query)?);
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
            bar.inc(1);
        }
        Ok((started.elapsed().as_secs_f64(), latencies, results))
    })?;
    bar.finish_and_clear();
    Ok(pass)
}

/// `candidate`'s one-thread queries/s as a multiple of `baseline`'s over the same queries, their
/// passes alternating (baseline, candidate, baseline, ...) and the best pass of each counting.
/// This machine's speed drifts (2-10x over minutes), so two settings timed minutes apart carry
/// the drift in their ratio; passes side by side see about the same machine.
pub fn paired_ratio(
    queries: &[&[f32]],
    passes: usize,
    baseline: impl Fn(&[f32]) -> quiver::Result<Vec<Hit>> + Sync,
    candidate: impl Fn(&[f32]) -> quiver::Result<Vec<Hit>> + Sync,
) -> Result<f64, Box<dyn std::error::Error>> {
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (mut base_s, mut candidate_s) = (f64::INFINITY, f64::INFINITY);
    for pass in 0..passes.max(1) {
        let label = format!("paired {}", pass + 1);
        base_s = base_s.min(time_pass(&one_thread, queries, &label, &baseline)?.0);
        candidate_s = candidate_s.min(time_pass(&one_thread, queries, &label, &candidate)?.0);
    }
    Ok(base_s / candidate_s)
}

/// Times a search: `passes` timed passes of `one` on one thread, one query at a time (the best
/// pass counts, and its answers are returned; a pass over a minute is not repeated), then three
/// passes of `batch` over batches of 64 on all cores (the best counts).
pub fn search_with(
    queries: &[&[f32]],
    passes: usize,
    one: impl Fn(&[f32]) -> quiver::Result<Vec<Hit>> + Sync,
    batch: impl Fn(&[&[f32]]) -> quiver::Result<Vec<Vec<Hit>>>,
) -> Result<Timed, Box<dyn std::error::Error>> {
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut best: Option<Pass> = None;
    for pass in 0..passes.max(1) {
        let timed = time_pass(&one_thread, queries, &format!("search {}", pass + 1), &one)?;
        let seconds = timed.0;
        if best.as_ref().is_none_or(|b| seconds < b.0) {
            best = Some(timed);
        }
        if seconds > LONG_PASS_S {
            break;
        }
    }
    let (seconds_1t, mut latencies, results) = best.ok_or("no search pass ran")?;
    latencies.sort_by(f64::total_cmp);
    let mut seconds_batch = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        for chunk in queries.chunks(64) {
            std::hint::black_box(batch(chunk)?);
        }
        seconds_batch = seconds_batch.min(started.elapsed().as_secs_f64());
    }
    let n = queries.len() as f64;
    let speed = Speed {
        qps_1t: n / seconds_1t,
        qps_batch: n / seconds_batch,
        p50_us: percentile(&latencies, 0.5),
        p95_us: percentile(&latencies, 0.95),
        p99_us: percentile(&latencies, 0.99),
    };
    Ok((speed, results))
}

/// Mean recall@k of `results` (one list per query, in query order) against `truth`: ann-benchmarks'
/// (true distances of the returned ids, recomputed in f64 from the base, within the k-th true
/// distance + 1e-3) and by id overlap.
pub fn recall(
    distance: Distance,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    results: &[Vec<Hit>],
    truth: &Truth,
    k: usize,
) -> (f64, f64) {
    let (mut by_distance, mut by_ids) = (0.0, 0.0);
    for (q, hits) in results.iter().enumerate() {
        let query = queries.row(q);
        // A filter may allow fewer than k rows: then every one of them is the whole answer.
        let k = truth.ids.row(q).iter().take(k).filter(|i| **i >= 0).count();
        let returned: Vec<f32> = hits
            .iter()
            .map(
                |h| match usize::try_from(h.id).ok().filter(|r| *r < base.rows()) {
                    Some(row) => distance.exact(query, base.row(row)) as f32,
                    None => f32::INFINITY,
                },
            )
            .collect();
        by_distance += recall_by_distance(&returned, truth.distances.row(q), k, EPSILON);
        let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        let true_ids: Vec<u64> = truth
            .ids
            .row(q)
            .iter()
            .filter(|i| **i >= 0)
            .map(|i| *i as u64)
            .collect();
        by_ids += recall_by_ids(&ids, &true_ids, k);
    }
    let n = results.len().max(1) as f64;
    (by_distance / n, by_ids / n)
}
