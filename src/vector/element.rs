//! Element types and the fixed-width vector values stored in redb.
//!
//! A collection's vector type carries its dimension in the type: [`F32<384>`](F32) is 384 f32
//! components, [`F16<768>`](F16) 768 half floats. Both implement redb's [`Value`] with
//! `fixed_width() == Some(D * element size)`, so redb stores them without per-value length
//! prefixes, and reading one yields a [`StoredVector`]: a borrowed view of the bytes on the redb
//! page, with no allocation and no copy. Those bytes are not aligned (redb packs values at any
//! offset), so nothing reinterprets them as `&[f32]`; the distance kernels read them with
//! unaligned loads ([`crate::vector::distance::dot_stored`]) and [`StoredVector::get`] decodes one
//! component at a time.
//!
//! Bytes are little-endian IEEE 754 (binary32 or binary16).

use half::f16;
use redb::{TypeName, Value};
use std::fmt;
use std::marker::PhantomData;

/// The component type of stored vectors.
///
/// ```
/// use quiver::vector::Element;
/// assert_eq!(Element::F16.size(), 2);
/// assert_eq!(Element::F32.name(), "f32");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Element {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (via the `half` crate): half the bytes, about three decimal digits.
    F16,
}

impl Element {
    /// Bytes per component.
    ///
    /// ```
    /// assert_eq!(quiver::vector::Element::F32.size(), 4);
    /// ```
    pub const fn size(self) -> usize {
        match self {
            Element::F32 => 4,
            Element::F16 => 2,
        }
    }

    /// Lower-case name (`"f32"`, `"f16"`).
    ///
    /// ```
    /// assert_eq!(quiver::vector::Element::F16.name(), "f16");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Element::F32 => "f32",
            Element::F16 => "f16",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Element::F32 => 1,
            Element::F16 => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Element> {
        match code {
            1 => Some(Element::F32),
            2 => Some(Element::F16),
            _ => None,
        }
    }

    /// Appends `components` to `out` in this element type's stored form.
    pub(crate) fn encode_into(self, components: &[f32], out: &mut Vec<u8>) {
        match self {
            Element::F32 => out.extend(components.iter().flat_map(|x| x.to_le_bytes())),
            Element::F16 => {
                out.extend(
                    components
                        .iter()
                        .flat_map(|x| f16::from_f32(*x).to_le_bytes()),
                );
            }
        }
    }
}

/// A vector type usable as a collection's stored vector: an element type and a dimension known
/// at compile time. Implemented by [`F32`] and [`F16`].
///
/// ```
/// use quiver::vector::{Element, F16, VectorType};
/// assert_eq!(<F16<768> as VectorType>::DIM, 768);
/// assert_eq!(<F16<768> as VectorType>::ELEMENT, Element::F16);
/// ```
pub trait VectorType:
    for<'a> Value<SelfType<'a> = StoredVector<'a>> + Send + Sync + 'static
{
    /// Component type.
    const ELEMENT: Element;
    /// Number of components.
    const DIM: usize;
    /// Stored size in bytes.
    const BYTES: usize = Self::DIM * Self::ELEMENT.size();
}

/// A stored vector borrowed from a redb page (or any byte buffer): `dim` components of
/// `element`, little-endian, at any alignment.
///
/// ```
/// use quiver::vector::{Element, StoredVector};
/// let bytes: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
/// let v = StoredVector::new(&bytes, Element::F32);
/// assert_eq!(v.dim(), 2);
/// assert_eq!(v.get(1), Some(-2.0));
/// assert_eq!(v.to_vec(), vec![1.5, -2.0]);
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct StoredVector<'a> {
    bytes: &'a [u8],
    element: Element,
}

impl<'a> StoredVector<'a> {
    /// Views `bytes` as components of `element` (a trailing partial component is ignored).
    ///
    /// ```
    /// let v = quiver::vector::StoredVector::new(&[0, 60], quiver::vector::Element::F16);
    /// assert_eq!(v.get(0), Some(1.0));
    /// ```
    pub fn new(bytes: &'a [u8], element: Element) -> StoredVector<'a> {
        StoredVector { bytes, element }
    }

    /// The raw little-endian bytes.
    ///
    /// ```
    /// let v = quiver::vector::StoredVector::new(&[0, 60], quiver::vector::Element::F16);
    /// assert_eq!(v.bytes(), &[0, 60]);
    /// ```
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The component type.
    ///
    /// ```
    /// let v = quiver::vector::StoredVector::new(&[], quiver::vector::Element::F16);
    /// assert_eq!(v.element(), quiver::vector::Element::F16);
    /// ```
    pub fn element(&self) -> Element {
        self.element
    }

    /// Number of components.
    ///
    /// ```
    /// let v = quiver::vector::StoredVector::new(&[0; 12], quiver::vector::Element::F32);
    /// assert_eq!(v.dim(), 3);
    /// ```
    pub fn dim(&self) -> usize {
        self.bytes.len() / self.element.size()
    }

    /// Component `i` as f32, or `None` past the end.
    ///
    /// ```
    /// let v = quiver::vector::StoredVector::new(&[0; 8], quiver::vector::Element::F32);
    /// assert_eq!((v.get(1), v.get(2)), (Some(0.0), None));
    /// ```
    pub fn get(&self, i: usize) -> Option<f32> {
        (i < self.dim())
            .then(|| super::distance::stored_scalar::element_at(self.bytes, self.element, i))
    }

    /// All components as f32 (one allocation; the search path never calls this).
    ///
    /// ```
    /// let v = quiver::vector::StoredVector::new(&[0, 60, 0, 64], quiver::vector::Element::F16);
    /// assert_eq!(v.to_vec(), vec![1.0, 2.0]);
    /// ```
    pub fn to_vec(&self) -> Vec<f32> {
        (0..self.dim())
            .map(|i| super::distance::stored_scalar::element_at(self.bytes, self.element, i))
            .collect()
    }
}

impl fmt::Debug for StoredVector<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredVector")
            .field("element", &self.element)
            .field("dim", &self.dim())
            .finish()
    }
}

/// Generates a fixed-width redb value type for one element type.
macro_rules! vector_type {
    ($(#[$doc:meta])* $name:ident, $element:expr, $label:literal) => {
        $(#[$doc])*
        pub struct $name<const D: usize>(PhantomData<[(); D]>);

        impl<const D: usize> fmt::Debug for $name<D> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}<{}>", $label, D)
            }
        }

        impl<const D: usize> VectorType for $name<D> {
            const ELEMENT: Element = $element;
            const DIM: usize = D;
        }

        impl<const D: usize> Value for $name<D> {
            type SelfType<'a> = StoredVector<'a>;
            type AsBytes<'a> = &'a [u8];

            fn fixed_width() -> Option<usize> {
                Some(D * $element.size())
            }

            fn from_bytes<'a>(data: &'a [u8]) -> StoredVector<'a>
            where
                Self: 'a,
            {
                StoredVector::new(data, $element)
            }

            fn as_bytes<'a, 'b: 'a>(value: &'a StoredVector<'b>) -> &'a [u8]
            where
                Self: 'b,
            {
                value.bytes
            }

            fn type_name() -> TypeName {
                TypeName::new(&format!("quiver::{}<{}>", $label, D))
            }
        }
    };
}

vector_type!(
    /// `D` f32 components, stored as `4 * D` little-endian bytes.
    ///
    /// ```
    /// use quiver::redb::Value;
    /// assert_eq!(quiver::vector::F32::<384>::fixed_width(), Some(1536));
    /// ```
    F32,
    Element::F32,
    "F32"
);

vector_type!(
    /// `D` half-float components, stored as `2 * D` little-endian bytes.
    ///
    /// ```
    /// use quiver::redb::Value;
    /// assert_eq!(quiver::vector::F16::<384>::fixed_width(), Some(768));
    /// ```
    F16,
    Element::F16,
    "F16"
);
