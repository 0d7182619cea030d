//! Filter expressions over indexed fields and ids, and their typed builder.
//!
//! An [`Expr`] is built with [`field`] and [`ids`] and combined with `&`, `|` and `!`:
//! `field("tag").eq("x") & field("ts").gt(t) & !ids(&seen)`. The same expression has a JSON
//! form (see [`Expr::from_json`]). Expressions are checked against the collection's declared
//! fields when a search, count or scan uses them: an unknown field or a value of the wrong kind
//! is [`Error::InvalidFilter`](crate::Error::InvalidFilter), never an empty result.
//!
//! Semantics, as in MongoDB: a comparison (`eq`, `lt`, `is_in`, ...) matches only items whose
//! field holds a value that satisfies it, so an item without the field matches none of them;
//! `ne` and `not_in` are the negations of `eq` and `is_in`, so they match items without the
//! field. On a keyword-list field, `eq` and `is_in` mean "the list contains". `exists` is true
//! when the field holds a value: null and an empty list count as absent.

use std::fmt;
use std::ops::{BitAnd, BitOr, Not};
use std::sync::Arc;

/// A value in a filter expression.
///
/// ```
/// use quiver::vector::Literal;
/// assert_eq!(Literal::from("x"), Literal::Str("x".into()));
/// assert_eq!(Literal::from(3u32), Literal::Int(3));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string (keyword and keyword-list fields).
    Str(String),
    /// An integer (integer, timestamp and float fields).
    Int(i64),
    /// A float (float fields; integer and timestamp fields only when it is integral).
    Float(f64),
    /// A boolean (bool fields).
    Bool(bool),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "{s:?}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

macro_rules! literal_from {
    ($($ty:ty => $variant:ident via $conv:expr),* $(,)?) => {$(
        impl From<$ty> for Literal {
            fn from(value: $ty) -> Literal {
                Literal::$variant($conv(value))
            }
        }
    )*};
}

literal_from!(
    &str => Str via str::to_owned,
    String => Str via std::convert::identity,
    &String => Str via String::clone,
    i64 => Int via std::convert::identity,
    i32 => Int via i64::from,
    u32 => Int via i64::from,
    i16 => Int via i64::from,
    u16 => Int via i64::from,
    u8 => Int via i64::from,
    f64 => Float via std::convert::identity,
    f32 => Float via f64::from,
    bool => Bool via std::convert::identity,
);

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }
}

/// The expression tree (private, so that it can grow without breaking callers).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Every item.
    All,
    /// `field op value`.
    Compare {
        field: String,
        op: CmpOp,
        value: Literal,
    },
    /// The field holds one of the values (a keyword list: contains one of them).
    In {
        field: String,
        values: Vec<Literal>,
    },
    /// The field is present (and not null).
    Exists(String),
    /// The item's id is in the list.
    Ids(Arc<[u64]>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// A filter expression over a collection's indexed fields and item ids.
///
/// ```
/// use quiver::vector::{field, ids, Expr};
/// let seen = [4u64, 9];
/// let built = field("tag").eq("news") & field("ts").gt(1_700_000_000) & !ids(&seen);
/// // The same filter in the JSON form:
/// let parsed = Expr::from_json_str(
///     r#"{"tag": "news", "ts": {"$gt": 1700000000}, "$not": {"id": {"$in": [4, 9]}}}"#,
/// )?;
/// assert_eq!(built.fields(), vec!["tag", "ts"]);
/// assert_eq!(field("ts").gt(5), Expr::from_json_str(r#"{"ts": {"$gt": 5}}"#)?);
/// # let _ = parsed;
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Expr(pub(crate) Node);

impl Expr {
    /// Matches every item.
    ///
    /// ```
    /// let everything = quiver::vector::Expr::all();
    /// assert_eq!(everything.clone() & everything.clone(), everything);
    /// ```
    pub fn all() -> Expr {
        Expr(Node::All)
    }

    /// The ids of a pure deny-list (`!ids(..)`), if that is what the expression is.
    pub(crate) fn denied_ids(&self) -> Option<&[u64]> {
        match &self.0 {
            Node::Not(inner) => match inner.as_ref() {
                Node::Ids(ids) => Some(ids),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the expression matches every item without looking at any field.
    pub(crate) fn is_all(&self) -> bool {
        matches!(self.0, Node::All)
    }

    /// The names of the fields the expression reads, in first-use order.
    ///
    /// ```
    /// use quiver::vector::field;
    /// let e = field("a").eq(1) | (field("b").exists() & !field("a").lt(0));
    /// assert_eq!(e.fields(), vec!["a", "b"]);
    /// ```
    pub fn fields(&self) -> Vec<&str> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
            match node {
                Node::Compare { field, .. } | Node::In { field, .. } | Node::Exists(field) => {
                    if !out.contains(&field.as_str()) {
                        out.push(field);
                    }
                }
                Node::And(nodes) | Node::Or(nodes) => nodes.iter().for_each(|n| walk(n, out)),
                Node::Not(node) => walk(node, out),
                Node::All | Node::Ids(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }
}

/// Flattens nested conjunctions (or disjunctions) into one list.
fn join(a: Node, b: Node, and: bool) -> Node {
    let parts = |node: Node| match (node, and) {
        (Node::And(nodes), true) | (Node::Or(nodes), false) => nodes,
        (node, _) => vec![node],
    };
    let mut nodes = parts(a);
    nodes.extend(parts(b));
    if and {
        Node::And(nodes)
    } else {
        Node::Or(nodes)
    }
}

impl BitAnd for Expr {
    type Output = Expr;

    /// Both must hold.
    fn bitand(self, other: Expr) -> Expr {
        match (self.0, other.0) {
            (Node::All, node) | (node, Node::All) => Expr(node),
            (a, b) => Expr(join(a, b, true)),
        }
    }
}

impl BitOr for Expr {
    type Output = Expr;

    /// Either holds.
    fn bitor(self, other: Expr) -> Expr {
        match (self.0, other.0) {
            (Node::All, _) | (_, Node::All) => Expr(Node::All),
            (a, b) => Expr(join(a, b, false)),
        }
    }
}

impl Not for Expr {
    type Output = Expr;

    /// Does not hold.
    fn not(self) -> Expr {
        match self.0 {
            Node::Not(inner) => Expr(*inner),
            node => Expr(Node::Not(Box::new(node))),
        }
    }
}

/// An indexed field, to compare: the start of a filter expression.
///
/// ```
/// use quiver::vector::field;
/// let cheap = field("price").lt(10.0);
/// # let _ = cheap;
/// ```
pub fn field(name: impl Into<String>) -> FieldRef {
    FieldRef { name: name.into() }
}

/// Matches the items whose ids are in `ids` (an allow-list); `!ids(..)` is a deny-list. Ids
/// that do not exist match nothing.
///
/// ```
/// use quiver::vector::{field, ids};
/// let unseen_news = field("tag").eq("news") & !ids(&[1, 2, 3]);
/// # let _ = unseen_news;
/// ```
pub fn ids(ids: &[u64]) -> Expr {
    Expr(Node::Ids(Arc::from(ids)))
}

/// A field named in a filter expression (see [`field`]).
#[derive(Debug, Clone)]
pub struct FieldRef {
    name: String,
}

impl FieldRef {
    fn compare(self, op: CmpOp, value: impl Into<Literal>) -> Expr {
        Expr(Node::Compare {
            field: self.name,
            op,
            value: value.into(),
        })
    }

    /// The field equals `value` (a keyword list: contains it).
    ///
    /// ```
    /// let e = quiver::vector::field("tag").eq("news");
    /// # let _ = e;
    /// ```
    pub fn eq(self, value: impl Into<Literal>) -> Expr {
        self.compare(CmpOp::Eq, value)
    }

    /// Not [`eq`](Self::eq): also matches items without the field.
    ///
    /// ```
    /// let e = quiver::vector::field("pos").ne("noun");
    /// # let _ = e;
    /// ```
    pub fn ne(self, value: impl Into<Literal>) -> Expr {
        !self.eq(value)
    }

    /// The field is below `value`.
    ///
    /// ```
    /// let e = quiver::vector::field("price").lt(10);
    /// # let _ = e;
    /// ```
    pub fn lt(self, value: impl Into<Literal>) -> Expr {
        self.compare(CmpOp::Lt, value)
    }

    /// The field is at most `value`.
    ///
    /// ```
    /// let e = quiver::vector::field("price").le(10);
    /// # let _ = e;
    /// ```
    pub fn le(self, value: impl Into<Literal>) -> Expr {
        self.compare(CmpOp::Le, value)
    }

    /// The field is above `value`.
    ///
    /// ```
    /// let e = quiver::vector::field("ts").gt(1_700_000_000);
    /// # let _ = e;
    /// ```
    pub fn gt(self, value: impl Into<Literal>) -> Expr {
        self.compare(CmpOp::Gt, value)
    }

    /// The field is at least `value`.
    ///
    /// ```
    /// let e = quiver::vector::field("stars").ge(4);
    /// # let _ = e;
    /// ```
    pub fn ge(self, value: impl Into<Literal>) -> Expr {
        self.compare(CmpOp::Ge, value)
    }

    /// The field equals one of `values` (a keyword list: contains one of them).
    ///
    /// ```
    /// let e = quiver::vector::field("tenant").is_in(["t1", "t2"]);
    /// # let _ = e;
    /// ```
    pub fn is_in<L: Into<Literal>>(self, values: impl IntoIterator<Item = L>) -> Expr {
        Expr(Node::In {
            field: self.name,
            values: values.into_iter().map(Into::into).collect(),
        })
    }

    /// Not [`is_in`](Self::is_in): also matches items without the field.
    ///
    /// ```
    /// let e = quiver::vector::field("tenant").not_in(["t1"]);
    /// # let _ = e;
    /// ```
    pub fn not_in<L: Into<Literal>>(self, values: impl IntoIterator<Item = L>) -> Expr {
        !self.is_in(values)
    }

    /// A keyword list contains at least one of `values` (the same as [`is_in`](Self::is_in),
    /// named for lists).
    ///
    /// ```
    /// let e = quiver::vector::field("lemmas").contains_any(["run", "sprint"]);
    /// # let _ = e;
    /// ```
    pub fn contains_any<L: Into<Literal>>(self, values: impl IntoIterator<Item = L>) -> Expr {
        self.is_in(values)
    }

    /// The field holds a value (not null, not an empty list).
    ///
    /// ```
    /// let e = quiver::vector::field("summary").exists();
    /// # let _ = e;
    /// ```
    pub fn exists(self) -> Expr {
        Expr(Node::Exists(self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinators_flatten_and_simplify() {
        let a = field("a").eq(1);
        let b = field("b").eq(2);
        let c = field("c").eq(3);
        let and = a.clone() & b.clone() & c.clone();
        assert!(matches!(&and.0, Node::And(nodes) if nodes.len() == 3));
        let or = a.clone() | b.clone() | c;
        assert!(matches!(&or.0, Node::Or(nodes) if nodes.len() == 3));
        assert_eq!(!!a.clone(), a);
        assert_eq!(Expr::all() & b.clone(), b);
        assert_eq!(Expr::all() | b, Expr::all());
        assert_eq!(field("x").ne("y"), !field("x").eq("y"));
    }
}
