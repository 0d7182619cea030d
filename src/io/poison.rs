//! The one state a write-path I/O failure leaves a database in.
//!
//! After the first failed write, length change or fsync of the container or its log (a full
//! disk included), nothing written since the last good fsync can be trusted, and a later write
//! could land on top of an unknown state. So the first failure poisons the whole database: the
//! log, the container and every column family refuse writes with [`Error::Poisoned`], which
//! carries the cause, until the database is reopened (reopening recovers from the files, and
//! finds every acknowledged commit). Reads of committed data and searches go on.

use crate::error::{Error, Result};
use std::sync::OnceLock;

/// Whether, and why, a database refuses writes. One per open database, shared by its log and
/// its container; the first cause set is kept.
#[derive(Debug, Default)]
pub(crate) struct Poison {
    cause: OnceLock<String>,
}

impl Poison {
    /// Poisons the database because of `cause` (a later call keeps the first cause).
    pub(crate) fn set(&self, cause: impl std::fmt::Display) {
        let _ = self.cause.set(cause.to_string());
    }

    /// [`Error::Poisoned`] with the cause, once poisoned.
    pub(crate) fn check(&self) -> Result<()> {
        match self.cause.get() {
            Some(cause) => Err(Error::Poisoned(cause.clone())),
            None => Ok(()),
        }
    }

    /// Whether the database is poisoned.
    pub(crate) fn is_set(&self) -> bool {
        self.cause.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_cause_is_kept_and_reported() {
        let poison = Poison::default();
        assert!(poison.check().is_ok());
        poison.set("No space left on device");
        poison.set("a later failure");
        match poison.check() {
            Err(Error::Poisoned(cause)) => assert_eq!(cause, "No space left on device"),
            other => panic!("{other:?}"),
        }
        assert!(poison.is_set());
    }
}
