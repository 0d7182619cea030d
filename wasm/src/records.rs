//! JSON records and the filters JavaScript passes to searches.
//!
//! A record is any JSON value, stored as its text. A filter is a JSON object whose fields must
//! all match the record's top-level fields: a scalar matches an equal value, an array matches
//! any of its elements (`{"lang": "en", "year": [2024, 2025]}`). Records that are not objects
//! never match a non-empty filter.

use quiver::{Error, Result};
use serde_json::{Map, Value};

/// A parsed filter: field name to the accepted values.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFilter {
    fields: Vec<(String, Vec<Value>)>,
}

impl RecordFilter {
    /// Parses a filter from JSON text: an object of field names to a value or an array of
    /// accepted values.
    ///
    /// ```
    /// use quiver_wasm::records::RecordFilter;
    /// let filter = RecordFilter::parse(r#"{"lang": "en", "year": [2024, 2025]}"#)?;
    /// assert!(filter.matches(r#"{"lang": "en", "year": 2025, "title": "x"}"#));
    /// assert!(!filter.matches(r#"{"lang": "fr", "year": 2025}"#));
    /// assert!(RecordFilter::parse("[1, 2]").is_err());
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<RecordFilter> {
        let value: Value = serde_json::from_str(text)
            .map_err(|err| Error::InvalidConfig(format!("filter is not valid JSON: {err}")))?;
        let Value::Object(object) = value else {
            return Err(Error::InvalidConfig(
                "a filter is a JSON object of field names to values".into(),
            ));
        };
        let fields = object
            .into_iter()
            .map(|(name, wanted)| match wanted {
                Value::Array(values) => (name, values),
                value => (name, vec![value]),
            })
            .collect();
        Ok(RecordFilter { fields })
    }

    /// Whether the record (JSON text) has every filtered field with an accepted value.
    ///
    /// ```
    /// let filter = quiver_wasm::records::RecordFilter::parse(r#"{"tag": "b"}"#)?;
    /// assert!(filter.matches(r#"{"tag": "b"}"#));
    /// assert!(!filter.matches(r#"{"other": "b"}"#));
    /// assert!(!filter.matches("not json"));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn matches(&self, record: &str) -> bool {
        if self.fields.is_empty() {
            return true;
        }
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(record) else {
            return false;
        };
        self.matches_object(&object)
    }

    fn matches_object(&self, object: &Map<String, Value>) -> bool {
        self.fields.iter().all(|(name, accepted)| {
            object
                .get(name)
                .is_some_and(|value| accepted.iter().any(|a| a == value))
        })
    }
}

/// Checks that `text` is one JSON value and returns it in compact form, the way records are
/// stored.
///
/// ```
/// assert_eq!(quiver_wasm::records::normalize(r#"{ "a" : 1 }"#)?, r#"{"a":1}"#);
/// assert!(quiver_wasm::records::normalize("{").is_err());
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn normalize(text: &str) -> Result<String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|err| Error::InvalidConfig(format!("record is not valid JSON: {err}")))?;
    Ok(value.to_string())
}

/// Checks that a JavaScript number is a valid id: a non-negative integer that a JavaScript
/// number holds exactly (at most 2^53 - 1).
///
/// ```
/// assert_eq!(quiver_wasm::records::id_from_number(42.0)?, 42);
/// assert!(quiver_wasm::records::id_from_number(-1.0).is_err());
/// assert!(quiver_wasm::records::id_from_number(1.5).is_err());
/// # Ok::<(), quiver::Error>(())
/// ```
pub fn id_from_number(id: f64) -> Result<u64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if id.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&id) {
        Ok(id as u64)
    } else {
        Err(Error::InvalidId(format!(
            "{id} is not an id: ids are integers from 0 to 2^53 - 1"
        )))
    }
}
