//! The JSON form of filter expressions, with the operator names of MongoDB and Chroma.
//!
//! ```json
//! {"tag": "x", "ts": {"$gt": 5}, "$not": {"id": {"$in": [1, 2]}}}
//! ```
//! - An object is the conjunction of its entries.
//! - `"field": value` is equality; `"field": {"$op": value, ...}` applies each operator, with
//!   `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`, `$nin` (lists of values), `$exists`
//!   (`true` or `false`) and `$contains` (a keyword list holds the value).
//! - `$and` and `$or` take a list of objects, `$not` one object.
//! - `id` names the item ids: `{"id": 7}`, `{"id": {"$in": [..]}}` (an allow-list) and
//!   `{"id": {"$nin": [..]}}` (a deny-list). A field cannot be named `id`.
//! - Values are strings, numbers and booleans; `null` is refused (use `$exists`).

use crate::error::{Error, Result};
use crate::vector::filter::expr::{CmpOp, Expr, Literal, Node, field};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The key that names item ids in the JSON form.
pub(crate) const ID_KEY: &str = "id";

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidFilter(message.into())
}

impl Expr {
    /// Parses the JSON form of a filter (see the module docs of [`Expr`]'s JSON form: MongoDB
    /// operator names). A malformed expression is [`Error::InvalidFilter`] naming the problem.
    ///
    /// ```
    /// use quiver::vector::{field, Expr};
    /// let parsed = Expr::from_json(&serde_json::json!({"pos": {"$ne": "noun"}}))?;
    /// assert_eq!(parsed, field("pos").ne("noun"));
    /// assert!(Expr::from_json(&serde_json::json!({"ts": {"$around": 5}})).is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn from_json(value: &Value) -> Result<Expr> {
        match value {
            Value::Object(entries) => object(entries),
            other => Err(invalid(format!(
                "a filter must be a JSON object, not {}",
                kind_of(other)
            ))),
        }
    }

    /// Parses the JSON form from text.
    ///
    /// ```
    /// use quiver::vector::{field, Expr};
    /// assert_eq!(Expr::from_json_str(r#"{"tag": "a"}"#)?, field("tag").eq("a"));
    /// assert!(matches!(Expr::from_json_str("{tag"), Err(quiver::Error::InvalidFilter(_))));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn from_json_str(text: &str) -> Result<Expr> {
        let value: Value = serde_json::from_str(text)
            .map_err(|err| invalid(format!("the filter is not valid JSON: {err}")))?;
        Expr::from_json(&value)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn object(entries: &Map<String, Value>) -> Result<Expr> {
    let mut out = Expr::all();
    for (key, value) in entries {
        let part = match key.as_str() {
            "$and" => list(key, value)?
                .into_iter()
                .fold(Expr::all(), |a, b| a & b),
            "$or" => {
                let parts = list(key, value)?;
                if parts.is_empty() {
                    return Err(invalid("$or needs at least one expression"));
                }
                Expr(Node::Or(parts.into_iter().map(|e| e.0).collect()))
            }
            "$not" => !Expr::from_json(value)?,
            ID_KEY => id_condition(value)?,
            op if op.starts_with('$') => {
                return Err(invalid(format!(
                    "unknown operator {op} at the top of a filter; use $and, $or, $not or a field name"
                )));
            }
            name => field_condition(name, value)?,
        };
        out = out & part;
    }
    Ok(out)
}

fn list(op: &str, value: &Value) -> Result<Vec<Expr>> {
    let Value::Array(items) = value else {
        return Err(invalid(format!(
            "{op} takes a list of filters, not {}",
            kind_of(value)
        )));
    };
    items.iter().map(Expr::from_json).collect()
}

fn literal(name: &str, value: &Value) -> Result<Literal> {
    match value {
        Value::String(s) => Ok(Literal::Str(s.clone())),
        Value::Bool(b) => Ok(Literal::Bool(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Literal::Int(i))
            } else if n.is_u64() {
                Err(invalid(format!(
                    "the value {n} for '{name}' is above the largest integer (2^63 - 1)"
                )))
            } else {
                n.as_f64()
                    .map(Literal::Float)
                    .ok_or_else(|| invalid(format!("the value {n} for '{name}' is not a number")))
            }
        }
        Value::Null => Err(invalid(format!(
            "null is not a value to compare '{name}' with; use {{\"$exists\": false}}"
        ))),
        other => Err(invalid(format!(
            "'{name}' is compared with {}; expected a string, number or boolean",
            kind_of(other)
        ))),
    }
}

fn literals(name: &str, op: &str, value: &Value) -> Result<Vec<Literal>> {
    let Value::Array(items) = value else {
        return Err(invalid(format!(
            "{op} on '{name}' takes a list of values, not {}",
            kind_of(value)
        )));
    };
    items.iter().map(|item| literal(name, item)).collect()
}

fn field_condition(name: &str, value: &Value) -> Result<Expr> {
    let Value::Object(ops) = value else {
        return Ok(field(name).eq(literal(name, value)?));
    };
    if ops.is_empty() {
        return Err(invalid(format!("the condition on '{name}' is empty")));
    }
    let mut out = Expr::all();
    for (op, operand) in ops {
        let compare = |cmp: CmpOp| -> Result<Expr> {
            Ok(Expr(Node::Compare {
                field: name.to_owned(),
                op: cmp,
                value: literal(name, operand)?,
            }))
        };
        let part = match op.as_str() {
            "$eq" | "$contains" => compare(CmpOp::Eq)?,
            "$ne" => !compare(CmpOp::Eq)?,
            "$gt" => compare(CmpOp::Gt)?,
            "$gte" => compare(CmpOp::Ge)?,
            "$lt" => compare(CmpOp::Lt)?,
            "$lte" => compare(CmpOp::Le)?,
            "$in" => field(name).is_in(literals(name, op, operand)?),
            "$nin" => field(name).not_in(literals(name, op, operand)?),
            "$exists" => match operand {
                Value::Bool(true) => field(name).exists(),
                Value::Bool(false) => !field(name).exists(),
                other => {
                    return Err(invalid(format!(
                        "$exists on '{name}' takes true or false, not {}",
                        kind_of(other)
                    )));
                }
            },
            other => {
                return Err(invalid(format!(
                    "unknown operator {other} on '{name}'; use $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists or $contains"
                )));
            }
        };
        out = out & part;
    }
    Ok(out)
}

fn id_value(value: &Value) -> Result<u64> {
    value.as_u64().ok_or_else(|| {
        invalid(format!(
            "item ids in a filter are non-negative integers, not {value}"
        ))
    })
}

fn id_list(op: &str, value: &Value) -> Result<Arc<[u64]>> {
    let Value::Array(items) = value else {
        return Err(invalid(format!(
            "{op} on id takes a list of ids, not {}",
            kind_of(value)
        )));
    };
    items.iter().map(id_value).collect()
}

fn id_condition(value: &Value) -> Result<Expr> {
    let Value::Object(ops) = value else {
        return Ok(Expr(Node::Ids(Arc::from([id_value(value)?]))));
    };
    let mut out = Expr::all();
    for (op, operand) in ops {
        let part = match op.as_str() {
            "$eq" => Expr(Node::Ids(Arc::from([id_value(operand)?]))),
            "$ne" => !Expr(Node::Ids(Arc::from([id_value(operand)?]))),
            "$in" => Expr(Node::Ids(id_list(op, operand)?)),
            "$nin" => !Expr(Node::Ids(id_list(op, operand)?)),
            other => {
                return Err(invalid(format!(
                    "unknown operator {other} on id; use $eq, $ne, $in or $nin"
                )));
            }
        };
        out = out & part;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::filter::expr::ids;
    use serde_json::json;

    #[test]
    fn the_json_form_equals_the_builder() {
        let parsed = Expr::from_json(&json!({
            "tag": "x",
            "ts": {"$gt": 5, "$lte": 9},
            "lemmas": {"$in": ["run"]},
            "$or": [{"pos": "verb"}, {"stars": {"$gte": 4.5}}],
            "$not": {"id": {"$in": [1, 2]}},
            "summary": {"$exists": false},
        }))
        .unwrap();
        let built = field("tag").eq("x")
            & field("ts").gt(5)
            & field("ts").le(9)
            & field("lemmas").is_in(["run"])
            & (field("pos").eq("verb") | field("stars").ge(4.5))
            & !ids(&[1, 2])
            & !field("summary").exists();
        // serde_json keeps object keys sorted: compare as sets of conjuncts.
        let conjuncts = |e: &Expr| match &e.0 {
            Node::And(nodes) => nodes.clone(),
            node => vec![node.clone()],
        };
        let (mut a, b) = (conjuncts(&parsed), conjuncts(&built));
        assert_eq!(a.len(), b.len());
        a.retain(|n| !b.contains(n));
        assert!(a.is_empty(), "{a:?}");
    }

    #[test]
    fn malformed_filters_name_the_problem() {
        for (bad, needle) in [
            (json!([1]), "object"),
            (json!({"$xor": []}), "$xor"),
            (json!({"ts": {"$near": 1}}), "$near"),
            (json!({"ts": null}), "$exists"),
            (json!({"ts": {"$in": 3}}), "list"),
            (json!({"ts": {}}), "empty"),
            (json!({"id": {"$in": [-1]}}), "non-negative"),
            (json!({"$or": []}), "at least one"),
            (json!({"tag": [1, 2]}), "a list"),
            (json!({"n": 18446744073709551615u64}), "2^63"),
        ] {
            let err = Expr::from_json(&bad).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidFilter(m) if m.contains(needle)),
                "{bad}: {err}"
            );
        }
    }
}
