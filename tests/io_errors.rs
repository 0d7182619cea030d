//! I/O failures (a full or dying disk): fail the N-th write, length change or sync for every N
//! of a workload. quiver must return typed errors without panicking, refuse further work once
//! it cannot trust its state, lose nothing acknowledged, and reopen cleanly.

use quiver::testing::{Faults, SimDisk};
use quiver::{Builder, Error, TableDefinition};

const ITEMS: TableDefinition<u64, u64> = TableDefinition::new("items");

fn builder() -> Builder {
    let mut builder = Builder::new();
    builder
        .set_cache_size(1 << 20)
        .set_initial_segment_size(4096)
        .set_log_size(128 << 10)
        .set_checkpoint_bytes(16 << 10)
        .set_checkpoint_interval(None);
    builder
}

/// Opens the disk's file 0 alone, or with the log in file 1.
fn open(disk: &SimDisk, wal: bool) -> Result<quiver::Database, Error> {
    if wal {
        builder().open_with_log(disk.file_at(0), disk.file_at(1))
    } else {
        builder().open_file(disk.file())
    }
}

/// Runs the workload until the first error; returns the acknowledged (column family, commit)
/// pairs and whether an error was seen.
fn workload(disk: &SimDisk, wal: bool) -> (Vec<(String, u64)>, Option<Error>) {
    let mut acked = Vec::new();
    let db = match open(disk, wal) {
        Ok(db) => db,
        Err(err) => return (acked, Some(err)),
    };
    let result = (|| -> Result<(), Error> {
        for round in 0..4u64 {
            for name in ["users", "orders"] {
                let cf = db.column_family_or_create(name)?;
                let txn = cf.begin_write()?;
                {
                    let mut table = txn.open_table(ITEMS)?;
                    for k in 0..50 {
                        table.insert(round * 100 + k, round)?;
                    }
                }
                txn.commit()?;
                acked.push((name.to_owned(), round));
            }
        }
        if acked.len() == 8 {
            // A delete that fails may or may not have taken effect: stop expecting "orders"
            // as soon as it is attempted.
            acked.retain(|(name, _)| name != "orders");
            db.delete_column_family("orders")?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => match db.close() {
            Ok(()) => (acked, None),
            Err(err) => (acked, Some(err)),
        },
        Err(err) => {
            // Once an error was seen, later calls must fail with a typed error or succeed; none
            // may panic.
            let _ = db.create_column_family("after-error");
            let _ = db
                .column_family("users")
                .and_then(|cf| cf.begin_write().map(drop));
            drop(db);
            (acked, Some(err))
        }
    }
}

fn verify(images: Vec<Vec<u8>>, acked: &[(String, u64)], wal: bool) -> Result<(), String> {
    let disk = SimDisk::from_images(images);
    let db = open(&disk, wal).map_err(|e| format!("reopen failed: {e}"))?;
    for (name, round) in acked {
        let cf = db
            .column_family(name)
            .map_err(|e| format!("'{name}' missing after reopen: {e}"))?;
        let read = cf.begin_read().map_err(|e| e.to_string())?;
        let table = read.open_table(ITEMS).map_err(|e| e.to_string())?;
        for k in 0..50 {
            let got = table.get(round * 100 + k).map_err(|e| e.to_string())?;
            if got.map(|v| v.value()) != Some(*round) {
                return Err(format!("'{name}' lost acknowledged round {round}"));
            }
        }
    }
    // The reopened database works.
    let cf = db
        .column_family_or_create("probe")
        .map_err(|e| e.to_string())?;
    let txn = cf.begin_write().map_err(|e| e.to_string())?;
    txn.open_table(ITEMS)
        .map_err(|e| e.to_string())?
        .insert(1, 1)
        .map_err(|e| e.to_string())?;
    txn.commit().map_err(|e| e.to_string())?;
    db.close().map_err(|e| e.to_string())
}

fn fail_every_operation_in_turn(wal: bool) {
    // Count the operations of a clean run first.
    let clean = SimDisk::new();
    let (acked, err) = workload(&clean, wal);
    assert!(err.is_none(), "clean run failed: {err:?}");
    assert_eq!(
        acked.len(),
        4,
        "users' four rounds remain after orders is deleted"
    );
    let total = clean.ops().len() as u64;
    assert!(
        total > 50,
        "workload too small to be meaningful: {total} operations"
    );

    let mut errors_seen = 0;
    for fail_at in 0..total {
        let disk = SimDisk::new();
        disk.set_faults(Faults {
            fail_from_op: Some(fail_at),
            ..Faults::default()
        });
        let (acked, err) = workload(&disk, wal);
        let Some(err) = err else {
            // With the log, the background checkpointer's timing changes how many operations a
            // run does; a run may end before the operation that would fail. A fault that fired
            // must be reported.
            assert!(
                wal && disk.ops_attempted() <= fail_at,
                "failing operation {fail_at} went unreported"
            );
            continue;
        };
        errors_seen += 1;
        // The error is typed and explains itself.
        assert!(!err.to_string().is_empty());
        // The disk is replaced (the fault is gone): what it holds must reopen with every
        // acknowledged commit.
        disk.set_faults(Faults::default());
        if let Err(msg) = verify(disk.all_contents(), &acked, wal) {
            panic!("after failing operation {fail_at} ({err}): {msg}");
        }
    }
    if wal {
        // Nearly every operation of the clean run is also reached by the faulty runs.
        assert!(
            errors_seen * 10 >= total * 9,
            "{errors_seen} of {total} faults fired"
        );
    } else {
        assert_eq!(errors_seen, total);
    }
}

#[test]
fn failing_any_single_operation_gives_typed_errors_and_loses_nothing_acknowledged() {
    fail_every_operation_in_turn(false);
}

#[test]
fn with_the_log_failing_any_single_operation_loses_nothing_acknowledged() {
    fail_every_operation_in_turn(true);
}

/// A sync fails (the disk's cache cannot be flushed) while writes keep working: the commit is
/// not acknowledged, every later operation fails with a typed error although the disk recovered
/// (nothing is retried), and reopening recovers the last durable state.
fn failed_sync_poisons_until_reopen(wal: bool) {
    let disk = SimDisk::new();
    let db = open(&disk, wal).unwrap();
    let cf = db.create_column_family("users").unwrap();
    let txn = cf.begin_write().unwrap();
    txn.open_table(ITEMS).unwrap().insert(1, 1).unwrap();
    txn.commit().unwrap();
    disk.set_faults(Faults {
        fail_syncs_from: Some(0),
        ..Faults::default()
    });
    let txn = cf.begin_write().unwrap();
    txn.open_table(ITEMS).unwrap().insert(2, 2).unwrap();
    assert!(
        txn.commit().is_err(),
        "a commit whose sync failed was acknowledged"
    );
    disk.set_faults(Faults::default());
    let next_commit_failed = match cf.begin_write() {
        Err(_) => true,
        Ok(txn) => {
            let _ = txn.open_table(ITEMS).map(|mut t| t.insert(3, 3).map(drop));
            txn.commit().is_err()
        }
    };
    assert!(next_commit_failed, "a commit after a failed sync succeeded");
    assert!(matches!(
        db.create_column_family("more"),
        Err(Error::Poisoned(_))
    ));
    // The open column family is still handed out, for reads; opening another is refused.
    assert!(db.column_family("users").is_ok());
    assert!(matches!(db.checkpoint(), Err(Error::Poisoned(_))));
    // Reads of committed data keep working.
    let read = cf.begin_read().unwrap();
    let table = read.open_table(ITEMS).unwrap();
    assert_eq!(table.get(1).unwrap().map(|v| v.value()), Some(1));
    drop((table, read));
    drop(cf);
    db.abandon();
    let db = open(&SimDisk::from_images(disk.all_contents()), wal).unwrap();
    assert_eq!(db.list_column_families(), ["users"]);
    let read = db.column_family("users").unwrap().begin_read().unwrap();
    let table = read.open_table(ITEMS).unwrap();
    assert_eq!(table.get(1).unwrap().map(|v| v.value()), Some(1));
}

#[test]
fn after_a_failed_sync_the_database_refuses_work_until_reopened() {
    failed_sync_poisons_until_reopen(false);
}

#[test]
fn with_the_log_a_failed_log_fsync_poisons_until_reopen() {
    failed_sync_poisons_until_reopen(true);
}
