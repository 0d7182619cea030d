//! Filtered runs: which base rows a filter allows, and the quiver filter that expresses it.
//!
//! `--filter 50,10,1,0.1,pos`: a number is a random subset of that percentage of the ids (seeded,
//! so every index sees the same subset), searched with an id allow-list; `pos` is one run per part
//! of speech (wordnet), searched with a predicate over the record, which holds the label code.

use crate::data::Dataset;
use quiver::vector::Filter;
use rand::SeedableRng;
use rand::seq::index::sample;

/// One filtered run.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterSpec {
    /// A random `percent`% of the ids.
    Random { percent: f64 },
    /// Rows whose label is `name`, with label code `code`.
    Label { name: String, code: u8 },
}

impl FilterSpec {
    /// Parses a comma-separated list; `pos` expands to every label of the dataset.
    pub fn parse_list(list: &str, data: &Dataset) -> Result<Vec<FilterSpec>, String> {
        let mut specs = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "pos" {
                let labels = data
                    .labels
                    .as_ref()
                    .ok_or_else(|| format!("{} has no part-of-speech labels", data.name))?;
                for (i, name) in labels.names.iter().enumerate() {
                    specs.push(FilterSpec::Label {
                        name: name.clone(),
                        // At most 255 names exist (checked when read), so i + 1 fits.
                        code: u8::try_from(i + 1).map_err(|e| e.to_string())?,
                    });
                }
                continue;
            }
            let percent: f64 = item
                .trim_end_matches('%')
                .parse()
                .map_err(|_| format!("--filter: {item:?} is neither a percentage nor \"pos\""))?;
            if !(percent > 0.0 && percent <= 100.0) {
                return Err(format!("--filter: {percent}% is not in (0, 100]"));
            }
            specs.push(FilterSpec::Random { percent });
        }
        Ok(specs)
    }

    /// The name in the JSON `params` and the table.
    pub fn name(&self) -> String {
        match self {
            FilterSpec::Random { percent } => format!("random-{percent}%"),
            FilterSpec::Label { name, .. } => format!("pos={name}"),
        }
    }

    /// The allowed base rows, sorted.
    pub fn allowed(&self, data: &Dataset, seed: u64) -> Vec<u32> {
        let n = data.base.rows();
        match self {
            FilterSpec::Random { percent } => {
                let count = ((n as f64) * percent / 100.0).round().max(1.0) as usize;
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut rows: Vec<u32> = sample(&mut rng, n, count.min(n))
                    .into_iter()
                    .map(|r| r as u32)
                    .collect();
                rows.sort_unstable();
                rows
            }
            FilterSpec::Label { code, .. } => data
                .labels
                .as_ref()
                .map(|l| {
                    (0..n as u32)
                        .filter(|r| l.codes[*r as usize] == *code)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The quiver filter for this run; `ids` must be the allowed rows as u64 ids.
    pub fn quiver_filter<'f>(&self, ids: &'f [u64]) -> Filter<'f, u8> {
        match self {
            FilterSpec::Random { .. } => Filter::ids(ids),
            FilterSpec::Label { code, .. } => {
                let code = *code;
                Filter::predicate(move |label: u8| label == code)
            }
        }
    }
}
