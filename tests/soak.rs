//! A long run behind an environment variable: writers on several column families cross many
//! automatic checkpoints, column families are created while it runs, and every row is checked at
//! the end, after a reopen. `QUIVER_SOAK_SECONDS=300 cargo test --release --test soak`.

use quiver::{Database, ReadableTableMetadata, TableDefinition};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("rows");

fn value(family: usize, key: u64) -> Vec<u8> {
    let len = 16 + (key as usize * 7 + family) % 300;
    (0..len)
        .map(|i| (key as usize + i + family) as u8)
        .collect()
}

#[test]
fn writers_cross_many_checkpoints_and_every_row_survives() {
    let Some(seconds) = std::env::var("QUIVER_SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        eprintln!("set QUIVER_SOAK_SECONDS to run the soak test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("soak.qvr");
    let open = || {
        Database::builder()
            .set_log_size(8 << 20)
            .set_checkpoint_bytes(1 << 20)
            .set_checkpoint_interval(Some(Duration::from_millis(500)))
            .open(&path)
            .unwrap()
    };
    let db = Arc::new(open());
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut writers = Vec::new();
    // Four families from the start, four more created while the others are writing.
    for family in 0..8usize {
        if family >= 4 {
            std::thread::sleep(Duration::from_millis(200));
        }
        let db = db.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let cf = db
                .create_column_family(&format!("family-{family}"))
                .unwrap();
            let mut key = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let txn = cf.begin_write().unwrap();
                {
                    let mut table = txn.open_table(ROWS).unwrap();
                    for _ in 0..10 {
                        table.insert(key, value(family, key).as_slice()).unwrap();
                        key += 1;
                    }
                }
                txn.commit().unwrap();
            }
            key
        }));
    }
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let checkpoints = db.wal_stats().unwrap().checkpoints;
    Arc::try_unwrap(db).unwrap().close().unwrap();
    eprintln!("rows per family {counts:?}, {checkpoints} checkpoints");
    assert!(checkpoints >= 10, "only {checkpoints} checkpoints ran");

    let db = open();
    for (family, &count) in counts.iter().enumerate() {
        let cf = db.column_family(&format!("family-{family}")).unwrap();
        let read = cf.begin_read().unwrap();
        let table = read.open_table(ROWS).unwrap();
        assert_eq!(table.len().unwrap(), count);
        for key in 0..count {
            let got = table.get(key).unwrap().unwrap();
            assert_eq!(
                got.value(),
                value(family, key).as_slice(),
                "family {family} key {key}"
            );
        }
    }
}
