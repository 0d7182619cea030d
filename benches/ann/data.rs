//! The datasets the harness knows, loaded into memory with their exact ground truth and, where the
//! dataset has them, per-row labels for filtered runs.

use crate::args::Args;
use crate::truth::{self, Truth};
use quiver::datasets::{Matrix, idx, npy};
use quiver::vector::{CollectionConfig, F32, Filter, Metric, Store};
use std::path::{Path, PathBuf};

/// Neighbours per query kept in every ground truth.
pub const TRUTH_K: usize = 100;

/// How a dataset measures distance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Distance {
    /// `1 - q.v` (cosine on L2-normalised vectors; ann-benchmarks' "angular").
    OneMinusDot,
    /// `|q - v|^2` (ranks as ann-benchmarks' "euclidean").
    L2Squared,
}

impl Distance {
    /// The name the exported files and the peers use.
    pub fn name(self) -> &'static str {
        match self {
            Distance::OneMinusDot => "angular",
            Distance::L2Squared => "euclidean",
        }
    }

    /// The distance in f64, from the stored values.
    pub fn exact(self, query: &[f32], vector: &[f32]) -> f64 {
        let pairs = query
            .iter()
            .zip(vector)
            .map(|(a, b)| (f64::from(*a), f64::from(*b)));
        match self {
            Distance::OneMinusDot => 1.0 - pairs.map(|(a, b)| a * b).sum::<f64>(),
            Distance::L2Squared => pairs.map(|(a, b)| (a - b) * (a - b)).sum(),
        }
    }
}

/// Per-row labels (wordnet's part of speech): `names[code - 1]` for a row's code, 0 for none.
pub struct Labels {
    pub names: Vec<String>,
    pub codes: Vec<u8>,
}

/// A dataset in memory: base and query vectors (the exact values stored), exact neighbours,
/// the dataset's distance, and labels if it has them.
pub struct Dataset {
    pub name: String,
    pub base: Matrix<f32>,
    pub queries: Matrix<f32>,
    pub truth: Truth,
    pub distance: Distance,
    pub labels: Option<Labels>,
    /// Whether every value is exactly an f16 (the dataset ships as f16; stored as such).
    pub f16_values: bool,
}

type BoxError = Box<dyn std::error::Error>;

impl Dataset {
    /// The same base with only the first `n` queries and their ground truth (no labels): what
    /// a filtered run scores against.
    pub fn with_first_queries(&self, n: usize) -> Dataset {
        let queries = self.queries.clone().truncated(n);
        let n = queries.rows();
        Dataset {
            name: self.name.clone(),
            base: self.base.clone(),
            queries,
            truth: Truth {
                ids: self.truth.ids.clone().truncated(n),
                distances: self.truth.distances.clone().truncated(n),
            },
            distance: self.distance,
            labels: None,
            f16_values: self.f16_values,
        }
    }
}

/// Produces a dataset's own ground truth for its full base and the run's queries.
type FullTruth<'a> = &'a dyn Fn(&Matrix<f32>, &Matrix<f32>) -> Result<Truth, BoxError>;

/// The directory of a wordnet dataset's files (`--data-dir`, or where it ships); `None` for
/// other datasets.
pub fn wordnet_dir(args: &Args) -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = match args.dataset.as_str() {
        "wordnet-minilm" => manifest.join("../shared/datasets/wordnet-minilm"),
        "wordnet-minilm-small" => manifest.join("datasets/wordnet-minilm-small"),
        _ => return None,
    };
    Some(args.data_dir.clone().unwrap_or(default))
}

/// Loads the dataset `args` names, with the run's limits applied.
pub fn load(args: &Args) -> Result<Dataset, BoxError> {
    let dir = |default: PathBuf| args.data_dir.clone().unwrap_or(default);
    if let Some(dir) = wordnet_dir(args) {
        return load_wordnet(args, &dir);
    }
    match args.dataset.as_str() {
        "fashion-mnist" => load_fashion(
            args,
            &dir(PathBuf::from("/usr/share/datasets/fashion-mnist")),
        ),
        other => match other.strip_prefix("hdf5:") {
            Some(path) => load_hdf5(args, Path::new(path)),
            None => Err(format!(
                "unknown dataset {other:?} (available: wordnet-minilm, wordnet-minilm-small, \
                 fashion-mnist, hdf5:FILE)"
            )
            .into()),
        },
    }
}

/// Applies the run's limits to a dataset's base and queries and attaches its ground truth: the
/// shipped one (`full_truth`, if any) for the whole base, the f64 brute force otherwise.
fn assemble(
    args: &Args,
    name: &str,
    mut base: Matrix<f32>,
    mut queries: Matrix<f32>,
    distance: Distance,
    labels: Option<Labels>,
    full_truth: Option<FullTruth<'_>>,
) -> Result<Dataset, BoxError> {
    let (base_limit, query_limit) = args.limits();
    if let Some(limit) = query_limit {
        queries = queries.truncated(limit);
    }
    let truncated = base_limit.is_some_and(|limit| limit < base.rows());
    if let Some(limit) = base_limit {
        base = base.truncated(limit);
    }
    let labels = labels.map(|mut l| {
        l.codes.truncate(base.rows());
        l
    });
    let truth = match full_truth {
        Some(full) if !truncated => full(&base, &queries)?,
        _ => truth::brute_force(distance, &base, &queries, TRUTH_K, None),
    };
    let f16_values = base
        .as_slice()
        .iter()
        .all(|x| half::f16::from_f32(*x).to_f32() == *x);
    Ok(Dataset {
        name: name.to_owned(),
        base,
        queries,
        truth,
        distance,
        labels,
        f16_values,
    })
}

fn read_npy_f32(path: &Path) -> Result<Matrix<f32>, BoxError> {
    Ok(npy::read(path)?.into_f32())
}

/// Part of speech per row, from `base_meta.jsonl` (one JSON object per row, in row order).
fn read_parts_of_speech(path: &Path, rows: usize) -> Result<Labels, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut names: Vec<String> = Vec::new();
    let mut codes = Vec::with_capacity(rows);
    for (line_number, line) in text.lines().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: {e}", path.display(), line_number + 1))?;
        let pos = value["pos"]
            .as_str()
            .ok_or_else(|| format!("{}:{}: no \"pos\"", path.display(), line_number + 1))?;
        let code = match names.iter().position(|n| n == pos) {
            Some(i) => i + 1,
            None => {
                names.push(pos.to_owned());
                names.len()
            }
        };
        codes.push(u8::try_from(code).map_err(|_| "more than 255 parts of speech")?);
    }
    if codes.len() != rows {
        return Err(format!(
            "{}: {} rows of metadata for {rows} vectors",
            path.display(),
            codes.len()
        )
        .into());
    }
    Ok(Labels { names, codes })
}

/// wordnet-minilm or its shipped subset: `.npy` base and queries (f16), part of speech per row,
/// and the exact ground truth where the directory has it (`gt_ids.npy`, `gt_cosdist.npy`).
fn load_wordnet(args: &Args, dir: &Path) -> Result<Dataset, BoxError> {
    let base = read_npy_f32(&dir.join("base_f16.npy"))?;
    let queries = read_npy_f32(&dir.join("query_f16.npy"))?;
    let labels = read_parts_of_speech(&dir.join("base_meta.jsonl"), base.rows())?;
    let (ids_path, distances_path) = (dir.join("gt_ids.npy"), dir.join("gt_cosdist.npy"));
    let shipped = |_: &Matrix<f32>, queries: &Matrix<f32>| -> Result<Truth, BoxError> {
        let ids = npy::read(&ids_path)?
            .into_i32()
            .ok_or("gt_ids.npy does not hold integers")?
            .truncated(queries.rows());
        let distances = read_npy_f32(&distances_path)?.truncated(queries.rows());
        Ok(Truth { ids, distances })
    };
    let full_truth: Option<FullTruth<'_>> = ids_path.exists().then_some(&shipped);
    assemble(
        args,
        &args.dataset,
        base,
        queries,
        Distance::OneMinusDot,
        Some(labels),
        full_truth,
    )
}

fn read_idx_gz(path: &Path) -> Result<Matrix<f32>, BoxError> {
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

fn load_fashion(args: &Args, dir: &Path) -> Result<Dataset, BoxError> {
    let base = read_idx_gz(&dir.join("train-images-idx3-ubyte.gz"))?;
    let queries = read_idx_gz(&dir.join("t10k-images-idx3-ubyte.gz"))?;
    assemble(
        args,
        "fashion-mnist",
        base,
        queries,
        Distance::L2Squared,
        None,
        Some(&fashion_truth),
    )
}

/// Top-100 ground truth of the full fashion-mnist by quiver's exact search, checked against the
/// f64 brute force on 100 queries, cached as two `.npy` files under `target/ann-cache/`.
fn fashion_truth(base: &Matrix<f32>, queries: &Matrix<f32>) -> Result<Truth, BoxError> {
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
    if let (Ok(ids), Ok(distances)) = (npy::read(&ids_path), npy::read(&distances_path))
        && let Some(ids) = ids.into_i32()
    {
        return Ok(Truth {
            ids,
            distances: distances.into_f32(),
        });
    }
    eprintln!(
        "computing the fashion-mnist ground truth with quiver's exact search (cached in {})",
        cache.display()
    );
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("truth.qvr"))?;
    let collection =
        store.create_collection::<F32<784>, u8>("truth", CollectionConfig::new(Metric::L2))?;
    crate::run::ingest(&collection, base, None)?;
    let refs: Vec<&[f32]> = queries.iter().collect();
    let bar = crate::output::progress(refs.len(), "truth");
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
    let short = "a query returned fewer than 100 neighbours";
    let truth = Truth {
        ids: Matrix::new(TRUTH_K, ids).ok_or(short)?,
        distances: Matrix::new(TRUTH_K, distances).ok_or(short)?,
    };
    // The second, independent computation: f64 brute force on the first 100 queries.
    let sample = queries.clone().truncated(100);
    let check = truth::brute_force(Distance::L2Squared, base, &sample, TRUTH_K, None);
    for q in 0..sample.rows() {
        for rank in 0..TRUTH_K {
            let (ours, theirs) = (truth.distances.row(q)[rank], check.distances.row(q)[rank]);
            if (ours - theirs).abs() > 1e-4 * theirs.max(1.0) {
                return Err(format!(
                    "ground truth check failed: query {q} rank {rank}: {ours} (quiver) vs \
                     {theirs} (f64), ids {} vs {}",
                    truth.ids.row(q)[rank],
                    check.ids.row(q)[rank]
                )
                .into());
            }
        }
    }
    std::fs::create_dir_all(&cache)?;
    std::fs::write(&ids_path, npy::to_bytes_i32(truth.ids.as_slice(), TRUTH_K))?;
    std::fs::write(
        &distances_path,
        npy::to_bytes_f32(truth.distances.as_slice(), TRUTH_K),
    )?;
    drop(collection);
    store.close()?;
    Ok(truth)
}

/// An ann-benchmarks HDF5 file (`train`, `test`, `neighbors`, `distances`, attribute
/// `distance`), read with the `hdf5` feature.
#[cfg(feature = "hdf5")]
fn load_hdf5(args: &Args, path: &Path) -> Result<Dataset, BoxError> {
    let file = quiver::datasets::hdf5::read_ann_benchmarks(path)?;
    let distance = match file.distance.as_str() {
        "angular" | "cosine" => Distance::OneMinusDot,
        "euclidean" | "l2" => Distance::L2Squared,
        other => {
            return Err(format!("{}: distance {other:?} is not supported", path.display()).into());
        }
    };
    let (mut base, mut queries) = (file.train, file.test);
    if distance == Distance::OneMinusDot {
        // ann-benchmarks' angular data is not always normalised; cosine ranks as 1 - dot of the
        // normalised vectors, which is what is stored.
        base = normalised(&base);
        queries = normalised(&queries);
    }
    let name = path
        .file_stem()
        .map_or_else(|| "hdf5".to_owned(), |s| s.to_string_lossy().into_owned());
    // The file's distances are in the dataset's own units: euclidean is not squared (the harness
    // uses squared L2, which ranks the same), angular is 1 - cosine (as here).
    let ids = file.neighbors;
    let distances = match distance {
        Distance::L2Squared => file.distances.map(|d| d * d),
        Distance::OneMinusDot => file.distances,
    };
    let shipped = move |_: &Matrix<f32>, q: &Matrix<f32>| -> Result<Truth, BoxError> {
        Ok(Truth {
            ids: ids.clone().truncated(q.rows()),
            distances: distances.clone().truncated(q.rows()),
        })
    };
    assemble(args, &name, base, queries, distance, None, Some(&shipped))
}

#[cfg(feature = "hdf5")]
fn normalised(m: &Matrix<f32>) -> Matrix<f32> {
    let mut out = Vec::with_capacity(m.as_slice().len());
    for row in m.iter() {
        let norm = row
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt();
        let scale = if norm > 0.0 { (1.0 / norm) as f32 } else { 1.0 };
        out.extend(row.iter().map(|x| x * scale));
    }
    Matrix::new(m.dim(), out).unwrap_or_else(|| m.clone())
}

#[cfg(not(feature = "hdf5"))]
fn load_hdf5(_: &Args, path: &Path) -> Result<Dataset, BoxError> {
    Err(format!(
        "{}: HDF5 support is off; build with `--features hdf5` (needs libhdf5-dev)",
        path.display()
    )
    .into())
}
