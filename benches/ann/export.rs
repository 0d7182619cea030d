//! `--export DIR`: the exact base, queries and ground truth of this run as `.npy` files, plus a
//! `meta.json`, so that the peers (benches/peers) search the very same data with the same k.

use crate::data::Dataset;
use quiver::datasets::npy;
use serde_json::json;
use std::path::Path;

/// Writes `base.npy`, `queries.npy` (f32), `truth_ids.npy` (i32), `truth_distances.npy` (f32) and
/// `meta.json` (`dataset`, `distance`: angular or euclidean, `n`, `dim`, `queries`).
pub fn write(data: &Dataset, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let dim = data.base.dim();
    std::fs::write(
        dir.join("base.npy"),
        npy::to_bytes_f32(data.base.as_slice(), dim),
    )?;
    std::fs::write(
        dir.join("queries.npy"),
        npy::to_bytes_f32(data.queries.as_slice(), dim),
    )?;
    let k = data.truth.ids.dim();
    std::fs::write(
        dir.join("truth_ids.npy"),
        npy::to_bytes_i32(data.truth.ids.as_slice(), k),
    )?;
    std::fs::write(
        dir.join("truth_distances.npy"),
        npy::to_bytes_f32(data.truth.distances.as_slice(), k),
    )?;
    let meta = json!({
        "dataset": data.name, "distance": data.distance.name(), "n": data.base.rows(),
        "dim": dim, "queries": data.queries.rows(),
    });
    std::fs::write(dir.join("meta.json"), format!("{meta}\n"))?;
    Ok(())
}
