//! Search filters: an id allow-list, a predicate over the record, or both.
//!
//! Filtering happens before the scan, not after it: the allowed items are found first (the
//! allow-list directly, the predicate by one pass over the record table in a read snapshot), and
//! the scan then visits only those (few) or checks a flag per slot (many). So a filtered search
//! returns k results whenever at least k items match, however selective the filter: it never
//! loses results the way post-filtering an approximate top-k does.

use redb::Value;
use std::fmt;

type Predicate<'f, M> = Box<dyn for<'a> Fn(<M as Value>::SelfType<'a>) -> bool + Send + Sync + 'f>;

/// Which items a search may return.
///
/// ```
/// use quiver::vector::Filter;
/// let only_some: Filter<'_, u64> = Filter::ids(&[1, 2, 3]);
/// let expensive: Filter<'_, u64> = Filter::predicate(|price: u64| price > 100);
/// let both: Filter<'_, u64> = Filter::ids(&[1, 2, 3]).and_predicate(|price: u64| price > 100);
/// # let _ = (only_some, expensive, both);
/// ```
pub struct Filter<'f, M: Value + 'static> {
    pub(crate) ids: Option<&'f [u64]>,
    pub(crate) predicate: Option<Predicate<'f, M>>,
}

impl<M: Value + 'static> fmt::Debug for Filter<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("ids", &self.ids.map(<[u64]>::len))
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}

impl<M: Value + 'static> Default for Filter<'_, M> {
    fn default() -> Self {
        Filter::all()
    }
}

impl<'f, M: Value + 'static> Filter<'f, M> {
    /// No filter: every item may be returned.
    ///
    /// ```
    /// let f: quiver::vector::Filter<'_, u64> = quiver::vector::Filter::all();
    /// assert!(f.is_all());
    /// ```
    pub fn all() -> Self {
        Filter {
            ids: None,
            predicate: None,
        }
    }

    /// Only these ids (ids that do not exist are ignored).
    ///
    /// ```
    /// let f: quiver::vector::Filter<'_, u64> = quiver::vector::Filter::ids(&[4, 8]);
    /// assert!(!f.is_all());
    /// ```
    pub fn ids(ids: &'f [u64]) -> Self {
        Filter {
            ids: Some(ids),
            predicate: None,
        }
    }

    /// Only items whose record satisfies `predicate`.
    ///
    /// ```
    /// let f: quiver::vector::Filter<'_, &str> =
    ///     quiver::vector::Filter::predicate(|name: &str| name.starts_with('a'));
    /// assert!(!f.is_all());
    /// ```
    pub fn predicate(
        predicate: impl for<'a> Fn(M::SelfType<'a>) -> bool + Send + Sync + 'f,
    ) -> Self {
        Filter {
            ids: None,
            predicate: Some(Box::new(predicate)),
        }
    }

    /// Adds a predicate to an id allow-list (both must hold).
    ///
    /// ```
    /// let f: quiver::vector::Filter<'_, u64> =
    ///     quiver::vector::Filter::ids(&[1, 2]).and_predicate(|n: u64| n % 2 == 0);
    /// assert!(!f.is_all());
    /// ```
    pub fn and_predicate(
        mut self,
        predicate: impl for<'a> Fn(M::SelfType<'a>) -> bool + Send + Sync + 'f,
    ) -> Self {
        self.predicate = Some(Box::new(predicate));
        self
    }

    /// Whether this filter lets everything through.
    ///
    /// ```
    /// assert!(quiver::vector::Filter::<'_, u64>::default().is_all());
    /// ```
    pub fn is_all(&self) -> bool {
        self.ids.is_none() && self.predicate.is_none()
    }
}
