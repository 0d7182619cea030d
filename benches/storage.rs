//! Commit throughput of quiver against plain redb, measured side by side in one run.
//!
//! `cargo bench --bench storage -- [--json] [--quick] [--only commit|checkpoint_stall|shared_cf|recovery|collections|checksums]`
//!
//! Engines: `quiver` with and without its write-ahead log (N threads, each on its own column
//! family of one file), `redb-one-file` (N threads sharing one redb database: its writers
//! serialise), `redb-many-files` (N threads, each on its own redb file) and `fjall` (N threads,
//! each on its own keyspace of one database sharing one journal, persist mode SyncData when
//! durable). For every combination of threads (1, 2, 4, 8), keys per
//! transaction (1, 1000) and durability (none, immediate), each engine runs for a fixed time;
//! repetitions are interleaved across engines so that drift on a noisy machine hits all of them
//! alike, and the median is reported. With `--json` each result is one JSON object per line,
//! followed by the ratios the design targets, commit latency with and without a checkpoint
//! running (`checkpoint_stall`), and the time to recover 64 MiB of log after a crash
//! (`recovery`), and what 10,000 small collections cost (`collections`: create, close, reopen,
//! file size, memory) and what row checksums cost (`checksums`: ingest, point reads and the
//! second lookup, with and without them, alternating).

use quiver::{Builder, Durability, TableDefinition};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("bench");
const VALUE: [u8; 64] = [0x5A; 64];
const CACHE: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Engine {
    Quiver,
    QuiverNoWal,
    RedbOneFile,
    RedbManyFiles,
    Fjall,
}

impl Engine {
    const ALL: [Engine; 5] = [
        Engine::Quiver,
        Engine::QuiverNoWal,
        Engine::RedbOneFile,
        Engine::RedbManyFiles,
        Engine::Fjall,
    ];
    fn name(self) -> &'static str {
        match self {
            Engine::Quiver | Engine::QuiverNoWal => "quiver",
            Engine::RedbOneFile => "redb-one-file",
            Engine::RedbManyFiles => "redb-many-files",
            Engine::Fjall => "fjall",
        }
    }
    /// Whether the engine runs with quiver's write-ahead log (`None`: not a quiver engine).
    fn wal(self) -> Option<bool> {
        match self {
            Engine::Quiver => Some(true),
            Engine::QuiverNoWal => Some(false),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Config {
    threads: usize,
    keys_per_txn: u64,
    durable: bool,
}

/// One writer's way of committing `keys_per_txn` keys in one transaction.
trait Committer: Sync {
    fn commit(&self, next_key: &mut u64, config: Config);
}

fn commit_redb(txn: redb::WriteTransaction, next_key: &mut u64, config: Config) {
    let mut txn = txn;
    if !config.durable {
        txn.set_durability(Durability::None).expect("durability");
    }
    {
        let mut table = txn.open_table(TABLE).expect("table");
        for _ in 0..config.keys_per_txn {
            table.insert(*next_key, VALUE.as_slice()).expect("insert");
            *next_key += 1;
        }
    }
    txn.commit().expect("commit");
}

impl Committer for quiver::ColumnFamily {
    fn commit(&self, next_key: &mut u64, config: Config) {
        commit_redb(self.begin_write().expect("begin_write"), next_key, config);
    }
}

impl Committer for redb::Database {
    fn commit(&self, next_key: &mut u64, config: Config) {
        commit_redb(self.begin_write().expect("begin_write"), next_key, config);
    }
}

/// A fjall keyspace of a shared database; durability through the batch's persist mode.
struct FjallWriter {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
}

impl Committer for FjallWriter {
    fn commit(&self, next_key: &mut u64, config: Config) {
        let mode = config.durable.then_some(fjall::PersistMode::SyncData);
        let mut batch = self.db.batch().durability(mode);
        for _ in 0..config.keys_per_txn {
            batch.insert(&self.keyspace, next_key.to_be_bytes(), VALUE.as_slice());
            *next_key += 1;
        }
        batch.commit().expect("fjall commit");
    }
}

/// Throughput and latency of one run.
struct Run {
    commits_per_s: f64,
    commits: u64,
    latencies_us: Vec<u32>,
}

/// Runs one writer per entry of `writers` for `duration`.
fn drive(writers: &[&dyn Committer], config: Config, duration: Duration) -> Run {
    let barrier = Barrier::new(writers.len() + 1);
    let results: Vec<(u64, Duration, Vec<u32>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(t, writer)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut next_key = (t as u64) << 40;
                    for _ in 0..3 {
                        writer.commit(&mut next_key, config); // warm-up
                    }
                    barrier.wait();
                    let start = Instant::now();
                    let mut latencies = Vec::with_capacity(1 << 14);
                    while start.elapsed() < duration {
                        let begun = Instant::now();
                        writer.commit(&mut next_key, config);
                        latencies
                            .push(begun.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                    (latencies.len() as u64, start.elapsed(), latencies)
                })
            })
            .collect();
        barrier.wait();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer"))
            .collect()
    });
    let commits: u64 = results.iter().map(|(c, _, _)| c).sum();
    let elapsed = results.iter().map(|(_, d, _)| *d).max().unwrap_or(duration);
    let latencies_us = results.into_iter().flat_map(|(_, _, l)| l).collect();
    Run {
        commits_per_s: commits as f64 / elapsed.as_secs_f64(),
        commits,
        latencies_us,
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[index])
}

fn redb_file(path: &Path) -> redb::Database {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(CACHE);
    builder.create(path).expect("redb create")
}

/// One measurement's figures.
struct Sample {
    commits_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    /// quiver only: metadata commits during the run.
    metadata_commits: Option<f64>,
    /// quiver with the log only: log fsyncs and bytes per commit.
    fsyncs_per_commit: Option<f64>,
    log_bytes_per_commit: Option<f64>,
}

fn sample(run: Run) -> Sample {
    let mut lat = run.latencies_us;
    lat.sort_unstable();
    Sample {
        commits_per_s: run.commits_per_s,
        p50_us: percentile(&lat, 0.5),
        p99_us: percentile(&lat, 0.99),
        metadata_commits: None,
        fsyncs_per_commit: None,
        log_bytes_per_commit: None,
    }
}

fn measure(engine: Engine, config: Config, duration: Duration) -> Sample {
    let dir = tempfile::tempdir_in(bench_dir()).expect("tempdir");
    match engine {
        Engine::Quiver | Engine::QuiverNoWal => {
            let db = Builder::new()
                .set_cache_size(CACHE)
                .set_wal(engine == Engine::Quiver)
                .open(dir.path().join("bench.qvr"))
                .expect("open");
            let families: Vec<_> = (0..config.threads)
                .map(|t| db.create_column_family(&format!("cf{t}")).expect("cf"))
                .collect();
            let writers: Vec<&dyn Committer> =
                families.iter().map(|f| f as &dyn Committer).collect();
            let meta_before = db.stats().metadata_commits;
            let wal_before = db.wal_stats();
            let run = drive(&writers, config, duration);
            let commits = run.commits.max(1) as f64;
            let mut out = sample(run);
            out.metadata_commits = Some((db.stats().metadata_commits - meta_before) as f64);
            if let (Some(before), Some(after)) = (wal_before, db.wal_stats()) {
                // Includes the warm-up commits' share; negligible against a timed run.
                out.fsyncs_per_commit = Some((after.fsyncs - before.fsyncs) as f64 / commits);
                out.log_bytes_per_commit = Some((after.bytes - before.bytes) as f64 / commits);
            }
            out
        }
        Engine::RedbOneFile => {
            let db = redb_file(&dir.path().join("one.redb"));
            let writers: Vec<&dyn Committer> =
                (0..config.threads).map(|_| &db as &dyn Committer).collect();
            sample(drive(&writers, config, duration))
        }
        Engine::RedbManyFiles => {
            let dbs: Vec<_> = (0..config.threads)
                .map(|t| redb_file(&dir.path().join(format!("f{t}.redb"))))
                .collect();
            let writers: Vec<&dyn Committer> = dbs.iter().map(|d| d as &dyn Committer).collect();
            sample(drive(&writers, config, duration))
        }
        Engine::Fjall => {
            let db = fjall::Database::builder(dir.path().join("fjall"))
                .cache_size(CACHE as u64)
                .open()
                .expect("fjall open");
            let fjall_writers: Vec<FjallWriter> = (0..config.threads)
                .map(|t| FjallWriter {
                    keyspace: db
                        .keyspace(&format!("ks{t}"), fjall::KeyspaceCreateOptions::default)
                        .expect("keyspace"),
                    db: db.clone(),
                })
                .collect();
            let writers: Vec<&dyn Committer> =
                fjall_writers.iter().map(|w| w as &dyn Committer).collect();
            sample(drive(&writers, config, duration))
        }
    }
}

/// Where benchmark files go: `QUIVER_BENCH_DIR`, or the target directory (a real disk, unlike
/// a tmpfs /tmp, so fsync costs what it costs users).
fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("QUIVER_BENCH_DIR")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Commit latency of durable single-key commits with and without a checkpoint running.
fn checkpoint_stall(duration: Duration, json: bool) {
    let config = Config {
        threads: 4,
        keys_per_txn: 1,
        durable: true,
    };
    let mut figures = Vec::new();
    for checkpointing in [false, true] {
        let dir = tempfile::tempdir_in(bench_dir()).expect("tempdir");
        let db = Builder::new()
            .set_cache_size(CACHE)
            .set_checkpoint_interval(None)
            .set_checkpoint_bytes(u64::MAX)
            .open(dir.path().join("stall.qvr"))
            .expect("open");
        let families: Vec<_> = (0..config.threads)
            .map(|t| db.create_column_family(&format!("cf{t}")).expect("cf"))
            .collect();
        let writers: Vec<&dyn Committer> = families.iter().map(|f| f as &dyn Committer).collect();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (run, checkpoints) = std::thread::scope(|scope| {
            let checkpointer = scope.spawn(|| {
                let mut n = 0u64;
                while checkpointing && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    db.checkpoint().expect("checkpoint");
                    n += 1;
                }
                n
            });
            let run = drive(&writers, config, duration);
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            (run, checkpointer.join().expect("checkpointer"))
        });
        let s = sample(run);
        figures.push((checkpointing, s, checkpoints));
    }
    for (checkpointing, s, checkpoints) in figures {
        if json {
            println!(
                "{}",
                json!({
                    "bench": "checkpoint_stall",
                    "threads": config.threads,
                    "checkpoints_running": checkpointing,
                    "checkpoints": checkpoints,
                    "commits_per_s": s.commits_per_s.round(),
                    "p50_us": s.p50_us,
                    "p99_us": s.p99_us,
                })
            );
        } else {
            println!(
                "checkpoints running: {checkpointing:<5} ({checkpoints} done)  {:>8.0} commits/s  p50 {:>6.0} us  p99 {:>6.0} us",
                s.commits_per_s, s.p50_us, s.p99_us
            );
        }
    }
}

/// Eight threads committing durably to one column family. redb holds a database's write lock
/// through its commit's sync, so commits of one column family never share a log fsync: this
/// measures that case (and shows why coalescing repeated writes inside a group commit has
/// nothing to coalesce under redb). redb with one file is the baseline.
fn shared_column_family(duration: Duration, json: bool) {
    let config = Config {
        threads: 8,
        keys_per_txn: 1,
        durable: true,
    };
    let dir = tempfile::tempdir_in(bench_dir()).expect("tempdir");
    let db = Builder::new()
        .set_cache_size(CACHE)
        .open(dir.path().join("shared.qvr"))
        .expect("open");
    let cf = db.create_column_family("shared").expect("cf");
    let writers: Vec<&dyn Committer> = (0..config.threads).map(|_| &cf as &dyn Committer).collect();
    let before = db.wal_stats().expect("wal");
    let quiver = sample(drive(&writers, config, duration));
    let after = db.wal_stats().expect("wal");
    let redb = redb_file(&dir.path().join("shared.redb"));
    let writers: Vec<&dyn Committer> = (0..config.threads)
        .map(|_| &redb as &dyn Committer)
        .collect();
    let baseline = sample(drive(&writers, config, duration));
    let commits = quiver.commits_per_s * duration.as_secs_f64();
    let per_commit = |a: u64, b: u64| ((a - b) as f64 / commits * 1000.0).round() / 1000.0;
    let line = json!({
        "bench": "shared_cf",
        "threads": config.threads,
        "durability": "immediate",
        "quiver_commits_per_s": quiver.commits_per_s.round(),
        "redb_one_file_commits_per_s": baseline.commits_per_s.round(),
        "fsyncs_per_commit": per_commit(after.fsyncs, before.fsyncs),
        "log_bytes_per_commit": per_commit(after.bytes, before.bytes).round(),
    });
    if json {
        println!("{line}");
    } else {
        println!("one column family, 8 threads: {line}");
    }
}

/// Time to reopen after a crash that left `log_mib` MiB of log to replay.
/// Ingest, point reads and the second lookup into collections with and without row checksums,
/// alternating, `reps` times each (384-d vectors, 1 KB records); prints the medians and the
/// ratios (checked throughput over unchecked, same run).
fn checksum_cost(items: u64, reps: usize, json: bool) {
    use quiver::vector::{CollectionConfig, F32, Metric, Store};
    use rand::{Rng, SeedableRng};
    const DIM: usize = 384;
    let dir = tempfile::tempdir_in(bench_dir()).expect("tempdir");
    let store = Store::open(dir.path().join("checks.qvr")).expect("open");
    let mut rng = rand::rngs::StdRng::seed_from_u64(18);
    let vectors: Vec<Vec<f32>> = (0..items)
        .map(|_| (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect();
    let record = vec![0x42u8; 1024];
    let mut order: Vec<u64> = (0..items).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let queries: Vec<&[f32]> = vectors.iter().take(200).map(Vec::as_slice).collect();
    // [checked, unchecked] x [ingest, reads, fetch] seconds, per repetition.
    let mut seconds: [[Vec<f64>; 3]; 2] = Default::default();
    for rep in 0..reps {
        for turn in 0..2 {
            let checked = (rep + turn) % 2 == 0;
            let mut config = CollectionConfig::new(Metric::L2);
            if !checked {
                config = config.without_row_checks();
            }
            let name = format!("c{rep}-{checked}");
            let c = store
                .create_collection::<F32<DIM>, &[u8]>(&name, config)
                .expect("create");
            let start = Instant::now();
            for chunk in (0..items).collect::<Vec<_>>().chunks(1000) {
                let mut batch = c.batch();
                for &id in chunk {
                    batch
                        .upsert(id, &vectors[id as usize], &record.as_slice())
                        .expect("upsert");
                }
                c.commit(batch, Durability::None).expect("commit");
            }
            c.commit(c.batch(), Durability::Immediate).expect("durable");
            let ingest = start.elapsed().as_secs_f64();
            let start = Instant::now();
            for ids in order.chunks(100) {
                let got = c.get_many(ids).expect("get_many");
                assert!(got.iter().all(Option::is_some));
            }
            let reads = start.elapsed().as_secs_f64();
            let start = Instant::now();
            for query in &queries {
                let hits = c.search(query, 10).expect("search");
                let fetched = store.fetch(&hits).expect("fetch");
                assert_eq!(fetched.len(), 10);
            }
            let fetch = start.elapsed().as_secs_f64();
            let slot = usize::from(!checked);
            seconds[slot][0].push(ingest);
            seconds[slot][1].push(reads);
            seconds[slot][2].push(fetch);
            store.delete_collection(&name).expect("delete");
        }
    }
    let med = |v: &[f64]| median(&mut v.to_vec());
    let line = json!({
        "bench": "checksums",
        "items": items,
        "dim": DIM,
        "record_bytes": record.len(),
        "reps": reps,
        "ingest_items_per_s": [items as f64 / med(&seconds[0][0]), items as f64 / med(&seconds[1][0])],
        "reads_items_per_s": [items as f64 / med(&seconds[0][1]), items as f64 / med(&seconds[1][1])],
        "search_fetch_per_s": [queries.len() as f64 / med(&seconds[0][2]), queries.len() as f64 / med(&seconds[1][2])],
        "ingest_ratio": med(&seconds[1][0]) / med(&seconds[0][0]),
        "reads_ratio": med(&seconds[1][1]) / med(&seconds[0][1]),
        "search_fetch_ratio": med(&seconds[1][2]) / med(&seconds[0][2]),
    });
    if json {
        println!("{line}");
    } else {
        println!(
            "row checksums (throughput pairs are [checked, unchecked]; ratios checked/unchecked): {line:#}"
        );
    }
}

/// The process's resident memory now, in bytes (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One collection per tenant: `count` collections of four 8-d vectors each, each created and
/// filled durably; then close, reopen (every collection opened with its types), file size and
/// resident memory.
fn many_collections(count: usize, json: bool) {
    use quiver::vector::{CollectionConfig, F32, Metric, Store};
    let dir = tempfile::tempdir_in(bench_dir()).expect("tempdir");
    let path = dir.path().join("tenants.qvr");
    let rss_before = resident_bytes();
    let store = Store::open(&path).expect("open");
    let start = Instant::now();
    for i in 0..count {
        let tenant = store
            .create_collection::<F32<8>, u64>(
                &format!("tenant{i}"),
                CollectionConfig::new(Metric::L2),
            )
            .expect("create");
        let mut batch = tenant.batch();
        for id in 0..4u64 {
            let v = [i as f32, id as f32, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
            batch.upsert(id, &v, &id).expect("upsert");
        }
        tenant.commit(batch, Durability::Immediate).expect("commit");
    }
    let create_s = start.elapsed().as_secs_f64();
    let rss_open = resident_bytes();
    let start = Instant::now();
    store.close().expect("close");
    drop(store);
    let close_s = start.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let log_bytes = std::fs::metadata(quiver::log_path(&path)).map_or(0, |m| m.len());
    let start = Instant::now();
    let store = Store::open(&path).expect("reopen");
    let reopen_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..count {
        store
            .collection::<F32<8>, u64>(&format!("tenant{i}"))
            .expect("collection");
    }
    let typed_s = start.elapsed().as_secs_f64();
    let rss_reopened = resident_bytes();
    let line = json!({
        "bench": "collections",
        "collections": count,
        "create_s": (create_s * 1000.0).round() / 1000.0,
        "close_s": (close_s * 1000.0).round() / 1000.0,
        "reopen_s": (reopen_s * 1000.0).round() / 1000.0,
        "open_all_typed_s": (typed_s * 1000.0).round() / 1000.0,
        "file_bytes": file_bytes,
        "log_bytes": log_bytes,
        "bytes_per_collection": file_bytes / count as u64,
        "rss_open_mb": rss_open.zip(rss_before).map(|(a, b)| a.saturating_sub(b) as f64 / 1e6),
        "rss_reopened_mb": rss_reopened.zip(rss_before).map(|(a, b)| a.saturating_sub(b) as f64 / 1e6),
    });
    if json {
        println!("{line}");
    } else {
        println!("{count} collections: {line:#}");
    }
}

fn recovery(log_mib: u64, json: bool) {
    let dir = tempfile::tempdir_in(bench_dir()).expect("tempdir");
    let path = dir.path().join("recovery.qvr");
    let builder = || {
        let mut b = Builder::new();
        b.set_cache_size(CACHE)
            .set_log_size(((log_mib + 16) * 2) << 20)
            .set_checkpoint_bytes(u64::MAX)
            .set_checkpoint_interval(None);
        b
    };
    {
        let db = builder().open(&path).expect("open");
        let cf = db.create_column_family("bulk").expect("cf");
        // Incompressible values, so that the log's size is the data's size.
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(64);
        let mut value = vec![0u8; 2000];
        let mut key = 0u64;
        while db.wal_stats().expect("wal").bytes < log_mib << 20 {
            let txn = cf.begin_write().expect("begin");
            {
                let mut table = txn.open_table(TABLE).expect("table");
                for _ in 0..50 {
                    rand::Rng::fill(&mut rng, &mut value[..]);
                    table.insert(key, value.as_slice()).expect("insert");
                    key += 1;
                }
            }
            txn.commit().expect("commit");
        }
        drop(cf);
        db.abandon(); // a crash: no close, no checkpoint
    }
    let start = Instant::now();
    let db = builder().open(&path).expect("reopen");
    let seconds = start.elapsed().as_secs_f64();
    let replayed = db.wal_stats().expect("wal").replayed_bytes;
    if json {
        println!(
            "{}",
            json!({
                "bench": "recovery",
                "log_mib": log_mib,
                "replayed_mib": (replayed as f64 / (1 << 20) as f64 * 10.0).round() / 10.0,
                "seconds": (seconds * 1000.0).round() / 1000.0,
            })
        );
    } else {
        println!(
            "recovery: replayed {:.1} MiB of log in {seconds:.3} s",
            replayed as f64 / (1 << 20) as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    // `--only commit|checkpoint_stall|recovery` runs one part.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let (duration, reps) = if quick {
        (Duration::from_millis(150), 1)
    } else {
        (Duration::from_millis(800), 5)
    };
    let mut configs = Vec::new();
    for durable in [false, true] {
        for keys_per_txn in [1, 1000] {
            for threads in [1, 2, 4, 8] {
                configs.push(Config {
                    threads,
                    keys_per_txn,
                    durable,
                });
            }
        }
    }
    if runs("checkpoint_stall") {
        checkpoint_stall(duration * 2, json);
    }
    if runs("shared_cf") {
        shared_column_family(duration * 2, json);
    }
    if runs("recovery") {
        recovery(if quick { 16 } else { 64 }, json);
    }
    if runs("checksums") {
        checksum_cost(
            if quick { 2_000 } else { 20_000 },
            if quick { 1 } else { 3 },
            json,
        );
    }
    if runs("collections") {
        many_collections(if quick { 1_000 } else { 10_000 }, json);
    }
    if !runs("commit") {
        return;
    }
    let mut samples: BTreeMap<(Config, Engine), Vec<Sample>> = BTreeMap::new();
    for rep in 0..reps {
        for &config in &configs {
            // Rotate the engine order each repetition so none always runs first.
            for i in 0..Engine::ALL.len() {
                let engine = Engine::ALL[(i + rep + config.threads) % Engine::ALL.len()];
                let s = measure(engine, config, duration);
                samples.entry((config, engine)).or_default().push(s);
            }
        }
    }
    let mut rates = BTreeMap::new();
    for ((config, engine), runs) in &samples {
        let med = |f: &dyn Fn(&Sample) -> Option<f64>| {
            let mut v: Vec<f64> = runs.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| median(&mut v))
        };
        let rate = med(&|s| Some(s.commits_per_s)).unwrap_or(0.0);
        rates.insert((*config, *engine), rate);
        if json {
            let mut line = json!({
                "bench": "commit",
                "engine": engine.name(),
                "threads": config.threads,
                "durability": if config.durable { "immediate" } else { "none" },
                "keys_per_txn": config.keys_per_txn,
                "commits_per_s": (rate * 10.0).round() / 10.0,
                "p50_us": med(&|s| Some(s.p50_us)),
                "p99_us": med(&|s| Some(s.p99_us)),
                "reps": runs.len(),
            });
            if let Some(wal) = engine.wal() {
                line["wal"] = json!(wal);
                line["metadata_commits_per_run"] = json!(med(&|s| s.metadata_commits));
            }
            if let Some(f) = med(&|s| s.fsyncs_per_commit) {
                line["fsyncs_per_commit"] = json!((f * 1000.0).round() / 1000.0);
            }
            if let Some(b) = med(&|s| s.log_bytes_per_commit) {
                line["log_bytes_per_commit"] = json!(b.round());
            }
            println!("{line}");
        }
    }
    if !json {
        println!(
            "{:<10} {:>4} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}",
            "durability",
            "keys",
            "threads",
            "quiver",
            "no-wal",
            "redb-one",
            "redb-many",
            "fjall",
            "q/one",
            "q/many"
        );
    }
    for config in configs {
        let q = rates[&(config, Engine::Quiver)];
        let no_wal = rates[&(config, Engine::QuiverNoWal)];
        let one = rates[&(config, Engine::RedbOneFile)];
        let many = rates[&(config, Engine::RedbManyFiles)];
        let fjall = rates[&(config, Engine::Fjall)];
        let durability = if config.durable { "immediate" } else { "none" };
        let ratio = |a: f64, b: f64| (a / b * 1000.0).round() / 1000.0;
        if json {
            println!(
                "{}",
                json!({
                    "bench": "commit_ratio",
                    "threads": config.threads,
                    "durability": durability,
                    "keys_per_txn": config.keys_per_txn,
                    "quiver_over_redb_one_file": ratio(q, one),
                    "quiver_over_redb_many_files": ratio(q, many),
                    "quiver_over_fjall": ratio(q, fjall),
                    "quiver_no_wal_over_redb_one_file": ratio(no_wal, one),
                    "quiver_no_wal_over_redb_many_files": ratio(no_wal, many),
                })
            );
        } else {
            println!(
                "{:<10} {:>4} {:>7} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>6.2} {:>6.2}",
                durability,
                config.keys_per_txn,
                config.threads,
                q,
                no_wal,
                one,
                many,
                fjall,
                q / one,
                q / many
            );
        }
    }
}
