//! A full disk, for real: a size-limited tmpfs mounted by the test (as root; skipped with a
//! printed reason otherwise). Fill until the first error, check the state the store is left in,
//! free space, reopen, and find every acknowledged item.

use quiver::vector::{CollectionConfig, F32, Metric, Store};
use quiver::{Builder, Durability, Error};
use std::path::{Path, PathBuf};
use std::process::Command;

const DIM: usize = 64;

/// A tmpfs of `mib` MiB mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u64) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !status.success() {
            return Err(format!("mount -t tmpfs failed ({status}); needs root"));
        }
        Ok(SmallDisk { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn vector_of(id: u64) -> Vec<f32> {
    (0..DIM)
        .map(|d| ((id * 7 + d as u64) % 101) as f32 + 1.0)
        .collect()
}

fn open(path: &Path) -> quiver::Result<Store> {
    let mut db = Builder::new();
    db.set_log_size(2 << 20);
    Store::builder().database(db).open(path)
}

#[test]
fn a_full_disk_poisons_writes_keeps_reads_and_loses_nothing_acknowledged() {
    let disk = match SmallDisk::mount(12) {
        Ok(disk) => disk,
        Err(reason) => {
            println!("SKIPPED: {reason}");
            return;
        }
    };
    // Ballast to free later, so that the store can be reopened with room to spare.
    let ballast = disk.path("ballast");
    std::fs::write(&ballast, vec![1u8; 3 << 20]).unwrap();
    let path = disk.path("full.qvr");
    let store = open(&path).unwrap();
    let items = store
        .create_collection::<F32<DIM>, &[u8]>("items", CollectionConfig::new(Metric::L2))
        .unwrap();
    let record = vec![7u8; 700];
    let mut acknowledged = 0u64;
    let first_error = loop {
        let mut batch = items.batch();
        for id in acknowledged..acknowledged + 100 {
            batch
                .upsert(id, &vector_of(id), &record.as_slice())
                .unwrap();
        }
        match items.commit(batch, Durability::Immediate) {
            Ok(()) => acknowledged += 100,
            Err(err) => break err,
        }
        assert!(acknowledged < 1_000_000, "the disk never filled");
    };
    println!("first error after {acknowledged} items: {first_error}");
    assert!(acknowledged > 0);

    // Writes: every one refused as poisoned, naming the cause.
    let err = items
        .upsert(u64::MAX >> 2, &vector_of(1), &record.as_slice())
        .unwrap_err();
    assert!(matches!(err, Error::Poisoned(_)), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("space"), "{err}");
    let err = store
        .create_collection::<F32<DIM>, &[u8]>("more", CollectionConfig::new(Metric::L2))
        .unwrap_err();
    assert!(matches!(err, Error::Poisoned(_)), "{err:?}");
    // The checkpoint reports it too.
    let err = store.database().checkpoint().unwrap_err();
    assert!(matches!(err, Error::Poisoned(_)), "{err:?}");
    // Reads of committed data keep working, and so do searches.
    for id in [0, acknowledged / 2, acknowledged - 1] {
        let (vector, found) = items.get(id).unwrap().expect("an acknowledged item");
        assert_eq!(vector, vector_of(id));
        assert_eq!(found.value().unwrap(), record.as_slice());
    }
    assert_eq!(items.search(&vector_of(3), 1).unwrap()[0].id, 3);
    drop(items);
    drop(store);

    // Free space and reopen: every acknowledged item is there.
    std::fs::remove_file(&ballast).unwrap();
    let store = open(&path).unwrap();
    let items = store.collection::<F32<DIM>, &[u8]>("items").unwrap();
    assert!(items.len() as u64 >= acknowledged);
    for id in 0..acknowledged {
        let (vector, found) = items.get(id).unwrap().expect("an acknowledged item");
        assert_eq!(vector, vector_of(id), "item {id}");
        assert_eq!(found.value().unwrap(), record.as_slice());
    }
    store.verify().unwrap();
    // And writes work again.
    items
        .upsert(acknowledged + 1_000, &vector_of(5), &record.as_slice())
        .unwrap();
    store.close().unwrap();
}
