//! Which codes an index keeps for its first pass.

use crate::error::{Error, Result};

/// The codes an approximate index walks its graph with. The exact vectors are always kept:
/// with codes, a search keeps its `ef` best candidates by code distance and rescores them
/// exactly, so `ef` is also the oversampling (`ef / k` candidates rescored per result).
///
/// - `None`: the walk computes exact distances (the most recall per `ef`).
/// - `Int8`: one byte per component (a quarter of f32's memory traffic per visited node); on
///   embeddings, recall close to the exact walk's at the same `ef`.
/// - `Binary`: one bit per component, compared by Hamming distance: the cheapest comparison,
///   but a coarse one that needs a much larger `ef` for the same recall.
///
/// ```
/// use quiver::vector::quantize::Quantization;
/// assert_eq!(Quantization::parse("int8")?, Quantization::Int8);
/// assert_eq!(Quantization::Int8.name(), "int8");
/// assert!(Quantization::parse("int4").is_err());
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Quantization {
    /// Exact distances throughout.
    #[default]
    None,
    /// Int8 scalar codes, one scale per vector.
    Int8,
    /// One bit per component.
    Binary,
}

impl Quantization {
    /// Every mode, in the order of their stored codes.
    pub const ALL: [Quantization; 3] =
        [Quantization::None, Quantization::Int8, Quantization::Binary];

    /// The mode's name: `none`, `int8` or `binary`.
    ///
    /// ```
    /// assert_eq!(quiver::vector::quantize::Quantization::Binary.name(), "binary");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Int8 => "int8",
            Quantization::Binary => "binary",
        }
    }

    /// The mode named `name` (as [`name`](Self::name) spells it); [`Error::InvalidConfig`]
    /// otherwise.
    ///
    /// ```
    /// use quiver::vector::quantize::Quantization;
    /// assert_eq!(Quantization::parse("none")?, Quantization::None);
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn parse(name: &str) -> Result<Quantization> {
        Quantization::ALL
            .into_iter()
            .find(|q| q.name() == name)
            .ok_or_else(|| {
                Error::InvalidConfig(format!(
                    "unknown quantization {name:?} (available: none, int8, binary)"
                ))
            })
    }

    /// The mode's stored code (one byte of the index's state record).
    pub(crate) fn code(self) -> u8 {
        match self {
            Quantization::None => 0,
            Quantization::Int8 => 1,
            Quantization::Binary => 2,
        }
    }

    /// The mode with stored code `code`, if there is one.
    pub(crate) fn from_code(code: u8) -> Option<Quantization> {
        Quantization::ALL.into_iter().find(|q| q.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for q in Quantization::ALL {
            assert_eq!(Quantization::parse(q.name()).unwrap(), q);
            assert_eq!(Quantization::from_code(q.code()), Some(q));
        }
        assert_eq!(Quantization::from_code(3), None);
        assert!(matches!(
            Quantization::parse("Int8"),
            Err(Error::InvalidConfig(_))
        ));
    }
}
