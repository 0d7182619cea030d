//! The stored form of one graph node (`quiver.ann_nodes`, key: node number).
//!
//! `id u64 | dead u8 | level u8 | for each level 0..=level: count u16, count x u32 neighbour`
//! (little-endian). Written whenever any of the node's lists or its dead flag changes, in the
//! same transaction as the vectors that caused the change.

use crate::index::hnsw::Graph;

/// A decoded node record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeRecord {
    pub id: u64,
    pub dead: bool,
    /// Neighbour lists for levels `0..=level`.
    pub lists: Vec<Vec<u32>>,
}

/// Encodes node `node` of `graph` with its item id and dead flag.
pub(crate) fn encode(graph: &Graph, node: u32, id: u64, dead: bool, out: &mut Vec<u8>) {
    out.clear();
    let level = graph.level(node);
    out.extend_from_slice(&id.to_le_bytes());
    out.push(u8::from(dead));
    out.push(level);
    for l in 0..=level {
        let list = graph.neighbours(node, l);
        // A list never exceeds 2 * m <= 256 entries (AnnConfig::validate).
        out.extend_from_slice(&(list.len() as u16).to_le_bytes());
        for neighbour in list {
            out.extend_from_slice(&neighbour.to_le_bytes());
        }
    }
}

/// Decodes a node record; `None` if it is malformed (truncated, trailing bytes, a level above
/// 15, a list longer than `max_list`).
pub(crate) fn decode(bytes: &[u8], max_list: usize) -> Option<NodeRecord> {
    let id = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let dead = match *bytes.get(8)? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let level = *bytes.get(9)?;
    if level > 15 {
        return None;
    }
    let mut at = 10;
    let mut lists = Vec::with_capacity(usize::from(level) + 1);
    for _ in 0..=level {
        let count = usize::from(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
        at += 2;
        if count > max_list {
            return None;
        }
        let raw = bytes.get(at..at + 4 * count)?;
        lists.push(
            raw.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        );
        at += 4 * count;
    }
    (at == bytes.len()).then_some(NodeRecord { id, dead, lists })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::hnsw::HnswParams;

    #[test]
    fn records_round_trip_and_damage_is_rejected() {
        let mut graph = Graph::new(HnswParams::default());
        for _ in 0..3 {
            graph.add_node(0);
        }
        graph.add_node(2);
        graph.set_neighbours(3, 0, &[0, 1, 2]);
        graph.set_neighbours(3, 2, &[1]);
        let mut bytes = Vec::new();
        encode(&graph, 3, 42, true, &mut bytes);
        let record = decode(&bytes, 32).unwrap();
        assert_eq!(
            record,
            NodeRecord {
                id: 42,
                dead: true,
                lists: vec![vec![0, 1, 2], vec![], vec![1]],
            }
        );
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut], 32), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, 32), None);
        assert_eq!(decode(&bytes, 2), None, "list over the limit");
        let mut bad = bytes;
        bad[8] = 2;
        assert_eq!(decode(&bad, 32), None);
    }
}
