//! Column family name rules: 1 to 255 bytes of UTF-8, no NUL.

use crate::error::{Error, Result};

/// Longest allowed name, in bytes (the catalog stores the length in a `u16`, but a short limit
/// keeps names printable and headers small).
pub const MAX_NAME_LEN: usize = 255;

/// Checks a column family name, returning [`Error::InvalidName`] with the reason.
///
/// ```
/// assert!(quiver::validate_name("products").is_ok());
/// assert!(quiver::validate_name("").is_err());
/// assert!(quiver::validate_name("a\0b").is_err());
/// assert!(quiver::validate_name(&"x".repeat(256)).is_err());
/// ```
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 255 bytes"
    } else if name.contains('\0') {
        "it contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        name: name.chars().take(64).collect(),
        reason,
    })
}
