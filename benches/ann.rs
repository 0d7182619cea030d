//! Recall and speed of quiver's search on real ANN datasets, reported the ann-benchmarks way.
//!
//! `cargo bench --bench ann -- --dataset wordnet-minilm|fashion-mnist [--index flat] [--k 10] [--json FILE]`
//! ingests the dataset into a quiver collection in a file (through the public API), runs every
//! query one at a time on one thread (best of three passes) and in batches on all cores, and
//! reports, per index setting, one JSON object:
//! `{"dataset","index","params","k","recall","recall_ids","qps_1t","qps_batch","p50_us","p95_us",
//! "p99_us","build_s","disk_bytes","log_bytes","rss_bytes","n","queries"}` (`disk_bytes` is the store
//! file after a checkpoint; `log_bytes` the fixed-size log beside it).
//!
//! Recall is ann-benchmarks' (a returned id counts if its true distance is within the k-th true
//! distance + 1e-3; true distances are recomputed in f64 from the stored values) and also by id
//! overlap. `--quick` uses the first 5,000 base vectors and 200 queries, with exact ground truth
//! computed here by an independent f64 brute force (CI runs it). Index modes today: `flat`, the
//! exact scan.
//!
//! Datasets: `wordnet-minilm` (384-d f16, `1 - dot` on normalised vectors; files and ground truth
//! in `../shared/datasets/wordnet-minilm`) and `fashion-mnist` (784-d bytes, squared L2; the
//! gzipped IDX files of Debian's `dataset-fashion-mnist` in `/usr/share/datasets/fashion-mnist`;
//! its top-100 ground truth is computed with quiver's exact search, checked against an f64 brute
//! force on 100 queries, and cached under `target/ann-cache/`).

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use quiver::Durability;
use quiver::datasets::Matrix;
use quiver::datasets::recall::{EPSILON, recall_by_distance, recall_by_ids};
use quiver::datasets::{idx, npy};
use quiver::vector::{Collection, CollectionConfig, F16, F32, Filter, Metric, Store, VectorType};
use rayon::prelude::*;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Command line of the harness.
#[derive(Parser, Debug)]
#[command(about = "Recall and speed of quiver on ANN datasets (ann-benchmarks method)")]
struct Args {
    /// Dataset: wordnet-minilm or fashion-mnist.
    #[arg(long, default_value = "wordnet-minilm")]
    dataset: String,
    /// Directory holding the dataset's files (default: ../shared/datasets/wordnet-minilm beside the
    /// project, or /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Index mode: flat (exact scan).
    #[arg(long, default_value = "flat")]
    index: String,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Append the JSON lines to this file (they are printed either way).
    #[arg(long)]
    json: Option<PathBuf>,
    /// A few-second run: 5,000 base vectors, 200 queries, ground truth computed here.
    #[arg(long)]
    quick: bool,
    /// Use only the first N base vectors (ground truth is then computed here).
    #[arg(long)]
    base_limit: Option<usize>,
    /// Use only the first N queries.
    #[arg(long)]
    queries: Option<usize>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// How a dataset measures distance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Distance {
    /// `1 - q.v` (cosine on L2-normalised vectors).
    OneMinusDot,
    /// `|q - v|^2`.
    L2Squared,
}

/// A dataset in memory: base and query vectors (the exact values stored), exact neighbours, and
/// the dataset's distance.
struct Dataset {
    base: Matrix<f32>,
    queries: Matrix<f32>,
    truth_ids: Matrix<i32>,
    truth_distances: Matrix<f32>,
    distance: Distance,
}

fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

fn read_npy_f32(path: &Path) -> Result<Matrix<f32>, String> {
    Ok(npy::read(path).map_err(|e| e.to_string())?.into_f32())
}

/// The dataset's distance in f64, from the stored values.
fn true_distance(kind: Distance, query: &[f32], vector: &[f32]) -> f64 {
    let pairs = query
        .iter()
        .zip(vector)
        .map(|(a, b)| (f64::from(*a), f64::from(*b)));
    match kind {
        Distance::OneMinusDot => 1.0 - pairs.map(|(a, b)| a * b).sum::<f64>(),
        Distance::L2Squared => pairs.map(|(a, b)| (a - b) * (a - b)).sum(),
    }
}

/// Exact top `k` by brute force in f64, independent of quiver's kernels.
fn brute_force(
    kind: Distance,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    k: usize,
) -> (Matrix<i32>, Matrix<f32>) {
    // A base smaller than k gives every query all of it.
    let k = k.min(base.rows());
    let bar = progress(queries.rows(), "truth");
    let rows: Vec<Vec<(i32, f32)>> = (0..queries.rows())
        .into_par_iter()
        .map(|q| {
            let query = queries.row(q);
            let mut all: Vec<(f64, i32)> = base
                .iter()
                .enumerate()
                .map(|(i, v)| (true_distance(kind, query, v), i as i32))
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            bar.inc(1);
            all.into_iter()
                .take(k)
                .map(|(d, i)| (i, d as f32))
                .collect()
        })
        .collect();
    bar.finish_and_clear();
    let ids = rows.iter().flat_map(|r| r.iter().map(|x| x.0)).collect();
    let distances = rows.iter().flat_map(|r| r.iter().map(|x| x.1)).collect();
    (
        Matrix::new(k, ids).expect("k ids per query"),
        Matrix::new(k, distances).expect("k distances per query"),
    )
}

/// The base and query limits a run uses.
fn limits(args: &Args) -> (Option<usize>, Option<usize>) {
    if args.quick {
        (
            Some(args.base_limit.unwrap_or(5_000)),
            Some(args.queries.unwrap_or(200)),
        )
    } else {
        (args.base_limit, args.queries)
    }
}

const TRUTH_K: usize = 100;

type Truth = (Matrix<i32>, Matrix<f32>);

/// Applies the run's limits to a dataset's base and queries and attaches its ground truth: the
/// shipped one (`full_truth`) for the whole base, an f64 brute force for a truncated one.
fn assemble(
    args: &Args,
    mut base: Matrix<f32>,
    mut queries: Matrix<f32>,
    distance: Distance,
    full_truth: impl FnOnce(&Matrix<f32>, &Matrix<f32>) -> Result<Truth, Box<dyn std::error::Error>>,
) -> Result<Dataset, Box<dyn std::error::Error>> {
    let (base_limit, query_limit) = limits(args);
    if let Some(limit) = query_limit {
        queries = queries.truncated(limit);
    }
    let (truth_ids, truth_distances) = match base_limit {
        Some(limit) if limit < base.rows() => {
            base = base.truncated(limit);
            brute_force(distance, &base, &queries, TRUTH_K)
        }
        _ => full_truth(&base, &queries)?,
    };
    Ok(Dataset {
        base,
        queries,
        truth_ids,
        truth_distances,
        distance,
    })
}

fn load_wordnet(args: &Args) -> Result<Dataset, Box<dyn std::error::Error>> {
    let dir = args.data_dir.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/wordnet-minilm")
    });
    let base = read_npy_f32(&dir.join("base_f16.npy"))?;
    let queries = read_npy_f32(&dir.join("query_f16.npy"))?;
    assemble(args, base, queries, Distance::OneMinusDot, |_, queries| {
        let ids = npy::read(dir.join("gt_ids.npy"))?
            .into_i32()
            .ok_or("gt_ids.npy does not hold integers")?
            .truncated(queries.rows());
        let distances = read_npy_f32(&dir.join("gt_cosdist.npy"))?.truncated(queries.rows());
        Ok((ids, distances))
    })
}

fn read_idx_gz(path: &Path) -> Result<Matrix<f32>, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(path).map_err(|e| {
        format!(
            "{}: {e}; install Debian's dataset-fashion-mnist (see datasets/README.md)",
            path.display()
        )
    })?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut bytes)?;
    Ok(idx::parse_u8(&bytes, path)?.map(|x| f32::from(*x)))
}

/// Top-100 ground truth of the full fashion-mnist by quiver's exact search, checked against the
/// f64 brute force on 100 queries, cached as two `.npy` files.
fn fashion_truth(
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
) -> Result<(Matrix<i32>, Matrix<f32>), Box<dyn std::error::Error>> {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ann-cache");
    let tag = format!(
        "fashion-mnist-{}x{}-top{TRUTH_K}",
        base.rows(),
        queries.rows()
    );
    let (ids_path, distances_path) = (
        cache.join(format!("{tag}-ids.npy")),
        cache.join(format!("{tag}-l2.npy")),
    );
    if let (Ok(ids), Ok(distances)) = (npy::read(&ids_path), npy::read(&distances_path)) {
        let ids = ids.into_f32().map(|x| *x as i32);
        return Ok((ids, distances.into_f32()));
    }
    eprintln!(
        "computing the fashion-mnist ground truth with quiver's exact search (cached in {})",
        cache.display()
    );
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("truth.qvr"))?;
    let collection =
        store.create_collection::<F32<784>, ()>("truth", CollectionConfig::new(Metric::L2))?;
    ingest(&collection, base)?;
    let refs: Vec<&[f32]> = queries.iter().collect();
    let bar = progress(refs.len(), "truth");
    let mut ids = Vec::with_capacity(refs.len() * TRUTH_K);
    let mut distances = Vec::with_capacity(refs.len() * TRUTH_K);
    for chunk in refs.chunks(64) {
        for hits in collection.search_batch(chunk, TRUTH_K, &Filter::all())? {
            ids.extend(hits.iter().map(|h| h.id as i32));
            distances.extend(hits.iter().map(|h| h.distance));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let ids = Matrix::new(TRUTH_K, ids).ok_or("a query returned fewer than 100 neighbours")?;
    let distances =
        Matrix::new(TRUTH_K, distances).ok_or("a query returned fewer than 100 neighbours")?;
    // The second, independent computation: f64 brute force on the first 100 queries.
    let sample = queries.clone().truncated(100);
    let (check_ids, check_distances) = brute_force(Distance::L2Squared, base, &sample, TRUTH_K);
    for q in 0..sample.rows() {
        for rank in 0..TRUTH_K {
            let (ours, theirs) = (distances.row(q)[rank], check_distances.row(q)[rank]);
            if (ours - theirs).abs() > 1e-4 * theirs.max(1.0) {
                return Err(format!(
                    "ground truth check failed: query {q} rank {rank}: {ours} (quiver) vs {theirs} (f64), ids {} vs {}",
                    ids.row(q)[rank],
                    check_ids.row(q)[rank]
                )
                .into());
            }
        }
    }
    std::fs::create_dir_all(&cache)?;
    std::fs::write(
        &ids_path,
        npy::to_bytes_f32(ids.map(|i| *i as f32).as_slice(), TRUTH_K),
    )?;
    std::fs::write(
        &distances_path,
        npy::to_bytes_f32(distances.as_slice(), TRUTH_K),
    )?;
    drop(collection);
    store.close()?;
    Ok((ids, distances))
}

fn load_fashion(args: &Args) -> Result<Dataset, Box<dyn std::error::Error>> {
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"));
    let base = read_idx_gz(&dir.join("train-images-idx3-ubyte.gz"))?;
    let queries = read_idx_gz(&dir.join("t10k-images-idx3-ubyte.gz"))?;
    assemble(args, base, queries, Distance::L2Squared, fashion_truth)
}

fn load(args: &Args) -> Result<Dataset, Box<dyn std::error::Error>> {
    match args.dataset.as_str() {
        "wordnet-minilm" => load_wordnet(args),
        "fashion-mnist" => load_fashion(args),
        other => Err(format!(
            "unknown dataset {other:?} (available: wordnet-minilm, fashion-mnist)"
        )
        .into()),
    }
}

/// Writes every base row into `collection`, in batches of 1,000 (not durable, then one durable
/// commit and a checkpoint).
fn ingest<V: VectorType>(collection: &Collection<V, ()>, base: &Matrix<f32>) -> quiver::Result<()> {
    let bar = progress(base.rows(), "ingest");
    let rows: Vec<&[f32]> = base.iter().collect();
    for (chunk_index, chunk) in rows.chunks(1000).enumerate() {
        let mut batch = collection.batch();
        for (i, row) in chunk.iter().enumerate() {
            batch.upsert((chunk_index * 1000 + i) as u64, row, &())?;
        }
        collection.commit(batch, Durability::None)?;
        bar.inc(chunk.len() as u64);
    }
    collection.commit(collection.batch(), Durability::Immediate)?;
    bar.finish_and_clear();
    Ok(())
}

/// Peak resident memory of this process (Linux), in bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn run_flat<V: VectorType>(
    args: &Args,
    data: &Dataset,
    metric: Metric,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    if data.base.dim() != V::DIM {
        return Err(format!(
            "{} has {} components, expected {}",
            args.dataset,
            data.base.dim(),
            V::DIM
        )
        .into());
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ann.qvr");
    let store = Store::open(&path)?;
    let collection = store.create_collection::<V, ()>("base", CollectionConfig::new(metric))?;
    let started = Instant::now();
    ingest(&collection, &data.base)?;
    store.database().checkpoint()?;
    let build_s = started.elapsed().as_secs_f64();
    // The store file; the log beside it is a fixed-size ring (64 MiB by default), reported apart.
    let disk_bytes = std::fs::metadata(&path)?.len();
    let log_bytes = std::fs::metadata(quiver::log_path(&path)).map_or(0, |m| m.len());

    let queries: Vec<Vec<f32>> = data.queries.iter().map(<[f32]>::to_vec).collect();
    // One thread, one query at a time: best of three passes.
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut best: Option<(f64, Vec<f64>, Vec<Vec<quiver::vector::Hit>>)> = None;
    for pass in 0..3 {
        let bar = progress(queries.len(), &format!("search {}", pass + 1));
        let (seconds, latencies, results) = one_thread.install(|| -> quiver::Result<_> {
            let mut latencies = Vec::with_capacity(queries.len());
            let mut results = Vec::with_capacity(queries.len());
            let started = Instant::now();
            for query in &queries {
                let t = Instant::now();
                results.push(collection.search(query, args.k)?);
                latencies.push(t.elapsed().as_secs_f64() * 1e6);
                bar.inc(1);
            }
            Ok((started.elapsed().as_secs_f64(), latencies, results))
        })?;
        bar.finish_and_clear();
        if best.as_ref().is_none_or(|b| seconds < b.0) {
            best = Some((seconds, latencies, results));
        }
    }
    let (seconds_1t, mut latencies, results) = best.ok_or("no search pass ran")?;
    latencies.sort_by(f64::total_cmp);
    // All cores, batches of 64 queries: best of three passes.
    let refs: Vec<&[f32]> = queries.iter().map(|q| q.as_slice()).collect();
    let mut seconds_batch = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        for chunk in refs.chunks(64) {
            std::hint::black_box(collection.search_batch(chunk, args.k, &Filter::all())?);
        }
        seconds_batch = seconds_batch.min(started.elapsed().as_secs_f64());
    }

    // Recall, ann-benchmarks' way: true distances of the returned ids, recomputed in f64.
    let mut recall = 0.0;
    let mut recall_ids = 0.0;
    for (q, hits) in results.iter().enumerate() {
        let query = data.queries.row(q);
        let returned: Vec<f32> = hits
            .iter()
            .map(|h| true_distance(data.distance, query, data.base.row(h.id as usize)) as f32)
            .collect();
        recall += recall_by_distance(&returned, data.truth_distances.row(q), args.k, EPSILON);
        let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        let truth: Vec<u64> = data.truth_ids.row(q).iter().map(|i| *i as u64).collect();
        recall_ids += recall_by_ids(&ids, &truth, args.k);
    }
    let n_queries = queries.len() as f64;
    let line = json!({
        "dataset": args.dataset, "index": "quiver-flat",
        "params": {"element": V::ELEMENT.name(), "metric": metric.name()},
        "k": args.k, "recall": recall / n_queries, "recall_ids": recall_ids / n_queries,
        "qps_1t": (n_queries / seconds_1t).round(), "qps_batch": (n_queries / seconds_batch).round(),
        "p50_us": percentile(&latencies, 0.5).round(), "p95_us": percentile(&latencies, 0.95).round(),
        "p99_us": percentile(&latencies, 0.99).round(), "build_s": (build_s * 1000.0).round() / 1000.0,
        "disk_bytes": disk_bytes, "log_bytes": log_bytes, "rss_bytes": peak_rss(), "n": data.base.rows(), "queries": queries.len(),
    });
    drop(collection);
    store.close()?;
    Ok(line)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let data = load(&args)?;
    if args.k > data.truth_ids.dim() {
        return Err(format!(
            "k = {} but the ground truth holds {} neighbours",
            args.k,
            data.truth_ids.dim()
        )
        .into());
    }
    eprintln!(
        "{}: {} base vectors, {} queries, k = {}, kernels {}",
        args.dataset,
        data.base.rows(),
        data.queries.rows(),
        args.k,
        quiver::vector::distance::kernel_name()
    );
    let line = match args.index.as_str() {
        // wordnet-minilm is L2-normalised, so its cosine distance is 1 - dot: the dot metric ranks
        // exactly as its ground truth does. Its values are f16 and stored as such.
        "flat" if data.distance == Distance::OneMinusDot => {
            run_flat::<F16<384>>(&args, &data, Metric::Dot)?
        }
        "flat" => run_flat::<F32<784>>(&args, &data, Metric::L2)?,
        other => return Err(format!("unknown index mode {other:?} (available: flat)").into()),
    };
    println!("{line}");
    if let Some(path) = &args.json {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{line}")?;
    }
    eprintln!(
        "| index | k | recall | recall (ids) | QPS 1 thread | QPS batched | p50 us | p99 us | build s | disk MB | RSS MB |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|---|---|");
    eprintln!(
        "| {} | {} | {:.4} | {:.4} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
        line["index"].as_str().unwrap_or("?"),
        line["k"],
        line["recall"].as_f64().unwrap_or(0.0),
        line["recall_ids"].as_f64().unwrap_or(0.0),
        line["qps_1t"],
        line["qps_batch"],
        line["p50_us"],
        line["p99_us"],
        line["build_s"],
        line["disk_bytes"].as_f64().unwrap_or(0.0) / 1e6,
        line["rss_bytes"].as_f64().unwrap_or(0.0) / 1e6,
    );
    Ok(())
}
