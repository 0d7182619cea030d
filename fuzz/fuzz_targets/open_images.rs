//! Feeds arbitrary bytes to the container header and catalog parsers and to the log's header,
//! batch and record parsers, through the public API: the input is split into a main-file image
//! and a log image, and the database is opened from them. Any outcome but a panic is fine.
//!
//! Run: `cargo install cargo-fuzz && cd fuzz && cargo +nightly fuzz run open_images`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quiver::testing::SimDisk;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = (usize::from(data[0]) << 8 | usize::from(data[1])) % (data.len() - 1);
    let (main, log) = data[2..].split_at(split.min(data.len() - 2));
    let disk = SimDisk::from_images(vec![main.to_vec(), log.to_vec()]);
    let mut builder = quiver::Builder::new();
    builder.set_log_size(64 << 10).set_checkpoint_interval(None);
    if let Ok(db) = builder.open_with_log(disk.file_at(0), disk.file_at(1)) {
        let _ = db.list_column_families();
        db.abandon();
    }
});
