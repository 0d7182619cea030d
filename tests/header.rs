//! The master header: torn or corrupt slots, wrong magic or version, truncation, random bytes.
//! Every bad file gets a typed error, never a panic.

use proptest::prelude::*;
use quiver::testing::SimDisk;
use quiver::{Builder, Database, Error};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const SLOT_A: u64 = 0;
const SLOT_B: u64 = 4096;

fn generation_at(path: &Path, slot: u64) -> u64 {
    let mut file = std::fs::File::open(path).unwrap();
    file.seek(SeekFrom::Start(slot + 16)).unwrap();
    let mut bytes = [0u8; 8];
    file.read_exact(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}

fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    let mut file = OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}

/// A container with column families a, b, c; returns the slot holding the newest generation.
fn make_container(path: &Path) -> u64 {
    let db = Database::open(path).unwrap();
    for name in ["a", "b", "c"] {
        db.create_column_family(name).unwrap();
    }
    db.close().unwrap();
    if generation_at(path, SLOT_A) > generation_at(path, SLOT_B) {
        SLOT_A
    } else {
        SLOT_B
    }
}

#[test]
fn header_round_trips_and_alternates_slots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    make_container(&path);
    let (a, b) = (generation_at(&path, SLOT_A), generation_at(&path, SLOT_B));
    assert_eq!(
        a.abs_diff(b),
        1,
        "slots hold consecutive generations: {a} {b}"
    );
    assert_eq!(a % 2, 1, "slot A holds odd generations");
    let db = Database::open(&path).unwrap();
    assert_eq!(db.list_column_families(), ["a", "b", "c"]);
}

#[test]
fn a_corrupt_older_slot_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    let newest = make_container(&path);
    let older = SLOT_A + SLOT_B - newest;
    overwrite(&path, older + 20, &[0xFF; 8]);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.list_column_families(), ["a", "b", "c"]);
}

#[test]
fn a_corrupt_newest_slot_falls_back_to_the_previous_generation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    let newest = make_container(&path);
    overwrite(&path, newest + 30, &[0xFF; 4]);
    let db = Database::open(&path).unwrap();
    // The previous generation is a complete, consistent state: the three column families were
    // all committed earlier than the last metadata commit.
    let names = db.list_column_families();
    assert!(
        names.iter().all(|n| ["a", "b", "c"].contains(&n.as_str())),
        "{names:?}"
    );
    for name in names {
        db.column_family(&name)
            .unwrap()
            .begin_write()
            .unwrap()
            .commit()
            .unwrap();
    }
}

#[test]
fn two_corrupt_slots_are_a_typed_corruption_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    make_container(&path);
    overwrite(&path, SLOT_A + 40, &[0xAA; 4]);
    overwrite(&path, SLOT_B + 40, &[0xAA; 4]);
    let err = Database::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupted { .. }), "{err:?}");
    assert!(err.to_string().contains("corrupted"), "{err}");
}

#[test]
fn wrong_magic_in_both_slots_is_not_a_quiver_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    make_container(&path);
    overwrite(&path, SLOT_A, b"redb\x1A\x0A\xA9\x0D\x0A");
    overwrite(&path, SLOT_B, b"redb\x1A\x0A\xA9\x0D\x0A");
    assert!(matches!(Database::open(&path), Err(Error::NotQuiverFile)));

    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "just some text that is long enough to fill a slot ".repeat(200),
    )
    .unwrap();
    assert!(matches!(Database::open(&text), Err(Error::NotQuiverFile)));
}

/// Rewrites both header slots' format version (with a valid checksum).
fn set_version(path: &Path, version: u16) {
    for slot in [SLOT_A, SLOT_B] {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let mut bytes = [0u8; 48];
        file.seek(SeekFrom::Start(slot)).unwrap();
        file.read_exact(&mut bytes).unwrap();
        bytes[10..12].copy_from_slice(&version.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..44]);
        bytes[44..48].copy_from_slice(&crc.to_le_bytes());
        file.seek(SeekFrom::Start(slot)).unwrap();
        file.write_all(&bytes).unwrap();
    }
}

/// Version 1 (before holes) is version 2 without them: a file whose slots say 1 opens with its
/// column families.
#[test]
fn a_version_1_file_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    make_container(&path);
    set_version(&path, 1);
    let db = Database::open(&path).expect("version 1 opens");
    assert_eq!(db.list_column_families(), vec!["a", "b", "c"]);
}

#[test]
fn a_newer_format_version_is_refused_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    make_container(&path);
    set_version(&path, 3);
    let err = Database::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                found: 3,
                supported: 2
            }
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_files_get_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.qvr");
    make_container(&path);
    let full = std::fs::read(&path).unwrap();
    let mut cuts: Vec<usize> = vec![1, 9, 47, 48, 4095, 4096, 4100, 8191, 8192, 8200];
    cuts.extend((1..20).map(|i| full.len() * i / 20));
    for cut in cuts {
        let disk = SimDisk::from_image(full[..cut].to_vec());
        match Builder::new().open_file(disk.file()) {
            // A cut inside slot A before its generation looks exactly like a first commit torn
            // by a crash: only an empty container may come of it.
            Ok(db) => assert!(
                cut < 24 && db.list_column_families().is_empty(),
                "cut at {cut}: opened {:?}",
                db.list_column_families()
            ),
            Err(Error::Truncated { actual, .. }) => assert_eq!(actual, cut as u64),
            Err(Error::Corrupted { .. }) => {}
            Err(other) => panic!("cut at {cut}: unexpected error {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        let disk = SimDisk::from_image(bytes);
        let _ = Builder::new().open_file(disk.file());
    }

    #[test]
    fn mutated_containers_never_panic_on_open(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let disk = SimDisk::new();
        {
            let db = Builder::new().open_file(disk.file()).unwrap();
            db.create_column_family("x").unwrap();
            db.create_column_family("y").unwrap();
            db.delete_column_family("x").unwrap();
            db.close().unwrap();
        }
        let mut image = disk.contents();
        // Aim at the metadata: the header slots and the catalog blobs that follow them.
        let meta_len = image.len().min(64 * 1024);
        for (index, byte) in flips {
            let i = index.index(meta_len);
            image[i] ^= byte | 1;
        }
        let disk = SimDisk::from_image(image);
        match Builder::new().open_file(disk.file()) {
            Ok(db) => { let _ = db.list_column_families(); }
            Err(err) => { let _ = err.to_string(); }
        }
    }
}
