//! The approximate index's parameters, and the stored form of its state (`quiver.ann_meta`).
//!
//! Stored form, version 3 (little-endian):
//! `b"qvann" | version u8 = 3 | m u32 | ef_construction u32 | ef_search u32 | seed u64 |
//! nodes u32 | dead u32 | entry node u32 | entry level u8 | has entry u8 | quantization u8`
//! (0 none, 1 int8, 2 binary). Version 3 means every node record ends in a checksum (see
//! [`super::node`]); version 2 is the same without node checksums, and version 1 is version 2
//! without the last byte (no quantization). Both are still read, and an index keeps the version
//! it was created with (its nodes are all of one form).

use crate::error::{Error, Result};
use crate::index::hnsw::HnswParams;
use crate::vector::quantize::Quantization;

const MAGIC: &[u8; 5] = b"qvann";
/// The version new indexes are written with.
const VERSION: u8 = 3;
/// The version of indexes without node checksums.
const VERSION_UNCHECKED: u8 = 2;
/// Length of a version 1 record.
const LEN_V1: usize = 5 + 1 + 4 + 4 + 4 + 8 + 4 + 4 + 4 + 1 + 1;
const LEN: usize = LEN_V1 + 1;

/// The largest `ef` (candidates kept by an approximate search) a search or an index accepts:
/// 65,536. A larger one is refused with [`Error::InvalidArgument`]; within it, a walk never
/// keeps more candidates than the index has nodes, so memory does not grow with `ef`.
///
/// ```
/// assert_eq!(quiver::vector::MAX_EF, 65_536);
/// ```
pub const MAX_EF: usize = 1 << 16;

/// Parameters of a collection's approximate (HNSW) index.
///
/// - `m`: neighbours per node on the upper levels (twice as many on level 0). 16 suits most
///   embeddings; 32 or more for high-dimensional data that needs recall above 0.99, at twice the
///   graph memory and a slower build.
/// - `ef_construction`: candidates considered while linking a node. 200 builds a good graph;
///   100 builds twice as fast for about 0.5% less recall.
/// - `ef_search`: candidates kept while searching (at least `k`). The main speed/recall knob:
///   doubling it roughly halves the speed and removes about half of the missing neighbours.
///   [`Collection::search_approximate`](crate::vector::Collection::search_approximate) takes it
///   per query.
/// - `quantization`: the codes the walk scores nodes with ([`Quantization`]); the candidates it
///   keeps are rescored with the exact vectors. `None` (exact walk) by default; `Int8` trades a
///   little recall per `ef` for a quarter of the memory traffic per visited node.
///
/// ```
/// let config = quiver::vector::AnnConfig::default();
/// assert_eq!((config.m, config.ef_construction, config.ef_search), (16, 200, 64));
/// assert_eq!(config.quantization, quiver::vector::quantize::Quantization::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnConfig {
    /// Neighbours per node on the upper levels; level 0 keeps `2 * m`.
    pub m: usize,
    /// Candidate list size while inserting.
    pub ef_construction: usize,
    /// Default candidate list size while searching.
    pub ef_search: usize,
    /// Codes for the walk's first pass.
    pub quantization: Quantization,
}

impl Default for AnnConfig {
    fn default() -> Self {
        AnnConfig {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            quantization: Quantization::None,
        }
    }
}

impl AnnConfig {
    /// Checks the parameters' ranges: `m` in 2..=128, `ef_construction` in 1..=4096, `ef_search`
    /// in 1..=65536.
    ///
    /// ```
    /// use quiver::vector::AnnConfig;
    /// assert!(AnnConfig::default().validate().is_ok());
    /// assert!(AnnConfig { m: 1, ..AnnConfig::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::InvalidConfig(what.to_owned()));
        if !(2..=128).contains(&self.m) {
            return bad("the index's m must be between 2 and 128");
        }
        if !(1..=4096).contains(&self.ef_construction) {
            return bad("the index's ef_construction must be between 1 and 4096");
        }
        if !(1..=MAX_EF).contains(&self.ef_search) {
            return bad("the index's ef_search must be between 1 and 65536 (MAX_EF)");
        }
        Ok(())
    }

    pub(crate) fn hnsw(&self, seed: u64) -> HnswParams {
        HnswParams {
            m: self.m,
            ef_construction: self.ef_construction,
            seed,
        }
    }
}

/// The index's state as stored beside its node table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AnnMeta {
    pub config: AnnConfig,
    pub seed: u64,
    pub nodes: u32,
    pub dead: u32,
    pub entry: Option<(u32, u8)>,
    /// Node records carry checksums (version 3; indexes created before keep version 2).
    pub node_checks: bool,
}

impl AnnMeta {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.extend_from_slice(MAGIC);
        out.push(if self.node_checks {
            VERSION
        } else {
            VERSION_UNCHECKED
        });
        for value in [
            self.config.m,
            self.config.ef_construction,
            self.config.ef_search,
        ] {
            // validate() bounds every parameter far below u32::MAX.
            out.extend_from_slice(&(value as u32).to_le_bytes());
        }
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&self.nodes.to_le_bytes());
        out.extend_from_slice(&self.dead.to_le_bytes());
        let (node, level) = self.entry.unwrap_or((0, 0));
        out.extend_from_slice(&node.to_le_bytes());
        out.push(level);
        out.push(u8::from(self.entry.is_some()));
        out.push(self.config.quantization.code());
        out
    }

    pub fn decode(collection: &str, bytes: &[u8]) -> Result<AnnMeta> {
        let corrupt = |what: &str| Error::CorruptIndex {
            collection: collection.to_owned(),
            what: what.to_owned(),
        };
        if bytes.len() < 6 || &bytes[..5] != MAGIC {
            return Err(corrupt("its state record is damaged"));
        }
        let quantization = match (bytes[5], bytes.len()) {
            (1, LEN_V1) => Quantization::None,
            (VERSION_UNCHECKED | VERSION, LEN) => Quantization::from_code(bytes[LEN_V1])
                .ok_or_else(|| corrupt("its quantization is unknown"))?,
            (1 | VERSION_UNCHECKED | VERSION, _) => {
                return Err(corrupt("its state record is damaged"));
            }
            (found, _) => {
                return Err(Error::UnsupportedVersion {
                    found: u16::from(found),
                    supported: u16::from(VERSION),
                });
            }
        };
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&bytes[18..26]);
        let config = AnnConfig {
            m: u32_at(6) as usize,
            ef_construction: u32_at(10) as usize,
            ef_search: u32_at(14) as usize,
            quantization,
        };
        config
            .validate()
            .map_err(|_| corrupt("its stored parameters are out of range"))?;
        let meta = AnnMeta {
            config,
            seed: u64::from_le_bytes(seed),
            nodes: u32_at(26),
            dead: u32_at(30),
            entry: (bytes[39] == 1).then(|| (u32_at(34), bytes[38])),
            node_checks: bytes[5] == VERSION,
        };
        if meta.dead > meta.nodes || meta.entry.is_some_and(|(node, _)| node >= meta.nodes) {
            return Err(corrupt("its node counts are inconsistent"));
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_rejects_damage() {
        let meta = AnnMeta {
            config: AnnConfig::default(),
            seed: 7,
            nodes: 10,
            dead: 2,
            entry: Some((3, 1)),
            node_checks: true,
        };
        let bytes = meta.encode();
        assert_eq!(AnnMeta::decode("c", &bytes).unwrap(), meta);
        // Version 1 (no quantization byte) and 2 (no node checksums) are still read.
        let unchecked = AnnMeta {
            node_checks: false,
            ..meta
        };
        let mut v1 = bytes[..LEN_V1].to_vec();
        v1[5] = 1;
        assert_eq!(AnnMeta::decode("c", &v1).unwrap(), unchecked);
        let v2 = unchecked.encode();
        assert_eq!(v2[5], 2);
        assert_eq!(AnnMeta::decode("c", &v2).unwrap(), unchecked);
        for quantization in Quantization::ALL {
            let meta = AnnMeta {
                config: AnnConfig {
                    quantization,
                    ..AnnConfig::default()
                },
                ..meta
            };
            assert_eq!(AnnMeta::decode("c", &meta.encode()).unwrap(), meta);
        }
        let mut bad = bytes.clone();
        bad[LEN_V1] = 9; // unknown quantization
        assert!(AnnMeta::decode("c", &bad).is_err());
        let empty = AnnMeta {
            entry: None,
            nodes: 0,
            dead: 0,
            ..meta
        };
        assert_eq!(AnnMeta::decode("c", &empty.encode()).unwrap(), empty);
        for cut in 0..bytes.len() {
            assert!(AnnMeta::decode("c", &bytes[..cut]).is_err());
        }
        let mut bad = bytes.clone();
        bad[34] = 99; // entry past the last node
        assert!(AnnMeta::decode("c", &bad).is_err());
        let mut bad = bytes.clone();
        bad[6] = 0; // m = 0
        assert!(AnnMeta::decode("c", &bad).is_err());
        let mut bad = bytes;
        bad[5] = 4;
        assert!(matches!(
            AnnMeta::decode("c", &bad),
            Err(Error::UnsupportedVersion {
                found: 4,
                supported: 3
            })
        ));
    }
}
