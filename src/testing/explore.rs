//! Drive a checker over crash images of a recorded trace.

use crate::testing::sim_disk::{CrashKind, SimDisk};
use rand::Rng;
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

/// One crash image that failed its check.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The crash point (number of operations that had been issued).
    pub at: usize,
    /// How the unsynced operations were treated.
    pub kind: CrashKind,
    /// What the checker found.
    pub message: String,
}

/// The outcome of [`explore_crashes`].
#[derive(Debug, Clone, Default)]
pub struct CrashReport {
    /// Number of images built and checked.
    pub images: usize,
    /// Images that failed their check.
    pub violations: Vec<Violation>,
}

impl CrashReport {
    /// Adds another report's counts to this one.
    pub fn merge(&mut self, other: CrashReport) {
        self.images += other.images;
        self.violations.extend(other.violations);
    }
}

/// Checks crash images of `disk`'s trace at up to `max_points` crash points (all of them when
/// the trace is shorter; otherwise evenly spread), plus every point right before and after a
/// sync and every point in `must_check` (pass the points where the workload received
/// acknowledgements: a crash right after one is where a missing sync shows). At each point every [`CrashKind`] is tried whose result can differ (`DropAll` alone
/// when nothing is pending). A panic inside `check` counts as a violation. `check` gets the images
/// (one per file of the disk) and the crash point and returns an error message for a violation.
///
/// ```
/// use quiver::io::FileIo;
/// use quiver::testing::{explore_crashes, SimDisk};
/// let disk = SimDisk::new();
/// let file = disk.file();
/// file.write_at(0, b"ok")?;
/// file.sync_data()?;
/// let mut rng = rand::rng();
/// let report = explore_crashes(&disk, 100, &[], &mut rng, |image, at| {
///     if at >= 2 && &image[0][..2] != b"ok" { Err("lost a synced write".into()) } else { Ok(()) }
/// });
/// assert!(report.violations.is_empty());
/// assert!(report.images >= 3);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn explore_crashes(
    disk: &SimDisk,
    max_points: usize,
    must_check: &[usize],
    rng: &mut impl Rng,
    mut check: impl FnMut(Vec<Vec<u8>>, usize) -> Result<(), String>,
) -> CrashReport {
    let mut images = disk.crash_images();
    let total = images.len();
    let mut points: Vec<usize> = if total < max_points {
        (0..=total).collect()
    } else {
        let step = (total as f64 / max_points as f64).max(1.0);
        (0..max_points)
            .map(|i| (i as f64 * step) as usize)
            .collect()
    };
    // Points next to syncs are where acknowledgements happen: always include them.
    let ops = disk.ops();
    for (i, op) in ops.iter().enumerate() {
        if op.is_sync() {
            points.extend([i, i + 1]);
        }
    }
    points.push(total);
    points.extend(must_check.iter().filter(|&&p| p <= total));
    points.sort_unstable();
    points.dedup();

    let mut report = CrashReport::default();
    for at in points {
        let kinds: &[CrashKind] = if images.pending_at(at) == 0 {
            &[CrashKind::DropAll]
        } else {
            &CrashKind::ALL
        };
        for &kind in kinds {
            let image = images.image(at, kind, rng);
            report.images += 1;
            // A panic is a violation too (redb panics on some corrupt pages rather than
            // returning an error), not a reason to stop exploring.
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(image, at)));
            let failure = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(message)) => Some(message),
                Err(payload) => Some(format!("panicked: {}", panic_message(&*payload))),
            };
            if let Some(message) = failure {
                report.violations.push(Violation { at, kind, message });
            }
        }
    }
    report
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
