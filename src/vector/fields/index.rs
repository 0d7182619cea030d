//! The in-memory field indexes of one collection, and how they answer a filter expression.
//!
//! Per declared field:
//! - keyword, keyword-list and bool fields keep a compressed bitmap of item ids per value
//!   (roaring), so equality and `in` are a lookup and a union;
//! - integer, float and timestamp fields keep `(value, id)` pairs in a B-tree ordered by value,
//!   so a range is one ordered walk, whatever the number of distinct values, and each item's
//!   value by id, so a range within a smaller set (`tenant in [..] AND ts > T`) is tested item
//!   by item instead of walking every value in range;
//! - every field keeps the bitmap of items where it is present (for `exists`).
//!
//! Beside them, the bitmap of every live item is the universe that `not` and deny-lists
//! subtract from. An expression becomes a bitmap of allowed ids by set algebra; `a & !b` is
//! computed as a difference, never through the universe.

use crate::error::{Error, Result};
use crate::vector::fields::kind::{Field, FieldKind};
use crate::vector::fields::term::{Term, Terms, bool_term, float_term, int_term};
use crate::vector::filter::{CmpOp, Expr, Literal, Node};
use roaring::RoaringTreemap;
use std::collections::{BTreeSet, HashMap};
use std::ops::{Bound, RangeBounds};

/// The postings of one field.
enum Postings {
    /// Keyword, keyword-list and bool fields: ids per value.
    Terms(HashMap<Box<[u8]>, RoaringTreemap>),
    /// Integer, float and timestamp fields (one value per item): `(ordered value, id)` pairs,
    /// and each item's value.
    Ordered {
        pairs: BTreeSet<(u64, u64)>,
        by_id: HashMap<u64, u64>,
    },
}

/// Size and memory of a collection's field indexes, from
/// [`Collection::field_index_stats`](crate::vector::Collection::field_index_stats).
///
/// ```
/// use quiver::vector::{CollectionConfig, Dynamic, FieldKind, Metric, Store, F32};
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("a.qvr"))?;
/// let config = CollectionConfig::new(Metric::Dot).field("tags", FieldKind::Keywords);
/// let c = store.create_collection::<F32<1>, Dynamic>("c", config)?;
/// c.upsert(1, &[1.0], &serde_json::json!({"tags": ["a", "b"]}))?;
/// let stats = c.field_index_stats()?;
/// assert_eq!((stats.items, stats.postings), (1, 2));
/// assert!(stats.memory_bytes > 0);
/// # Ok::<(), quiver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldIndexStats {
    /// Indexed fields.
    pub fields: usize,
    /// Items known to the indexes (every live item).
    pub items: u64,
    /// `(field, value, item)` postings held.
    pub postings: u64,
    /// Estimated bytes of memory the indexes hold.
    pub memory_bytes: usize,
}

/// The field indexes of one collection.
pub(crate) struct FieldIndexes {
    fields: Vec<Field>,
    postings: Vec<Postings>,
    present: Vec<RoaringTreemap>,
    all: RoaringTreemap,
    /// Moves on with every change, so answers computed at one generation are known stale.
    generation: u64,
}

impl FieldIndexes {
    /// Empty indexes for `fields`.
    pub fn new(fields: &[Field]) -> FieldIndexes {
        FieldIndexes {
            fields: fields.to_vec(),
            postings: fields
                .iter()
                .map(|field| match field.kind().is_ordered() {
                    true => Postings::Ordered {
                        pairs: BTreeSet::new(),
                        by_id: HashMap::new(),
                    },
                    false => Postings::Terms(HashMap::new()),
                })
                .collect(),
            present: vec![RoaringTreemap::new(); fields.len()],
            all: RoaringTreemap::new(),
            generation: 0,
        }
    }

    /// The generation: it moves on with every change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Records that item `id` is live (whether or not it has indexed values).
    pub fn insert_item(&mut self, id: u64) {
        self.generation += 1;
        self.all.insert(id);
    }

    /// Adds one posting of a live item.
    pub fn insert_term(&mut self, id: u64, field: u16, term: &Term) {
        let field = usize::from(field);
        let (Some(postings), Some(present)) =
            (self.postings.get_mut(field), self.present.get_mut(field))
        else {
            return;
        };
        present.insert(id);
        match (postings, term) {
            (Postings::Terms(map), Term::Bytes(bytes)) => {
                map.entry(bytes.clone()).or_default().insert(id);
            }
            (Postings::Ordered { pairs, by_id }, Term::Ordered(value)) => {
                pairs.insert((*value, id));
                by_id.insert(id, *value);
            }
            // Terms come from `extract` for this field's kind; the two always agree.
            _ => {}
        }
    }

    /// Adds item `id` with its indexed values.
    pub fn insert(&mut self, id: u64, terms: &Terms) {
        self.insert_item(id);
        for (field, term) in terms {
            self.insert_term(id, *field, term);
        }
    }

    /// Removes item `id`, whose indexed values were `terms`.
    pub fn remove(&mut self, id: u64, terms: &Terms) {
        self.generation += 1;
        self.all.remove(id);
        for (field, term) in terms {
            let field = usize::from(*field);
            if let Some(present) = self.present.get_mut(field) {
                present.remove(id);
            }
            match (self.postings.get_mut(field), term) {
                (Some(Postings::Terms(map)), Term::Bytes(bytes)) => {
                    if let Some(ids) = map.get_mut(bytes) {
                        ids.remove(id);
                        if ids.is_empty() {
                            map.remove(bytes);
                        }
                    }
                }
                (Some(Postings::Ordered { pairs, by_id }), Term::Ordered(value)) => {
                    pairs.remove(&(*value, id));
                    by_id.remove(&id);
                }
                _ => {}
            }
        }
    }

    /// Every live item.
    pub fn live(&self) -> &RoaringTreemap {
        &self.all
    }

    /// The ids `expr` allows, checked against the declared fields first.
    pub fn evaluate(&self, expr: &Expr) -> Result<RoaringTreemap> {
        self.check(&expr.0)?;
        Ok(self.eval(&expr.0))
    }

    /// How many items `expr` allows.
    pub fn count(&self, expr: &Expr) -> Result<u64> {
        self.check(&expr.0)?;
        Ok(match &expr.0 {
            Node::All => self.all.len(),
            Node::Exists(name) => self.present[self.position(name)?].len(),
            Node::Compare { field, op, value } => {
                let at = self.position(field)?;
                match &self.postings[at] {
                    Postings::Ordered { pairs, .. } => {
                        let term = self.ordered_term(at, value)?;
                        pairs.range(range(*op, term)).count() as u64
                    }
                    Postings::Terms(_) => self.eval(&expr.0).len(),
                }
            }
            node => self.eval(node).len(),
        })
    }

    /// Memory and size of the indexes.
    pub fn stats(&self) -> FieldIndexStats {
        let mut postings = 0u64;
        let mut memory = self.all.serialized_size();
        for (field, present) in self.postings.iter().zip(&self.present) {
            memory += present.serialized_size();
            match field {
                Postings::Terms(map) => {
                    for (key, ids) in map {
                        postings += ids.len();
                        // The key, its box, the map slot and the bitmap's own headers.
                        memory += key.len() + 16 + 24 + ids.serialized_size() + 32;
                    }
                }
                Postings::Ordered { pairs, by_id } => {
                    postings += pairs.len() as u64;
                    // 16 bytes per pair; B-tree nodes hold 11 pairs in about 200 bytes. The map:
                    // 16 bytes per entry and a control byte, at up to 7/8 load.
                    memory += pairs.len() * 19 + by_id.capacity() * 17;
                }
            }
        }
        FieldIndexStats {
            fields: self.fields.len(),
            items: self.all.len(),
            postings,
            memory_bytes: memory,
        }
    }

    fn position(&self, name: &str) -> Result<usize> {
        self.fields
            .iter()
            .position(|f| f.name() == name)
            .ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> Error {
        let declared: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{} ({})", f.name(), f.kind().name()))
            .collect();
        Error::InvalidFilter(match declared.is_empty() {
            true => format!(
                "unknown field '{name}': this collection has no indexed fields (declare them with CollectionConfig::field)"
            ),
            false => format!(
                "unknown field '{name}'; indexed fields: {}",
                declared.join(", ")
            ),
        })
    }

    /// Checks every field reference of `node` against the declared fields and kinds.
    fn check(&self, node: &Node) -> Result<()> {
        match node {
            Node::All | Node::Ids(_) => Ok(()),
            Node::Exists(name) => self.position(name).map(drop),
            Node::Compare { field, op, value } => {
                let at = self.position(field)?;
                let kind = self.fields[at].kind();
                if *op != CmpOp::Eq && !kind.is_ordered() {
                    return Err(Error::InvalidFilter(format!(
                        "field '{field}' is a {} field: '{}' needs an integer, float or timestamp field",
                        kind.name(),
                        op.name()
                    )));
                }
                self.term(at, value).map(drop)
            }
            Node::In { field, values } => {
                let at = self.position(field)?;
                values.iter().try_for_each(|v| self.term(at, v).map(drop))
            }
            Node::And(nodes) | Node::Or(nodes) => nodes.iter().try_for_each(|n| self.check(n)),
            Node::Not(node) => self.check(node),
        }
    }

    /// The term of `value` for the field at `at`, or a type error naming both.
    fn term(&self, at: usize, value: &Literal) -> Result<Term> {
        let field = &self.fields[at];
        let mismatch = || {
            Error::InvalidFilter(format!(
                "field '{}' is a {} field and cannot be compared with {value}",
                field.name(),
                field.kind().name()
            ))
        };
        match (field.kind(), value) {
            (FieldKind::Keyword | FieldKind::Keywords, Literal::Str(s)) => {
                Ok(Term::Bytes(s.as_bytes().into()))
            }
            (FieldKind::Bool, Literal::Bool(b)) => Ok(bool_term(*b)),
            (FieldKind::Int | FieldKind::Timestamp | FieldKind::Float, _) => {
                self.ordered_term(at, value).map(Term::Ordered)
            }
            _ => Err(mismatch()),
        }
    }

    fn ordered_term(&self, at: usize, value: &Literal) -> Result<u64> {
        let field = &self.fields[at];
        let mismatch = |why: &str| {
            Error::InvalidFilter(format!(
                "field '{}' is a {} field and cannot be compared with {value}{why}",
                field.name(),
                field.kind().name()
            ))
        };
        match (field.kind(), value) {
            (FieldKind::Float, Literal::Int(i)) => Ok(float_term(*i as f64)),
            (FieldKind::Float, Literal::Float(f)) if !f.is_nan() => Ok(float_term(*f)),
            (FieldKind::Int | FieldKind::Timestamp, Literal::Int(i)) => Ok(int_term(*i)),
            (FieldKind::Int | FieldKind::Timestamp, Literal::Float(f)) => {
                // Integral floats within i64 (JSON numbers like 5.0) compare as integers.
                if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64 {
                    Ok(int_term(*f as i64))
                } else {
                    Err(mismatch(" (not an integer)"))
                }
            }
            _ => Err(mismatch("")),
        }
    }

    /// Evaluates a checked node.
    fn eval(&self, node: &Node) -> RoaringTreemap {
        match node {
            Node::All => self.all.clone(),
            Node::Ids(ids) => {
                let mut out: RoaringTreemap = ids.iter().copied().collect();
                out &= &self.all;
                out
            }
            Node::Exists(name) => self
                .fields
                .iter()
                .position(|f| f.name() == name)
                .map(|at| self.present[at].clone())
                .unwrap_or_default(),
            Node::Compare { field, op, value } => self.compare(field, *op, value),
            Node::In { field, values } => {
                let mut out = RoaringTreemap::new();
                for value in values {
                    out |= self.compare(field, CmpOp::Eq, value);
                }
                out
            }
            Node::And(nodes) => self.and(nodes),
            Node::Or(nodes) => {
                let mut out = RoaringTreemap::new();
                for node in nodes {
                    out |= self.eval(node);
                }
                out
            }
            Node::Not(inner) => &self.all - self.eval(inner),
        }
    }

    /// A conjunction: the positive parts intersected (comparisons on ordered fields last, and
    /// tested item by item once the others leave few items), then the negated parts subtracted.
    fn and(&self, nodes: &[Node]) -> RoaringTreemap {
        let (negated, positive): (Vec<&Node>, Vec<&Node>) =
            nodes.iter().partition(|n| matches!(n, Node::Not(_)));
        let (ranges, sets): (Vec<&Node>, Vec<&Node>) = positive
            .into_iter()
            .partition(|n| self.ordered_comparison(n).is_some());
        let mut out: Option<RoaringTreemap> = None;
        for node in sets.into_iter().chain(ranges) {
            if out.as_ref().is_some_and(RoaringTreemap::is_empty) {
                break;
            }
            out = Some(match (out, self.ordered_comparison(node)) {
                (Some(current), Some((by_id, op, term)))
                    if current.len() * PROBE_RATIO < self.all.len() =>
                {
                    let kept = current.iter().filter(|id| {
                        by_id
                            .get(id)
                            .is_some_and(|value| range(op, term).contains(&(*value, *id)))
                    });
                    // A subsequence of a sorted set is sorted.
                    RoaringTreemap::from_sorted_iter(kept).unwrap_or_default()
                }
                (Some(mut current), _) => {
                    current &= self.eval(node);
                    current
                }
                (None, _) => self.eval(node),
            });
        }
        let mut out = out.unwrap_or_else(|| self.all.clone());
        for node in negated {
            if out.is_empty() {
                break;
            }
            if let Node::Not(inner) = node {
                out -= self.eval(inner);
            }
        }
        out
    }

    /// A comparison on an ordered field: its values by id, the operator and the term.
    fn ordered_comparison(&self, node: &Node) -> Option<(&HashMap<u64, u64>, CmpOp, u64)> {
        let Node::Compare { field, op, value } = node else {
            return None;
        };
        let at = self.position(field).ok()?;
        match &self.postings[at] {
            Postings::Ordered { by_id, .. } => {
                Some((by_id, *op, self.ordered_term(at, value).ok()?))
            }
            Postings::Terms(_) => None,
        }
    }

    fn compare(&self, name: &str, op: CmpOp, value: &Literal) -> RoaringTreemap {
        let Ok(at) = self.position(name) else {
            return RoaringTreemap::new();
        };
        match &self.postings[at] {
            Postings::Terms(map) => match self.term(at, value) {
                Ok(Term::Bytes(bytes)) if op == CmpOp::Eq => {
                    map.get(&bytes).cloned().unwrap_or_default()
                }
                _ => RoaringTreemap::new(),
            },
            Postings::Ordered { pairs, .. } => match self.ordered_term(at, value) {
                Ok(term) => {
                    let mut ids: Vec<u64> =
                        pairs.range(range(op, term)).map(|(_, id)| *id).collect();
                    ids.sort_unstable();
                    // Sorted and (one value per item per field) without duplicates.
                    RoaringTreemap::from_sorted_iter(ids).unwrap_or_default()
                }
                Err(_) => RoaringTreemap::new(),
            },
        }
    }
}

/// A comparison on an ordered field is tested item by item when the other parts of its
/// conjunction leave fewer than 1 / PROBE_RATIO of the live items (a lookup each, against a
/// walk over every value in range).
const PROBE_RATIO: u64 = 4;

/// A bound on the `(value, id)` pairs of an ordered field.
type PairBound = Bound<(u64, u64)>;

/// The `(value, id)` pairs of an ordered field that satisfy `op term`.
fn range(op: CmpOp, term: u64) -> (PairBound, PairBound) {
    use Bound::{Excluded, Included, Unbounded};
    match op {
        CmpOp::Eq => (Included((term, 0)), Included((term, u64::MAX))),
        CmpOp::Lt => (Unbounded, Excluded((term, 0))),
        CmpOp::Le => (Unbounded, Included((term, u64::MAX))),
        CmpOp::Gt => (Excluded((term, u64::MAX)), Unbounded),
        CmpOp::Ge => (Included((term, 0)), Unbounded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::fields::term::extract;
    use crate::vector::filter::{field, ids};
    use crate::vector::record::{Dynamic, Record};
    use serde_json::json;

    fn indexes() -> FieldIndexes {
        let fields = [
            Field::new("tag", FieldKind::Keyword),
            Field::new("ts", FieldKind::Timestamp),
            Field::new("tags", FieldKind::Keywords),
        ];
        let mut index = FieldIndexes::new(&fields);
        for id in 0..100u64 {
            let record = json!({
                "tag": if id % 3 == 0 { "a" } else { "b" },
                "ts": id as i64 - 50,
                "tags": if id % 10 == 0 { json!(["x", "y"]) } else { json!(null) },
            });
            let mut bytes = Vec::new();
            Dynamic::encode(&record, &mut bytes).unwrap();
            index.insert(id, &extract(&fields, &bytes).unwrap());
        }
        index
    }

    fn ids_of(index: &FieldIndexes, expr: Expr) -> Vec<u64> {
        let out: Vec<u64> = index.evaluate(&expr).unwrap().iter().collect();
        assert_eq!(index.count(&expr).unwrap(), out.len() as u64);
        out
    }

    #[test]
    fn expressions_are_answered_by_set_algebra() {
        let index = indexes();
        assert_eq!(ids_of(&index, field("tag").eq("a")).len(), 34);
        assert_eq!(ids_of(&index, field("ts").gt(45)), vec![96, 97, 98, 99]);
        assert_eq!(ids_of(&index, field("ts").le(-49)), vec![0, 1]);
        assert_eq!(ids_of(&index, field("ts").eq(0)), vec![50]);
        assert_eq!(
            ids_of(&index, field("tag").eq("a") & field("ts").ge(40)),
            vec![90, 93, 96, 99]
        );
        // A range within a small set is tested item by item: the same answer.
        assert_eq!(
            ids_of(
                &index,
                ids(&[1, 2, 95, 96]) & field("ts").gt(44) & field("ts").le(46)
            ),
            vec![95, 96]
        );
        assert_eq!(ids_of(&index, ids(&[7, 8]) & field("ts").eq(-42)), vec![8]);
        assert_eq!(
            ids_of(
                &index,
                field("tags").contains_any(["y"]) & !ids(&[0, 10, 12345])
            ),
            vec![20, 30, 40, 50, 60, 70, 80, 90]
        );
        assert_eq!(ids_of(&index, !field("tags").exists()).len(), 90);
        assert_eq!(ids_of(&index, field("tag").ne("a")).len(), 66);
        assert_eq!(
            ids_of(&index, field("ts").lt(-48) | ids(&[99])),
            vec![0, 1, 99]
        );
    }

    #[test]
    fn bad_references_are_typed_errors() {
        let index = indexes();
        for (expr, needle) in [
            (field("nope").eq(1), "unknown field 'nope'"),
            (field("tag").gt("a"), "'gt' needs"),
            (field("ts").eq("yesterday"), "timestamp field"),
            (field("ts").eq(2.5), "not an integer"),
            (field("tag").eq(true), "keyword field"),
        ] {
            let err = index.evaluate(&expr).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidFilter(m) if m.contains(needle)),
                "{err}"
            );
        }
    }

    #[test]
    fn removal_undoes_insertion() {
        let mut index = indexes();
        let before = index.stats();
        let mut bytes = Vec::new();
        Dynamic::encode(&json!({"tag": "c", "ts": 1000, "tags": ["z"]}), &mut bytes).unwrap();
        let terms = extract(&index.fields.clone(), &bytes).unwrap();
        index.insert(1000, &terms);
        assert_eq!(ids_of(&index, field("tag").eq("c")), vec![1000]);
        index.remove(1000, &terms);
        let after = index.stats();
        // Memory may stay higher: maps keep their capacity.
        assert_eq!(
            (after.fields, after.items, after.postings),
            (before.fields, before.items, before.postings)
        );
        assert!(ids_of(&index, field("tags").eq("z")).is_empty());
    }
}
