//! What a search takes as its filter: an expression over indexed fields and ids, an id
//! allow-list, a predicate over the decoded record, or several of them (all must hold).
//!
//! The expression and the allow-list are answered from memory (the field indexes, the list);
//! the predicate needs every record read and decoded, one pass over the record table in a read
//! snapshot, so it is the slow escape hatch for conditions no field index covers.

use crate::vector::filter::expr::Expr;
use crate::vector::record::Record;
use std::fmt;

pub(crate) type Predicate<'f, M> =
    Box<dyn for<'a> Fn(<M as Record>::Value<'a>) -> bool + Send + Sync + 'f>;

/// A filter whose expression has been answered: the ids it allows (with the allow-list's), or
/// the few it denies when it admits most items, and the predicate still to test.
pub(crate) struct Resolved<'a, 'f, M: Record> {
    pub ids: Option<&'a [u64]>,
    /// Sorted; never set together with `ids`.
    pub deny: Option<&'a [u64]>,
    pub predicate: Option<&'a Predicate<'f, M>>,
}

/// Which items a search may return.
///
/// ```
/// use quiver::vector::{field, Dynamic, Filter};
/// let only_some: Filter<'_, u64> = Filter::ids(&[1, 2, 3]);
/// let expensive: Filter<'_, u64> = Filter::predicate(|price: u64| price > 100);
/// let both: Filter<'_, u64> = Filter::ids(&[1, 2, 3]).and_predicate(|price: u64| price > 100);
/// let indexed: Filter<'_, Dynamic> = Filter::expr(field("tag").eq("news"));
/// # let _ = (only_some, expensive, both, indexed);
/// ```
pub struct Filter<'f, M: Record> {
    pub(crate) expr: Option<Expr>,
    pub(crate) ids: Option<&'f [u64]>,
    pub(crate) predicate: Option<Predicate<'f, M>>,
}

impl<M: Record> fmt::Debug for Filter<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("expr", &self.expr)
            .field("ids", &self.ids.map(<[u64]>::len))
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}

impl<M: Record> Default for Filter<'_, M> {
    fn default() -> Self {
        Filter::all()
    }
}

impl<'f, M: Record> Filter<'f, M> {
    /// No filter: every item may be returned.
    ///
    /// ```
    /// let f: quiver::vector::Filter<'_, u64> = quiver::vector::Filter::all();
    /// assert!(f.is_all());
    /// ```
    pub fn all() -> Self {
        Filter {
            expr: None,
            ids: None,
            predicate: None,
        }
    }

    /// Only items that match `expr`, an expression over the collection's indexed fields and
    /// item ids, answered from the field indexes.
    ///
    /// ```
    /// use quiver::vector::{field, Dynamic, Filter};
    /// let f: Filter<'_, Dynamic> = Filter::expr(field("ts").gt(5) & field("tag").eq("a"));
    /// assert!(!f.is_all());
    /// ```
    pub fn expr(expr: Expr) -> Self {
        Filter {
            expr: (!expr.is_all()).then_some(expr),
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
            expr: None,
            ids: Some(ids),
            predicate: None,
        }
    }

    /// Only items whose record satisfies `predicate`. Every search with a predicate reads and
    /// decodes every record the other parts of the filter allow: prefer [`expr`](Self::expr) on
    /// indexed fields, and keep predicates for what no field index covers.
    ///
    /// ```
    /// let f: quiver::vector::Filter<'_, &str> =
    ///     quiver::vector::Filter::predicate(|name: &str| name.starts_with('a'));
    /// assert!(!f.is_all());
    /// ```
    pub fn predicate(predicate: impl for<'a> Fn(M::Value<'a>) -> bool + Send + Sync + 'f) -> Self {
        Filter {
            expr: None,
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
        predicate: impl for<'a> Fn(M::Value<'a>) -> bool + Send + Sync + 'f,
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
        self.expr.is_none() && self.ids.is_none() && self.predicate.is_none()
    }
}
