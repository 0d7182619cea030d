//! Recall of approximate results against exact ground truth, computed as ann-benchmarks does.
//!
//! A returned item counts as a true neighbour if its distance is within the k-th true distance
//! plus `epsilon` (ann-benchmarks uses 1e-3), so ties at the k-th distance do not penalise a
//! result that returns a different but equally near item. [`recall_by_ids`] is the stricter
//! id-overlap measure, reported next to it.

/// ann-benchmarks' tolerance on the k-th distance.
pub const EPSILON: f32 = 1e-3;

/// Distance-based recall@k for one query: the fraction of `returned_distances` (at most k are
/// looked at) that are within `true_distances[k-1] + epsilon`. `true_distances` must be sorted
/// ascending and hold at least k values; 1.0 when k is 0.
///
/// ```
/// use quiver::datasets::recall::recall_by_distance;
/// // The 2nd true distance is 0.2; a returned 0.2 (a tie) counts, 0.5 does not.
/// assert_eq!(recall_by_distance(&[0.1, 0.2], &[0.1, 0.2, 0.3], 2, 1e-3), 1.0);
/// assert_eq!(recall_by_distance(&[0.1, 0.5], &[0.1, 0.2, 0.3], 2, 1e-3), 0.5);
/// ```
pub fn recall_by_distance(
    returned_distances: &[f32],
    true_distances: &[f32],
    k: usize,
    epsilon: f32,
) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let Some(threshold) = true_distances.get(k - 1).map(|d| d + epsilon) else {
        return 0.0;
    };
    let found = returned_distances
        .iter()
        .take(k)
        .filter(|d| **d <= threshold)
        .count();
    found as f64 / k as f64
}

/// Id-overlap recall@k for one query: how many of the first k returned ids are among the first k
/// true ids, over k; 1.0 when k is 0.
///
/// ```
/// use quiver::datasets::recall::recall_by_ids;
/// assert_eq!(recall_by_ids(&[3, 1, 9], &[1, 2, 3], 3), 2.0 / 3.0);
/// ```
pub fn recall_by_ids(returned: &[u64], truth: &[u64], k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let truth = &truth[..k.min(truth.len())];
    let found = returned
        .iter()
        .take(k)
        .filter(|id| truth.contains(id))
        .count();
    found as f64 / k as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_at_the_kth_distance_count_and_farther_items_do_not() {
        let truth = [0.1f32, 0.2, 0.2, 0.2, 0.9];
        // Any of the three items at 0.2 completes the top 2.
        assert_eq!(recall_by_distance(&[0.1, 0.2], &truth, 2, EPSILON), 1.0);
        // Within epsilon of the k-th distance counts; beyond does not.
        assert_eq!(recall_by_distance(&[0.2005, 0.1], &truth, 2, EPSILON), 1.0);
        assert_eq!(recall_by_distance(&[0.21, 0.1], &truth, 2, EPSILON), 0.5);
        // Only the first k returned are looked at, and missing results count as misses.
        assert_eq!(
            recall_by_distance(&[0.1, 0.9, 0.1], &truth, 2, EPSILON),
            0.5
        );
        assert_eq!(recall_by_distance(&[0.1], &truth, 2, EPSILON), 0.5);
        assert_eq!(recall_by_distance(&[], &truth, 0, EPSILON), 1.0);
        assert_eq!(recall_by_distance(&[0.1], &[], 1, EPSILON), 0.0);
        // Ids are stricter: the tie at 0.2 with a different id is a miss.
        assert_eq!(recall_by_ids(&[10, 12], &[10, 11, 12, 13], 2), 0.5);
        assert_eq!(recall_by_ids(&[10, 11, 10], &[10, 11], 2), 1.0);
    }
}
