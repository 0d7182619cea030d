//! Commit throughput of quiver against plain redb, measured side by side in one run.
//!
//! `cargo bench --bench storage -- [--json] [--quick]`
//!
//! Engines: `quiver` (N threads, each on its own column family of one file), `redb-one-file`
//! (N threads sharing one redb database: its writers serialise) and `redb-many-files` (N threads,
//! each on its own redb file). For every combination of threads (1, 2, 4, 8), keys per
//! transaction (1, 1000) and durability (none, immediate), each engine runs for a fixed time;
//! repetitions are interleaved across engines so that drift on a noisy machine hits all of them
//! alike, and the median is reported. With `--json` each result is one JSON object per line,
//! followed by the ratios the design targets.

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
}

impl Engine {
    const ALL: [Engine; 4] = [
        Engine::Quiver,
        Engine::QuiverNoWal,
        Engine::RedbOneFile,
        Engine::RedbManyFiles,
    ];
    fn name(self) -> &'static str {
        match self {
            Engine::Quiver | Engine::QuiverNoWal => "quiver",
            Engine::RedbOneFile => "redb-one-file",
            Engine::RedbManyFiles => "redb-many-files",
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

/// Anything a benchmark thread can start write transactions on.
trait Writer: Sync {
    fn begin(&self) -> redb::WriteTransaction;
}

impl Writer for quiver::ColumnFamily {
    fn begin(&self) -> redb::WriteTransaction {
        self.begin_write().expect("begin_write")
    }
}

impl Writer for redb::Database {
    fn begin(&self) -> redb::WriteTransaction {
        self.begin_write().expect("begin_write")
    }
}

fn commit_batch(writer: &dyn Writer, next_key: &mut u64, config: Config) {
    let mut txn = writer.begin();
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

/// Runs one writer per entry of `writers` for `duration`; returns commits per second.
fn drive(writers: &[&dyn Writer], config: Config, duration: Duration) -> f64 {
    let barrier = Barrier::new(writers.len() + 1);
    let totals: Vec<(u64, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(t, writer)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut next_key = (t as u64) << 40;
                    for _ in 0..3 {
                        commit_batch(*writer, &mut next_key, config); // warm-up
                    }
                    barrier.wait();
                    let start = Instant::now();
                    let mut commits = 0;
                    while start.elapsed() < duration {
                        commit_batch(*writer, &mut next_key, config);
                        commits += 1;
                    }
                    (commits, start.elapsed())
                })
            })
            .collect();
        barrier.wait();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer"))
            .collect()
    });
    let commits: u64 = totals.iter().map(|(c, _)| c).sum();
    let elapsed = totals.iter().map(|(_, d)| *d).max().unwrap_or(duration);
    commits as f64 / elapsed.as_secs_f64()
}

fn redb_file(path: &Path) -> redb::Database {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(CACHE);
    builder.create(path).expect("redb create")
}

/// Commits per second, and for quiver the metadata commits the run needed.
fn measure(engine: Engine, config: Config, duration: Duration) -> (f64, Option<u64>) {
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
            let writers: Vec<&dyn Writer> = families.iter().map(|f| f as &dyn Writer).collect();
            let before = db.stats().metadata_commits;
            let rate = drive(&writers, config, duration);
            (rate, Some(db.stats().metadata_commits - before))
        }
        Engine::RedbOneFile => {
            let db = redb_file(&dir.path().join("one.redb"));
            let writers: Vec<&dyn Writer> =
                (0..config.threads).map(|_| &db as &dyn Writer).collect();
            (drive(&writers, config, duration), None)
        }
        Engine::RedbManyFiles => {
            let dbs: Vec<_> = (0..config.threads)
                .map(|t| redb_file(&dir.path().join(format!("f{t}.redb"))))
                .collect();
            let writers: Vec<&dyn Writer> = dbs.iter().map(|d| d as &dyn Writer).collect();
            (drive(&writers, config, duration), None)
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
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
    let mut samples: BTreeMap<(Config, Engine), Vec<f64>> = BTreeMap::new();
    let mut metadata_commits: BTreeMap<(Config, Engine), Vec<f64>> = BTreeMap::new();
    for rep in 0..reps {
        for &config in &configs {
            // Rotate the engine order each repetition so none always runs first.
            for i in 0..Engine::ALL.len() {
                let engine = Engine::ALL[(i + rep + config.threads) % Engine::ALL.len()];
                let (rate, meta) = measure(engine, config, duration);
                samples.entry((config, engine)).or_default().push(rate);
                if let Some(meta) = meta {
                    metadata_commits
                        .entry((config, engine))
                        .or_default()
                        .push(meta as f64);
                }
            }
        }
    }
    let mut rates = BTreeMap::new();
    for ((config, engine), mut values) in samples {
        let rate = median(&mut values);
        rates.insert((config, engine), rate);
        let durability = if config.durable { "immediate" } else { "none" };
        if json {
            let mut line = json!({
                "bench": "commit",
                "engine": engine.name(),
                "threads": config.threads,
                "durability": durability,
                "keys_per_txn": config.keys_per_txn,
                "commits_per_s": (rate * 10.0).round() / 10.0,
                "reps": values.len(),
            });
            if let Some(wal) = engine.wal() {
                line["wal"] = json!(wal);
            }
            if let Some(meta) = metadata_commits.get_mut(&(config, engine)) {
                line["metadata_commits_per_run"] = json!(median(meta));
            }
            println!("{line}");
        }
    }
    if !json {
        println!(
            "{:<10} {:>4} {:>7} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7}",
            "durability",
            "keys",
            "threads",
            "quiver",
            "no-wal",
            "redb-one",
            "redb-many",
            "q/one",
            "q/many"
        );
    }
    for config in configs {
        let q = rates[&(config, Engine::Quiver)];
        let no_wal = rates[&(config, Engine::QuiverNoWal)];
        let one = rates[&(config, Engine::RedbOneFile)];
        let many = rates[&(config, Engine::RedbManyFiles)];
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
                    "quiver_no_wal_over_redb_one_file": ratio(no_wal, one),
                    "quiver_no_wal_over_redb_many_files": ratio(no_wal, many),
                })
            );
        } else {
            println!(
                "{:<10} {:>4} {:>7} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>7.2} {:>7.2}",
                durability,
                config.keys_per_txn,
                config.threads,
                q,
                no_wal,
                one,
                many,
                q / one,
                q / many
            );
        }
    }
}
