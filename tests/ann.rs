//! A collection's approximate index through the public API: recall floors on the shipped
//! wordnet subset (quality regression tests, not timings), one bulk commit against many small
//! ones, deletes and replacements never returned, churn with compaction, persistence without
//! rebuilding, damaged index tables reported as `CorruptIndex`, and crash consistency of the
//! index with its vectors on the simulated disk (dropped, reordered and torn unsynced writes).

use quiver::datasets::npy;
use quiver::testing::{SimDisk, explore_crashes};
use quiver::vector::{
    AnnConfig, Collection, CollectionConfig, Element, F16, F32, Metric, Store, StoredVector,
    quantize::Quantization,
};
use quiver::{Builder, Durability, TableDefinition};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use redb::ReadableTable;
use std::collections::BTreeSet;
use std::path::Path;

const WORDNET_DIM: usize = 384;
type Wordnet = Collection<F16<WORDNET_DIM>, ()>;

fn wordnet_subset() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/wordnet-minilm-small");
    let base = npy::read(dir.join("base_f16.npy"))
        .expect("base")
        .into_f32();
    let queries = npy::read(dir.join("query_f16.npy"))
        .expect("queries")
        .into_f32();
    (
        base.iter().map(<[f32]>::to_vec).collect(),
        queries.iter().map(<[f32]>::to_vec).collect(),
    )
}

fn indexed_wordnet(store: &Store, name: &str) -> Wordnet {
    let config = CollectionConfig::new(Metric::Dot).approximate(AnnConfig::default());
    store.create_collection(name, config).expect("create")
}

fn ingest(collection: &Wordnet, base: &[Vec<f32>], ids: impl Iterator<Item = usize>, batch: usize) {
    let ids: Vec<usize> = ids.collect();
    for chunk in ids.chunks(batch) {
        let mut write = collection.batch();
        for id in chunk {
            write
                .upsert(*id as u64, &base[*id], &())
                .expect("valid vector");
        }
        collection.commit(write, Durability::None).expect("commit");
    }
}

/// Mean recall@k (id overlap) of approximate search at `ef` against the exact scan.
fn recall(collection: &Wordnet, queries: &[Vec<f32>], k: usize, ef: usize) -> f64 {
    let mut total = 0.0;
    for query in queries {
        let truth: BTreeSet<u64> = collection
            .search_exact(query, k)
            .expect("exact")
            .iter()
            .map(|h| h.id)
            .collect();
        let found = collection
            .search_approximate(query, k, ef)
            .expect("approximate");
        total += found.iter().filter(|h| truth.contains(&h.id)).count() as f64 / k as f64;
    }
    total / queries.len() as f64
}

#[test]
fn recall_on_the_wordnet_subset_stays_above_its_floor_for_bulk_and_small_commits() {
    let (base, queries) = wordnet_subset();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("a.qvr")).expect("open");
    let bulk = indexed_wordnet(&store, "bulk");
    ingest(&bulk, &base, 0..base.len(), base.len());
    let small = indexed_wordnet(&store, "small");
    ingest(&small, &base, 0..base.len(), 25);
    let (bulk_40, small_40) = (
        recall(&bulk, &queries, 10, 40),
        recall(&small, &queries, 10, 40),
    );
    let bulk_100 = recall(&bulk, &queries, 10, 100);
    // Measured 0.982 at ef 40 for both, 1.0 at ef 100.
    assert!(bulk_40 >= 0.96, "bulk recall@10 at ef 40: {bulk_40}");
    assert!(
        small_40 >= 0.96,
        "small-commit recall@10 at ef 40: {small_40}"
    );
    assert!(
        (bulk_40 - small_40).abs() <= 0.03,
        "bulk {bulk_40} vs small {small_40}"
    );
    assert!(bulk_100 >= 0.995, "bulk recall@10 at ef 100: {bulk_100}");
    // Plain search uses the index with the configured ef_search (64).
    let plain = bulk.search(&queries[0], 10).expect("search");
    let approximate = bulk
        .search_approximate(&queries[0], 10, 64)
        .expect("approximate");
    assert_eq!(plain, approximate);
    let stats = bulk.index_stats().expect("an index");
    assert_eq!((stats.nodes, stats.dead), (base.len(), 0));
}

#[test]
fn deleted_and_replaced_items_are_never_returned_and_churn_keeps_recall() {
    let (base, queries) = wordnet_subset();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("a.qvr")).expect("open");
    let churned = indexed_wordnet(&store, "churned");
    ingest(&churned, &base, 0..base.len(), 500);
    let mut rng = StdRng::seed_from_u64(7);
    let mut ids: Vec<usize> = (0..base.len()).collect();
    ids.shuffle(&mut rng);
    let (gone, _) = ids.split_at(base.len() / 2);
    let gone_set: BTreeSet<u64> = gone.iter().map(|i| *i as u64).collect();
    // Delete half, in several commits (the index compacts once a quarter of it is dead).
    for chunk in gone.chunks(100) {
        let mut write = churned.batch();
        for id in chunk {
            write.delete(*id as u64).unwrap();
        }
        churned.commit(write, Durability::None).expect("delete");
    }
    let stats = churned.index_stats().expect("an index");
    assert!(stats.dead * 4 <= stats.nodes, "no compaction: {stats:?}");
    assert_eq!(stats.nodes - stats.dead, base.len() / 2);
    for query in &queries {
        for hit in churned.search_approximate(query, 10, 64).expect("search") {
            assert!(
                !gone_set.contains(&hit.id),
                "deleted item {} returned",
                hit.id
            );
        }
    }
    // Replace some vectors: the old vector must not be found under the id any more.
    let replaced: Vec<u64> = ids[base.len() / 2..][..50]
        .iter()
        .map(|i| *i as u64)
        .collect();
    let mut write = churned.batch();
    for id in &replaced {
        write
            .upsert(*id, &base[(*id as usize + 1) % base.len()], &())
            .expect("valid");
    }
    churned.commit(write, Durability::None).expect("replace");
    for id in &replaced {
        let old = &base[*id as usize];
        for hit in churned.search_approximate(old, 10, 64).expect("search") {
            if hit.id == *id {
                // Found through its new vector only: the distance must be the new one.
                let new = &base[(*id as usize + 1) % base.len()];
                let expected = -old.iter().zip(new).map(|(a, b)| a * b).sum::<f32>();
                assert!(
                    (hit.distance - expected).abs() < 1e-2,
                    "stale vector for {id}"
                );
            }
        }
    }
    // Put everything back as it was, then compare with a fresh build.
    ingest(
        &churned,
        &base,
        replaced
            .iter()
            .map(|i| *i as usize)
            .chain(gone.iter().copied()),
        200,
    );
    let fresh = indexed_wordnet(&store, "fresh");
    ingest(&fresh, &base, 0..base.len(), 500);
    let (after, reference) = (
        recall(&churned, &queries, 10, 40),
        recall(&fresh, &queries, 10, 40),
    );
    // Measured 0.977 after churn, 0.982 fresh.
    assert!(
        after >= reference - 0.02,
        "after churn {after}, fresh build {reference}"
    );
    assert_eq!(churned.len(), base.len());
}

#[test]
fn the_index_persists_and_is_loaded_not_rebuilt() {
    let (base, queries) = wordnet_subset();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.qvr");
    let before: Vec<_> = {
        let store = Store::open(&path).expect("open");
        let collection = indexed_wordnet(&store, "words");
        ingest(&collection, &base, 0..base.len(), 700);
        let mut write = collection.batch();
        for id in 0..100u64 {
            write.delete(id).unwrap();
        }
        collection
            .commit(write, Durability::Immediate)
            .expect("delete");
        queries
            .iter()
            .map(|q| collection.search_approximate(q, 10, 50).expect("search"))
            .collect()
    };
    let store = Store::open(&path).expect("reopen");
    let collection: Wordnet = store.collection("words").expect("collection");
    let stats = collection.index_stats().expect("the index was loaded");
    assert_eq!((stats.nodes, stats.dead), (base.len(), 100));
    let after: Vec<_> = queries
        .iter()
        .map(|q| collection.search_approximate(q, 10, 50).expect("search"))
        .collect();
    assert_eq!(
        before, after,
        "the reloaded graph answers exactly as before"
    );
    // And it keeps working: new items are indexed and found.
    collection.upsert(5, &base[5], &()).expect("upsert");
    assert_eq!(
        collection
            .search_approximate(&base[5], 1, 50)
            .expect("search")[0]
            .id,
        5
    );
}

#[test]
fn bad_index_parameters_and_missing_indexes_get_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("a.qvr")).expect("open");
    let bad = CollectionConfig::new(Metric::L2).approximate(AnnConfig {
        m: 0,
        ..AnnConfig::default()
    });
    assert!(matches!(
        store.create_collection::<F32<2>, ()>("bad", bad),
        Err(quiver::Error::InvalidConfig(_))
    ));
    assert!(store.list_collections().is_empty(), "nothing was created");
    let plain = store
        .create_collection::<F32<2>, ()>("plain", CollectionConfig::new(Metric::L2))
        .expect("create");
    assert!(matches!(
        plain.search_approximate(&[1.0, 0.0], 1, 10),
        Err(quiver::Error::NoIndex(_))
    ));
    assert!(plain.index_stats().is_none());
    let indexed = store
        .create_collection::<F32<2>, ()>(
            "indexed",
            CollectionConfig::new(Metric::L2).approximate(AnnConfig::default()),
        )
        .expect("create");
    assert!(
        indexed
            .search_approximate(&[1.0, 0.0], 1, 10)
            .expect("empty")
            .is_empty()
    );
    assert!(matches!(
        indexed.search_approximate(&[1.0], 1, 10),
        Err(quiver::Error::DimensionMismatch { .. })
    ));
}

const NODES: TableDefinition<u32, &[u8]> = TableDefinition::new("quiver.ann_nodes");
const VECTORS: TableDefinition<u64, F32<2>> = TableDefinition::new("quiver.vectors");

/// Builds a small indexed collection, damages its index tables with `damage`, and returns what
/// reopening the collection says.
fn reopen_after(damage: impl FnOnce(&redb::WriteTransaction)) -> quiver::Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.qvr");
    {
        let store = Store::open(&path).expect("open");
        let c = store
            .create_collection::<F32<2>, ()>(
                "c",
                CollectionConfig::new(Metric::L2).approximate(AnnConfig::default()),
            )
            .expect("create");
        for i in 0..50u64 {
            c.upsert(i, &[i as f32, 1.0], &()).expect("upsert");
        }
        c.delete(3).expect("delete");
        let cf = store.database().column_family("c").expect("cf");
        let txn = cf.begin_write().expect("write");
        damage(&txn);
        txn.commit().expect("commit");
    }
    let store = Store::open(&path).expect("reopen");
    store.collection::<F32<2>, ()>("c").map(drop)
}

/// A change made directly to a collection's tables, behind quiver's back.
type Damage = Box<dyn FnOnce(&redb::WriteTransaction)>;

#[test]
fn damaged_index_tables_are_reported_not_trusted() {
    assert!(reopen_after(|_| {}).is_ok(), "the undamaged store opens");
    let cases: Vec<(&str, Damage)> = vec![
        (
            "a node record removed",
            Box::new(|txn| {
                txn.open_table(NODES).unwrap().remove(7).unwrap();
            }),
        ),
        (
            "a node record truncated",
            Box::new(|txn| {
                txn.open_table(NODES)
                    .unwrap()
                    .insert(7, &[1u8, 2, 3][..])
                    .unwrap();
            }),
        ),
        (
            "an item stored without a node",
            Box::new(|txn| {
                let bytes: Vec<u8> = [9.0f32, 9.0].iter().flat_map(|x| x.to_le_bytes()).collect();
                let stored = StoredVector::new(&bytes, Element::F32);
                txn.open_table(VECTORS)
                    .unwrap()
                    .insert(999, stored)
                    .unwrap();
            }),
        ),
        (
            "an item's vector removed",
            Box::new(|txn| {
                txn.open_table(VECTORS).unwrap().remove(10).unwrap();
            }),
        ),
        (
            "a link past the last node",
            Box::new(|txn| {
                let mut table = txn.open_table(NODES).unwrap();
                let mut record = table.get(0).unwrap().unwrap().value().to_vec();
                let at = record.len() - 4;
                record[at..].copy_from_slice(&5000u32.to_le_bytes());
                table.insert(0, record.as_slice()).unwrap();
            }),
        ),
    ];
    for (what, damage) in cases {
        match reopen_after(damage) {
            Err(quiver::Error::CorruptIndex { .. }) => {}
            other => panic!("{what}: expected CorruptIndex, got {other:?}"),
        }
    }
}

// Crash consistency.

const CRASH_DIM: usize = 8;
const CRASH_NAMES: [&str; 2] = ["a", "b"];
type Small = Collection<F32<CRASH_DIM>, u64>;

fn open_crash_store(disk: &SimDisk) -> quiver::Result<Store> {
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

fn crash_vector(rng: &mut StdRng) -> Vec<f32> {
    (0..CRASH_DIM)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

/// Batches of upserts and deletes over 60 ids (enough churn for compactions), mixed
/// durabilities, checkpoints.
fn crash_workload(disk: &SimDisk, seed: u64, steps: usize) -> Vec<usize> {
    let store = open_crash_store(disk).expect("open");
    let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig {
        m: 4,
        ef_construction: 16,
        ef_search: 16,
        ..AnnConfig::default()
    });
    let collections: Vec<Small> = CRASH_NAMES
        .iter()
        .map(|name| {
            store
                .create_collection(name, config.clone())
                .expect("create")
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acks = Vec::new();
    for step in 0..steps {
        let collection = &collections[rng.random_range(0..collections.len())];
        let mut batch = collection.batch();
        for _ in 0..rng.random_range(1..12) {
            let id = rng.random_range(0..60u64);
            if rng.random_bool(0.3) {
                batch.delete(id).unwrap();
            } else {
                batch
                    .upsert(id, &crash_vector(&mut rng), &(step as u64))
                    .expect("valid");
            }
        }
        let durability = if rng.random_bool(0.5) {
            Durability::Immediate
        } else {
            Durability::None
        };
        collection.commit(batch, durability).expect("commit");
        acks.push(disk.op_count());
        if rng.random_bool(0.05) {
            store.database().checkpoint().expect("checkpoint");
        }
    }
    let compacted = collections
        .iter()
        .filter_map(|c| c.index_stats())
        .all(|s| s.dead * 4 <= s.nodes.max(64 * 4));
    assert!(compacted, "dead nodes grew without bound");
    store.abandon();
    acks
}

/// The index of every collection loads (its loader checks every cross-reference with the
/// vector table), holds exactly the collection's items, returns only them with their current
/// vectors' distances, and keeps working after more writes.
fn check_crash_image(image: Vec<Vec<u8>>) -> Result<(), String> {
    let disk = SimDisk::from_images(image);
    let store = open_crash_store(&disk).map_err(|e| format!("open: {e}"))?;
    for name in CRASH_NAMES {
        let collection: Small = match store.collection(name) {
            Ok(c) => c,
            Err(quiver::Error::CollectionNotFound(_)) => continue,
            Err(err) => return Err(format!("open {name}: {err}")),
        };
        let stats = collection
            .index_stats()
            .ok_or(format!("{name} lost its index"))?;
        if stats.nodes - stats.dead != collection.len() {
            return Err(format!("{name}: {stats:?} for {} items", collection.len()));
        }
        for query in [[0.5f32; CRASH_DIM], [-0.25f32; CRASH_DIM]] {
            let exact: Vec<(u64, f32)> = collection
                .search_exact(&query, 200)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|h| (h.id, h.distance))
                .collect();
            for hit in collection
                .search_approximate(&query, 10, 200)
                .map_err(|e| e.to_string())?
            {
                let Some((_, distance)) = exact.iter().find(|(id, _)| *id == hit.id) else {
                    return Err(format!(
                        "{name}: the index returned item {} which is gone",
                        hit.id
                    ));
                };
                if (distance - hit.distance).abs() > 1e-4 {
                    return Err(format!(
                        "{name}: item {} has a stale vector in the index",
                        hit.id
                    ));
                }
            }
        }
        collection
            .upsert(1000, &[0.1; CRASH_DIM], &0)
            .map_err(|e| format!("write after recovery: {e}"))?;
        // The write reached the index (whether the graph search finds a given node is recall,
        // tested above; a new node with no in-links is possible in any HNSW).
        let grown = collection
            .index_stats()
            .ok_or(format!("{name} lost its index"))?;
        if grown.nodes - grown.dead != collection.len() || grown.nodes != stats.nodes + 1 {
            return Err(format!("{name}: after a write the index holds {grown:?}"));
        }
    }
    store.abandon();
    Ok(())
}

#[test]
fn after_any_crash_the_index_matches_the_vectors_it_indexes() {
    let mut images = 0;
    for seed in 0..2 {
        let disk = SimDisk::new();
        let acks = crash_workload(&disk, seed, 60);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xa22);
        let report = explore_crashes(&disk, 150, &acks, &mut rng, |image, _| {
            check_crash_image(image)
        });
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            &report.violations[..report.violations.len().min(3)]
        );
        images += report.images;
    }
    assert!(images >= 300, "only {images} crash images checked");
}

/// Clustered 8-d points for the filtered tests: 60 centres, 100 points each.
fn clustered_rows(rng: &mut StdRng) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..60)
        .map(|_| (0..8).map(|_| rng.random_range(-10.0..10.0)).collect())
        .collect();
    (0..6_000)
        .map(|i| {
            centres[i % 60]
                .iter()
                .map(|x| x + rng.random_range(-1.0f32..1.0))
                .collect()
        })
        .collect()
}

/// The ids of the `k` rows nearest `query` (squared L2) among `admitted` (row, id) pairs.
fn exact_top_k(
    rows: &[Vec<f32>],
    query: &[f32],
    k: usize,
    admitted: impl Iterator<Item = (usize, u64)>,
) -> BTreeSet<u64> {
    let mut exact: Vec<(f32, u64)> = admitted
        .map(|(r, id)| {
            let d: f32 = rows[r]
                .iter()
                .zip(query)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            (d, id)
        })
        .collect();
    exact.sort_by(|a, b| a.0.total_cmp(&b.0));
    exact.iter().take(k).map(|e| e.1).collect()
}

/// Query `q` of a filtered check: a stored row (every 37th, wrapping) with uniform noise added,
/// so it is near its row without being it.
fn noisy_query(rows: &[Vec<f32>], q: usize, rng: &mut StdRng) -> Vec<f32> {
    rows[q * 37 % rows.len()]
        .iter()
        .map(|x| x + rng.random_range(-0.5f32..0.5))
        .collect()
}

/// Runs 100 searches allowing `allowed` (ids of `c`, whose row `r` has id `id_of(r)` and vector
/// `rows[r]`; rows in `gone` were deleted) and checks that no rejected or deleted id comes
/// back, that k results come back, and that recall against the exact filtered answer is at
/// least 0.95. Returns the recall.
fn check_filtered(
    c: &Collection<F32<8>, ()>,
    rows: &[Vec<f32>],
    id_of: impl Fn(usize) -> u64,
    allowed: &[u64],
    gone: &BTreeSet<u64>,
    rng: &mut StdRng,
    label: &str,
) -> f64 {
    let k = 10;
    let allowed_set: BTreeSet<u64> = allowed.iter().copied().collect();
    let filter = quiver::vector::Filter::ids(allowed);
    let mut overlap = 0usize;
    for q in 0..100 {
        let query = noisy_query(rows, q, rng);
        let hits = c.search_filtered(&query, k, &filter).unwrap();
        assert_eq!(hits.len(), k, "{label}: k results when k rows are allowed");
        for hit in &hits {
            assert!(
                allowed_set.contains(&hit.id),
                "{label}: rejected id {} came back",
                hit.id
            );
            assert!(
                !gone.contains(&hit.id),
                "{label}: deleted id {} came back",
                hit.id
            );
        }
        // The exact filtered answer: every allowed live row scored.
        let admitted = (0..rows.len())
            .map(|r| (r, id_of(r)))
            .filter(|(_, id)| allowed_set.contains(id) && !gone.contains(id));
        let truth = exact_top_k(rows, &query, k, admitted);
        overlap += hits.iter().filter(|h| truth.contains(&h.id)).count();
    }
    let recall = overlap as f64 / (100 * k) as f64;
    eprintln!("{label}: filtered recall@{k} {recall:.4}");
    assert!(recall >= 0.95, "{label}: filtered recall {recall}");
    recall
}

/// Filtered search on an indexed collection, on every route of the planner: 50% allowed takes
/// the plain walk, 35% the two-hop walk, 10% and 1% the exact scan of the allowed nodes. No
/// rejected id comes back, k results come back when k rows are allowed, and recall against the
/// exact filtered answer stays above a floor. A filter repeated after deletes (a new index
/// version: its cached preparation must not be reused) returns no deleted id.
#[test]
fn filtered_searches_return_only_allowed_ids_and_keep_recall() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("filtered.qvr")).unwrap();
    let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    let c: Collection<F32<8>, ()> = store.create_collection("c", config).unwrap();
    let mut rng = StdRng::seed_from_u64(41);
    let rows = clustered_rows(&mut rng);
    let mut batch = c.batch();
    for (id, row) in rows.iter().enumerate() {
        batch.upsert(id as u64, row, &()).unwrap();
    }
    c.commit(batch, Durability::None).unwrap();

    let id_of = |r: usize| r as u64;
    let none = BTreeSet::new();
    let mut ids: Vec<u64> = (0..6_000).collect();
    let mut lists = Vec::new();
    for share in [0.5, 0.35, 0.1, 0.01] {
        ids.shuffle(&mut rng);
        let mut allowed: Vec<u64> = ids[..(6_000.0 * share) as usize].to_vec();
        // Unsorted on purpose: the planner must not need a sorted list.
        allowed.reverse();
        let label = format!("{}% allowed", share * 100.0);
        check_filtered(&c, &rows, id_of, &allowed, &none, &mut rng, &label);
        lists.push(allowed);
    }
    // The same lists again (prepared ones come from the collection's cache).
    for allowed in &lists {
        check_filtered(&c, &rows, id_of, allowed, &none, &mut rng, "repeated");
    }
    // Delete a fifth of the two-hop list's ids, then search with the same list again.
    let gone: BTreeSet<u64> = lists[1].iter().step_by(5).copied().collect();
    let mut batch = c.batch();
    for &id in &gone {
        batch.delete(id).unwrap();
    }
    c.commit(batch, Durability::None).unwrap();
    check_filtered(
        &c,
        &rows,
        id_of,
        &lists[1],
        &gone,
        &mut rng,
        "after deletes",
    );
}

/// Item ids spread too widely for an id bitset (the allow-list is searched per node instead):
/// the walks and the exact fallback still honour the filter.
#[test]
fn filtered_searches_with_sparse_ids_honour_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("sparse.qvr")).unwrap();
    let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    let c: Collection<F32<8>, ()> = store.create_collection("c", config).unwrap();
    let mut rng = StdRng::seed_from_u64(43);
    let rows = clustered_rows(&mut rng);
    let id_of = |r: usize| ((r as u64) << 40) | 7;
    let mut batch = c.batch();
    for (r, row) in rows.iter().enumerate() {
        batch.upsert(id_of(r), row, &()).unwrap();
    }
    c.commit(batch, Durability::None).unwrap();
    let none = BTreeSet::new();
    let mut ids: Vec<u64> = (0..6_000).map(id_of).collect();
    for share in [0.5, 0.35, 0.05] {
        ids.shuffle(&mut rng);
        let allowed = &ids[..(6_000.0 * share) as usize];
        let label = format!("sparse ids, {}% allowed", share * 100.0);
        check_filtered(&c, &rows, id_of, allowed, &none, &mut rng, &label);
    }
}

/// Quantized first passes on the wordnet subset: the int8 walk keeps the exact walk's recall
/// floor, the binary walk a lower one at a wider ef (its candidates rescored exactly); a
/// reopened store answers exactly as before (codes are rebuilt from the stored vectors);
/// deleted items never come back.
#[test]
fn quantized_walks_keep_recall_persist_and_never_return_deleted_items() {
    let (base, queries) = wordnet_subset();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.qvr");
    // (mode, ef, floor): measured 0.982 for int8 at ef 40 (the exact walk's 0.982) and 0.988
    // for binary at ef 200.
    let modes = [
        (Quantization::Int8, 40, 0.96),
        (Quantization::Binary, 200, 0.95),
    ];
    let mut before = Vec::new();
    {
        let store = Store::open(&path).expect("open");
        for (quantization, ef, floor) in modes {
            let config = CollectionConfig::new(Metric::Dot).approximate(AnnConfig {
                quantization,
                ..AnnConfig::default()
            });
            let c: Wordnet = store
                .create_collection(quantization.name(), config)
                .expect("create");
            ingest(&c, &base, 0..base.len(), 400);
            let found = recall(&c, &queries, 10, ef);
            eprintln!("{}: recall@10 at ef {ef}: {found:.4}", quantization.name());
            assert!(found >= floor, "{}: recall {found}", quantization.name());
            let mut write = c.batch();
            for id in (0..base.len() as u64).step_by(3) {
                write.delete(id).unwrap();
            }
            c.commit(write, Durability::Immediate).expect("delete");
            let answers: Vec<_> = queries
                .iter()
                .map(|q| c.search_approximate(q, 10, ef).expect("search"))
                .collect();
            for hit in answers.iter().flatten() {
                assert!(hit.id % 3 != 0, "deleted item {} came back", hit.id);
            }
            assert!(answers.iter().all(|a| a.len() == 10));
            before.push(answers);
        }
    }
    let store = Store::open(&path).expect("reopen");
    for ((quantization, ef, _), answers) in modes.iter().zip(&before) {
        let c: Wordnet = store.collection(quantization.name()).expect("collection");
        let stats = c.index_stats().expect("an index");
        assert_eq!(stats.config.quantization, *quantization);
        let after: Vec<_> = queries
            .iter()
            .map(|q| c.search_approximate(q, 10, *ef).expect("search"))
            .collect();
        assert_eq!(&after, answers, "{} after reopening", quantization.name());
    }
}

/// Filtered searches through an int8 walk, on every route: only allowed, live ids, k of them,
/// recall against the exact filtered answer above the same floor as the exact walk.
#[test]
fn quantized_filtered_searches_honour_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("qf.qvr")).unwrap();
    let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig {
        quantization: Quantization::Int8,
        ..AnnConfig::default()
    });
    let c: Collection<F32<8>, ()> = store.create_collection("c", config).unwrap();
    let mut rng = StdRng::seed_from_u64(45);
    let rows = clustered_rows(&mut rng);
    let mut batch = c.batch();
    for (id, row) in rows.iter().enumerate() {
        batch.upsert(id as u64, row, &()).unwrap();
    }
    c.commit(batch, Durability::None).unwrap();
    let gone: BTreeSet<u64> = (0..6_000).step_by(7).collect();
    let mut batch = c.batch();
    for &id in &gone {
        batch.delete(id).unwrap();
    }
    c.commit(batch, Durability::None).unwrap();
    let mut ids: Vec<u64> = (0..6_000).collect();
    for share in [0.5, 0.35, 0.1] {
        ids.shuffle(&mut rng);
        let allowed = &ids[..(6_000.0 * share) as usize];
        let label = format!("int8, {}% allowed", share * 100.0);
        check_filtered(&c, &rows, |r| r as u64, allowed, &gone, &mut rng, &label);
    }
}

/// An indexed collection loads its exact-scan mirror only on its first exact search, and that
/// load sees every commit before it (made while it was not loaded), then follows later ones.
#[test]
fn an_indexed_collection_loads_its_mirror_on_the_first_exact_search() {
    let (base, queries) = wordnet_subset();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.qvr");
    {
        let store = Store::open(&path).expect("open");
        let c = indexed_wordnet(&store, "words");
        ingest(&c, &base, 0..500, 100);
        assert_eq!(c.mirror_stats().vectors, 0, "not loaded by writes");
        assert_eq!(c.len(), 500);
        assert_eq!(c.search(&queries[0], 5).expect("search").len(), 5);
        assert_eq!(c.mirror_stats().vectors, 0, "not loaded by index searches");
    }
    let store = Store::open(&path).expect("reopen");
    let c: Wordnet = store.collection("words").expect("collection");
    assert_eq!(c.mirror_stats().vectors, 0, "not loaded on open");
    assert_eq!(c.len(), 500);
    ingest(&c, &base, 500..800, 100);
    c.delete(3).expect("delete");
    let exact = c.search_exact(&base[3], 1).expect("exact");
    assert_eq!(c.mirror_stats().vectors, 799, "loaded, with every commit");
    assert_ne!(exact[0].id, 3, "the deleted item is not in the mirror");
    ingest(&c, &base, 800..900, 100);
    assert_eq!(
        c.mirror_stats().vectors,
        899,
        "later commits reach the loaded mirror"
    );
    assert_eq!(c.len(), 899);
    let found = c.search_exact(&base[850], 1).expect("exact");
    assert_eq!(found[0].id, 850);
}

/// Searches `c` with `predicate` over the bucket records (`buckets[r]` for row `r`, id `r`;
/// `None`: deleted) and checks that every hit matches, k come back, and recall against the
/// exact filtered answer is at least 0.95. Returns the hits, for comparing runs.
fn check_predicate(
    c: &Collection<F32<8>, u32>,
    rows: &[Vec<f32>],
    buckets: &[Option<u32>],
    predicate: fn(u32) -> bool,
    label: &str,
) -> Vec<Vec<u64>> {
    let k = 10;
    let filter = quiver::vector::Filter::predicate(predicate);
    let mut rng = StdRng::seed_from_u64(5);
    let mut overlap = 0usize;
    let mut all = Vec::new();
    for q in 0..100 {
        let query = noisy_query(rows, q, &mut rng);
        let hits = c.search_filtered(&query, k, &filter).unwrap();
        assert_eq!(hits.len(), k, "{label}: k results when k rows match");
        for hit in &hits {
            let bucket = buckets[hit.id as usize];
            assert!(
                bucket.is_some_and(predicate),
                "{label}: id {} (bucket {bucket:?}) does not match",
                hit.id
            );
        }
        let admitted = (0..rows.len())
            .filter(|&r| buckets[r].is_some_and(predicate))
            .map(|r| (r, r as u64));
        let truth = exact_top_k(rows, &query, k, admitted);
        overlap += hits.iter().filter(|h| truth.contains(&h.id)).count();
        all.push(hits.iter().map(|h| h.id).collect());
    }
    let recall = overlap as f64 / (100 * k) as f64;
    eprintln!("{label}: predicate recall@{k} {recall:.4}");
    assert!(recall >= 0.95, "{label}: predicate recall {recall}");
    all
}

/// A predicate over bucket records and its label.
type NamedPredicate = (fn(u32) -> bool, &'static str);

/// A small fixed-width record type (u32) is kept beside the index, so predicate filters run
/// through it on every route (50%, 35%, 10%, 1% matching) without loading the exact-scan mirror
/// (which the exact path would load); replaced records and deleted items are honoured, and the
/// records are read back on reopen with the same answers.
#[test]
fn predicate_filters_on_small_records_run_through_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predicate.qvr");
    let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    let mut rng = StdRng::seed_from_u64(43);
    let rows = clustered_rows(&mut rng);
    let mut buckets: Vec<Option<u32>> = (0..rows.len())
        .map(|_| Some(rng.random_range(0..100)))
        .collect();
    let predicates: [NamedPredicate; 4] = [
        (|b| b < 50, "50%"),
        (|b| b < 35, "35%"),
        (|b| b < 10, "10%"),
        (|b| b == 7, "1%"),
    ];
    let mut before = Vec::new();
    {
        let store = Store::open(&path).unwrap();
        let c: Collection<F32<8>, u32> = store.create_collection("c", config).unwrap();
        let mut batch = c.batch();
        for (id, row) in rows.iter().enumerate() {
            batch.upsert(id as u64, row, &buckets[id].unwrap()).unwrap();
        }
        c.commit(batch, Durability::None).unwrap();
        for (predicate, label) in predicates {
            check_predicate(&c, &rows, &buckets, predicate, label);
        }
        // Move a tenth of the rows to other buckets (same vectors) and delete another tenth.
        let mut batch = c.batch();
        for id in (0..rows.len()).step_by(10) {
            let bucket = (buckets[id].unwrap() + 50) % 100;
            buckets[id] = Some(bucket);
            batch.upsert(id as u64, &rows[id], &bucket).unwrap();
        }
        for id in (5..rows.len()).step_by(10) {
            buckets[id] = None;
            batch.delete(id as u64).unwrap();
        }
        c.commit(batch, Durability::Immediate).unwrap();
        for (predicate, label) in predicates {
            before.push(check_predicate(&c, &rows, &buckets, predicate, label));
        }
        assert_eq!(
            c.mirror_stats().vectors,
            0,
            "predicate searches went through the index, not the mirror"
        );
    }
    let store = Store::open(&path).unwrap();
    let c: Collection<F32<8>, u32> = store.collection("c").unwrap();
    for ((predicate, label), expected) in predicates.iter().zip(&before) {
        let after = check_predicate(&c, &rows, &buckets, *predicate, label);
        assert_eq!(&after, expected, "{label}: same answers after reopening");
    }
    assert_eq!(c.mirror_stats().vectors, 0);
}

/// Indexes written before node checksums (state version 2, nodes without a trailer) still load,
/// search and take writes, keeping their form; in a checked index a flipped bit in a node
/// record is a corrupt index when the collection is opened.
#[test]
fn node_checksums_catch_damage_and_unchecked_indexes_still_work() {
    use quiver::Database;
    use quiver::vector::AnnConfig;
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("quiver.ann_meta");
    const NODES: TableDefinition<u32, &[u8]> = TableDefinition::new("quiver.ann_nodes");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.qvr");
    let vector = |i: u64| [(i % 17) as f32, (i / 17) as f32, 1.0];
    {
        let store = Store::open(&path).unwrap();
        let c = store
            .create_collection::<F32<3>, u64>(
                "c",
                CollectionConfig::new(Metric::L2).approximate(AnnConfig::default()),
            )
            .unwrap();
        let mut batch = c.batch();
        for i in 0..300u64 {
            batch.upsert(i, &vector(i), &i).unwrap();
        }
        c.commit(batch, quiver::Durability::Immediate).unwrap();
        store.close().unwrap();
    }
    let rewrite = |strip_checks: bool, flip_node: Option<u32>| {
        let db = Database::open(&path).unwrap();
        let cf = db.column_family("c").unwrap();
        let txn = cf.begin_write().unwrap();
        {
            let mut nodes = txn.open_table(NODES).unwrap();
            let all: Vec<(u32, Vec<u8>)> = nodes
                .range::<u32>(..)
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.value(), v.value().to_vec())
                })
                .collect();
            for (node, mut bytes) in all {
                if strip_checks {
                    bytes.truncate(bytes.len() - 4);
                }
                if flip_node == Some(node) {
                    // A neighbour id's low bit: still a valid-looking record without the check.
                    let at = bytes.len() - 6;
                    bytes[at] ^= 1;
                }
                nodes.insert(node, bytes.as_slice()).unwrap();
            }
            if strip_checks {
                let mut meta = txn.open_table(META).unwrap();
                let mut bytes = meta.get("hnsw").unwrap().unwrap().value().to_vec();
                assert_eq!(bytes[5], 3, "new indexes are written as version 3");
                bytes[5] = 2;
                meta.insert("hnsw", bytes.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
        db.close().unwrap();
    };
    // A flipped bit in a checked node record.
    let pristine = std::fs::read(&path).unwrap();
    rewrite(false, Some(5));
    let store = Store::open(&path).unwrap();
    match store.collection::<F32<3>, u64>("c") {
        Err(quiver::Error::CorruptIndex { what, .. }) => assert!(what.contains("node 5"), "{what}"),
        other => panic!("a damaged node record was accepted: {other:?}"),
    }
    drop(store);
    std::fs::write(&path, &pristine).unwrap();
    // The same index as a version 2 one, without node checksums.
    rewrite(true, None);
    for round in 0..2u64 {
        let store = Store::open(&path).unwrap();
        let c = store.collection::<F32<3>, u64>("c").unwrap();
        assert_eq!(c.search_approximate(&vector(40), 1, 64).unwrap()[0].id, 40);
        c.upsert(1_000 + round, &vector(7), &0).unwrap();
        assert_eq!(c.index_stats().unwrap().nodes, 301 + round as usize);
        store.close().unwrap();
    }
}
