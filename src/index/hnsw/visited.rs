//! Visited marks for graph searches: one `u32` stamp per node, compared with the current
//! generation, so starting a new search is one increment instead of clearing an array.

/// Reusable visited set for searches over a graph of up to `len` nodes.
///
/// ```
/// let mut visited = quiver::index::hnsw::Visited::new(4);
/// visited.start(4);
/// assert!(visited.insert(2));
/// assert!(!visited.insert(2));
/// visited.start(4);
/// assert!(visited.insert(2));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Visited {
    stamps: Vec<u32>,
    generation: u32,
}

impl Visited {
    /// A set for graphs of up to `len` nodes (it grows when a search needs more).
    pub fn new(len: usize) -> Visited {
        Visited {
            stamps: vec![0; len],
            generation: 0,
        }
    }

    /// Begins a new search over `len` nodes: everything is unvisited again.
    pub fn start(&mut self, len: usize) {
        if self.stamps.len() < len {
            self.stamps.resize(len, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // After 2^32 searches the stamps could collide with the new generation: reset them.
            self.stamps.fill(0);
            self.generation = 1;
        }
    }

    /// Whether `node` is marked in this search (nodes past the graph count as marked).
    #[inline]
    pub fn contains(&self, node: u32) -> bool {
        self.stamps
            .get(node as usize)
            .is_none_or(|stamp| *stamp == self.generation)
    }

    /// Marks `node`; true if it was not marked in this search.
    pub fn insert(&mut self, node: u32) -> bool {
        match self.stamps.get_mut(node as usize) {
            Some(stamp) if *stamp == self.generation => false,
            Some(stamp) => {
                *stamp = self.generation;
                true
            }
            // Nodes past the graph are never returned by it; treat them as seen.
            None => false,
        }
    }
}
