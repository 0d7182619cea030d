//! Crash consistency of `_global_index` under simulated power loss.
//!
//! Several collections are written (batches of upserts and deletes, durable and not) while the
//! background applier and explicit `sync_global_index` calls maintain the global index, on a
//! simulated disk with the log. At many crash points, with unsynced writes dropped, reordered and
//! torn, the image is reopened and, straight after open (which catches the index up), the global
//! index must hold exactly the union of the collections: every (collection, id) once, with the
//! same vector (compared through the distance to two queries), nothing missing, nothing extra.
//!
//! Two deliberately broken appliers run the same workloads and must be caught, so the check is
//! shown able to fail.

use quiver::Builder;
use quiver::Durability;
use quiver::testing::{CrashKind, CrashReport, GlobalMutation, SimDisk, explore_crashes};
use quiver::vector::{Collection, CollectionConfig, F32, Hit, Metric, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;

const DIM: usize = 8;
const NAMES: [&str; 3] = ["users", "products", "orders"];

fn open_store(disk: &SimDisk, mutation: GlobalMutation) -> quiver::Result<Store> {
    let mut builder = Builder::new();
    builder
        .set_cache_size(1 << 20)
        .set_initial_segment_size(4096)
        .set_max_segment_growth(32 << 10)
        .set_log_size(256 << 10)
        .set_checkpoint_bytes(48 << 10)
        .set_checkpoint_interval(None);
    let db = builder.open_with_log(disk.file_at(0), disk.file_at(1))?;
    Store::builder()
        .global_index::<F32<DIM>>(Metric::L2)
        .global_mutation(mutation)
        .open_database(db)
}

fn vector(rng: &mut StdRng) -> Vec<f32> {
    (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn run_workload(disk: &SimDisk, seed: u64, steps: usize, mutation: GlobalMutation) {
    let store = open_store(disk, mutation).expect("open");
    let collections: Vec<_> = NAMES
        .iter()
        .map(|name| {
            store
                .create_collection::<F32<DIM>, u64>(name, CollectionConfig::new(Metric::L2))
                .expect("create")
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..steps {
        let collection = &collections[rng.random_range(0..collections.len())];
        let mut batch = collection.batch();
        for _ in 0..rng.random_range(1..6) {
            let id = rng.random_range(0..40u64);
            batch
                .upsert(id, &vector(&mut rng), &(step as u64))
                .expect("valid vector");
        }
        if rng.random_bool(0.3) {
            batch.delete(rng.random_range(0..40u64)).unwrap();
        }
        let durability = if rng.random_bool(0.5) {
            Durability::Immediate
        } else {
            Durability::None
        };
        collection.commit(batch, durability).expect("commit");
        if rng.random_bool(0.2) {
            store.sync_global_index().expect("sync");
        }
        if rng.random_bool(0.05) {
            store.database().checkpoint().expect("checkpoint");
        }
    }
    // Leave the rest to the background applier, racing the end of the trace.
    std::thread::sleep(std::time::Duration::from_millis(30));
    store.abandon();
}

/// The image opens, and the global index equals the union of the collections. With `nested`,
/// the recovery itself (log replay, catch-up) is crashed at several points and each of those
/// images is checked too; returns how many nested images were checked.
fn check_image(image: Vec<Vec<u8>>, nested: bool) -> Result<usize, String> {
    let disk = SimDisk::from_images(image);
    let store = open_store(&disk, GlobalMutation::None).map_err(|e| format!("open: {e}"))?;
    check_store(&store)?;
    store.abandon();
    if !nested {
        return Ok(0);
    }
    // Crash the recovery (log replay, catch-up commits) at a few random points of its trace.
    let mut rng = StdRng::seed_from_u64(disk.op_count() as u64);
    let ops = disk.op_count();
    for _ in 0..4 {
        let at = rng.random_range(0..=ops);
        let kind = CrashKind::ALL[rng.random_range(0..CrashKind::ALL.len())];
        let image = disk.crash_image(at, kind, &mut rng);
        check_image(image, false)
            .map_err(|e| format!("after a crash during recovery at op {at} ({kind:?}): {e}"))?;
    }
    Ok(4)
}

fn check_store(store: &Store) -> Result<(), String> {
    let mut present = Vec::new();
    let mut total = 0;
    for name in NAMES {
        match store.collection::<F32<DIM>, u64>(name) {
            Ok(c) => {
                total += c.len() as u64;
                present.push(name);
            }
            Err(quiver::Error::CollectionNotFound(_)) => {}
            Err(err) => return Err(format!("open {name}: {err}")),
        }
    }
    let global_len = store.global_index_len().map_err(|e| e.to_string())?;
    if global_len != total {
        return Err(format!(
            "global index holds {global_len} entries, collections {total}"
        ));
    }
    for query in [[0.5f32; DIM], [-0.25f32; DIM]] {
        let key = |h: &Hit| (h.collection.to_string(), h.id, h.distance.to_bits());
        let global: BTreeSet<_> = store
            .global_search(&query, usize::MAX >> 8)
            .map_err(|e| e.to_string())?
            .iter()
            .map(key)
            .collect();
        let merged: BTreeSet<_> = if present.is_empty() {
            BTreeSet::new()
        } else {
            store
                .search_collections(&present, &query, usize::MAX >> 8)
                .map_err(|e| e.to_string())?
                .iter()
                .map(key)
                .collect()
        };
        if global != merged {
            let missing = merged.difference(&global).count();
            let extra = global.difference(&merged).count();
            return Err(format!(
                "global index differs: {missing} missing or stale, {extra} extra or stale"
            ));
        }
    }
    Ok(())
}

fn explore(seed: u64, steps: usize, max_points: usize, mutation: GlobalMutation) -> CrashReport {
    let disk = SimDisk::new();
    run_workload(&disk, seed, steps, mutation);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut counter = 0usize;
    let mut nested = 0;
    let mut report = explore_crashes(&disk, max_points, &[], &mut rng, |image, _| {
        counter += 1;
        nested += check_image(image, counter.is_multiple_of(4))?;
        Ok(())
    });
    report.images += nested;
    report
}

#[test]
fn after_any_crash_the_global_index_equals_the_union_of_the_collections() {
    let mut images = 0;
    for seed in 0..3 {
        let report = explore(seed, 40, 150, GlobalMutation::None);
        images += report.images;
        if let Some(first) = report.violations.first() {
            panic!(
                "seed {seed}: {} of {} crash images violate global consistency; first at op {} ({:?}): {}",
                report.violations.len(),
                report.images,
                first.at,
                first.kind,
                first.message
            );
        }
    }
    eprintln!("global index: {images} crash images checked");
}

fn assert_caught(mutation: GlobalMutation) {
    let mut caught = 0;
    let mut images = 0;
    for seed in 0..6 {
        let report = explore(seed, 40, 150, mutation);
        images += report.images;
        caught += report.violations.len();
        if caught > 0 {
            break;
        }
    }
    eprintln!("{mutation:?}: {caught} of {images} crash images flagged");
    assert!(
        caught > 0,
        "the crash check missed the {mutation:?} applier"
    );
}

#[test]
fn the_check_catches_an_applier_that_copies_non_durable_state() {
    assert_caught(GlobalMutation::SkipMakeDurable);
}

#[test]
fn the_check_catches_an_applier_that_lets_writers_trim_before_its_commit_is_durable() {
    assert_caught(GlobalMutation::TrimBeforeDurable);
}

/// Writes with `write` to a fresh collection "c" (outside the global index) on a simulated disk,
/// then loses power dropping every unsynced write, reopens and returns how many items survived.
fn items_after_power_loss(write: impl FnOnce(&Collection<F32<DIM>, u64>)) -> usize {
    let disk = SimDisk::new();
    let store = open_store(&disk, GlobalMutation::None).expect("open");
    let c = store
        .create_collection::<F32<DIM>, u64>("c", CollectionConfig::new(Metric::L2).global(false))
        .expect("create");
    write(&c);
    let at = disk.op_count();
    let mut rng = StdRng::seed_from_u64(1);
    let image = disk.crash_image(at, CrashKind::DropAll, &mut rng);
    drop(c);
    store.abandon();
    let recovered = open_store(&SimDisk::from_images(image), GlobalMutation::None).expect("reopen");
    recovered
        .collection::<F32<DIM>, u64>("c")
        .expect("collection")
        .len()
}

/// An empty batch committed with `Durability::Immediate` makes the collection's earlier
/// non-durable batches durable (as a durable redb commit does): after a power loss that drops
/// every unsynced write, they are there. Without that durable commit they are not (checked too,
/// so the test can fail).
#[test]
fn an_empty_durable_commit_makes_earlier_non_durable_batches_durable() {
    for make_durable in [true, false] {
        let survived = items_after_power_loss(|c| {
            let mut batch = c.batch();
            for id in 0..50u64 {
                batch.upsert(id, &[id as f32; DIM], &id).expect("valid");
            }
            c.commit(batch, Durability::None).expect("commit");
            if make_durable {
                c.commit(c.batch(), Durability::Immediate)
                    .expect("durable commit");
            }
        });
        assert_eq!(
            survived,
            if make_durable { 50 } else { 0 },
            "made durable: {make_durable}"
        );
    }
}

/// A run of non-durable commits is made durable by the commit that brings it to 8,192 items (so
/// the pages it freed can be reused, see `Collection::commit`): after a crash that drops every
/// unsynced write, 7 batches of 1,024 are gone and 8 are there.
#[test]
fn the_commit_that_brings_a_non_durable_run_to_8192_items_is_durable() {
    for (batches, expected) in [(7u64, 0usize), (8, 8192)] {
        let survived = items_after_power_loss(|c| {
            for b in 0..batches {
                let mut batch = c.batch();
                for id in b * 1024..(b + 1) * 1024 {
                    batch.upsert(id, &[id as f32; DIM], &id).expect("valid");
                }
                c.commit(batch, Durability::None).expect("commit");
            }
        });
        assert_eq!(survived, expected, "{batches} non-durable batches of 1,024");
    }
}
