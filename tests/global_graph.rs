//! `_global_index`'s graph: a large global index answers through its own HNSW with high recall
//! against its exact scan, never returns deleted items or deleted collections, is loaded (not
//! rebuilt) on reopen, and is built once for a global index that has entries but no graph.
//! (Crash consistency: `tests/global_crash.rs` reopens crash images whose global index has a
//! graph; loading it checks every cross-reference against the entries.)

use quiver::Durability;
use quiver::vector::{CollectionConfig, F32, Hit, Metric, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::path::Path;

const DIM: usize = 16;
const NAMES: [&str; 3] = ["users", "products", "orders"];
const PER_COLLECTION: u64 = 2500;

fn open(path: &Path) -> Store {
    Store::builder()
        .global_index::<F32<DIM>>(Metric::L2)
        .open(path)
        .expect("open")
}

fn vector(rng: &mut StdRng) -> Vec<f32> {
    (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn fill(store: &Store) {
    let mut rng = StdRng::seed_from_u64(7);
    for name in NAMES {
        let c = store
            .create_collection::<F32<DIM>, ()>(name, CollectionConfig::new(Metric::L2))
            .expect("create");
        let mut batch = c.batch();
        for id in 0..PER_COLLECTION {
            batch.upsert(id, &vector(&mut rng), &()).expect("valid");
        }
        c.commit(batch, Durability::Immediate).expect("commit");
    }
    store.sync_global_index().expect("sync");
}

fn queries() -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(99);
    (0..200).map(|_| vector(&mut rng)).collect()
}

fn key(hit: &Hit) -> (String, u64) {
    (hit.collection.to_string(), hit.id)
}

/// Recall@10 of the graph against the exact scan, over `queries()`.
fn recall(store: &Store) -> f64 {
    let mut found = 0;
    let mut total = 0;
    for query in queries() {
        let exact: HashSet<_> = store
            .global_search_exact(&query, 10)
            .expect("exact")
            .iter()
            .map(key)
            .collect();
        let graph = store.global_search(&query, 10).expect("search");
        assert_eq!(graph.len(), 10);
        total += exact.len();
        found += graph.iter().filter(|h| exact.contains(&key(h))).count();
    }
    let r = found as f64 / total as f64;
    eprintln!("global graph recall@10: {r}");
    r
}

#[test]
fn a_large_global_index_searches_its_graph_with_high_recall() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.qvr");
    let store = open(&path);
    fill(&store);
    let stats = store.global_graph_stats().expect("stats");
    assert_eq!((stats.nodes, stats.dead), (3 * PER_COLLECTION as usize, 0));
    // Searches through the graph leave the exact-scan mirror unloaded.
    store.global_search(&queries()[0], 10).expect("search");
    assert_eq!(store.global_index_stats().expect("stats").vectors, 0);
    let r = recall(&store);
    assert!(r >= 0.95, "recall {r}");
    // The first exact search loaded it with every entry; later rounds keep it current.
    assert_eq!(
        store.global_index_stats().expect("stats").vectors,
        3 * PER_COLLECTION as usize
    );
    let users = store.collection::<F32<DIM>, ()>("users").expect("users");
    let probe = [0.9f32; DIM];
    users.upsert(99_999, &probe, &()).expect("upsert");
    store.sync_global_index().expect("sync");
    let top = &store.global_search_exact(&probe, 1).expect("exact")[0];
    assert_eq!((&*top.collection, top.id), ("users", 99_999));
    // Distances are the exact ones, and every hit names a real item of its collection.
    let query = &queries()[0];
    for hit in store.global_search(query, 10).expect("search") {
        let c = store
            .collection::<F32<DIM>, ()>(&hit.collection)
            .expect("collection");
        let v = c.get_vector(hit.id).expect("get").expect("present");
        let d: f32 = v.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum();
        assert!(
            (d - hit.distance).abs() <= 1e-4 * d.max(1.0),
            "{d} vs {hit:?}"
        );
    }
}

#[test]
fn deleted_items_and_collections_never_come_back_and_reopening_loads_the_same_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.qvr");
    let store = open(&path);
    fill(&store);
    let users = store.collection::<F32<DIM>, ()>("users").expect("users");
    let mut batch = users.batch();
    for id in 0..1000 {
        batch.delete(id).unwrap();
    }
    users.commit(batch, Durability::Immediate).expect("delete");
    drop(users);
    store
        .delete_collection("orders")
        .expect("delete collection");
    store.sync_global_index().expect("sync");

    let stats = store.global_graph_stats().expect("stats");
    assert_eq!(stats.nodes - stats.dead, 1500 + 2500);
    let mut before = Vec::new();
    for query in queries() {
        let hits = store.global_search(&query, 10).expect("search");
        assert_eq!(hits.len(), 10);
        for hit in &hits {
            assert_ne!(&*hit.collection, "orders", "a deleted collection's item");
            assert!(
                !(&*hit.collection == "users" && hit.id < 1000),
                "deleted item {hit:?}"
            );
        }
        before.push(hits.iter().map(key).collect::<Vec<_>>());
    }
    let r = recall(&store);
    assert!(r >= 0.95, "recall after deletes {r}");
    drop(store);

    let store = open(&path);
    let reopened = store.global_graph_stats().expect("stats");
    assert_eq!((reopened.nodes, reopened.dead), (stats.nodes, stats.dead));
    for (query, expected) in queries().iter().zip(&before) {
        let hits = store.global_search(query, 10).expect("search");
        assert_eq!(&hits.iter().map(key).collect::<Vec<_>>(), expected);
    }
}

/// A global index written before it had a graph (simulated by dropping the graph's tables) gets
/// one built from its entries when the store opens.
#[test]
fn a_global_index_without_a_graph_gets_one_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.qvr");
    let store = open(&path);
    fill(&store);
    {
        let cf = store
            .database()
            .column_family("_global_index")
            .expect("global column family");
        let txn = cf.begin_write().expect("write");
        for table in [
            "quiver.ann_meta",
            "quiver.ann_nodes",
            "quiver.ann_dead",
            "quiver.global.slots",
            "quiver.global.counters",
        ] {
            // Deleting goes by name; the key and value types are not checked.
            let deleted = txn
                .delete_table(redb::TableDefinition::<&str, &[u8]>::new(table))
                .expect("delete");
            assert!(deleted, "{table} existed");
        }
        txn.commit().expect("commit");
    }
    drop(store);
    let store = open(&path);
    let stats = store.global_graph_stats().expect("stats");
    assert_eq!((stats.nodes, stats.dead), (3 * PER_COLLECTION as usize, 0));
    let r = recall(&store);
    assert!(r >= 0.95, "recall {r}");
}
