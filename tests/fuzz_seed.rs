//! Writes a seed corpus for the `open_images` fuzz target (`fuzz/`): real stores, as the target
//! reads them (a little-endian u32 with the main image's length, the main image, the log).
//! Ignored by default: `cargo test --test fuzz_seed -- --ignored`.

use quiver::vector::{AnnConfig, CollectionConfig, F32, Metric, Store};
use quiver::{Builder, Durability};

#[test]
#[ignore = "writes the fuzz corpus; run by hand"]
fn write_the_fuzz_seed_corpus() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/open_images");
    std::fs::create_dir_all(&corpus).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (seed, indexed) in [(0, false), (1, true)] {
        let path = dir.path().join(format!("seed{seed}.qvr"));
        let mut db = Builder::new();
        db.set_log_size(64 << 10);
        let store = Store::builder()
            .database(db)
            .global_index::<F32<8>>(Metric::L2)
            .open(&path)
            .unwrap();
        let mut config = CollectionConfig::new(Metric::L2);
        if indexed {
            config = config.approximate(AnnConfig::default());
        }
        let c = store
            .create_collection::<F32<8>, &[u8]>("c", config)
            .unwrap();
        let mut batch = c.batch();
        for id in 0..40u64 {
            let v = [id as f32, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
            batch.upsert(id, &v, &b"record".as_slice()).unwrap();
        }
        c.commit(batch, Durability::Immediate).unwrap();
        store.close().unwrap();
        let main = std::fs::read(&path).unwrap();
        let log = std::fs::read(quiver::log_path(&path)).unwrap();
        let mut input = (main.len() as u32).to_le_bytes().to_vec();
        input.extend_from_slice(&main);
        input.extend_from_slice(&log);
        std::fs::write(corpus.join(format!("store{seed}")), input).unwrap();
    }
}
