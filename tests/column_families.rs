//! Column families through the public API: lifecycle, persistence, space reuse, many column
//! families, concurrency, and exclusive opening.

use quiver::{Builder, Database, Error, ReadableTableMetadata, TableDefinition};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const ITEMS: TableDefinition<u64, &[u8]> = TableDefinition::new("items");
const TOTALS: TableDefinition<&str, u64> = TableDefinition::new("totals");

fn payload(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

fn fill(cf: &quiver::ColumnFamily, range: std::ops::Range<u64>, len: usize) {
    let txn = cf.begin_write().unwrap();
    {
        let mut table = txn.open_table(ITEMS).unwrap();
        for i in range {
            table.insert(i, payload(i, len).as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
}

fn assert_items(cf: &quiver::ColumnFamily, range: std::ops::Range<u64>, len: usize) {
    let read = cf.begin_read().unwrap();
    let table = read.open_table(ITEMS).unwrap();
    assert_eq!(table.len().unwrap(), range.end - range.start);
    for i in range {
        let value = table
            .get(i)
            .unwrap()
            .unwrap_or_else(|| panic!("item {i} missing"));
        assert_eq!(value.value(), payload(i, len).as_slice(), "item {i}");
    }
}

#[test]
fn data_survives_reopen_after_growing_from_tiny_segments_many_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grow.qvr");
    let mut builder = Builder::new();
    builder
        .set_initial_segment_size(4096)
        .set_max_segment_growth(64 << 10);
    {
        let db = builder.open(&path).unwrap();
        let a = db.create_column_family("a").unwrap();
        let b = db.create_column_family("b").unwrap();
        // Alternate growth between two column families so their segments interleave.
        for round in 0..20 {
            fill(&a, round * 100..(round + 1) * 100, 900);
            fill(&b, round * 100..(round + 1) * 100, 700);
        }
        db.close().unwrap();
    }
    let db = builder.open(&path).unwrap();
    assert_items(&db.column_family("a").unwrap(), 0..2000, 900);
    assert_items(&db.column_family("b").unwrap(), 0..2000, 700);
}

#[test]
fn data_survives_a_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drop.qvr");
    {
        let db = Database::open(&path).unwrap();
        let cf = db.create_column_family("users").unwrap();
        fill(&cf, 0..500, 300);
    }
    let db = Database::open(&path).unwrap();
    assert_items(&db.column_family("users").unwrap(), 0..500, 300);
}

/// Starts a transaction that adds an order to two tables of one column family.
fn order_transaction(orders: &quiver::ColumnFamily) -> quiver::WriteTransaction {
    let txn = orders.begin_write().unwrap();
    txn.open_table(ITEMS)
        .unwrap()
        .insert(1, b"order".as_slice())
        .unwrap();
    txn.open_table(TOTALS).unwrap().insert("count", 1).unwrap();
    txn
}

#[test]
fn several_tables_of_one_column_family_commit_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("atomic.qvr")).unwrap();
    let orders = db.create_column_family("orders").unwrap();
    order_transaction(&orders).abort().unwrap();
    let read = orders.begin_read().unwrap();
    assert!(
        read.open_table(ITEMS).is_err(),
        "an aborted transaction left a table"
    );
    assert!(
        read.open_table(TOTALS).is_err(),
        "an aborted transaction left a table"
    );

    order_transaction(&orders).commit().unwrap();
    let read = orders.begin_read().unwrap();
    let totals = read.open_table(TOTALS).unwrap();
    assert_eq!(totals.get("count").unwrap().unwrap().value(), 1);
    assert_eq!(read.open_table(ITEMS).unwrap().len().unwrap(), 1);
}

#[test]
fn deleting_and_recreating_reuses_space_and_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reuse.qvr");
    let db = Database::open(&path).unwrap();
    let keep = db.create_column_family("keep").unwrap();
    fill(&keep, 0..10, 100);
    let temp = db.create_column_family("temp").unwrap();
    fill(&temp, 0..3000, 1000);
    drop(temp);
    let end_before = db.stats().allocated_end;
    db.delete_column_family("temp").unwrap();
    // With the log, freed space waits for a checkpoint to make the deletion durable in the main
    // file; no handle is left, so that is all it waits for.
    assert!(db.stats().quarantined_bytes > 2_000_000);
    db.checkpoint().unwrap();
    let stats = db.stats();
    assert_eq!(stats.quarantined_bytes, 0, "{stats:?}");
    assert!(stats.free_bytes > 2_000_000, "freed space: {stats:?}");

    let again = db.create_column_family("temp").unwrap();
    let read = again.begin_read().unwrap();
    assert!(
        read.open_table(ITEMS).is_err(),
        "a recreated column family must start empty"
    );
    drop(read);
    fill(&again, 0..2500, 1000);
    let end_after = db.stats().allocated_end;
    assert!(
        end_after <= end_before + (64 << 10),
        "file grew from {end_before} to {end_after} instead of reusing freed space"
    );
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert_items(&db.column_family("temp").unwrap(), 0..2500, 1000);
    assert_items(&db.column_family("keep").unwrap(), 0..10, 100);
}

#[test]
fn a_handle_used_after_deletion_gets_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("deleted.qvr")).unwrap();
    let cf = db.create_column_family("gone").unwrap();
    fill(&cf, 0..10, 10);
    let reader = cf.begin_read().unwrap();
    db.delete_column_family("gone").unwrap();
    assert!(matches!(
        cf.begin_write(),
        Err(Error::ColumnFamilyNotFound(_))
    ));
    assert!(matches!(
        cf.begin_read(),
        Err(Error::ColumnFamilyNotFound(_))
    ));
    assert!(matches!(
        db.column_family("gone"),
        Err(Error::ColumnFamilyNotFound(_))
    ));
    assert!(matches!(
        db.delete_column_family("gone"),
        Err(Error::ColumnFamilyNotFound(_))
    ));
    // A read transaction opened before the deletion fails with redb's typed error too.
    assert!(matches!(
        reader.open_table(ITEMS),
        Err(redb::TableError::Storage(
            redb::StorageError::DatabaseClosed
        ))
    ));
    // The space waits until the last handle is gone...
    db.checkpoint().unwrap();
    assert!(db.stats().quarantined_bytes > 0);
    drop(reader);
    drop(cf);
    assert_eq!(db.stats().quarantined_bytes, 0);
}

#[test]
fn with_the_log_deleted_space_is_reused_only_after_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .set_checkpoint_interval(None)
        .open(dir.path().join("gated.qvr"))
        .unwrap();
    let doomed = db.create_column_family("doomed").unwrap();
    fill(&doomed, 0..500, 1000);
    drop(doomed);
    db.delete_column_family("doomed").unwrap();
    let waiting = db.stats().quarantined_bytes;
    assert!(waiting > 0, "the deletion is not checkpointed yet");
    // A new column family must not grow into the quarantined space before the checkpoint.
    let end_before = db.stats().allocated_end;
    let other = db.create_column_family("other").unwrap();
    fill(&other, 0..200, 1000);
    assert_eq!(db.stats().quarantined_bytes, waiting);
    assert!(db.stats().allocated_end > end_before);
    db.checkpoint().unwrap();
    let stats = db.stats();
    assert_eq!(stats.quarantined_bytes, 0);
    assert!(stats.free_bytes >= waiting, "{stats:?}");
}

#[test]
fn names_are_validated_and_duplicates_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("names.qvr")).unwrap();
    for bad in ["", "nul\0inside", &"x".repeat(256)] {
        assert!(
            matches!(db.create_column_family(bad), Err(Error::InvalidName { .. })),
            "{bad:?} was accepted"
        );
    }
    let longest = "é".repeat(127); // 254 bytes
    db.create_column_family(&longest).unwrap();
    db.create_column_family("dup").unwrap();
    assert!(matches!(
        db.create_column_family("dup"),
        Err(Error::ColumnFamilyExists(_))
    ));
    assert_eq!(db.column_family_or_create("dup").unwrap().name(), "dup");
    let fresh = db.column_family_or_create("fresh").unwrap();
    assert_eq!(fresh.name(), "fresh");
    let mut expected = vec![longest, "dup".to_owned(), "fresh".to_owned()];
    expected.sort();
    assert_eq!(db.list_column_families(), expected);
}

#[test]
fn a_thousand_column_families_are_created_reopened_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.qvr");
    let mut builder = Builder::new();
    builder.set_cache_size(256 << 10);
    let names: Vec<String> = (0..1000).map(|i| format!("tenant-{i:04}")).collect();
    {
        let db = builder.open(&path).unwrap();
        for (i, name) in names.iter().enumerate() {
            let cf = db.create_column_family(name).unwrap();
            if i % 100 == 0 {
                fill(&cf, 0..5, 50);
            }
        }
        db.close().unwrap();
    }
    let db = builder.open(&path).unwrap();
    assert_eq!(db.list_column_families(), names);
    for (i, name) in names.iter().enumerate().step_by(100) {
        assert_eq!(i % 100, 0);
        assert_items(&db.column_family(name).unwrap(), 0..5, 50);
    }
    let untouched = db.column_family("tenant-0999").unwrap();
    assert!(untouched.begin_read().unwrap().open_table(ITEMS).is_err());
}

#[test]
fn concurrent_writers_on_eight_column_families_with_readers_checking_integrity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("concurrent.qvr");
    let mut builder = Builder::new();
    builder.set_initial_segment_size(4096);
    let db = Arc::new(builder.open(&path).unwrap());
    let families: Vec<_> = (0..8)
        .map(|i| db.create_column_family(&format!("cf{i}")).unwrap())
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    const COMMITS: u64 = 60;
    const PER_COMMIT: u64 = 20;
    std::thread::scope(|scope| {
        for (w, cf) in families.iter().enumerate() {
            scope.spawn(move || {
                for c in 0..COMMITS {
                    let txn = cf.begin_write().unwrap();
                    {
                        let mut items = txn.open_table(ITEMS).unwrap();
                        for k in 0..PER_COMMIT {
                            let key = c * PER_COMMIT + k;
                            items
                                .insert(key, payload(key + w as u64, 200).as_slice())
                                .unwrap();
                        }
                        // The total always equals the number of items: readers check it.
                        txn.open_table(TOTALS)
                            .unwrap()
                            .insert("count", (c + 1) * PER_COMMIT)
                            .unwrap();
                    }
                    txn.commit().unwrap();
                }
            });
        }
        for r in 0..2 {
            let families = &families;
            let done = done.clone();
            scope.spawn(move || {
                let mut checks = 0;
                while !done.load(Ordering::Acquire) || checks < 10 {
                    let cf = &families[(checks + r) % families.len()];
                    let read = cf.begin_read().unwrap();
                    if let (Ok(items), Ok(totals)) =
                        (read.open_table(ITEMS), read.open_table(TOTALS))
                    {
                        let count = totals.get("count").unwrap().unwrap().value();
                        assert_eq!(items.len().unwrap(), count, "a reader saw a torn commit");
                    }
                    checks += 1;
                }
            });
        }
        // Writers are the first eight threads; wait for them by polling their results.
        loop {
            let finished = families.iter().all(|cf| {
                let read = cf.begin_read().unwrap();
                read.open_table(TOTALS)
                    .ok()
                    .and_then(|t| t.get("count").unwrap().map(|v| v.value()))
                    == Some(COMMITS * PER_COMMIT)
            });
            if finished {
                break;
            }
            std::thread::yield_now();
        }
        done.store(true, Ordering::Release);
    });
    let db = Arc::try_unwrap(db).unwrap();
    db.close().unwrap();
    let db = builder.open(&path).unwrap();
    for w in 0..8u64 {
        let cf = db.column_family(&format!("cf{w}")).unwrap();
        let read = cf.begin_read().unwrap();
        let items = read.open_table(ITEMS).unwrap();
        assert_eq!(items.len().unwrap(), COMMITS * PER_COMMIT);
        for key in (0..COMMITS * PER_COMMIT).step_by(37) {
            assert_eq!(
                items.get(key).unwrap().unwrap().value(),
                payload(key + w, 200).as_slice()
            );
        }
    }
}

#[test]
fn a_second_open_in_this_process_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.qvr");
    let db = Database::open(&path).unwrap();
    assert!(matches!(Database::open(&path), Err(Error::AlreadyOpen(p)) if p == path));
    db.close().unwrap();
    Database::open(&path).unwrap();
}

/// Helper run as a child process by the next test.
#[test]
fn child_process_open_helper() {
    let Ok(path) = std::env::var("QUIVER_CHILD_OPEN") else {
        return; // only meaningful when spawned by the test below
    };
    match Database::open(&path) {
        Err(Error::AlreadyOpen(_)) => std::process::exit(42),
        Ok(_) => std::process::exit(0),
        Err(_) => std::process::exit(1),
    }
}

#[test]
fn a_second_open_from_another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.qvr");
    let db = Database::open(&path).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_open_helper", "--nocapture"])
        .env("QUIVER_CHILD_OPEN", &path)
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(42),
        "the child was not refused with AlreadyOpen"
    );
    db.close().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_open_helper", "--nocapture"])
        .env("QUIVER_CHILD_OPEN", &path)
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the child could not open a closed file"
    );
}

#[test]
fn close_reports_a_write_transaction_still_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("busy.qvr")).unwrap();
    let cf = db.create_column_family("busy").unwrap();
    let txn = cf.begin_write().unwrap();
    txn.open_table(TOTALS).unwrap().insert("one", 10).unwrap();
    let err = db.close().unwrap_err();
    assert!(
        matches!(&err, Error::TransactionInProgress(name) if name == "busy"),
        "unexpected: {err:?}"
    );
    // Nothing was closed: the transaction commits and the database goes on.
    txn.commit().unwrap();
    assert_eq!(
        cf.begin_read()
            .unwrap()
            .open_table(TOTALS)
            .unwrap()
            .get("one")
            .unwrap()
            .unwrap()
            .value(),
        10
    );
    db.close().unwrap();
    assert!(matches!(cf.begin_write(), Err(Error::Closed)));
    assert!(matches!(db.close(), Err(Error::Closed)));
}
