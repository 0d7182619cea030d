//! Filters: which items a search, count, scan or delete may touch.
//!
//! - [`Expr`] (`expr.rs`, its JSON form in `json.rs`): expressions over a collection's indexed
//!   fields and item ids, answered from the field indexes ([`fields`](super::fields)) without
//!   reading a record.
//! - [`Filter`] (`search.rs`): what a search takes: an expression, an id allow-list, or a
//!   predicate closure over the decoded record (the slow escape hatch: it reads every record).
//!
//! Filtering happens before the scan or walk, not after it: the allowed items are found first,
//! and the search then visits only those, so a filtered search returns `k` results whenever at
//! least `k` items match.

mod expr;
mod json;
mod search;

pub(crate) use expr::{CmpOp, Node};
pub use expr::{Expr, FieldRef, Literal, field, ids};
pub(crate) use json::ID_KEY;
pub use search::Filter;
pub(crate) use search::{Predicate, Resolved};
