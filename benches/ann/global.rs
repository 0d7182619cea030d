//! `--index global`: the cross-type search. The dataset is dealt round-robin into three
//! collections (as if it held three entity types) in a store with `_global_index`, and every
//! query goes through `Store::global_search_approximate`, which walks the global index's own graph. Against
//! `--index hnsw` in the same run (both built with M 16 and ef_construction 200, the defaults),
//! searched at the same `ef` values, this shows whether a cross-type search is as fast as a
//! per-type one over the same rows. The same-`ef` ratio is timed here, in alternating passes
//! against a per-type index built in this run; the same-recall ratio is added by
//! [`crate::compare`] from the `--index hnsw` lines.

use crate::args::Args;
use crate::compare;
use crate::data::Dataset;
use crate::measure;
use crate::output::{Built, Line, progress, reset_peak_rss};
use quiver::Durability;
use quiver::vector::{AnnConfig, CollectionConfig, Metric, Store, VectorType};
use serde_json::json;
use std::time::Instant;

type BoxError = Box<dyn std::error::Error>;

/// Collections the rows are dealt into.
const PARTS: usize = 3;

pub fn run<V: VectorType>(
    args: &Args,
    data: &Dataset,
    metric: Metric,
    efs: &[usize],
) -> Result<Vec<Line>, BoxError> {
    reset_peak_rss();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("global.qvr");
    let store = Store::builder().global_index::<V>(metric).open(&path)?;
    let parts = (0..PARTS)
        .map(|p| {
            store.create_collection::<V, ()>(&format!("part{p}"), CollectionConfig::new(metric))
        })
        .collect::<quiver::Result<Vec<_>>>()?;
    let started = Instant::now();
    let rows = data.base.rows();
    let bar = progress(rows, "ingest");
    for chunk_start in (0..rows).step_by(1000 * PARTS) {
        for (p, part) in parts.iter().enumerate() {
            let mut batch = part.batch();
            for row in (chunk_start + p..(chunk_start + 1000 * PARTS).min(rows)).step_by(PARTS) {
                batch.upsert(row as u64, data.base.row(row), &())?;
            }
            part.commit(batch, Durability::None)?;
        }
        bar.inc((1000 * PARTS).min(rows - chunk_start) as u64);
    }
    for part in &parts {
        part.commit(part.batch(), Durability::Immediate)?;
    }
    store.sync_global_index()?;
    store.database().checkpoint()?;
    bar.finish_and_clear();
    let build_s = started.elapsed().as_secs_f64();
    let stats = store.global_graph_stats()?;
    eprintln!(
        "global graph: {} nodes, {:.1} MB in memory",
        stats.nodes,
        stats.memory_bytes as f64 / 1e6
    );
    let queries: Vec<&[f32]> = data.queries.iter().collect();
    let config = AnnConfig::default();
    let built = Built {
        dataset: &data.name,
        index: "quiver-global-hnsw",
        k: args.k,
        build_s,
        n: rows,
    };
    let mut lines = Vec::new();
    for &ef in efs {
        let (speed, results) = measure::search_each(&queries, args.passes, |query| {
            store.global_search_approximate(query, args.k, ef)
        })?;
        let recall = measure::recall(
            data.distance,
            &data.base,
            &data.queries,
            &results,
            &data.truth,
            args.k,
        );
        eprintln!(
            "quiver-global-hnsw ({PARTS} collections, ef {ef}): recall {:.4}, {:.0} queries/s",
            recall.0, speed.qps_1t
        );
        let params = json!({
            "collections": PARTS, "M": config.m, "ef_construction": config.ef_construction,
            "ef_search": ef,
        });
        lines.push(built.line(params, recall, speed, &path, queries.len()));
    }
    pair_with_per_type::<V>(args, data, metric, &dir, &store, efs, &mut lines)?;
    Ok(lines)
}

/// Adds to each line `vs_per_type_same_ef`: the cross-type search's one-thread queries/s as a
/// multiple of a per-type index's over the same rows at the same `ef`, their passes alternating
/// (see [`measure::paired_ratio`]). The per-type index is one collection with its own index
/// (the same defaults), in a store of its own, built after the lines took their peak memory.
fn pair_with_per_type<V: VectorType>(
    args: &Args,
    data: &Dataset,
    metric: Metric,
    dir: &tempfile::TempDir,
    store: &Store,
    efs: &[usize],
    lines: &mut [Line],
) -> Result<(), BoxError> {
    let per_type_store = Store::open(dir.path().join("per-type.qvr"))?;
    let per_type = per_type_store.create_collection::<V, u8>(
        "all",
        CollectionConfig::new(metric).approximate(AnnConfig::default()),
    )?;
    crate::run::ingest(&per_type, &data.base, None)?;
    let queries: Vec<&[f32]> = data.queries.iter().collect();
    for (line, &ef) in lines.iter_mut().zip(efs) {
        let ratio = measure::paired_ratio(
            &queries,
            args.passes,
            |query| per_type.search_approximate(query, args.k, ef),
            |query| store.global_search_approximate(query, args.k, ef),
        )?;
        eprintln!("global ef {ef}: {ratio:.2}x the per-type index's queries/s (paired passes)");
        if let Some(params) = line.params.as_object_mut() {
            params.insert(
                "vs_per_type_same_ef".into(),
                compare::rounded(Some(ratio)).into(),
            );
        }
    }
    Ok(())
}
