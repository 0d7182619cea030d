//! Test support: a fault-injecting simulated disk and a driver that checks a database at every
//! crash point of a recorded workload. Enabled by the `testing` cargo feature; used by quiver's
//! own tests and benches.
//!
//! The pattern: run a workload on a [`SimDisk`] (through [`crate::Builder::open_file`]),
//! recording which operations were acknowledged at which point of the disk's trace; then let
//! [`explore_crashes`] build crash images (unsynced writes dropped, reordered, torn) at many
//! crash points and hand each to a checker that opens the image and compares it with the model.
//! To prove the checks can fail, run the same workload with [`Faults::skip_every_nth_sync`] and
//! assert that violations are reported.

mod explore;
mod sim_disk;

pub use crate::vector::fields::mutation::{FieldMutation, set_field_mutation};
pub use crate::vector::global::GlobalMutation;
pub use crate::wal::writer::WalMutation;
pub use explore::{CrashReport, Violation, explore_crashes};
pub use sim_disk::{CrashImages, CrashKind, Faults, Op, OpKind, SECTOR, SimDisk, SimFile};
