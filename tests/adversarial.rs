//! Files quiver did not write, and files of its own that were damaged afterwards.
//!
//! Pass means: never a panic or an abort, never a byte changed in a file that is not ours (and
//! no log left beside it), and never silently wrong data: every open either fails with a typed
//! error or reads back exactly what was written.

use quiver::vector::{AnnConfig, Collection, CollectionConfig, F32, Metric, Store};
use quiver::{Database, Error, log_path};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

const DIM: usize = 8;
const ITEMS: u64 = 300;

fn vector_of(id: u64) -> Vec<f32> {
    (0..DIM)
        .map(|d| ((id * 31 + d as u64 * 7) % 97) as f32 / 97.0 + 0.01)
        .collect()
}

fn record_of(id: u64) -> String {
    format!("item {id}")
}

/// A store with an exact and an indexed collection, closed cleanly.
fn make_store(path: &Path) {
    let store = Store::open(path).unwrap();
    let exact = store
        .create_collection::<F32<DIM>, &str>("exact", CollectionConfig::new(Metric::L2))
        .unwrap();
    let indexed = store
        .create_collection::<F32<DIM>, &str>(
            "indexed",
            CollectionConfig::new(Metric::L2).approximate(AnnConfig::default()),
        )
        .unwrap();
    for collection in [&exact, &indexed] {
        let mut batch = collection.batch();
        for id in 0..ITEMS {
            batch
                .upsert(id, &vector_of(id), &record_of(id).as_str())
                .unwrap();
        }
        collection
            .commit(batch, quiver::Durability::Immediate)
            .unwrap();
    }
    store.close().unwrap();
}

/// Reads every item and runs a search in both collections; every answer must equal what was
/// written. Returns the first error instead.
fn read_everything(store: &Store) -> quiver::Result<()> {
    for name in ["exact", "indexed"] {
        let collection: Collection<F32<DIM>, &str> = store.collection(name)?;
        assert_eq!(collection.len() as u64, ITEMS, "{name}: item count");
        for id in 0..ITEMS {
            let item = collection.get(id)?;
            let item = item.unwrap_or_else(|| panic!("{name}: item {id} silently missing"));
            assert_eq!(item.0, vector_of(id), "{name}: item {id} vector");
            assert_eq!(item.1.value()?, record_of(id), "{name}: item {id} record");
        }
        let hits = collection.search(&vector_of(5), 3)?;
        assert_eq!(
            hits.first().map(|h| h.id),
            Some(5),
            "{name}: nearest of item 5"
        );
    }
    Ok(())
}

/// The main file and log of a store made by [`make_store`] and closed cleanly.
fn closed_store_images(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let original = dir.join("orig.qvr");
    make_store(&original);
    let images = (
        std::fs::read(&original).unwrap(),
        std::fs::read(log_path(&original)).unwrap(),
    );
    std::fs::remove_file(&original).unwrap();
    std::fs::remove_file(log_path(&original)).unwrap();
    images
}

/// Lays `main` and `log` out as a store at `dir/name.qvr`, runs `f` on its path, then removes
/// both files.
fn with_images<T>(
    dir: &Path,
    name: &str,
    main: &[u8],
    log: &[u8],
    f: impl FnOnce(&Path) -> T,
) -> T {
    let path = dir.join(format!("{name}.qvr"));
    std::fs::write(&path, main).unwrap();
    std::fs::write(log_path(&path), log).unwrap();
    let result = f(&path);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(log_path(&path));
    result
}

/// Opens `path` and reads everything: Ok only if every read equals what was written.
fn open_and_read(path: &Path) -> quiver::Result<()> {
    let store = Store::open(path)?;
    let result = read_everything(&store);
    drop(store);
    result
}

/// Opens `path`, opens both collections with their types and runs `Store::verify`.
fn open_and_verify(path: &Path) -> quiver::Result<quiver::vector::VerifyReport> {
    let store = Store::open(path)?;
    let _exact: Collection<F32<DIM>, &str> = store.collection("exact")?;
    let _indexed: Collection<F32<DIM>, &str> = store.collection("indexed")?;
    store.verify()
}

fn foreign_contents(size: usize, zero_page: bool, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bytes: Vec<u8> = (0..size).map(|_| rng.random()).collect();
    if zero_page && size > 4096 {
        let end = size.min(8192);
        bytes[4096..end].fill(0);
    }
    if let Some(first) = bytes.first_mut() {
        // Never start with the magic's first byte by chance.
        *first = b'#';
    }
    bytes
}

#[test]
fn foreign_files_are_refused_untouched_with_no_log_left_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (i, size) in [1usize, 100, 4096, 8192, 12_288, 1 << 20]
        .into_iter()
        .enumerate()
    {
        for zero_page in [false, true] {
            let contents = foreign_contents(size, zero_page, i as u64);
            let path = dir.path().join(format!("foreign-{size}-{zero_page}.bin"));
            std::fs::write(&path, &contents).unwrap();
            let err = Database::open(&path).unwrap_err();
            assert!(matches!(err, Error::NotQuiverFile), "{size} B: {err:?}");
            let err = Store::open(&path).unwrap_err();
            assert!(matches!(err, Error::NotQuiverFile), "{size} B: {err:?}");
            let err = Database::builder().set_wal(false).open(&path).unwrap_err();
            assert!(matches!(err, Error::NotQuiverFile), "{size} B: {err:?}");
            assert_eq!(std::fs::read(&path).unwrap(), contents, "{size} B changed");
            assert!(!log_path(&path).exists(), "{size} B: a log was left");
            checked += 1;
        }
    }
    // The example: a text file.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "my shopping list").unwrap();
    assert!(matches!(Database::open(&text), Err(Error::NotQuiverFile)));
    assert_eq!(std::fs::read(&text).unwrap(), b"my shopping list");
    assert!(!log_path(&text).exists());
    assert_eq!(checked, 12);
}

#[test]
fn a_foreign_log_beside_a_store_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.qvr");
    // A new container beside someone else's file that happens to have the log's name.
    let log = log_path(&path);
    let contents = foreign_contents(100_000, false, 9);
    std::fs::write(&log, &contents).unwrap();
    let err = Database::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotQuiverFile), "{err:?}");
    assert_eq!(std::fs::read(&log).unwrap(), contents);
    assert!(
        !path.exists(),
        "the failed open left an empty container behind"
    );
}

#[test]
fn an_empty_file_becomes_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.qvr");
    std::fs::write(&path, b"").unwrap();
    make_store(&path);
    open_and_read(&path).unwrap();
}

#[test]
fn a_log_header_claiming_more_than_the_file_holds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.qvr");
    make_store(&path);
    let log = log_path(&path);
    let mut header = std::fs::read(&log).unwrap()[..4096].to_vec();
    // Halves of 1 GiB, with a valid checksum.
    header[16..24].copy_from_slice(&(1u64 << 30).to_le_bytes());
    let crc = crc32fast::hash(&header[..44]);
    header[44..48].copy_from_slice(&crc.to_le_bytes());
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[..4096].copy_from_slice(&header);
    std::fs::write(&log, &bytes).unwrap();
    let before = std::fs::metadata(&log).unwrap().len();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupted { .. }), "{err:?}");
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        before,
        "the log grew"
    );
}

#[test]
fn truncated_stores_are_refused_with_the_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let (full, log) = closed_store_images(dir.path());
    let mut rng = StdRng::seed_from_u64(18);
    let mut cuts: Vec<usize> = (1..full.len().div_ceil(4096)).map(|p| p * 4096).collect();
    cuts.extend((0..16).map(|_| rng.random_range(1..full.len())));
    let (mut truncated, mut other_errors) = (0, 0);
    for cut in &cuts {
        match with_images(dir.path(), "cut", &full[..*cut], &log, open_and_read) {
            Ok(()) => panic!("cut at {cut} of {}: opened as if whole", full.len()),
            Err(Error::Truncated { expected, actual }) => {
                assert_eq!(actual, *cut as u64);
                assert!(expected > actual);
                truncated += 1;
            }
            Err(Error::Corrupted { .. } | Error::NotQuiverFile) => other_errors += 1,
            Err(other) => panic!("cut at {cut}: unexpected error {other:?}"),
        }
    }
    println!(
        "{} truncations of a {} B store: {truncated} Truncated, {other_errors} other typed errors",
        cuts.len(),
        full.len()
    );
    assert!(truncated >= cuts.len() - 2, "most cuts name the lengths");
}

/// Flips `flips` random bits in the pages past the header slots (catalogs and column-family
/// data) of `image`.
fn flip_bits(image: &mut [u8], flips: usize, rng: &mut StdRng) {
    for _ in 0..flips {
        let at = rng.random_range(8192..image.len());
        image[at] ^= 1 << rng.random_range(0..8);
    }
}

#[test]
fn bit_flips_in_data_pages_never_panic_and_never_read_wrong_data() {
    let dir = tempfile::tempdir().unwrap();
    let (full, log) = closed_store_images(dir.path());
    let report = with_images(dir.path(), "whole", &full, &log, open_and_verify).unwrap();
    assert_eq!((report.collections, report.items), (2, 2 * ITEMS));
    assert!(report.unchecked.is_empty() && report.untyped.is_empty());
    let mut rng = StdRng::seed_from_u64(0xb17);
    let images = 200;
    let (mut intact, mut errors, mut contained_panics, mut flagged) = (0, 0, 0, 0);
    for _ in 0..images {
        let mut image = full.clone();
        flip_bits(&mut image, 8, &mut rng);
        // Verify first, on its own copy (redb's check repairs what it can).
        let verified = with_images(dir.path(), "copy", &image, &log, open_and_verify);
        if verified.is_err() {
            flagged += 1;
        }
        // A panic escaping quiver fails this test; wrong data fails read_everything's asserts.
        match with_images(dir.path(), "flipped", &image, &log, open_and_read) {
            Ok(()) => intact += 1,
            Err(err) => {
                if err.to_string().contains("a panic while") {
                    contained_panics += 1;
                }
                errors += 1;
                assert!(
                    verified.is_err(),
                    "verify passed an image that reads wrong: {err}"
                );
            }
        }
    }
    println!(
        "{images} images with 8 flipped bits: {intact} read back whole, {errors} typed errors \
         ({contained_panics} of them panics inside redb, contained); verify flagged {flagged}"
    );
    assert_eq!(intact + errors, images);
}

#[test]
fn garbage_and_truncated_logs_beside_a_store_are_typed_errors_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (full, log) = closed_store_images(dir.path());
    let mut rng = StdRng::seed_from_u64(0x10c);
    let mut garbage = log.clone();
    garbage[..4096].iter_mut().for_each(|b| *b = rng.random());
    let mut cases: Vec<(String, Vec<u8>)> = vec![("garbage header".into(), garbage)];
    for cut in [1, 47, 4095, 4096, 4097, log.len() / 2, log.len() - 1] {
        cases.push((format!("log cut at {cut}"), log[..cut].to_vec()));
    }
    for (what, bytes) in cases {
        with_images(dir.path(), "s", &full, &bytes, |path| {
            match open_and_read(path) {
                // The store was closed cleanly: nothing in the log is needed, so a log that is
                // recognisably ours but cut may be recreated.
                Ok(()) => {}
                Err(Error::NotQuiverFile | Error::Corrupted { .. }) => {
                    assert_eq!(
                        std::fs::read(path).unwrap(),
                        full,
                        "{what}: the store changed"
                    );
                }
                Err(other) => panic!("{what}: unexpected error {other:?}"),
            }
        });
    }
}
