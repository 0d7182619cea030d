//! A fixed, deterministic workload run the same way natively and in the browser.
//!
//! The vectors come from a small integer generator (xorshift64*), so both builds insert exactly
//! the same f32 values without shipping a data file. [`run`] times durable batched inserts and
//! one-at-a-time exact searches through [`DynCollection`], the path the JavaScript API uses;
//! `examples/native_workload.rs` runs it on disk and the example page in `examples/wasm/` runs it
//! in OPFS, which is how the browser's speed is compared with native speed on the same data.

use crate::dynamic::{self, DynCollection};
use quiver::Result;
use quiver::vector::{Metric, Store};
use web_time::Instant;

/// `n * dim` components uniformly spread over [-1, 1), from `seed`.
///
/// ```
/// let a = quiver_wasm::workload::vectors(7, 3, 4);
/// assert_eq!(a.len(), 12);
/// assert_eq!(a, quiver_wasm::workload::vectors(7, 3, 4));
/// assert!(a.iter().all(|x| (-1.0..1.0).contains(x)));
/// ```
pub fn vectors(seed: u64, n: usize, dim: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n * dim)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
            // 24 random bits: exactly representable, so every platform gets the same f32.
            (bits as f32 / (1u32 << 23) as f32) - 1.0
        })
        .collect()
}

/// The record of item `id` in generated data: a JSON object with a tag cycling over four values.
///
/// ```
/// assert_eq!(quiver_wasm::workload::record(5), r#"{"id":5,"tag":"b"}"#);
/// ```
pub fn record(id: u64) -> String {
    let tag = ["a", "b", "c", "d"][(id % 4) as usize];
    format!(r#"{{"id":{id},"tag":"{tag}"}}"#)
}

/// What to run.
///
/// ```
/// let spec = quiver_wasm::workload::WorkloadSpec { items: 10_000, dim: 384, batch: 500, queries: 200, k: 10 };
/// assert!(quiver_wasm::dynamic::DIMENSIONS.contains(&spec.dim));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadSpec {
    /// Items inserted.
    pub items: usize,
    /// Vector dimension (one of [`dynamic::DIMENSIONS`]).
    pub dim: usize,
    /// Items per durable commit.
    pub batch: usize,
    /// Queries searched one at a time.
    pub queries: usize,
    /// Results per query.
    pub k: usize,
}

/// Timings of one run (see [`WorkloadReport::to_json`] for an example).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadReport {
    /// The workload.
    pub spec: WorkloadSpec,
    /// Wall time of all inserts (durable commits included).
    pub insert_seconds: f64,
    /// Wall time of all searches.
    pub search_seconds: f64,
    /// Ids of the first query's results, to check that both builds found the same items.
    pub first_result: Vec<u64>,
}

impl WorkloadReport {
    /// Items inserted per second.
    ///
    /// ```
    /// use quiver_wasm::workload::{WorkloadReport, WorkloadSpec};
    /// let spec = WorkloadSpec { items: 100, dim: 8, batch: 10, queries: 4, k: 1 };
    /// let report = WorkloadReport { spec, insert_seconds: 0.5, search_seconds: 2.0, first_result: vec![] };
    /// assert_eq!((report.inserts_per_second(), report.queries_per_second()), (200.0, 2.0));
    /// ```
    pub fn inserts_per_second(&self) -> f64 {
        self.spec.items as f64 / self.insert_seconds
    }

    /// Queries per second (see [`inserts_per_second`](Self::inserts_per_second)).
    pub fn queries_per_second(&self) -> f64 {
        self.spec.queries as f64 / self.search_seconds
    }

    /// The report as one JSON object.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = quiver::vector::Store::open(dir.path().join("w.qvr"))?;
    /// let spec = quiver_wasm::workload::WorkloadSpec { items: 100, dim: 8, batch: 50, queries: 5, k: 3 };
    /// let report = quiver_wasm::workload::run(&store, &spec)?;
    /// assert!(report.to_json().contains("\"queries_per_second\""));
    /// assert_eq!(report.first_result.len(), 3);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "items": self.spec.items,
            "dim": self.spec.dim,
            "batch": self.spec.batch,
            "queries": self.spec.queries,
            "k": self.spec.k,
            "insert_seconds": self.insert_seconds,
            "search_seconds": self.search_seconds,
            "inserts_per_second": self.inserts_per_second(),
            "queries_per_second": self.queries_per_second(),
            "first_result": self.first_result,
        })
        .to_string()
    }
}

/// Runs `spec` in a new collection `workload` of `store` (cosine metric, exact search).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let store = quiver::vector::Store::open(dir.path().join("w.qvr"))?;
/// let spec = quiver_wasm::workload::WorkloadSpec { items: 50, dim: 4, batch: 20, queries: 3, k: 5 };
/// let report = quiver_wasm::workload::run(&store, &spec)?;
/// assert_eq!(store.collection_info("workload")?.dim, 4);
/// assert_eq!(report.first_result.len(), 5);
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn run(store: &Store, spec: &WorkloadSpec) -> Result<WorkloadReport> {
    let collection = dynamic::create(store, "workload", spec.dim, Metric::Cosine, false)?;
    let data = vectors(1, spec.items, spec.dim);
    let queries = vectors(2, spec.queries, spec.dim);
    let started = Instant::now();
    for start in (0..spec.items).step_by(spec.batch.max(1)) {
        let end = (start + spec.batch.max(1)).min(spec.items);
        let ids: Vec<u64> = (start as u64..end as u64).collect();
        let records: Vec<String> = ids.iter().map(|&id| record(id)).collect();
        collection.upsert_many(&ids, &data[start * spec.dim..end * spec.dim], &records)?;
    }
    let insert_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut first_result = Vec::new();
    for (i, query) in queries.chunks_exact(spec.dim).enumerate() {
        let found = collection.search(query, spec.k, None)?;
        if i == 0 {
            first_result = found.iter().map(|f| f.id).collect();
        }
    }
    let search_seconds = started.elapsed().as_secs_f64();
    Ok(WorkloadReport {
        spec: *spec,
        insert_seconds,
        search_seconds,
        first_result,
    })
}

/// The data both the native and the browser parity tests load: 500 items of 16 dimensions with
/// generated records, in one collection `parity` (cosine).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let store = quiver::vector::Store::open(dir.path().join("p.qvr"))?;
/// let parity = quiver_wasm::workload::load_parity_data(&store)?;
/// assert_eq!((parity.len(), parity.dim()), (500, 16));
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn load_parity_data(store: &Store) -> Result<Box<dyn DynCollection>> {
    const ITEMS: usize = 500;
    const DIM: usize = 16;
    let collection = dynamic::create(store, "parity", DIM, Metric::Cosine, false)?;
    let ids: Vec<u64> = (0..ITEMS as u64).collect();
    let records: Vec<String> = ids.iter().map(|&id| record(id)).collect();
    collection.upsert_many(&ids, &vectors(3, ITEMS, DIM), &records)?;
    Ok(collection)
}

/// The parity queries: 20 queries of 16 dimensions.
///
/// ```
/// assert_eq!(quiver_wasm::workload::parity_queries().len(), 20 * 16);
/// ```
pub fn parity_queries() -> Vec<f32> {
    vectors(4, 20, 16)
}
