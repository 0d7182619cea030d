//! The vector store against brute force: every search form, every metric and element type,
//! filters at many selectivities, string ids, persistence, bad input, and concurrency.

use approx::assert_relative_eq;
use half::f16;
use quiver::vector::{CollectionConfig, Element, F16, F32, Filter, Hit, Metric, Store, VectorType};
use quiver::{Durability, Error};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const DIM: usize = 37; // not a multiple of the SIMD width: the kernels' tails run too

fn random_vector(rng: &mut StdRng) -> Vec<f32> {
    (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// The value as stored: f16 collections round every component.
fn as_stored(v: &[f32], element: Element) -> Vec<f64> {
    v.iter()
        .map(|x| match element {
            Element::F32 => *x as f64,
            Element::F16 => f16::from_f32(*x).to_f64(),
        })
        .collect()
}

/// The reference distance, in f64.
fn reference_distance(metric: Metric, q: &[f32], v: &[f64]) -> f64 {
    let q: Vec<f64> = q.iter().map(|x| *x as f64).collect();
    let dot: f64 = q.iter().zip(v).map(|(a, b)| a * b).sum();
    match metric {
        Metric::Dot => -dot,
        Metric::L2 => q.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum(),
        Metric::Cosine => {
            let nq: f64 = q.iter().map(|a| a * a).sum::<f64>().sqrt();
            let nv: f64 = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            1.0 - dot / (nq * nv)
        }
    }
}

/// Brute-force top k over `items` (id -> stored values) restricted to `allowed`.
fn brute_force(
    metric: Metric,
    items: &BTreeMap<u64, Vec<f64>>,
    query: &[f32],
    k: usize,
    allowed: impl Fn(u64) -> bool,
) -> Vec<(u64, f64)> {
    let mut all: Vec<(u64, f64)> = items
        .iter()
        .filter(|(id, _)| allowed(**id))
        .map(|(id, v)| (*id, reference_distance(metric, query, v)))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

/// Same ranking as the reference: distances agree rank by rank, every hit's distance is its true
/// distance, and the ids agree wherever the reference has no near-tie.
fn assert_matches(
    got: &[Hit],
    want: &[(u64, f64)],
    items: &BTreeMap<u64, Vec<f64>>,
    metric: Metric,
    query: &[f32],
) {
    assert_eq!(got.len(), want.len(), "result count");
    let tolerance = 2e-4;
    for (rank, (hit, (_, want_distance))) in got.iter().zip(want).enumerate() {
        assert_relative_eq!(
            hit.distance as f64,
            *want_distance,
            epsilon = tolerance,
            max_relative = 1e-4
        );
        let true_distance = reference_distance(metric, query, &items[&hit.id]);
        assert_relative_eq!(
            hit.distance as f64,
            true_distance,
            epsilon = tolerance,
            max_relative = 1e-4
        );
        let isolated = want
            .get(rank + 1)
            .is_none_or(|next| next.1 - want_distance > 10.0 * tolerance)
            && (rank == 0 || want_distance - want[rank - 1].1 > 10.0 * tolerance);
        if isolated {
            assert_eq!(hit.id, want[rank].0, "id at rank {rank}");
        }
    }
}

/// Fills a collection with `n` random items (record: id % 100) and returns the model.
fn fill<V: VectorType>(
    collection: &quiver::vector::Collection<V, u64>,
    rng: &mut StdRng,
    n: u64,
) -> BTreeMap<u64, Vec<f64>> {
    let mut model = BTreeMap::new();
    let mut batch = collection.batch();
    for id in 0..n {
        let v = random_vector(rng);
        batch.upsert(id, &v, &(id % 100)).unwrap();
        model.insert(id, as_stored(&v, V::ELEMENT));
    }
    collection.commit(batch, Durability::None).unwrap();
    model
}

fn check_every_search_form<V: VectorType>(metric: Metric, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.qvr")).unwrap();
    let c = store
        .create_collection::<V, u64>("items", CollectionConfig::new(metric))
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = fill(&c, &mut rng, 3000);
    // Some churn: replaced and deleted items must be reflected exactly.
    let mut batch = c.batch();
    for id in (0..3000).step_by(7) {
        let v = random_vector(&mut rng);
        batch.upsert(id, &v, &(id % 100)).unwrap();
        model.insert(id, as_stored(&v, V::ELEMENT));
    }
    for id in (0..3000).step_by(11) {
        batch.delete(id).unwrap();
        model.remove(&id);
    }
    c.commit(batch, Durability::Immediate).unwrap();
    assert_eq!(c.len(), model.len());

    let queries: Vec<Vec<f32>> = (0..9).map(|_| random_vector(&mut rng)).collect();
    for k in [1, 10, 100] {
        for q in &queries {
            let got = c.search(q, k).unwrap();
            assert_matches(
                &got,
                &brute_force(metric, &model, q, k, |_| true),
                &model,
                metric,
                q,
            );
        }
        let refs: Vec<&[f32]> = queries.iter().map(|q| q.as_slice()).collect();
        let batched = c.search_batch(&refs, k, &Filter::all()).unwrap();
        for (q, got) in queries.iter().zip(&batched) {
            assert_matches(
                got,
                &brute_force(metric, &model, q, k, |_| true),
                &model,
                metric,
                q,
            );
        }
    }
    // Filters from 100% down to a handful of rows, by predicate, by id list, and both.
    for modulus in [1u64, 2, 10, 100] {
        let pass = move |r: u64| r.is_multiple_of(modulus);
        let filter = Filter::predicate(move |r: u64| pass(r));
        for q in queries.iter().take(3) {
            let got = c.search_filtered(q, 10, &filter).unwrap();
            let want = brute_force(metric, &model, q, 10, |id| pass(id % 100));
            assert_matches(&got, &want, &model, metric, q);
        }
        let refs: Vec<&[f32]> = queries.iter().map(|q| q.as_slice()).collect();
        let batched = c.search_batch(&refs, 10, &filter).unwrap();
        for (q, got) in queries.iter().zip(&batched) {
            assert_matches(
                got,
                &brute_force(metric, &model, q, 10, |id| pass(id % 100)),
                &model,
                metric,
                q,
            );
        }
    }
    let handful = [
        5u64, 17, 2999, 1234, 11,     /* deleted */
        99_999, /* never existed */
    ];
    let q = &queries[0];
    let got = c.search_filtered(q, 10, &Filter::ids(&handful)).unwrap();
    let allowed: BTreeSet<u64> = handful.into_iter().collect();
    assert_matches(
        &got,
        &brute_force(metric, &model, q, 10, |id| allowed.contains(&id)),
        &model,
        metric,
        q,
    );
    assert_eq!(got.len(), 4, "only the four live ids of the list match");
    let both = Filter::ids(&handful).and_predicate(|r: u64| r % 2 == 1);
    let got = c.search_filtered(q, 10, &both).unwrap();
    let ids: BTreeSet<u64> = got.iter().map(|h| h.id).collect();
    assert_eq!(ids, BTreeSet::from([5, 17, 2999]));

    // The same collection searched through the multi-collection path.
    let got = store.search_collections(&["items"], q, 10).unwrap();
    assert_matches(
        &got,
        &brute_force(metric, &model, q, 10, |_| true),
        &model,
        metric,
        q,
    );
}

#[test]
fn every_search_form_equals_brute_force_for_f32_under_every_metric() {
    for (seed, metric) in [Metric::Cosine, Metric::Dot, Metric::L2]
        .into_iter()
        .enumerate()
    {
        check_every_search_form::<F32<DIM>>(metric, seed as u64);
    }
}

#[test]
fn every_search_form_equals_brute_force_for_f16_under_every_metric() {
    for (seed, metric) in [Metric::Cosine, Metric::Dot, Metric::L2]
        .into_iter()
        .enumerate()
    {
        check_every_search_form::<F16<DIM>>(metric, 10 + seed as u64);
    }
}

#[test]
fn a_filtered_search_returns_k_results_whenever_k_items_match() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.qvr")).unwrap();
    let c = store
        .create_collection::<F32<DIM>, u64>("items", CollectionConfig::new(Metric::Cosine))
        .unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    fill(&c, &mut rng, 5000);
    let q = random_vector(&mut rng);
    for (matching_ids, k) in [
        (5000u64, 50usize),
        (500, 50),
        (50, 50),
        (12, 10),
        (3, 10),
        (0, 10),
    ] {
        let filter = Filter::predicate(move |r: u64| r < matching_ids * 100 / 5000);
        let got = c.search_filtered(&q, k, &filter).unwrap();
        let matching = (0..5000u64)
            .filter(|id| id % 100 < matching_ids * 100 / 5000)
            .count();
        assert_eq!(got.len(), k.min(matching), "{matching_ids} matching, k {k}");
        assert!(got.iter().all(|h| h.id % 100 < matching_ids * 100 / 5000));
    }
}

#[test]
fn collections_records_and_string_ids_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.qvr");
    let mut rng = StdRng::seed_from_u64(3);
    let q = random_vector(&mut rng);
    let (before, doc_id) = {
        let store = Store::open(&path).unwrap();
        let docs = store
            .create_collection::<F16<DIM>, &str>("docs", CollectionConfig::new(Metric::Dot))
            .unwrap();
        let mut batch = docs.batch();
        for i in 0..500 {
            batch
                .upsert_str(&format!("doc-{i}"), &random_vector(&mut rng), &"text")
                .unwrap();
        }
        docs.commit(batch, Durability::None).unwrap();
        let doc_id = docs
            .upsert_str("doc-7", &random_vector(&mut rng), &"replaced")
            .unwrap();
        let mut batch = docs.batch();
        batch.delete_str("doc-8");
        docs.commit(batch, Durability::Immediate).unwrap();
        assert_eq!(docs.len(), 499);
        let before = docs.search(&q, 20).unwrap();
        store.close().unwrap();
        (before, doc_id)
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.list_collections(), vec!["docs"]);
    let docs = store.collection::<F16<DIM>, &str>("docs").unwrap();
    assert_eq!(docs.len(), 499);
    assert_eq!(docs.metric(), Metric::Dot);
    assert_eq!(docs.search(&q, 20).unwrap(), before);
    assert_eq!(docs.id_of("doc-7").unwrap(), Some(doc_id));
    assert_eq!(docs.string_id(doc_id).unwrap().as_deref(), Some("doc-7"));
    assert_eq!(
        docs.get_record(doc_id).unwrap().unwrap().value().unwrap(),
        "replaced"
    );
    assert_eq!(docs.id_of("doc-8").unwrap(), None);
    // Batched get from one snapshot, in the order asked, with misses.
    let ids: Vec<u64> = before.iter().map(|h| h.id).chain([u64::MAX >> 1]).collect();
    let items = docs.get_many(&ids).unwrap();
    assert_eq!(items.len(), ids.len());
    assert!(
        items[..before.len()]
            .iter()
            .all(|item| item.as_ref().is_some_and(|(v, _)| v.len() == DIM))
    );
    assert!(items[before.len()].is_none());
    let (_, record) = docs.get(doc_id).unwrap().unwrap();
    assert_eq!(record.value().unwrap(), "replaced");
    let fetched = store.fetch(&before).unwrap();
    assert_eq!(fetched.len(), before.len());
    for (f, hit) in fetched.iter().zip(&before) {
        assert_eq!(&f.hit, hit);
        assert!(
            f.string_id
                .as_deref()
                .is_some_and(|s| s.starts_with("doc-"))
        );
        assert!(f.record::<&str>().unwrap().is_some());
    }
    let stats = docs.mirror_stats();
    assert_eq!(stats.vectors, 499);
    assert!(stats.memory_bytes >= 499 * DIM * 2);
}

#[test]
fn bad_input_gets_a_typed_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.qvr");
    let store = Store::open(&path).unwrap();
    let c = store
        .create_collection::<F16<4>, u64>("c", CollectionConfig::new(Metric::Cosine))
        .unwrap();
    c.upsert(1, &[1.0, 0.0, 0.0, 0.0], &1).unwrap();
    let bad: [(&[f32], &str); 5] = [
        (&[1.0, 2.0, 3.0], "dimension"),
        (&[f32::NAN, 1.0, 1.0, 1.0], "nan"),
        (&[f32::INFINITY, 1.0, 1.0, 1.0], "inf"),
        (&[0.0, 0.0, 0.0, 0.0], "zero under cosine"),
        (&[70000.0, 1.0, 1.0, 1.0], "out of f16 range"),
    ];
    for (vector, what) in bad {
        match c.upsert(2, vector, &2) {
            Err(Error::DimensionMismatch {
                expected: 4,
                found: 3,
            }) if what == "dimension" => {}
            Err(Error::InvalidVector(_)) if what != "dimension" => {}
            other => panic!("{what}: {other:?}"),
        }
        assert!(c.search(vector, 1).is_err(), "{what} as a query");
    }
    let mut batch = c.batch();
    batch.upsert(3, &[0.0, 1.0, 0.0, 0.0], &3).unwrap();
    assert!(batch.upsert(4, &[f32::NAN; 4], &4).is_err());
    assert!(matches!(
        batch.upsert(1 << 63, &[1.0; 4], &4),
        Err(Error::InvalidId(_))
    ));
    assert_eq!(batch.len(), 1, "rejected items are not added");
    c.commit(batch, Durability::Immediate).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c.get_vector(2).unwrap(), None);

    assert!(matches!(
        store.collection::<F32<4>, u64>("c"),
        Err(Error::ConfigMismatch { .. })
    ));
    assert!(matches!(
        store.collection::<F16<5>, u64>("c"),
        Err(Error::ConfigMismatch { .. })
    ));
    assert!(matches!(
        store.collection::<F16<4>, &str>("c"),
        Err(Error::ConfigMismatch { .. })
    ));
    assert!(matches!(
        store.collection_or_create::<F16<4>, u64>("c", CollectionConfig::new(Metric::L2)),
        Err(Error::ConfigMismatch { .. })
    ));
    assert!(matches!(
        store.collection::<F16<4>, u64>("missing"),
        Err(Error::CollectionNotFound(_))
    ));
    assert!(matches!(
        store.create_collection::<F16<4>, u64>("_mine", CollectionConfig::new(Metric::L2)),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        store.create_collection::<F16<4>, u64>("c", CollectionConfig::new(Metric::L2)),
        Err(Error::ColumnFamilyExists(_))
    ));
    assert!(matches!(
        store.global_search(&[1.0; 4], 1),
        Err(Error::NoGlobalIndex)
    ));
    // A plain column family is not a collection, and is left alone.
    store.database().create_column_family("plain").unwrap();
    drop(c);
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.list_collections(), vec!["c"]);
    assert!(matches!(
        store.collection::<F16<4>, u64>("plain"),
        Err(Error::CollectionNotFound(_))
    ));
    let c = store.collection::<F16<4>, u64>("c").unwrap();
    assert_eq!(c.len(), 2);
}

#[test]
fn deleting_a_collection_removes_it_and_a_new_one_can_take_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .global_index::<F32<4>>(Metric::L2)
        .open(dir.path().join("s.qvr"))
        .unwrap();
    let old = store
        .create_collection::<F32<4>, ()>("c", CollectionConfig::new(Metric::L2))
        .unwrap();
    old.upsert(1, &[1.0; 4], &()).unwrap();
    store.sync_global_index().unwrap();
    assert_eq!(store.global_index_len().unwrap(), 1);
    store.delete_collection("c").unwrap();
    assert!(matches!(
        old.upsert(2, &[1.0; 4], &()),
        Err(Error::CollectionNotFound(_))
    ));
    assert!(store.global_search(&[1.0; 4], 5).unwrap().is_empty());
    let new = store
        .create_collection::<F32<4>, ()>("c", CollectionConfig::new(Metric::L2))
        .unwrap();
    new.upsert(2, &[2.0; 4], &()).unwrap();
    store.sync_global_index().unwrap();
    assert_eq!(
        store.global_index_len().unwrap(),
        1,
        "the old collection's entries are gone"
    );
    let hits = store.global_search(&[1.0; 4], 5).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2]);
}

/// Global search equals the merged per-collection searches, as (collection, id, distance) sets.
fn assert_global_equals_collections(store: &Store, names: &[&str], query: &[f32]) {
    let everything = 1_000_000;
    let global = store.global_search(query, everything).unwrap();
    let merged = store.search_collections(names, query, everything).unwrap();
    let key = |h: &Hit| (h.collection.to_string(), h.id, h.distance.to_bits());
    let global: BTreeSet<_> = global.iter().map(key).collect();
    let merged: BTreeSet<_> = merged.iter().map(key).collect();
    assert_eq!(global.len(), merged.len(), "global index size");
    assert_eq!(global, merged);
}

#[test]
fn concurrent_ingest_on_several_collections_with_concurrent_searches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::builder()
            .global_index::<F32<DIM>>(Metric::Cosine)
            .open(dir.path().join("s.qvr"))
            .unwrap(),
    );
    let names = ["users", "products", "orders"];
    let collections: Vec<_> = names
        .iter()
        .map(|n| {
            store
                .create_collection::<F32<DIM>, u64>(n, CollectionConfig::new(Metric::Cosine))
                .unwrap()
        })
        .collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searchers: Vec<_> = (0..2)
        .map(|s| {
            let store = store.clone();
            let collections = collections.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(100 + s);
                let mut searches = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let q = random_vector(&mut rng);
                    for c in &collections {
                        let hits = c.search(&q, 10).unwrap();
                        assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
                    }
                    let global = store.global_search(&q, 10).unwrap();
                    assert!(global.len() <= 10);
                    searches += 1;
                }
                searches
            })
        })
        .collect();
    let writers: Vec<_> = collections
        .iter()
        .cloned()
        .enumerate()
        .map(|(w, c)| {
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(w as u64);
                for round in 0..20u64 {
                    let mut batch = c.batch();
                    for i in 0..100 {
                        batch
                            .upsert(round * 100 + i, &random_vector(&mut rng), &i)
                            .unwrap();
                    }
                    if round % 3 == 2 {
                        batch.delete(round * 100 - 5).unwrap();
                    }
                    let durability = if round % 2 == 0 {
                        Durability::Immediate
                    } else {
                        Durability::None
                    };
                    c.commit(batch, durability).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in searchers {
        assert!(s.join().unwrap() > 0);
    }
    for c in &collections {
        assert_eq!(c.len(), 2000 - 6);
    }
    store.sync_global_index().unwrap();
    assert_eq!(store.global_index_len().unwrap(), 3 * (2000 - 6));
    let mut rng = StdRng::seed_from_u64(9);
    assert_global_equals_collections(&store, &names, &random_vector(&mut rng));
}

#[test]
fn the_global_index_catches_up_on_open_and_second_lookup_fetches_records_across_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.qvr");
    let names = ["a", "b"];
    {
        let store = Store::open(&path).unwrap();
        drop(store);
        let store = Store::builder()
            .global_index::<F32<DIM>>(Metric::L2)
            .open(&path)
            .unwrap();
        let a = store
            .create_collection::<F32<DIM>, u64>("a", CollectionConfig::new(Metric::L2))
            .unwrap();
        let b = store
            .create_collection::<F32<DIM>, &str>("b", CollectionConfig::new(Metric::L2))
            .unwrap();
        let skip = store
            .create_collection::<F32<DIM>, ()>(
                "not-global",
                CollectionConfig::new(Metric::L2).global(false),
            )
            .unwrap();
        assert!(a.is_indexed_globally() && !skip.is_indexed_globally());
        let mut rng = StdRng::seed_from_u64(1);
        for i in 0..300u64 {
            a.upsert(i, &random_vector(&mut rng), &i).unwrap();
            let mut batch = b.batch();
            batch
                .upsert(i, &random_vector(&mut rng), &"b-record")
                .unwrap();
            b.commit(batch, Durability::None).unwrap();
            skip.upsert(i, &random_vector(&mut rng), &()).unwrap();
        }
        // Leave without waiting for the applier: the next open must catch up.
        drop(store);
    }
    // Reopened without a global index: the change records wait.
    drop(Store::open(&path).unwrap());
    let store = Store::builder()
        .global_index::<F32<DIM>>(Metric::L2)
        .open(&path)
        .unwrap();
    assert_eq!(store.global_index_len().unwrap(), 600);
    let _a = store.collection::<F32<DIM>, u64>("a").unwrap();
    let _b = store.collection::<F32<DIM>, &str>("b").unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    let q = random_vector(&mut rng);
    assert_global_equals_collections(&store, &names, &q);
    let hits = store.global_search(&q, 20).unwrap();
    let fetched = store.fetch(&hits).unwrap();
    for (f, hit) in fetched.iter().zip(&hits) {
        assert_eq!(&f.hit, hit);
        match &*hit.collection {
            "a" => assert_eq!(f.record::<u64>().unwrap(), Some(hit.id)),
            "b" => assert_eq!(f.record::<&str>().unwrap(), Some("b-record")),
            other => panic!("unexpected collection {other}"),
        }
    }
    // A different global configuration is refused.
    drop(store);
    assert!(matches!(
        Store::builder()
            .global_index::<F32<DIM>>(Metric::Dot)
            .open(&path),
        Err(Error::ConfigMismatch { .. })
    ));
}

/// L2 on data whose norms are large next to the distances (like pixels): the scan's dot-product
/// expansion alone would be off by about 1e-4 relative; the exact re-ranking makes single,
/// batched and multi-collection results match an f64 brute force to 1e-6.
#[test]
fn l2_search_stays_exact_when_norms_dwarf_the_distances() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.qvr")).unwrap();
    let c = store
        .create_collection::<F32<512>, u64>("pixels", CollectionConfig::new(Metric::L2))
        .unwrap();
    let mut rng = StdRng::seed_from_u64(21);
    let mut model = BTreeMap::new();
    let mut batch = c.batch();
    for id in 0..4000u64 {
        let v: Vec<f32> = (0..512)
            .map(|_| rng.random_range(230u8..=255) as f32)
            .collect();
        batch.upsert(id, &v, &id).unwrap();
        model.insert(id, as_stored(&v, Element::F32));
    }
    c.commit(batch, Durability::Immediate).unwrap();
    let queries: Vec<Vec<f32>> = (0..8)
        .map(|_| {
            (0..512)
                .map(|_| rng.random_range(230u8..=255) as f32)
                .collect()
        })
        .collect();
    let refs: Vec<&[f32]> = queries.iter().map(|q| q.as_slice()).collect();
    let batched = c.search_batch(&refs, 20, &Filter::all()).unwrap();
    for (q, got_batched) in queries.iter().zip(&batched) {
        let want = brute_force(Metric::L2, &model, q, 20, |_| true);
        for got in [
            c.search(q, 20).unwrap(),
            got_batched.clone(),
            store.search_collections(&["pixels"], q, 20).unwrap(),
        ] {
            assert_eq!(got.len(), 20);
            for (hit, (id, distance)) in got.iter().zip(&want) {
                assert_eq!(hit.id, *id);
                assert_relative_eq!(hit.distance as f64, *distance, max_relative = 1e-6);
            }
        }
    }
}

/// A search racing `delete_collection` either answers or reports the collection as not found,
/// never as "not opened with its types".
#[test]
fn searches_racing_a_delete_report_the_collection_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("race.qvr")).unwrap();
    let mut not_found = 0;
    for round in 0..60 {
        let name = format!("c{round}");
        // Indexed collections load their exact-scan mirror on the first exact search: the
        // delete can land between that load and the search's read of it.
        let config = match round % 2 {
            0 => CollectionConfig::new(Metric::L2),
            _ => {
                CollectionConfig::new(Metric::L2).approximate(quiver::vector::AnnConfig::default())
            }
        };
        let c = store
            .create_collection::<F32<4>, u64>(&name, config)
            .unwrap();
        let mut batch = c.batch();
        for id in 0..500u64 {
            batch.upsert(id, &[id as f32, 1.0, 2.0, 3.0], &id).unwrap();
        }
        c.commit(batch, quiver::Durability::None).unwrap();
        std::thread::scope(|scope| {
            let searcher = scope.spawn(|| {
                let mut outcomes = Vec::new();
                for _ in 0..200 {
                    outcomes.push(c.search(&[3.0, 1.0, 2.0, 3.0], 5).map(|_| ()));
                    outcomes.push(
                        store
                            .search_collections(&[&name], &[3.0, 1.0, 2.0, 3.0], 5)
                            .map(|_| ()),
                    );
                }
                outcomes
            });
            store.delete_collection(&name).unwrap();
            for outcome in searcher.join().unwrap() {
                match outcome {
                    Ok(()) => {}
                    Err(quiver::Error::CollectionNotFound(n)) => {
                        assert_eq!(n, name);
                        not_found += 1;
                    }
                    Err(other) => panic!("a search racing the delete got {other:?}"),
                }
            }
        });
    }
    assert!(not_found > 0, "no search ever saw the deletion");
}
