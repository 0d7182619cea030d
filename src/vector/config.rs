//! A collection's configuration and its stored form.
//!
//! The configuration is written into the collection's column family when it is created
//! (table `quiver.config`, key `collection`) and compared with what the caller asks for every
//! time the collection is opened, so a program built for 384-d cosine f32 vectors cannot
//! silently read a collection of 768-d f16 ones.
//!
//! Stored form, version 1 (little-endian):
//! `b"qvcol" | version u8 = 1 | element u8 | metric u8 | indexed u8 | dim u32 | code u64 |
//! record type name (UTF-8, to the end)`.

use crate::error::{Error, Result};
use crate::vector::ann::AnnConfig;
use crate::vector::element::Element;
use crate::vector::metric::Metric;

const MAGIC: &[u8; 5] = b"qvcol";
const VERSION: u8 = 1;
const FIXED_LEN: usize = 5 + 1 + 1 + 1 + 1 + 4 + 8;

/// What a caller chooses when creating a collection (the vector type, and with it the dimension
/// and element type, comes from the collection's type parameter).
///
/// ```
/// use quiver::vector::{CollectionConfig, Metric};
/// let config = CollectionConfig::new(Metric::Cosine).global(false);
/// assert_eq!(config.metric, Metric::Cosine);
/// assert!(!config.indexed_globally);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionConfig {
    /// The metric searches use.
    pub metric: Metric,
    /// Whether the store's `_global_index` covers this collection (default `true`; it applies
    /// only when the store has a global index with the same vector type and metric).
    pub indexed_globally: bool,
    /// The approximate index to keep, if any (set with [`approximate`](Self::approximate)).
    /// It is created with the collection and stored in it; opening the collection later loads
    /// it whatever this field says.
    pub ann: Option<AnnConfig>,
    /// Whether the collection's rows carry checksums (see [`Store::verify`]); always `true`
    /// but in benchmarks that measure what the checksums cost.
    ///
    /// [`Store::verify`]: crate::vector::Store::verify
    pub(crate) row_checks: bool,
}

impl CollectionConfig {
    /// A configuration with the given metric, indexed globally.
    ///
    /// ```
    /// let c = quiver::vector::CollectionConfig::new(quiver::vector::Metric::L2);
    /// assert!(c.indexed_globally);
    /// ```
    pub fn new(metric: Metric) -> CollectionConfig {
        CollectionConfig {
            metric,
            indexed_globally: true,
            ann: None,
            row_checks: true,
        }
    }

    /// Sets whether the global index covers this collection.
    ///
    /// ```
    /// let c = quiver::vector::CollectionConfig::new(quiver::vector::Metric::Dot).global(false);
    /// assert!(!c.indexed_globally);
    /// ```
    pub fn global(mut self, indexed: bool) -> CollectionConfig {
        self.indexed_globally = indexed;
        self
    }

    /// Keeps an approximate (HNSW) index with these parameters: searches then walk the graph
    /// instead of scanning every vector (see [`AnnConfig`] for tuning).
    ///
    /// ```
    /// use quiver::vector::{AnnConfig, CollectionConfig, Metric};
    /// let c = CollectionConfig::new(Metric::Cosine).approximate(AnnConfig::default());
    /// assert_eq!(c.ann, Some(AnnConfig::default()));
    /// ```
    pub fn approximate(mut self, ann: AnnConfig) -> CollectionConfig {
        self.ann = Some(ann);
        self
    }

    /// A collection whose rows carry no checksums, as collections written before quiver had
    /// them: for benchmarks that measure the checksums' cost. Tests only.
    ///
    /// ```
    /// let c = quiver::vector::CollectionConfig::new(quiver::vector::Metric::L2).without_row_checks();
    /// # let _ = c;
    /// ```
    #[cfg(feature = "testing")]
    pub fn without_row_checks(mut self) -> CollectionConfig {
        self.row_checks = false;
        self
    }
}

/// What a collection was created with, readable without knowing its types (see
/// [`Store::collection_info`](crate::vector::Store::collection_info)).
///
/// ```
/// use quiver::vector::{CollectionConfig, Element, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("a.qvr"))?;
/// store.create_collection::<F32<3>, &str>("docs", CollectionConfig::new(Metric::Cosine))?;
/// let info = store.collection_info("docs")?;
/// assert_eq!((info.element, info.dim, info.metric), (Element::F32, 3, Metric::Cosine));
/// assert_eq!(info.record_type, "&str");
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    /// Component type of its vectors.
    pub element: Element,
    /// Number of components.
    pub dim: usize,
    /// The metric its searches use.
    pub metric: Metric,
    /// redb's name of its record type (what `Value::type_name` gives).
    pub record_type: String,
}

/// The configuration as stored in the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredConfig {
    pub element: Element,
    pub dim: usize,
    pub metric: Metric,
    /// Whether writes record changes for the global index.
    pub indexed: bool,
    /// Unique per created collection: a collection deleted and created again under the same
    /// name gets a new code, so the global index never mixes the two.
    pub code: u64,
    pub record_type: String,
}

impl StoredConfig {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + self.record_type.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.element.code());
        out.push(self.metric.code());
        out.push(u8::from(self.indexed));
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&self.code.to_le_bytes());
        out.extend_from_slice(self.record_type.as_bytes());
        out
    }

    pub fn decode(name: &str, bytes: &[u8]) -> Result<StoredConfig> {
        let corrupt = |what: &str| Error::NotACollection {
            name: name.to_owned(),
            reason: what.to_owned(),
        };
        if bytes.len() < FIXED_LEN || &bytes[..5] != MAGIC {
            return Err(corrupt("its configuration record is missing or damaged"));
        }
        if bytes[5] != VERSION {
            return Err(corrupt("its configuration was written by a newer quiver"));
        }
        let element =
            Element::from_code(bytes[6]).ok_or_else(|| corrupt("unknown element type"))?;
        let metric = Metric::from_code(bytes[7]).ok_or_else(|| corrupt("unknown metric"))?;
        let indexed = bytes[8] != 0;
        let dim = u32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]) as usize;
        let mut code = [0u8; 8];
        code.copy_from_slice(&bytes[13..21]);
        let record_type = std::str::from_utf8(&bytes[FIXED_LEN..])
            .map_err(|_| corrupt("record type name is not UTF-8"))?
            .to_owned();
        Ok(StoredConfig {
            element,
            dim,
            metric,
            indexed,
            code: u64::from_le_bytes(code),
            record_type,
        })
    }

    /// Human-readable summary used in mismatch errors.
    pub fn describe(&self) -> String {
        format!(
            "{}-d {} {}, records {}",
            self.dim,
            self.element.name(),
            self.metric.name(),
            self.record_type
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_rejects_damage() {
        let config = StoredConfig {
            element: Element::F16,
            dim: 384,
            metric: Metric::L2,
            indexed: true,
            code: 0xDEAD_BEEF_1234,
            record_type: "my::Record".into(),
        };
        let bytes = config.encode();
        assert_eq!(StoredConfig::decode("c", &bytes).unwrap(), config);
        for cut in 0..FIXED_LEN {
            assert!(StoredConfig::decode("c", &bytes[..cut]).is_err());
        }
        let mut bad = bytes.clone();
        bad[6] = 9;
        assert!(StoredConfig::decode("c", &bad).is_err());
        let mut newer = bytes;
        newer[5] = 2;
        assert!(StoredConfig::decode("c", &newer).is_err());
    }
}
