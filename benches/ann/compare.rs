//! One setting's queries/s as a multiple of a baseline curve measured in the same run: the
//! filtered searches against the unfiltered walk, the cross-type search against the per-type
//! one. Two walks that reach different recall at one `ef` are compared both at that `ef` and
//! at the same recall (the usual way to compare searches along their recall-speed curves).

use crate::output::Line;

/// One baseline setting: its `ef` (`None` for the exact scan), recall and one-thread queries/s.
pub type Point = (Option<usize>, f64, f64);

/// `qps` as a multiple of the baseline's setting at the same `ef`, and of the fastest baseline
/// setting whose recall is at least `recall`; `None` where the run has no such setting.
pub fn against(
    baseline: &[Point],
    ef: Option<usize>,
    recall: f64,
    qps: f64,
) -> (Option<f64>, Option<f64>) {
    let same_ef = baseline
        .iter()
        .find(|(setting, _, _)| *setting == ef)
        .map(|(_, _, base)| qps / base);
    let same_recall = baseline
        .iter()
        .filter(|(_, base_recall, _)| *base_recall >= recall)
        .map(|(_, _, base)| *base)
        .max_by(f64::total_cmp)
        .map(|base| qps / base);
    (same_ef, same_recall)
}

/// A ratio as printed: `0.52x`, or why there is none.
pub fn describe(ratio: Option<f64>) -> String {
    ratio.map_or("n/a (no such setting)".into(), |r| format!("{r:.2}x"))
}

/// A ratio as stored in the JSON lines: three decimals.
pub fn rounded(ratio: Option<f64>) -> Option<f64> {
    ratio.map(|r| (r * 1000.0).round() / 1000.0)
}

/// Adds to each cross-type line (`quiver-global-hnsw`) its queries/s as a multiple of the
/// per-type index's (`quiver-hnsw`, unfiltered) in the same run on the same dataset at the same
/// recall (`vs_per_type_same_recall`), and prints it beside the same-`ef` ratio the global run
/// timed itself (`vs_per_type_same_ef`). Lines are left as they are when the run has no
/// per-type index.
pub fn global_against_per_type(lines: &mut [Line]) {
    let ef_of = |line: &Line| {
        line.params
            .get("ef_search")
            .and_then(serde_json::Value::as_u64)
            .map(|ef| ef as usize)
    };
    let per_type: Vec<(String, Point)> = lines
        .iter()
        .filter(|l| l.index == "quiver-hnsw" && l.params.get("filter").is_none())
        .map(|l| (l.dataset.clone(), (ef_of(l), l.recall, l.speed.qps_1t)))
        .collect();
    for line in lines.iter_mut().filter(|l| l.index == "quiver-global-hnsw") {
        let baseline: Vec<Point> = per_type
            .iter()
            .filter(|(dataset, _)| *dataset == line.dataset)
            .map(|(_, point)| *point)
            .collect();
        if baseline.is_empty() {
            continue;
        }
        let ef = ef_of(line);
        let (_, same_recall) = against(&baseline, ef, line.recall, line.speed.qps_1t);
        // The same-ef ratio is the global run's own, timed in alternating passes.
        let same_ef = line
            .params
            .get("vs_per_type_same_ef")
            .and_then(serde_json::Value::as_f64);
        eprintln!(
            "global ef {}: against the per-type index's queries/s, {} at the same ef, {} at the same recall",
            ef.map_or("-".into(), |ef| ef.to_string()),
            describe(same_ef),
            describe(same_recall)
        );
        if let Some(params) = line.params.as_object_mut() {
            params.insert(
                "vs_per_type_same_recall".into(),
                rounded(same_recall).into(),
            );
        }
    }
}
