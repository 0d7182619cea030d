//! Exact-scan, layout and ingest benchmarks of the vector store.
//!
//! `cargo bench --bench scan -- --json` prints one JSON object per line:
//! - `scan`: per element type, metric, dimension, batch size and thread count, the time per
//!   query and the bytes of vector data compared per second (`gb_per_s`: N x bytes per vector x
//!   queries / elapsed), next to `stream_gb_per_s`, a plain streaming read of the same bytes with
//!   the same number of threads, measured just before;
//! - `mirror`: memory and load time of the in-memory mirror the scans read, on reopen;
//! - `layout`: a scan of the dedicated fixed-width vector table (zero-copy from redb pages)
//!   against a scan of a table whose values combine vector and metadata and are decoded into an
//!   owned record per row;
//! - `ingest`: vectors per second for batches of 1,000 384-d f32 vectors, durable and not, with
//!   1, 2 and 4 collections written in parallel (one thread each).
//!
//! Targets (checked and printed on stderr, not asserted): single query one thread f32
//! `gb_per_s >= 0.7 * stream_gb_per_s`; durable ingest >= 50,000 vectors/s on one thread and
//! scaling with collections; f16 >= 1.6x faster per query than f32; batch 64 >= 4x the single
//! query throughput. `--quick` uses 10,000 vectors (a smoke run).

use quiver::redb::TableDefinition;
use quiver::vector::{Collection, CollectionConfig, F16, F32, Filter, Metric, Store, VectorType};
use quiver::{Builder, Durability};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde_json::json;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

struct Options {
    json: bool,
    n: usize,
}

fn emit(options: &Options, value: serde_json::Value) {
    if options.json {
        println!("{value}");
    } else {
        println!("{value:#}");
    }
}

fn random_vectors(seed: u64, count: usize, dim: usize) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

/// Median of `runs` timings of `f`, in seconds.
fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// GB/s of a plain streaming read (a wrapping sum of u64 words) over `buffer`, with `threads`.
fn stream_gb_per_s(buffer: &[u64], threads: usize) -> f64 {
    let pool = pool(threads);
    let seconds = median_seconds(15, || {
        let sum: u64 = pool.install(|| {
            buffer
                .par_chunks(buffer.len().div_ceil(threads * 4).max(1))
                .map(|chunk| chunk.iter().fold(0u64, |a, b| a.wrapping_add(*b)))
                .reduce(|| 0, u64::wrapping_add)
        });
        black_box(sum);
    });
    (buffer.len() * 8) as f64 / seconds / 1e9
}

fn store_builder(options: &Options) -> Builder {
    let mut builder = Builder::new();
    // Room for the whole data set in redb's cache while loading and reopening.
    builder.set_cache_size((options.n * 784 * 4 * 2).max(64 << 20));
    builder
}

/// Loads `vectors` into a new collection in batches of 1,000 (not durable, then one durable
/// commit).
fn load<V: VectorType>(collection: &Collection<V, u64>, vectors: &[Vec<f32>]) {
    for (chunk_index, chunk) in vectors.chunks(1000).enumerate() {
        let mut batch = collection.batch();
        for (i, v) in chunk.iter().enumerate() {
            let id = (chunk_index * 1000 + i) as u64;
            batch.upsert(id, v, &id).expect("valid vector");
        }
        collection.commit(batch, Durability::None).expect("commit");
    }
    collection
        .commit(collection.batch(), Durability::Immediate)
        .expect("durable commit");
}

#[derive(Clone, Copy)]
struct ScanResult {
    ms_per_query: f64,
}

fn scan_rows<V: VectorType>(
    options: &Options,
    path: &Path,
    metrics: &[Metric],
    results: &mut Vec<(String, usize, usize, usize, String, ScanResult)>,
) {
    let dim = V::DIM;
    let element = V::ELEMENT.name();
    let base = random_vectors(dim as u64, options.n, dim);
    let queries = random_vectors(7, 64, dim);
    let stream_buffer: Vec<u64> = vec![1; options.n * V::BYTES / 8];
    let all_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for &metric in metrics {
        {
            let store = Store::builder()
                .database(store_builder(options))
                .open(path)
                .expect("open");
            let c = store
                .create_collection::<V, u64>("scan", CollectionConfig::new(metric))
                .expect("create");
            load(&c, &base);
            store.close().expect("close");
        }
        let store = Store::builder()
            .database(store_builder(options))
            .open(path)
            .expect("reopen");
        let c = store.collection::<V, u64>("scan").expect("open collection");
        let mirror = c.mirror_stats();
        emit(
            options,
            json!({"bench": "mirror", "element": element, "metric": metric.name(), "dim": dim,
                   "n": mirror.vectors, "memory_bytes": mirror.memory_bytes,
                   "load_ms": round(mirror.load_time.as_secs_f64() * 1e3)}),
        );
        let mut threads_list = vec![1];
        if all_cores > 1 {
            threads_list.push(all_cores);
        }
        for &threads in &threads_list {
            let stream = stream_gb_per_s(&stream_buffer, threads);
            let pool = pool(threads);
            for batch in [1usize, 64] {
                let refs: Vec<&[f32]> = queries[..batch].iter().map(|q| q.as_slice()).collect();
                let runs = if batch == 1 { 31 } else { 5 };
                let mut next = 0;
                let seconds = median_seconds(runs, || {
                    pool.install(|| {
                        if batch == 1 {
                            next = (next + 1) % queries.len();
                            black_box(c.search(&queries[next], 10).expect("search"));
                        } else {
                            black_box(c.search_batch(&refs, 10, &Filter::all()).expect("search"));
                        }
                    })
                });
                let ms_per_query = seconds * 1e3 / batch as f64;
                let bytes = (options.n * V::BYTES * batch) as f64;
                emit(
                    options,
                    json!({"bench": "scan", "element": element, "metric": metric.name(),
                           "dim": dim, "n": options.n, "batch": batch, "threads": threads,
                           "ms_per_query": round(ms_per_query), "gb_per_s": round(bytes / seconds / 1e9),
                           "stream_gb_per_s": round(stream)}),
                );
                results.push((
                    element.to_owned(),
                    dim,
                    batch,
                    threads,
                    metric.name().to_owned(),
                    ScanResult { ms_per_query },
                ));
                if batch == 1 && threads == 1 && metric == metrics[0] {
                    let ratio = bytes / seconds / 1e9 / stream;
                    eprintln!(
                        "target {element} {dim}-d single query, one thread: {:.2} of streaming (>= 0.70) {}",
                        ratio,
                        verdict(ratio >= 0.7)
                    );
                }
            }
        }
        drop(c);
        store.close().expect("close");
        std::fs::remove_file(path).ok();
        std::fs::remove_file(quiver::log_path(path)).ok();
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}

/// Dedicated fixed-width table against a combined record decoded per row, both read from one
/// redb snapshot, with `metadata_bytes` of text in each record (a product title, or a RAG chunk).
fn layout(options: &Options, path: &Path, metadata_bytes: usize) {
    const COMBINED: TableDefinition<u64, &[u8]> = TableDefinition::new("combined");
    const DEDICATED: TableDefinition<u64, F32<384>> = TableDefinition::new("dedicated");
    let vectors = random_vectors(3, options.n, 384);
    let db = store_builder(options).open(path).expect("open");
    let cf = db.create_column_family("layout").expect("cf");
    let txn = cf.begin_write().expect("write");
    {
        let mut dedicated = txn.open_table(DEDICATED).expect("table");
        let mut combined = txn.open_table(COMBINED).expect("table");
        let mut bytes = Vec::new();
        for (id, v) in vectors.iter().enumerate() {
            bytes.clear();
            bytes.extend(v.iter().flat_map(|x| x.to_le_bytes()));
            dedicated
                .insert(
                    id as u64,
                    quiver::vector::StoredVector::new(&bytes, quiver::vector::Element::F32),
                )
                .expect("insert");
            let mut title = format!("item {id}: ");
            while title.len() < metadata_bytes {
                title.push_str("lorem ipsum ");
            }
            title.truncate(metadata_bytes);
            let mut record = Vec::with_capacity(8 + title.len() + bytes.len());
            record.extend((title.len() as u32).to_le_bytes());
            record.extend(title.as_bytes());
            record.extend((v.len() as u32).to_le_bytes());
            record.extend(&bytes);
            combined
                .insert(id as u64, record.as_slice())
                .expect("insert");
        }
    }
    txn.commit().expect("commit");
    let query = &vectors[0];
    let read = cf.begin_read().expect("read");
    let dedicated = read.open_table(DEDICATED).expect("table");
    let combined = read.open_table(COMBINED).expect("table");
    let dedicated_s = median_seconds(5, || {
        let mut best = f32::INFINITY;
        for entry in dedicated.range::<u64>(..).expect("range") {
            let (_, v) = entry.expect("entry");
            let d = quiver::vector::distance::l2_squared_stored(
                query,
                v.value().bytes(),
                quiver::vector::Element::F32,
            );
            best = best.min(d);
        }
        black_box(best);
    });
    /// What a user's combined record decodes into.
    struct Product {
        title: String,
        embedding: Vec<f32>,
    }
    let combined_s = median_seconds(5, || {
        let mut best = f32::INFINITY;
        for entry in combined.range::<u64>(..).expect("range") {
            let (_, value) = entry.expect("entry");
            let bytes = value.value();
            let title_len = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
            let title = String::from_utf8(bytes[4..4 + title_len].to_vec()).expect("utf-8");
            let at = 4 + title_len;
            let dim = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
            let embedding: Vec<f32> = bytes[at + 4..at + 4 + dim * 4]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let product = Product { title, embedding };
            black_box(&product.title);
            best = best.min(quiver::vector::distance::l2_squared_f32(
                query,
                &product.embedding,
            ));
        }
        black_box(best);
    });
    emit(
        options,
        json!({"bench": "layout", "n": options.n, "dim": 384, "metadata_bytes": metadata_bytes,
               "dedicated_ms": round(dedicated_s * 1e3), "combined_ms": round(combined_s * 1e3)}),
    );
    eprintln!(
        "layout ({metadata_bytes}-byte metadata): combined records take {:.2}x the time of the dedicated vector table",
        combined_s / dedicated_s
    );
    drop((dedicated, combined, read));
    db.close().expect("close");
    std::fs::remove_file(path).ok();
    std::fs::remove_file(quiver::log_path(path)).ok();
}

/// Batches of 1,000 384-d f32 vectors into `collections` collections, one thread each.
fn ingest(options: &Options, path: &Path) {
    let total = options.n.min(100_000);
    let vectors = random_vectors(11, total, 384);
    let mut single_durable = 0.0;
    for durability in [Durability::Immediate, Durability::None] {
        let label = if matches!(durability, Durability::Immediate) {
            "immediate"
        } else {
            "none"
        };
        for collections in [1usize, 2, 4] {
            let store = Store::open(path).expect("open");
            let handles: Vec<Collection<F32<384>, u64>> = (0..collections)
                .map(|i| {
                    store
                        .create_collection(&format!("c{i}"), CollectionConfig::new(Metric::Cosine))
                        .expect("create")
                })
                .collect();
            let per_collection = total / collections;
            let start = Instant::now();
            std::thread::scope(|scope| {
                for (i, c) in handles.iter().enumerate() {
                    let slice = &vectors[i * per_collection..(i + 1) * per_collection];
                    scope.spawn(move || {
                        for (chunk_index, chunk) in slice.chunks(1000).enumerate() {
                            let mut batch = c.batch();
                            for (j, v) in chunk.iter().enumerate() {
                                let id = (chunk_index * 1000 + j) as u64;
                                batch.upsert(id, v, &id).expect("valid");
                            }
                            c.commit(batch, durability).expect("commit");
                        }
                        if matches!(durability, Durability::None) {
                            c.commit(c.batch(), Durability::Immediate)
                                .expect("final commit");
                        }
                    });
                }
            });
            let seconds = start.elapsed().as_secs_f64();
            let rate = (per_collection * collections) as f64 / seconds;
            emit(
                options,
                json!({"bench": "ingest", "vectors_per_s": rate.round(), "durability": label,
                       "batch": 1000, "dim": 384, "element": "f32", "collections": collections,
                       "threads": collections}),
            );
            if matches!(durability, Durability::Immediate) {
                if collections == 1 {
                    single_durable = rate;
                    eprintln!(
                        "target durable ingest, one thread: {rate:.0} vectors/s (>= 50,000) {}",
                        verdict(rate >= 50_000.0)
                    );
                } else {
                    eprintln!(
                        "durable ingest, {collections} collections in parallel: {:.2}x one collection",
                        rate / single_durable
                    );
                }
            }
            drop(handles);
            store.close().expect("close");
            std::fs::remove_file(path).ok();
            std::fs::remove_file(quiver::log_path(path)).ok();
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let options = Options {
        json: args.iter().any(|a| a == "--json"),
        n: if quick { 10_000 } else { 100_000 },
    };
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let wants = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.qvr");
    eprintln!("kernels: {}", quiver::vector::distance::kernel_name());
    if wants("scan") {
        let mut results = Vec::new();
        scan_rows::<F32<384>>(
            &options,
            &path,
            &[Metric::Cosine, Metric::Dot, Metric::L2],
            &mut results,
        );
        scan_rows::<F16<384>>(&options, &path, &[Metric::Cosine], &mut results);
        scan_rows::<F32<784>>(&options, &path, &[Metric::Cosine], &mut results);
        scan_rows::<F16<784>>(&options, &path, &[Metric::Cosine], &mut results);
        let find = |element: &str, dim: usize, batch: usize, threads: usize| {
            results
                .iter()
                .find(|r| {
                    r.0 == element
                        && r.1 == dim
                        && r.2 == batch
                        && r.3 == threads
                        && r.4 == "cosine"
                })
                .map(|r| r.5.ms_per_query)
        };
        for dim in [384, 784] {
            if let (Some(f32_ms), Some(f16_ms)) = (find("f32", dim, 1, 1), find("f16", dim, 1, 1)) {
                let ratio = f32_ms / f16_ms;
                eprintln!(
                    "target f16 vs f32, {dim}-d, one query, one thread: {ratio:.2}x faster (>= 1.6) {}",
                    verdict(ratio >= 1.6)
                );
            }
            for element in ["f32", "f16"] {
                if let (Some(one), Some(batched)) =
                    (find(element, dim, 1, 1), find(element, dim, 64, 1))
                {
                    let ratio = one / batched;
                    eprintln!(
                        "target batch 64 vs single, {element} {dim}-d, one thread: {ratio:.2}x per query (>= 4) {}",
                        verdict(ratio >= 4.0)
                    );
                }
            }
        }
    }
    if wants("layout") {
        layout(&options, &path, 48);
        layout(&options, &path, 1024);
    }
    if wants("ingest") {
        ingest(&options, &path);
    }
}
