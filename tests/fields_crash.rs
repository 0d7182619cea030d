//! Crash consistency of field indexes and record updates under simulated power loss.
//!
//! Collections with indexed fields (one exact, one with an approximate index) take batches of
//! upserts, deletes, record updates and patches, and deletes by filter, durable and not, with
//! checkpoints, on a simulated disk with the log. At many crash points, with unsynced writes
//! dropped, reordered and torn, the image is reopened and:
//! - `Store::verify` finds the postings table equal to what the records hold, and the
//!   in-memory indexes loaded from it the same size;
//! - counts by filter equal counts over the records themselves, read back by a scan;
//! - a write after recovery keeps them equal.
//!
//! Half-way through, a field is added to both collections (`add_field`): an image has the field
//! with all its postings, or neither.
//!
//! The same workload with a broken update (postings in a second transaction after the rows')
//! must be caught, so the check is shown able to fail.

use quiver::Builder;
use quiver::Durability;
use quiver::testing::{FieldMutation, SimDisk, explore_crashes, set_field_mutation};
use quiver::vector::{
    AnnConfig, Collection, CollectionConfig, Dynamic, Expr, F32, FieldKind, Metric, Store, field,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const DIM: usize = 4;
const NAMES: [&str; 2] = ["exact", "indexed"];
const TAGS: [&str; 3] = ["a", "b", "c"];
type Items = Collection<F32<DIM>, Dynamic>;

fn open_store(disk: &SimDisk) -> quiver::Result<Store> {
    let mut builder = Builder::new();
    builder
        .set_cache_size(1 << 20)
        .set_initial_segment_size(4096)
        .set_max_segment_growth(32 << 10)
        .set_log_size(256 << 10)
        .set_checkpoint_bytes(48 << 10)
        .set_checkpoint_interval(None);
    let db = builder.open_with_log(disk.file_at(0), disk.file_at(1))?;
    Store::builder().open_database(db)
}

fn config(indexed: bool) -> CollectionConfig {
    let config = CollectionConfig::new(Metric::L2)
        .field("tag", FieldKind::Keyword)
        .field("ts", FieldKind::Int)
        .field("tags", FieldKind::Keywords);
    match indexed {
        true => config.approximate(AnnConfig {
            m: 4,
            ef_construction: 16,
            ef_search: 16,
            ..AnnConfig::default()
        }),
        false => config,
    }
}

fn record(rng: &mut StdRng) -> Value {
    json!({
        "tag": TAGS[rng.random_range(0..3)],
        "ts": rng.random_range(0..20),
        "tags": [TAGS[rng.random_range(0..3)], "z"],
        "n": rng.random_range(0..5),
    })
}

fn vector(rng: &mut StdRng) -> Vec<f32> {
    (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn run_workload(disk: &SimDisk, seed: u64, steps: usize, mutation: FieldMutation) {
    set_field_mutation(mutation);
    let store = open_store(disk).expect("open");
    let collections: Vec<Items> = NAMES
        .iter()
        .map(|name| {
            store
                .create_collection(name, config(*name == "indexed"))
                .expect("create")
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..steps {
        if step == steps / 2 {
            // A field indexed later, built from the rows in one transaction.
            for items in &collections {
                items.add_field("n", FieldKind::Int).expect("add_field");
            }
        }
        let items = &collections[rng.random_range(0..collections.len())];
        if rng.random_bool(0.08) {
            let tag = TAGS[rng.random_range(0..3)];
            items
                .delete_where(&(field("tag").eq(tag) & field("ts").lt(5)))
                .expect("delete_where");
            continue;
        }
        let mut batch = items.batch();
        for _ in 0..rng.random_range(1..10) {
            let id = rng.random_range(0..50u64);
            match rng.random_range(0..10) {
                0..=1 => batch.delete(id).unwrap(),
                2 => batch.update_record(id, &record(&mut rng)).unwrap(),
                3 => batch
                    .patch(id, &json!({"tag": TAGS[rng.random_range(0..3)]}))
                    .unwrap(),
                _ => batch
                    .upsert(id, &vector(&mut rng), &record(&mut rng))
                    .unwrap(),
            }
        }
        let durability = match rng.random_bool(0.5) {
            true => Durability::Immediate,
            false => Durability::None,
        };
        items.commit(batch, durability).expect("commit");
        if rng.random_bool(0.05) {
            store.database().checkpoint().expect("checkpoint");
        }
    }
    store.abandon();
    set_field_mutation(FieldMutation::None);
}

/// The field indexes equal the records, before and after a write.
fn check_collection(store: &Store, items: &Items) -> Result<(), String> {
    store.verify().map_err(|e| format!("verify: {e}"))?;
    let records: Vec<Value> = items
        .scan(&Expr::all(), None, usize::MAX)
        .map_err(|e| e.to_string())?
        .items
        .iter()
        .map(|item| item.record.value().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    if records.len() != items.len() {
        return Err(format!(
            "{} records scanned, {} items",
            records.len(),
            items.len()
        ));
    }
    for tag in TAGS {
        let held = records.iter().filter(|r| r["tag"] == tag).count() as u64;
        let counted = items
            .count(&field("tag").eq(tag))
            .map_err(|e| e.to_string())?;
        let in_lists = records
            .iter()
            .filter(|r| {
                r["tags"]
                    .as_array()
                    .is_some_and(|l| l.contains(&json!(tag)))
            })
            .count() as u64;
        let counted_lists = items
            .count(&field("tags").contains_any([tag]))
            .map_err(|e| e.to_string())?;
        if held != counted || in_lists != counted_lists {
            return Err(format!(
                "tag {tag}: records {held} / {in_lists}, indexes {counted} / {counted_lists}"
            ));
        }
    }
    let early = records
        .iter()
        .filter(|r| r["ts"].as_i64() < Some(7))
        .count() as u64;
    let counted = items.count(&field("ts").lt(7)).map_err(|e| e.to_string())?;
    if early != counted {
        return Err(format!("ts < 7: records {early}, indexes {counted}"));
    }
    Ok(())
}

fn check_image(image: Vec<Vec<u8>>) -> Result<(), String> {
    let disk = SimDisk::from_images(image);
    let store = open_store(&disk).map_err(|e| format!("open: {e}"))?;
    for name in NAMES {
        let items: Items = match store.collection(name) {
            Ok(items) => items,
            Err(quiver::Error::CollectionNotFound(_)) => continue,
            Err(err) => return Err(format!("open {name}: {err}")),
        };
        check_collection(&store, &items).map_err(|e| format!("{name}: {e}"))?;
        let mut rng = StdRng::seed_from_u64(1);
        items
            .upsert(7, &vector(&mut rng), &record(&mut rng))
            .map_err(|e| format!("write after recovery: {e}"))?;
        items
            .patch(8, &json!({"tag": "c"}))
            .map_err(|e| format!("patch after recovery: {e}"))?;
        check_collection(&store, &items).map_err(|e| format!("{name} after a write: {e}"))?;
    }
    store.abandon();
    Ok(())
}

fn explore(seed: u64, mutation: FieldMutation) -> (usize, usize, String) {
    let disk = SimDisk::new();
    run_workload(&disk, seed, 50, mutation);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xf1e1d);
    let report = explore_crashes(&disk, 120, &[], &mut rng, |image, _| check_image(image));
    let first = report
        .violations
        .first()
        .map(|v| format!("at op {} ({:?}): {}", v.at, v.kind, v.message))
        .unwrap_or_default();
    (report.images, report.violations.len(), first)
}

#[test]
fn after_any_crash_the_field_indexes_equal_the_records() {
    let mut images = 0;
    for seed in 0..2 {
        let (checked, violations, first) = explore(seed, FieldMutation::None);
        assert_eq!(
            violations, 0,
            "seed {seed}: {violations} of {checked} images, first {first}"
        );
        images += checked;
    }
    assert!(images >= 200, "only {images} crash images checked");
    eprintln!("field indexes: {images} crash images checked");
}

#[test]
fn the_crash_checks_catch_postings_written_outside_the_rows_transaction() {
    let (mut images, mut caught) = (0, 0);
    for seed in 0..4 {
        let (checked, violations, _) = explore(seed, FieldMutation::SeparateTransaction);
        images += checked;
        caught += violations;
        if caught > 0 {
            break;
        }
    }
    assert!(caught > 0, "mutant survived {images} crash images");
    eprintln!("field mutant: {caught} of {images} crash images flagged");
}
