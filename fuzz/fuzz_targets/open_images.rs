//! Feeds arbitrary bytes to the container header and catalog parsers, the log's header, batch
//! and record parsers, and the vector store's tables, through the public API: the input is
//! split into a main-file image and a log image, the database is opened from them, then the
//! store over it, and every collection of 8-d f32 vectors with byte records is read, searched
//! and verified. Any outcome but a panic or an abort is fine.
//!
//! Input: a little-endian u32 (where the main image ends, modulo the length), the main image,
//! then the log image. Run: `cargo install cargo-fuzz && cd fuzz && cargo +nightly fuzz run
//! open_images -- -max_len=1000000`; a seed corpus of real stores (`cargo test --test
//! fuzz_seed -- --ignored` writes one to `fuzz/corpus/open_images`) makes it reach the store
//! at once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quiver::testing::SimDisk;
use quiver::vector::{F32, Store};

/// quiver contains panics inside redb (on damaged pages) at its boundary and reports them as
/// errors; libfuzzer-sys's own panic hook would abort on those too. So the hook is silenced, and
/// only a panic that escapes quiver's API aborts (and is reported as a crash).
static QUIET_PANICS: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if std::panic::catch_unwind(|| open_and_read(data)).is_err() {
        std::process::abort();
    }
});

fn open_and_read(data: &[u8]) {
    let Some((head, images)) = data.split_first_chunk::<4>() else {
        return;
    };
    let split = u32::from_le_bytes(*head) as usize % (images.len() + 1);
    let (main, log) = images.split_at(split);
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
}
