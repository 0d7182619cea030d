//! The harness's command line.

use clap::Parser;
use quiver::vector::quantize::Quantization;
use std::path::PathBuf;

/// Command line of the harness.
#[derive(Parser, Debug)]
#[command(about = "Recall and speed of quiver on ANN datasets (ann-benchmarks method)")]
pub struct Args {
    /// Dataset: wordnet-minilm, wordnet-minilm-small (shipped in datasets/), fashion-mnist, or
    /// hdf5:FILE (an ann-benchmarks file; needs `--features hdf5`).
    #[arg(long, default_value = "wordnet-minilm")]
    pub dataset: String,
    /// Directory holding the dataset's files (default: ../shared/datasets/wordnet-minilm beside
    /// the project, datasets/wordnet-minilm-small, or /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Index modes, separated by commas: flat (the exact scan), hnsw (the approximate index,
    /// swept over --ef), global (three collections searched through `_global_index`'s graph).
    #[arg(long, default_value = "flat")]
    pub index: String,
    /// HNSW: neighbours per node on the upper levels (level 0 keeps twice as many).
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    /// HNSW: candidate list size while building.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// HNSW: the ef_search values to sweep, comma-separated (default 10,20,40,64,80,160,320; with
    /// --quick 16,64). 64 is the index's default, which plain search and the churn run use.
    #[arg(long)]
    pub ef: Option<String>,
    /// HNSW: the first-pass codes to build and measure, comma-separated: none, int8, binary
    /// (one index built per mode; the walk's `ef` candidates are rescored exactly).
    #[arg(long, default_value = "none")]
    pub quantization: String,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Append the JSON lines to this file (they are printed either way).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A few-second run: at most 5,000 base vectors and 200 queries, ground truth computed here.
    #[arg(long)]
    pub quick: bool,
    /// Use only the first N base vectors (ground truth is then computed here).
    #[arg(long)]
    pub base_limit: Option<usize>,
    /// Use only the first N queries.
    #[arg(long)]
    pub queries: Option<usize>,
    /// Timed passes over the queries, one thread, one query at a time; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub passes: usize,
    /// Filtered runs, comma-separated: percentages of the ids chosen at random (50,10,1,0.1)
    /// and/or `pos` (one run per part of speech, wordnet only).
    #[arg(long)]
    pub filter: Option<String>,
    /// Records to store with the vectors: `rag` (about 1 KB each, with indexed fields: see
    /// benches/ann/rag.rs) runs the filter benchmark through field indexes and the query
    /// builder instead of the plain runs (wordnet only).
    #[arg(long)]
    pub records: Option<String>,
    /// Queries per filtered run (the first N).
    #[arg(long, default_value_t = 1000)]
    pub filter_queries: usize,
    /// Churn run: delete this fraction of the ids (random), re-insert them, then measure again.
    #[arg(long)]
    pub churn: Option<f64>,
    /// Seed of the random filters and churn.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the base, queries and ground truth as .npy here, for the peers (benches/peers).
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Exit with an error if any run's recall is below this (CI's check of the exact scan).
    #[arg(long)]
    pub min_recall: Option<f64>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
}

impl Args {
    /// The ef_search values to sweep.
    pub fn ef_list(&self) -> Result<Vec<usize>, String> {
        let default = if self.quick {
            "16,64"
        } else {
            "10,20,40,64,80,160,320"
        };
        self.ef
            .as_deref()
            .unwrap_or(default)
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| format!("--ef: {v:?} is not a positive number"))
            })
            .collect()
    }

    /// The quantization modes to measure.
    pub fn quantization_list(&self) -> Result<Vec<Quantization>, String> {
        self.quantization
            .split(',')
            .map(|name| {
                Quantization::parse(name.trim()).map_err(|e| format!("--quantization: {e}"))
            })
            .collect()
    }

    /// The base and query limits of this run.
    pub fn limits(&self) -> (Option<usize>, Option<usize>) {
        if self.quick {
            (
                Some(self.base_limit.unwrap_or(5_000)),
                Some(self.queries.unwrap_or(200)),
            )
        } else {
            (self.base_limit, self.queries)
        }
    }
}
