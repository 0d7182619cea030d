//! One index mode on one dataset: the data goes into a quiver collection in a file through the
//! public API, then every setting (plain, each filter, after churn) is timed and scored.

use crate::args::Args;
use crate::compare;
use crate::data::Dataset;
use crate::filters::FilterSpec;
use crate::measure;
use crate::output::{Built, Line, progress, reset_peak_rss, store_sizes};
use crate::truth;
use quiver::Durability;
use quiver::datasets::Matrix;
use quiver::vector::quantize::Quantization;
use quiver::vector::{AnnConfig, Collection, CollectionConfig, Filter, Metric, Store, VectorType};
use rand::SeedableRng;
use rand::seq::index::sample;
use serde_json::json;
use std::time::Instant;

type BoxError = Box<dyn std::error::Error>;

/// Writes base rows into `collection` (all of them, or only `rows`), with their label codes as
/// records, in batches of 1,000 that are not durable, then one durable commit.
pub fn ingest<V: VectorType>(
    collection: &Collection<V, u8>,
    base: &Matrix<f32>,
    labels: Option<&[u8]>,
) -> quiver::Result<()> {
    let rows: Vec<u32> = (0..base.rows() as u32).collect();
    ingest_rows(collection, base, labels, &rows)
}

fn ingest_rows<V: VectorType>(
    collection: &Collection<V, u8>,
    base: &Matrix<f32>,
    labels: Option<&[u8]>,
    rows: &[u32],
) -> quiver::Result<()> {
    let bar = progress(rows.len(), "ingest");
    for chunk in rows.chunks(1000) {
        let mut batch = collection.batch();
        for row in chunk {
            let row = *row as usize;
            let label = labels.map_or(0, |l| l[row]);
            batch.upsert(row as u64, base.row(row), &label)?;
        }
        collection.commit(batch, Durability::None)?;
        bar.inc(chunk.len() as u64);
    }
    collection.commit(collection.batch(), Durability::Immediate)?;
    bar.finish_and_clear();
    Ok(())
}

/// Deletes `rows` in batches of 1,000 (not durable), then one durable commit.
fn delete_rows<V: VectorType>(collection: &Collection<V, u8>, rows: &[u32]) -> quiver::Result<()> {
    let bar = progress(rows.len(), "delete");
    for chunk in rows.chunks(1000) {
        let mut batch = collection.batch();
        for row in chunk {
            batch.delete(u64::from(*row))?;
        }
        collection.commit(batch, Durability::None)?;
        bar.inc(chunk.len() as u64);
    }
    collection.commit(collection.batch(), Durability::Immediate)?;
    bar.finish_and_clear();
    Ok(())
}

/// What the collection searches with.
pub enum Mode {
    /// The exact scan.
    Flat,
    /// The approximate index built with these parameters, searched at each `ef`.
    Hnsw(AnnConfig, Vec<usize>),
    /// Three collections under `_global_index`, searched through its graph ([`crate::global`])
    /// at each `ef`.
    Global(Vec<usize>),
}

impl Mode {
    fn index_name(&self) -> &'static str {
        match self {
            Mode::Flat => "quiver-flat",
            Mode::Global(_) => "quiver-global-hnsw",
            Mode::Hnsw(config, _) => match config.quantization {
                Quantization::None => "quiver-hnsw",
                Quantization::Int8 => "quiver-hnsw-int8",
                Quantization::Binary => "quiver-hnsw-binary",
            },
        }
    }
}

/// Every setting the arguments ask for, one line each: the plain search (for the index, one per
/// ef), each filter, and the churn run.
pub fn run<V: VectorType>(
    args: &Args,
    data: &Dataset,
    metric: Metric,
    mode: &Mode,
) -> Result<Vec<Line>, BoxError> {
    if data.base.dim() != V::DIM {
        return Err(format!(
            "{} has {} components, expected {}",
            data.name,
            data.base.dim(),
            V::DIM
        )
        .into());
    }
    if let Mode::Global(efs) = mode {
        return crate::global::run::<V>(args, data, metric, efs);
    }
    // Each mode's peak memory is its own: the previous mode's collection is gone by now.
    reset_peak_rss();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ann.qvr");
    let store = Store::open(&path)?;
    let config = match mode {
        Mode::Flat | Mode::Global(_) => CollectionConfig::new(metric),
        Mode::Hnsw(ann, _) => CollectionConfig::new(metric).approximate(*ann),
    };
    let collection = store.create_collection::<V, u8>("base", config)?;
    let labels = data.labels.as_ref().map(|l| l.codes.as_slice());
    let started = Instant::now();
    ingest(&collection, &data.base, labels)?;
    store.database().checkpoint()?;
    let build_s = started.elapsed().as_secs_f64();
    let params = |extra: serde_json::Value| {
        let mut p = json!({"element": V::ELEMENT.name(), "metric": metric.name()});
        if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(extra.clone());
        }
        p
    };
    let built = Built {
        dataset: &data.name,
        index: mode.index_name(),
        k: args.k,
        build_s,
        n: data.base.rows(),
    };
    let mut lines = Vec::new();

    let queries: Vec<&[f32]> = data.queries.iter().collect();
    let settings: Vec<(Option<usize>, serde_json::Value)> = match mode {
        Mode::Flat | Mode::Global(_) => vec![(None, json!({}))],
        Mode::Hnsw(ann, efs) => efs
            .iter()
            .map(|ef| {
                let p =
                    json!({"M": ann.m, "ef_construction": ann.ef_construction, "ef_search": ef});
                (Some(*ef), p)
            })
            .collect(),
    };
    if let Some(stats) = collection.index_stats() {
        eprintln!(
            "index: {} nodes, {:.1} MB in memory",
            stats.nodes,
            stats.memory_bytes as f64 / 1e6
        );
    }
    // (ef, recall, queries/s one thread) of each unfiltered setting, for the filtered lines.
    let mut unfiltered: Vec<(Option<usize>, f64, f64)> = Vec::new();
    for (ef, extra) in settings {
        let (speed, results) = match ef {
            None => measure::search(&collection, &queries, args.k, &Filter::all(), args.passes)?,
            Some(ef) => measure::search_each(&queries, args.passes, |query| {
                collection.search_approximate(query, args.k, ef)
            })?,
        };
        let recall = measure::recall(
            data.distance,
            &data.base,
            &data.queries,
            &results,
            &data.truth,
            args.k,
        );
        eprintln!(
            "{} {}: recall {:.4}, {:.0} queries/s",
            mode.index_name(),
            extra,
            recall.0,
            speed.qps_1t
        );
        unfiltered.push((ef, recall.0, speed.qps_1t));
        lines.push(built.line(params(extra), recall, speed, &path, queries.len()));
    }
    // A filtered search walks at the index's default ef.
    let default_ef = match mode {
        Mode::Hnsw(ann, _) => Some(ann.ef_search),
        Mode::Flat | Mode::Global(_) => None,
    };

    if let Some(list) = &args.filter {
        let subset = data.with_first_queries(args.filter_queries);
        let filter_queries = &subset.queries;
        let query_refs: Vec<&[f32]> = filter_queries.iter().collect();
        for spec in FilterSpec::parse_list(list, data)? {
            let allowed = spec.allowed(data, args.seed);
            let ids: Vec<u64> = allowed.iter().map(|r| u64::from(*r)).collect();
            let truth = truth::filtered(&subset, &allowed, args.k);
            let filter = spec.quiver_filter(&ids);
            eprintln!(
                "filter {}: {} of {} rows",
                spec.name(),
                allowed.len(),
                data.base.rows()
            );
            let (speed, results) =
                measure::search(&collection, &query_refs, args.k, &filter, args.passes)?;
            let recall = measure::recall(
                data.distance,
                &data.base,
                filter_queries,
                &results,
                &truth,
                args.k,
            );
            // At the same ef, the unfiltered walk is timed again over these queries, its passes
            // alternating with the filtered search's (see measure::paired_ratio); at the same
            // recall, the filtered speed is set against the unfiltered sweep above.
            let (_, same_recall) =
                compare::against(&unfiltered, default_ef, recall.0, speed.qps_1t);
            let same_ef = match default_ef {
                Some(ef) => Some(measure::paired_ratio(
                    &query_refs,
                    args.passes,
                    |query| collection.search_approximate(query, args.k, ef),
                    |query| collection.search_filtered(query, args.k, &filter),
                )?),
                None => None,
            };
            eprintln!(
                "filter {}: against the unfiltered queries/s, {} at the same ef (paired passes), {} at the same recall",
                spec.name(),
                compare::describe(same_ef),
                compare::describe(same_recall)
            );
            let p = params(json!({
                "filter": spec.name(),
                "allowed": allowed.len(),
                "vs_unfiltered_same_ef": compare::rounded(same_ef),
                "vs_unfiltered_same_recall": compare::rounded(same_recall),
            }));
            lines.push(built.line(p, recall, speed, &path, query_refs.len()));
        }
    }

    if let Some(fraction) = args.churn {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(format!("--churn {fraction} is not in (0, 1]").into());
        }
        let before = store_sizes(&path);
        let n = data.base.rows();
        let count = ((n as f64) * fraction).round() as usize;
        let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0xc4u64);
        let mut rows: Vec<u32> = sample(&mut rng, n, count.min(n))
            .into_iter()
            .map(|r| r as u32)
            .collect();
        rows.sort_unstable();
        let started = Instant::now();
        delete_rows(&collection, &rows)?;
        store.database().checkpoint()?;
        let after_delete = store_sizes(&path);
        ingest_rows(&collection, &data.base, labels, &rows)?;
        store.database().checkpoint()?;
        let churn_s = started.elapsed().as_secs_f64();
        let (speed, results) =
            measure::search(&collection, &queries, args.k, &Filter::all(), args.passes)?;
        let recall = measure::recall(
            data.distance,
            &data.base,
            &data.queries,
            &results,
            &data.truth,
            args.k,
        );
        let mut extra = json!({
            "churn": fraction, "churned": rows.len(), "churn_s": (churn_s * 1000.0).round() / 1000.0,
            "disk_bytes_before": before.0, "disk_bytes_after_delete": after_delete.0,
        });
        if let (Mode::Hnsw(ann, _), Some(extra)) = (mode, extra.as_object_mut()) {
            // Plain search after churn uses the index's default ef_search.
            extra.insert("churn_ef".to_owned(), json!(ann.ef_search));
        }
        let p = params(extra);
        lines.push(built.line(p, recall, speed, &path, queries.len()));
    }
    drop(collection);
    store.close()?;
    // Reopen, timed, after every line has taken its peak memory (the allocator keeps some of
    // the closed store's memory, which would count against the reopened one): the collection
    // and its index are loaded from the file, not rebuilt.
    let started = Instant::now();
    let store = Store::open(&path)?;
    let collection = store.collection::<V, u8>("base")?;
    let open_s = started.elapsed().as_secs_f64();
    eprintln!(
        "{}: reopened the store and the collection ({} items) in {open_s:.3} s",
        mode.index_name(),
        collection.len()
    );
    for line in &mut lines {
        line.open_s = Some(open_s);
    }
    drop(collection);
    store.close()?;
    Ok(lines)
}
