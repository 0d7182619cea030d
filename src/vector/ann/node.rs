//! The stored form of one graph node (`quiver.ann_nodes`, key: node number).
//!
//! `id u64 | dead u8 | level u8 | for each level 0..=level: count u16, count x u32 neighbour`
//! `| crc u32` (little-endian). The trailing CRC32 covers the node's number (four
//! little-endian bytes) and everything before it, so a flipped bit, or a record read under
//! another node's key, is a corrupt index rather than a different graph; indexes created before
//! checksums (state version 2 and older) have no trailer. Written whenever any of the node's
//! lists or its dead flag changes, in the same transaction as the vectors that caused the
//! change.

use crate::index::hnsw::Graph;

/// A decoded node record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeRecord {
    pub id: u64,
    pub dead: bool,
    /// Neighbour lists for levels `0..=level`.
    pub lists: Vec<Vec<u32>>,
}

/// Encodes node `node` of `graph` with its item id and dead flag (and its checksum if
/// `checked`).
pub(crate) fn encode(
    graph: &Graph,
    node: u32,
    id: u64,
    dead: bool,
    checked: bool,
    out: &mut Vec<u8>,
) {
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
    if checked {
        let crc = checksum(node, out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
}

fn checksum(node: u32, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&node.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Decodes node `node`'s record (with its checksum if `checked`); `None` if it is malformed
/// (a checksum that does not match, truncated, trailing bytes, a level above 15, a list longer
/// than `max_list`).
pub(crate) fn decode(
    node: u32,
    bytes: &[u8],
    max_list: usize,
    checked: bool,
) -> Option<NodeRecord> {
    let bytes = if checked {
        let (body, crc) = bytes.split_last_chunk::<4>()?;
        (checksum(node, body) == u32::from_le_bytes(*crc)).then_some(body)?
    } else {
        bytes
    };
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
        encode(&graph, 3, 42, true, false, &mut bytes);
        let record = decode(3, &bytes, 32, false).unwrap();
        assert_eq!(
            record,
            NodeRecord {
                id: 42,
                dead: true,
                lists: vec![vec![0, 1, 2], vec![], vec![1]],
            }
        );
        for cut in 0..bytes.len() {
            assert_eq!(decode(3, &bytes[..cut], 32, false), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(3, &longer, 32, false), None);
        assert_eq!(decode(3, &bytes, 2, false), None, "list over the limit");
        let mut bad = bytes;
        bad[8] = 2;
        assert_eq!(decode(3, &bad, 32, false), None);
    }

    #[test]
    fn checked_records_reject_every_flipped_bit_and_another_node_key() {
        let mut graph = Graph::new(HnswParams::default());
        for _ in 0..4 {
            graph.add_node(1);
        }
        graph.set_neighbours(2, 0, &[0, 1, 3]);
        graph.set_neighbours(2, 1, &[3]);
        let mut bytes = Vec::new();
        encode(&graph, 2, 7, false, true, &mut bytes);
        let record = decode(2, &bytes, 32, true).unwrap();
        assert_eq!(record.lists, vec![vec![0, 1, 3], vec![3]]);
        assert_eq!(
            decode(1, &bytes, 32, true),
            None,
            "read under another node's key"
        );
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[byte] ^= 1 << bit;
                assert_eq!(
                    decode(2, &flipped, 32, true),
                    None,
                    "bit {bit} of byte {byte}"
                );
            }
        }
    }
}
