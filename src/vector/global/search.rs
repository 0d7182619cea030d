//! Exact search over `_global_index`, read zero-copy from its redb pages.
//!
//! The entries of each collection code are split into id ranges (by the code's first and last id)
//! and the ranges are scanned in parallel from one read snapshot; the stored vectors are read in
//! place with unaligned loads.

use super::global_vectors;
use crate::cf::column_family::ColumnFamily;
use crate::error::Result;
use crate::vector::distance::norm_squared_stored;
use crate::vector::element::VectorType;
use crate::vector::metric::{Metric, check_vector};
use crate::vector::scan::Prepared;
use crate::vector::topk::{Candidate, Hit, TopK};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn search<V: VectorType>(
    cf: &ColumnFamily,
    metric: Metric,
    query: &[f32],
    k: usize,
    names: &HashMap<u64, Arc<str>>,
) -> Result<Vec<Hit>> {
    check_vector(query, V::DIM, V::ELEMENT, metric)?;
    let prepared = Prepared::new(query);
    let read = cf.begin_read()?;
    let table = read.open_table(global_vectors::<V>())?;
    let parts = rayon::current_num_threads().max(1) * 2;
    let mut codes: Vec<(u64, Arc<str>)> = names.iter().map(|(c, n)| (*c, n.clone())).collect();
    codes.sort_unstable_by_key(|(code, _)| *code);
    // (index into `codes`, first id, last id) of each part to scan.
    let mut ranges = Vec::new();
    for (index, (code, _)) in codes.iter().enumerate() {
        let code = *code;
        let mut all = table.range((code, 0)..=(code, u64::MAX))?;
        let Some(low) = all.next().transpose()?.map(|(k, _)| k.value().1) else {
            continue;
        };
        let high = all
            .next_back()
            .transpose()?
            .map_or(low, |(k, _)| k.value().1);
        let span = (high - low) / parts as u64 + 1;
        let mut start = low;
        loop {
            let end = start.saturating_add(span - 1).min(high);
            ranges.push((index, start, end));
            if end >= high {
                break;
            }
            start = end + 1;
        }
    }
    let tops = ranges
        .par_iter()
        .map(|&(index, start, end)| -> Result<TopK> {
            let code = codes[index].0;
            let mut top = TopK::new(k);
            for entry in table.range((code, start)..=(code, end))? {
                let (key, vector) = entry?;
                let bytes = vector.value().bytes();
                let norm_sq = if metric == Metric::Cosine {
                    norm_squared_stored(bytes, V::ELEMENT)
                } else {
                    0.0
                };
                top.push(Candidate {
                    distance: metric.distance(query, prepared.norm, bytes, norm_sq, V::ELEMENT),
                    source: index as u32,
                    id: key.value().1,
                });
            }
            Ok(top)
        })
        .collect::<Result<Vec<TopK>>>()?;
    let merged = tops.into_iter().fold(TopK::new(k), TopK::merge);
    Ok(merged
        .into_sorted()
        .into_iter()
        .map(|c| Hit {
            collection: codes[c.source as usize].1.clone(),
            id: c.id,
            distance: c.distance,
        })
        .collect())
}
