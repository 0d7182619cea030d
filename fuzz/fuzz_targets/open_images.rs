//! Feeds arbitrary bytes to the container header and catalog parsers, the log's header, batch
//! and record parsers, and the vector store's tables, through the public API: the input is
//! split into a main-file image and a log image, the database is opened from them, then the
//! store over it, and every collection of 8-d f32 vectors with byte records is read, searched
//! and verified. Any outcome but a panic or an abort is fine.
//!
//! Run: `cargo install cargo-fuzz && cd fuzz && cargo +nightly fuzz run open_images`. A seed
//! corpus of real stores makes it reach the store quickly: `tests/fixtures` has none yet, so
//! seed it with any `.qvr` file and its `-wal` concatenated (first two bytes: the split).

#![no_main]

use libfuzzer_sys::fuzz_target;
use quiver::testing::SimDisk;
use quiver::vector::{F32, Store};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = (usize::from(data[0]) << 8 | usize::from(data[1])) % (data.len() - 1);
    let (main, log) = data[2..].split_at(split.min(data.len() - 2));
    let disk = SimDisk::from_images(vec![main.to_vec(), log.to_vec()]);
    let mut builder = quiver::Builder::new();
    builder.set_log_size(64 << 10).set_checkpoint_interval(None);
    let Ok(db) = builder.open_with_log(disk.file_at(0), disk.file_at(1)) else {
        return;
    };
    let _ = db.list_column_families();
    let _ = db.verify();
    let Ok(store) = Store::builder().open_database(db) else {
        return;
    };
    for name in store.list_collections() {
        let Ok(collection) = store.collection::<F32<8>, &[u8]>(&name) else {
            continue;
        };
        let query = [0.5f32; 8];
        if let Ok(hits) = collection.search(&query, 10) {
            let _ = store.fetch(&hits);
        }
        let _ = collection.get_many(&[0, 1, 2, 3, u64::MAX >> 1]);
    }
    let _ = store.verify();
    let _ = store.global_search(&[0.5f32; 8], 5);
});
