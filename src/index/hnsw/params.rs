//! Build parameters of the graph.

/// How a graph is built.
///
/// ```
/// let params = quiver::index::hnsw::HnswParams::default();
/// assert_eq!((params.m, params.ef_construction), (16, 200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours kept per node on the upper levels; level 0 keeps twice as many. Larger values
    /// raise recall at a given `ef` and cost memory and build time (8 to 48 is the useful range).
    pub m: usize,
    /// Candidate list size while inserting: larger builds a better graph, more slowly.
    pub ef_construction: usize,
    /// Seed of the level draw (levels are a function of the seed and the node number, so a build
    /// is reproducible).
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            seed: 0x5eed_9a1d_c0de_0001,
        }
    }
}

impl HnswParams {
    /// Neighbours kept on level 0.
    ///
    /// ```
    /// assert_eq!(quiver::index::hnsw::HnswParams::default().max_degree0(), 32);
    /// ```
    pub fn max_degree0(&self) -> usize {
        2 * self.m.max(2)
    }

    /// Neighbours kept on the levels above 0.
    ///
    /// ```
    /// assert_eq!(quiver::index::hnsw::HnswParams::default().max_degree(), 16);
    /// ```
    pub fn max_degree(&self) -> usize {
        self.m.max(2)
    }

    /// The level of `node`: `floor(-ln(u) / ln(M))` for a uniform `u` drawn from the seed and the
    /// node number (a SplitMix64 step), capped at 15.
    ///
    /// ```
    /// let params = quiver::index::hnsw::HnswParams::default();
    /// let upper = (0..16_000u32).filter(|n| params.level_of(*n) > 0).count();
    /// assert!((700..1300).contains(&upper)); // about one node in M
    /// ```
    pub fn level_of(&self, node: u32) -> u8 {
        let mut z = self
            .seed
            .wrapping_add(u64::from(node).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // A uniform value in (0, 1]: the top 53 bits, plus one, over 2^53.
        let u = ((z >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let level = -u.ln() / (self.max_degree() as f64).ln();
        level.min(15.0) as u8
    }
}
