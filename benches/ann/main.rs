//! Recall and speed of quiver's search on real ANN datasets, reported the ann-benchmarks way.
//!
//! `cargo bench --bench ann -- --dataset NAME [--index flat,hnsw,global] [--k 10] [--json FILE]
//! [--filter 50,10,1,0.1,pos] [--churn 0.1] [--export DIR] [--quick]` ingests the dataset into a
//! quiver collection in a file (through the public API), runs every query one at a time on one
//! thread (best of `--passes`) and in batches of 64 on all cores, and reports one JSON object per
//! setting:
//! `{"dataset","index","params","k","recall","recall_ids","qps_1t","qps_batch","p50_us","p95_us",
//! "p99_us","build_s","open_s","disk_bytes","log_bytes","rss_bytes","n","queries"}`
//! (`open_s`: reopening the store and the collection after the build, which loads the index;
//! `disk_bytes` is the store file after a checkpoint; `log_bytes` the fixed-size log beside it),
//! with a table on stderr.
//!
//! - Recall is ann-benchmarks' (a returned id counts if its true distance is within the k-th true
//!   distance + 1e-3; true distances are recomputed in f64 from the stored values) and also by id
//!   overlap ([`measure`]).
//! - Ground truth: the dataset's own where it ships one for the whole base; otherwise (a limited
//!   base, the small subset) the harness's own exact computation ([`truth`]); for fashion-mnist,
//!   quiver's exact search checked against that computation ([`data`]).
//! - Filtered runs ([`filters`]) score against the exact filtered ground truth, and give their
//!   queries/s as a multiple of the same run's unfiltered setting at the same `ef`
//!   (`vs_unfiltered_same_ef`) and of its fastest setting with at least the same recall
//!   (`vs_unfiltered_same_recall`); the churn run deletes and re-inserts a random fraction and
//!   measures recall and file size again ([`run`]).
//! - `--export` writes what the peers need to search the same data ([`export`]); the peers and
//!   the report live in `benches/peers/`.
//!
//! `--records rag` runs the RAG filter benchmark instead ([`rag`]): about 1 KB records with
//! indexed fields, the filters a RAG app runs, and count, scan, delete_where and update_record.
//!
//! Index modes (`--index`, several separated by commas): `flat`, the exact scan; `hnsw`, the
//! collection's approximate index built with `--m` and `--ef-construction` while ingesting
//! (build time includes it), searched at each `--ef` value (one line per value); `global`, the
//! rows dealt into three collections and searched across them through `_global_index`'s graph
//! at each `--ef` value ([`global`]), with its queries/s as a multiple of the per-type index's in
//! the same run at the same `ef` and at the same recall ([`compare`]).

mod args;
mod compare;
mod data;
mod export;
mod filters;
mod global;
mod measure;
mod output;
mod rag;
mod run;
mod truth;

use clap::Parser;
use data::{Dataset, Distance};
use output::Line;
use quiver::vector::{AnnConfig, F16, F32, Metric};

/// The exact scan with the vector type the dataset needs: its dimension (one of those compiled
/// in below), f16 where every value is exactly an f16 (wordnet-minilm, stored as it ships, and
/// fashion-mnist, whose pixels are the integers 0-255: the stored vectors are exactly those of
/// f32 storage, at half the bytes), f32 otherwise;
/// `1 - dot` datasets are L2-normalised, so the dot metric ranks exactly as their ground truth.
fn run(
    args: &args::Args,
    data: &Dataset,
    mode: &run::Mode,
) -> Result<Vec<Line>, Box<dyn std::error::Error>> {
    macro_rules! dispatch {
        ($($dim:literal),*) => {
            match (data.distance, data.f16_values, data.base.dim()) {
                (Distance::OneMinusDot, true, 384) => run::run::<F16<384>>(args, data, Metric::Dot, mode),
                (Distance::L2Squared, true, 784) => run::run::<F16<784>>(args, data, Metric::L2, mode),
                $(
                    (Distance::OneMinusDot, _, $dim) => run::run::<F32<$dim>>(args, data, Metric::Dot, mode),
                    (Distance::L2Squared, _, $dim) => run::run::<F32<$dim>>(args, data, Metric::L2, mode),
                )*
                (_, _, dim) => Err(format!(
                    "no vector type compiled in for {dim} components; add it in benches/ann/main.rs"
                )
                .into()),
            }
        };
    }
    // The dimensions of wordnet-minilm, fashion-mnist and the common ann-benchmarks files
    // (glove-25/50/100/200, sift-128, nytimes-256, gist-960).
    dispatch!(8, 25, 50, 100, 128, 200, 256, 384, 784, 960)
}

/// The RAG bench ([`rag`]) for wordnet's vector type (384-d f16, dot metric).
fn rag_run(
    args: &args::Args,
    data: &Dataset,
    mode: &run::Mode,
) -> Result<(), Box<dyn std::error::Error>> {
    let (ann, efs) = match mode {
        run::Mode::Flat => (None, Vec::new()),
        run::Mode::Hnsw(config, efs) => (Some(*config), efs.clone()),
        run::Mode::Global(_) => return Err("--records rag measures flat and hnsw".into()),
    };
    match (data.distance, data.f16_values, data.base.dim()) {
        (Distance::OneMinusDot, true, 384) => {
            rag::run::<F16<384>>(args, data, Metric::Dot, ann, &efs)?;
            Ok(())
        }
        _ => Err("--records rag runs on wordnet-minilm (384-d f16)".into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args::Args::parse();
    let data = data::load(&args)?;
    if args.k == 0 || args.k > data.truth.ids.dim() {
        return Err(format!(
            "k = {} but the ground truth holds {} neighbours",
            args.k,
            data.truth.ids.dim()
        )
        .into());
    }
    eprintln!(
        "{}: {} base vectors, {} queries, k = {}, kernels {}",
        data.name,
        data.base.rows(),
        data.queries.rows(),
        args.k,
        quiver::vector::distance::kernel_name()
    );
    if let Some(dir) = &args.export {
        export::write(&data, dir)?;
        eprintln!("exported to {}", dir.display());
    }
    let mut modes = Vec::new();
    for name in args.index.split(',') {
        match name {
            "flat" => modes.push(run::Mode::Flat),
            "hnsw" => {
                let efs = args.ef_list()?;
                for quantization in args.quantization_list()? {
                    let config = AnnConfig {
                        m: args.m,
                        ef_construction: args.ef_construction,
                        ef_search: AnnConfig::default().ef_search,
                        quantization,
                    };
                    config.validate()?;
                    modes.push(run::Mode::Hnsw(config, efs.clone()));
                }
            }
            "global" => modes.push(run::Mode::Global(args.ef_list()?)),
            other => {
                return Err(format!(
                    "unknown index mode {other:?} (available: flat, hnsw, global)"
                )
                .into());
            }
        }
    }
    if let Some(records) = &args.records {
        if records != "rag" {
            return Err(format!("unknown --records {records:?} (available: rag)").into());
        }
        for mode in &modes {
            rag_run(&args, &data, mode)?;
        }
        return Ok(());
    }
    let mut lines = Vec::new();
    for mode in &modes {
        lines.extend(run(&args, &data, mode)?);
    }
    compare::global_against_per_type(&mut lines);
    output::report(&lines, args.json.as_deref())?;
    if let Some(min) = args.min_recall
        && let Some(low) = lines.iter().find(|l| l.recall < min)
    {
        return Err(format!(
            "recall {} of {} {} is below --min-recall {min}",
            low.recall, low.index, low.params
        )
        .into());
    }
    Ok(())
}
