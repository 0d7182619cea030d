//! Crash consistency of the container under simulated power loss.
//!
//! A random workload (create, delete and reopen column families; commits with both durabilities;
//! growth from tiny segments) runs on a simulated disk that records every operation. Crash
//! images are then built at many points of the trace with unsynced writes dropped, reordered and
//! torn, and each image is opened and compared with a model of what was acknowledged:
//!
//! - every image opens;
//! - a column family whose creation was acknowledged (and whose deletion had not started) is
//!   there; one whose deletion was acknowledged, or whose creation had not started, is not;
//! - every commit acknowledged as durable is present, with all its rows; no commit is partly
//!   visible; nothing appears that was never written.
//!
//! A mutation check runs the same workload on a disk that skips syncs and asserts that the
//! checks catch it, so the harness is shown able to fail.

use quiver::testing::{CrashKind, CrashReport, Faults, SimDisk, WalMutation, explore_crashes};
use quiver::{
    Builder, Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::Duration;

const ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("rows");
const COMMITS: TableDefinition<u64, u64> = TableDefinition::new("commits");

/// Plain container, or container with the write-ahead log in a second file of the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Wal,
    /// The log with checkpoints run inside durable commits, as on wasm32 (no threads).
    WalInline,
    /// The log with a deliberate bug: the checks must fail.
    Mutant(WalMutation),
    /// The same, with inline checkpoints.
    InlineMutant(WalMutation),
}

fn builder() -> Builder {
    builder_with(WalMutation::None)
}

fn builder_with(mutation: WalMutation) -> Builder {
    let mut builder = Builder::new();
    builder
        .set_cache_size(1 << 20)
        .set_initial_segment_size(4096)
        .set_max_segment_growth(32 << 10)
        // Small halves and a low trigger: the log switches halves every few commits and
        // background checkpoints run throughout the workload.
        .set_log_size(256 << 10)
        .set_checkpoint_bytes(48 << 10)
        .set_checkpoint_interval(None)
        .set_wal_mutation(mutation);
    builder
}

fn open(disk: &SimDisk, mode: Mode) -> quiver::Result<Database> {
    match mode {
        Mode::Plain => builder().open_file(disk.file()),
        Mode::Wal => builder().open_with_log(disk.file_at(0), disk.file_at(1)),
        Mode::WalInline => builder()
            .set_inline_checkpoints(true)
            .open_with_log(disk.file_at(0), disk.file_at(1)),
        Mode::Mutant(mutation) => {
            builder_with(mutation).open_with_log(disk.file_at(0), disk.file_at(1))
        }
        Mode::InlineMutant(mutation) => builder_with(mutation)
            .set_inline_checkpoints(true)
            .open_with_log(disk.file_at(0), disk.file_at(1)),
    }
}

/// Deterministic row contents, so the checker can recompute them.
fn row_value(cf: &str, commit: u64, row: u64) -> Vec<u8> {
    let seed = cf.bytes().fold(commit * 1_000_003 + row, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    let len = 1 + (seed % 1500) as usize;
    (0..len).map(|i| (seed as usize + i) as u8).collect()
}

#[derive(Debug, Clone)]
enum Action {
    Create(String),
    Delete(String),
    Commit {
        cf: String,
        number: u64,
        durable: bool,
    },
}

/// An action and the span of the disk trace it issued: it may have taken effect in a crash
/// image at point `at` only if `start < at`, and was acknowledged if `end <= at`.
#[derive(Debug, Clone)]
struct Event {
    action: Action,
    start: usize,
    end: usize,
}

/// Commit `number` of a column family: `rows` rows and the commit's own entry, atomically.
fn commit_rows(cf: &quiver::ColumnFamily, number: u64, rows: u64, durable: bool) {
    let mut txn = cf.begin_write().expect("begin");
    if !durable {
        txn.set_durability(Durability::None).expect("durability");
    }
    {
        let mut table = txn.open_table(ROWS).expect("rows");
        for row in 0..rows {
            table
                .insert(
                    number * 1000 + row,
                    row_value(cf.name(), number, row).as_slice(),
                )
                .expect("insert");
        }
        txn.open_table(COMMITS)
            .expect("commits")
            .insert(number, rows)
            .expect("insert");
    }
    txn.commit().expect("commit");
}

/// Three writer threads, each committing to its own column family, while the main thread
/// creates and deletes another column family and runs checkpoints. Every action is recorded
/// with its span of the shared trace.
/// How long the simulated disk's syncs take in the concurrent workloads: long enough that
/// group-commit followers wake while the leader's fsync is still under way.
const SYNC_DELAY: Duration = Duration::from_millis(2);

fn run_concurrent_workload(disk: &SimDisk, seed: u64, commits: u64, mode: Mode) -> Vec<Event> {
    disk.set_faults(Faults {
        sync_delay: Some(SYNC_DELAY),
        ..Faults::default()
    });
    let db = open(disk, mode).expect("open");
    let events = parking_lot::Mutex::new(Vec::new());
    let record = |action: Action, start: usize| {
        events.lock().push(Event {
            action,
            start,
            end: disk.op_count(),
        });
    };
    let families: Vec<_> = (0..3)
        .map(|i| {
            let name = format!("writer{i}");
            let start = disk.op_count();
            let cf = db.create_column_family(&name).expect("create");
            record(Action::Create(name), start);
            cf
        })
        .collect();
    std::thread::scope(|scope| {
        for (i, cf) in families.iter().enumerate() {
            let record = &record;
            scope.spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed * 31 + i as u64);
                for number in 1..=commits {
                    let durable = rng.random_bool(0.7);
                    let start = disk.op_count();
                    commit_rows(cf, number, rng.random_range(1..8), durable);
                    let action = Action::Commit {
                        cf: cf.name().to_owned(),
                        number,
                        durable,
                    };
                    record(action, start);
                }
            });
        }
        for round in 0..3 {
            let name = format!("side{round}");
            let start = disk.op_count();
            let side = db.create_column_family(&name).expect("create");
            record(Action::Create(name.clone()), start);
            let start = disk.op_count();
            commit_rows(&side, 1, 3, true);
            record(
                Action::Commit {
                    cf: name.clone(),
                    number: 1,
                    durable: true,
                },
                start,
            );
            if mode != Mode::Plain {
                db.checkpoint().expect("checkpoint");
            }
            drop(side);
            let start = disk.op_count();
            db.delete_column_family(&name).expect("delete");
            record(Action::Delete(name), start);
        }
    });
    drop(families);
    db.abandon();
    let mut events = events.into_inner();
    events.sort_by_key(|e| e.start);
    events
}

fn run_workload(disk: &SimDisk, seed: u64, steps: usize, mode: Mode) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut db = open(disk, mode).expect("open");
    let mut events = Vec::new();
    let mut live: Vec<String> = Vec::new();
    let mut commit_numbers: BTreeMap<String, u64> = BTreeMap::new();
    let mut next_name = 0;
    for _ in 0..steps {
        let roll = rng.random_range(0..100);
        let start = disk.op_count();
        let action = if live.is_empty() || (roll < 10 && live.len() < 5) {
            let name = format!("cf{next_name}");
            next_name += 1;
            db.create_column_family(&name).expect("create");
            live.push(name.clone());
            Action::Create(name)
        } else if roll < 14 && live.len() > 1 {
            let name = live.remove(rng.random_range(0..live.len()));
            db.delete_column_family(&name).expect("delete");
            Action::Delete(name)
        } else if roll < 17 {
            db.close().expect("close");
            db = open(disk, mode).expect("reopen");
            continue;
        } else if roll < 21 && mode != Mode::Plain {
            db.checkpoint().expect("checkpoint");
            continue;
        } else {
            let name = live[rng.random_range(0..live.len())].clone();
            let number = commit_numbers.entry(name.clone()).or_insert(0);
            *number += 1;
            let number = *number;
            let rows = rng.random_range(1..12u64);
            let durable = rng.random_bool(0.8);
            let cf = db.column_family(&name).expect("open cf");
            commit_rows(&cf, number, rows, durable);
            Action::Commit {
                cf: name,
                number,
                durable,
            }
        };
        events.push(Event {
            action,
            start,
            end: disk.op_count(),
        });
    }
    // Leave the database open: the trace ends as if the power went out now.
    db.abandon();
    events
}

/// Compares a recovered database with the model at crash point `at`.
fn check_against_model(db: &Database, events: &[Event], at: usize) -> Result<(), String> {
    let names = db.list_column_families();
    let mut created: BTreeMap<&str, &Event> = BTreeMap::new();
    let mut deleted: BTreeMap<&str, &Event> = BTreeMap::new();
    for event in events {
        match &event.action {
            Action::Create(name) => {
                created.insert(name, event);
            }
            Action::Delete(name) => {
                deleted.insert(name, event);
            }
            Action::Commit { .. } => {}
        }
    }
    for name in &names {
        if !created.contains_key(name.as_str()) {
            return Err(format!("unknown column family '{name}' appeared"));
        }
    }
    for (name, create) in &created {
        let present = names.iter().any(|n| n == name);
        let delete_started = deleted.get(name).is_some_and(|d| d.start < at);
        let delete_acked = deleted.get(name).is_some_and(|d| d.end <= at);
        if create.end <= at && !delete_started && !present {
            return Err(format!("acknowledged column family '{name}' is missing"));
        }
        if present && (create.start >= at || delete_acked) {
            return Err(format!("column family '{name}' should not exist"));
        }
        if present {
            check_column_family(db, name, events, at)?;
        }
    }
    Ok(())
}

fn check_column_family(
    db: &Database,
    name: &str,
    events: &[Event],
    at: usize,
) -> Result<(), String> {
    let cf = db
        .column_family(name)
        .map_err(|e| format!("column family '{name}' does not open: {e}"))?;
    let read = cf.begin_read().map_err(|e| e.to_string())?;
    let mut commits = BTreeMap::new();
    let mut row_count = 0;
    match read.open_table(COMMITS) {
        Ok(table) => {
            for entry in table.iter().map_err(|e| e.to_string())? {
                let (k, v) = entry.map_err(|e| e.to_string())?;
                commits.insert(k.value(), v.value());
            }
            let rows = read.open_table(ROWS).map_err(|e| e.to_string())?;
            row_count = rows.len().map_err(|e| e.to_string())?;
            for (&number, &count) in &commits {
                for row in 0..count {
                    let got = rows.get(number * 1000 + row).map_err(|e| e.to_string())?;
                    let want = row_value(name, number, row);
                    if got.as_ref().map(|g| g.value()) != Some(want.as_slice()) {
                        return Err(format!("'{name}' commit {number} row {row} is wrong"));
                    }
                }
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.to_string()),
    }
    let expected_rows: u64 = commits.values().sum();
    if row_count != expected_rows {
        return Err(format!(
            "'{name}' has {row_count} rows, its commits account for {expected_rows}: a partial commit"
        ));
    }
    // A durable commit makes every earlier commit of the column family durable too.
    let mut floor = 0;
    let mut started = 0;
    for event in events {
        if let Action::Commit {
            cf,
            number,
            durable,
        } = &event.action
            && cf == name
        {
            if *durable && event.end <= at {
                floor = floor.max(*number);
            }
            if event.start < at {
                started = started.max(*number);
            }
        }
    }
    for number in 1..=floor {
        if !commits.contains_key(&number) {
            return Err(format!(
                "'{name}' lost acknowledged commit {number} (floor {floor})"
            ));
        }
    }
    if let Some((&last, _)) = commits.iter().next_back()
        && last > started
    {
        return Err(format!("'{name}' has commit {last}, which never started"));
    }
    Ok(())
}

/// Opens an image and checks it. Every `recovery_every`-th image also has its recovery crashed
/// at a few points, and each of those images is checked too.
fn check_image(
    images: Vec<Vec<u8>>,
    at: usize,
    events: &[Event],
    rng: &mut StdRng,
    crash_recovery: bool,
    nested_images: &mut usize,
    mode: Mode,
) -> Result<(), String> {
    let disk = SimDisk::from_images(images);
    let db = open(&disk, mode).map_err(|e| format!("open failed: {e}"))?;
    check_against_model(&db, events, at)?;
    if !crash_recovery {
        return Ok(());
    }
    // Power fails again while recovery is writing (redb repairs on open): the result must
    // still satisfy the same model.
    db.abandon();
    let trace = disk.crash_images();
    let len = trace.len();
    drop(trace);
    let mut points: Vec<usize> = (0..3).map(|_| rng.random_range(0..=len)).collect();
    points.sort_unstable();
    let mut images = disk.crash_images();
    for point in points {
        let kind = CrashKind::ALL[rng.random_range(0..4)];
        let image = images.image(point, kind, rng);
        *nested_images += 1;
        let disk = SimDisk::from_images(image);
        let db =
            open(&disk, mode).map_err(|e| format!("open after crashed recovery failed: {e}"))?;
        check_against_model(&db, events, at).map_err(|e| format!("after crashed recovery: {e}"))?;
    }
    Ok(())
}

fn explore(seed: u64, steps: usize, faults: Faults, max_points: usize, mode: Mode) -> CrashReport {
    let disk = SimDisk::new();
    disk.set_faults(faults);
    let events = run_workload(&disk, seed, steps, mode);
    explore_events(&disk, &events, seed, max_points, mode)
}

fn explore_events(
    disk: &SimDisk,
    events: &[Event],
    seed: u64,
    max_points: usize,
    mode: Mode,
) -> CrashReport {
    disk.set_faults(Faults::default());
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut check_rng = StdRng::seed_from_u64(seed ^ 0xc0ffee);
    let mut nested = 0;
    let mut counter = 0usize;
    let acknowledgements: Vec<usize> = events.iter().flat_map(|e| [e.start, e.end]).collect();
    let mut report = explore_crashes(
        disk,
        max_points,
        &acknowledgements,
        &mut rng,
        |image, at| {
            counter += 1;
            let crash_recovery = counter.is_multiple_of(8);
            check_image(
                image,
                at,
                events,
                &mut check_rng,
                crash_recovery,
                &mut nested,
                mode,
            )
        },
    );
    report.images += nested;
    report
}

fn assert_clean(report: &CrashReport, what: &str) {
    eprintln!("{what}: {} crash images checked", report.images);
    if let Some(first) = report.violations.first() {
        panic!(
            "{what}: {} of {} crash images violate the model; first at op {} ({:?}): {}",
            report.violations.len(),
            report.images,
            first.at,
            first.kind,
            first.message
        );
    }
}

fn soak_factor() -> usize {
    std::env::var("QUIVER_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Explores `count` workloads (times `QUIVER_SOAK`) starting at seed `first`; returns how many
/// images were checked, failing on the first violation.
fn explore_seeds(mode: Mode, first: u64, count: u64, steps: usize, max_points: usize) -> usize {
    let mut total = CrashReport::default();
    for seed in first..first + count * soak_factor() as u64 {
        let report = explore(seed, steps, Faults::default(), max_points, mode);
        assert_clean(&report, &format!("seed {seed}"));
        total.merge(report);
    }
    total.images
}

#[test]
fn every_crash_image_of_a_mixed_workload_recovers_to_an_acknowledged_state() {
    let images = explore_seeds(Mode::Plain, 0, 2, 40, 400);
    assert!(images >= 1000, "only {images} images");
}

#[test]
fn crash_images_of_growth_heavy_workloads_recover() {
    let images = explore_seeds(Mode::Plain, 100, 2, 70, 350);
    assert!(images >= 1000, "only {images} images");
}

#[test]
fn the_crash_checks_catch_a_disk_that_skips_syncs() {
    // Mutation check: with every second sync acknowledged but not performed, acknowledged
    // commits must be found missing (or the file unreadable) in some image.
    let report = explore(
        7,
        40,
        Faults {
            skip_every_nth_sync: Some(2),
            ..Faults::default()
        },
        300,
        Mode::Plain,
    );
    eprintln!(
        "mutant: {} of {} crash images flagged",
        report.violations.len(),
        report.images
    );
    assert!(
        !report.violations.is_empty(),
        "the crash checks accepted every image of a disk that skips syncs"
    );
}

#[test]
fn with_the_log_every_crash_image_recovers_to_an_acknowledged_state() {
    let images = explore_seeds(Mode::Wal, 200, 3, 50, 500);
    assert!(images >= 2500, "only {images} images");
}

#[test]
fn with_the_log_growth_heavy_workloads_survive_crashes_during_checkpoints() {
    let images = explore_seeds(Mode::Wal, 300, 2, 80, 500);
    assert!(images >= 2500, "only {images} images");
}

#[test]
fn with_inline_checkpoints_every_crash_image_recovers_to_an_acknowledged_state() {
    // The mode quiver falls back to where threads are unsupported (the browser build).
    let images = explore_seeds(Mode::WalInline, 400, 2, 60, 500);
    assert!(images >= 2000, "only {images} images");
}

#[test]
fn inline_checkpoints_run_inside_durable_commits() {
    let disk = SimDisk::new();
    let db = open(&disk, Mode::WalInline).unwrap();
    let cf = db.create_column_family("rows").unwrap();
    for commit in 0..200u64 {
        let txn = cf.begin_write().unwrap();
        txn.open_table(ROWS)
            .unwrap()
            .insert(commit, row_value("rows", commit, 0).as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let stats = db.wal_stats().unwrap();
    assert!(
        stats.checkpoints >= 2,
        "no checkpoint ran without the thread: {stats:?}"
    );
    db.close().unwrap();
}

#[test]
fn with_the_log_a_crash_at_every_point_of_recovery_still_recovers() {
    // Recovery writes too (replay, main fsync, retiring both halves, redb's own repair on open).
    // For crash images spread over a workload, crash each one's recovery at every operation,
    // with every crash kind, and check the result against the same model.
    let disk = SimDisk::new();
    let events = run_workload(&disk, 300, 80, Mode::Wal);
    // Outer crash points: right after commits were acknowledged, keeping every unsynced write,
    // so both halves of the log hold records when recovery starts.
    let acknowledged: Vec<usize> = events
        .iter()
        .filter(|e| matches!(e.action, Action::Commit { durable: true, .. }))
        .map(|e| e.end)
        .collect();
    let picks: Vec<usize> = (0..16)
        .map(|k| acknowledged[k * acknowledged.len() / 16])
        .collect();
    let mut rng = StdRng::seed_from_u64(300);
    let mut outer = disk.crash_images();
    let mut checked = 0;
    for at in picks {
        let images = outer.image(at, CrashKind::KeepAll, &mut rng);
        let first = SimDisk::from_images(images);
        let db = open(&first, Mode::Wal).expect("first recovery");
        check_against_model(&db, &events, at).expect("first recovery matches the model");
        db.abandon();
        let mut nested = first.crash_images();
        for point in 0..=first.op_count() {
            for kind in CrashKind::ALL {
                let image = nested.image(point, kind, &mut rng);
                let disk = SimDisk::from_images(image);
                let db = open(&disk, Mode::Wal).unwrap_or_else(|e| {
                    panic!("crash at {at}, recovery crashed at {point} ({kind:?}): open: {e}")
                });
                if let Err(msg) = check_against_model(&db, &events, at) {
                    panic!("crash at {at}, recovery crashed at {point} ({kind:?}): {msg}");
                }
                db.abandon();
                checked += 1;
            }
        }
    }
    eprintln!("crashed recoveries: {checked} images checked");
    assert!(checked >= 1000, "only {checked} images");
}

fn assert_mutant_caught(mode: Mode) {
    let mut report = CrashReport::default();
    for seed in 400..403 {
        report.merge(explore(seed, 50, Faults::default(), 400, mode));
    }
    eprintln!(
        "{mode:?}: {} of {} crash images flagged",
        report.violations.len(),
        report.images
    );
    assert!(
        !report.violations.is_empty(),
        "the crash checks accepted every image of a log in mode {mode:?}"
    );
}

#[test]
fn the_crash_checks_catch_a_log_that_acknowledges_before_its_fsync() {
    assert_mutant_caught(Mode::Mutant(WalMutation::AckBeforeFsync));
}

#[test]
fn the_crash_checks_catch_a_log_recycled_before_the_main_file_fsync() {
    assert_mutant_caught(Mode::Mutant(WalMutation::RecycleBeforeMainFsync));
}

#[test]
fn the_crash_checks_catch_inline_checkpoints_recycled_before_the_main_file_fsync() {
    assert_mutant_caught(Mode::InlineMutant(WalMutation::RecycleBeforeMainFsync));
}

#[test]
fn the_crash_checks_catch_followers_acknowledged_before_the_log_fsync() {
    // Group-commit followers woken as durable while the leader's fsync is still under way:
    // invisible when a sync takes no time, caught once the simulated sync takes some.
    let mode = Mode::Mutant(WalMutation::AckFollowersBeforeFsync);
    let (mut flagged, mut images) = (0, 0);
    for seed in 700..704 {
        let disk = SimDisk::new();
        let events = run_concurrent_workload(&disk, seed, 12, mode);
        let report = explore_events(&disk, &events, seed, 600, mode);
        flagged += report.violations.len();
        images += report.images;
    }
    eprintln!("{mode:?}: {flagged} of {images} crash images flagged");
    assert!(
        flagged > 0,
        "the crash checks accepted every image of {mode:?}"
    );
}

#[test]
fn concurrent_writers_recover_to_an_acknowledged_state_after_any_crash() {
    let mut images = 0;
    for (seed, mode) in [(500, Mode::Plain), (501, Mode::Wal), (502, Mode::Wal)] {
        for _ in 0..soak_factor() {
            let disk = SimDisk::new();
            let events = run_concurrent_workload(&disk, seed, 12, mode);
            let report = explore_events(&disk, &events, seed, 600, mode);
            assert_clean(&report, &format!("concurrent seed {seed} {mode:?}"));
            images += report.images;
        }
    }
    assert!(images >= 2000, "only {images} images");
}
