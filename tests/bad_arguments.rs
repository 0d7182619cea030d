//! A caller's absurd arguments get a typed error or a bounded answer, on every search and write
//! entry point, for exact and indexed collections: never a panic, an abort or an allocation
//! that grows with `k` or `ef`.

use quiver::vector::{
    AnnConfig, Collection, CollectionConfig, F32, Filter, MAX_EF, MAX_NORM, Metric, Store,
};
use quiver::{Durability, Error};

const DIM: usize = 4;
const ITEMS: u64 = 200;
const HUGE_K: [usize; 3] = [usize::MAX, 1 << 40, ITEMS as usize + 1];

fn store_with_both(dir: &std::path::Path) -> (Store, Vec<Collection<F32<DIM>, u64>>) {
    let store = Store::builder()
        .global_index::<F32<DIM>>(Metric::L2)
        .open(dir.join("args.qvr"))
        .unwrap();
    let exact = store
        .create_collection::<F32<DIM>, u64>("exact", CollectionConfig::new(Metric::L2))
        .unwrap();
    let indexed = store
        .create_collection::<F32<DIM>, u64>(
            "indexed",
            CollectionConfig::new(Metric::L2).approximate(AnnConfig::default()),
        )
        .unwrap();
    for collection in [&exact, &indexed] {
        let mut batch = collection.batch();
        for id in 0..ITEMS {
            let v = [id as f32, (id % 7) as f32, 1.0, 0.5];
            batch.upsert(id, &v, &id).unwrap();
        }
        collection.commit(batch, Durability::Immediate).unwrap();
    }
    store.sync_global_index().unwrap();
    (store, vec![exact, indexed])
}

#[test]
fn huge_and_zero_k_are_bounded_by_the_collection() {
    let dir = tempfile::tempdir().unwrap();
    let (store, collections) = store_with_both(dir.path());
    let query = [3.0, 3.0, 1.0, 0.5];
    for c in &collections {
        let name = c.name().to_owned();
        assert!(c.search(&query, 0).unwrap().is_empty(), "{name}");
        for k in HUGE_K {
            let hits = c.search(&query, k).unwrap();
            assert!(hits.len() as u64 <= ITEMS, "{name}: {} hits", hits.len());
            assert_eq!(hits[0].id, 3, "{name}");
            assert_eq!(c.search_exact(&query, k).unwrap().len() as u64, ITEMS);
            let exact_hits = c.search_exact(&query, k).unwrap();
            assert!(
                exact_hits
                    .windows(2)
                    .all(|w| w[0].distance <= w[1].distance)
            );
            let batch = c
                .search_batch(&[&query, &query], k, &Filter::all())
                .unwrap();
            assert_eq!(batch.len(), 2);
            let odd = Filter::predicate(|id: u64| id % 2 == 1);
            let hits = c.search_filtered(&query, k, &odd).unwrap();
            assert!(hits.iter().all(|h| h.id % 2 == 1), "{name}");
            assert!(hits.len() as u64 <= ITEMS / 2);
        }
    }
    for k in HUGE_K {
        let all = k.min(2 * ITEMS as usize);
        let hits = store
            .search_collections(&["exact", "indexed"], &query, k)
            .unwrap();
        assert_eq!(hits.len(), all);
        assert_eq!(store.global_search(&query, k).unwrap().len(), all);
        assert!(
            store
                .global_search_approximate(&query, k, 64)
                .unwrap()
                .len()
                <= all
        );
        assert_eq!(store.global_search_exact(&query, k).unwrap().len(), all);
    }
    assert!(store.global_search(&query, 0).unwrap().is_empty());
}

#[test]
fn ef_is_bounded_and_past_the_maximum_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let (store, collections) = store_with_both(dir.path());
    let indexed = &collections[1];
    let query = [3.0, 3.0, 1.0, 0.5];
    for ef in [0, 1, MAX_EF] {
        for k in [0, 1, 10, usize::MAX] {
            let hits = indexed.search_approximate(&query, k, ef).unwrap();
            assert!(hits.len() <= k.min(ITEMS as usize), "k {k} ef {ef}");
        }
        store.global_search_approximate(&query, 5, ef).unwrap();
    }
    for ef in [MAX_EF + 1, 1 << 40, usize::MAX] {
        let err = indexed.search_approximate(&query, 10, ef).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert!(err.to_string().contains("65536"), "{err}");
        let err = store.global_search_approximate(&query, 10, ef).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    }
    let err = collections[0]
        .search_approximate(&query, 10, 10)
        .unwrap_err();
    assert!(matches!(err, Error::NoIndex(_)), "{err:?}");
}

#[test]
fn vectors_that_would_overflow_distances_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, collections) = store_with_both(dir.path());
    let huge = [f32::MAX, 1.0, 0.0, 0.0];
    let past_norm = [MAX_NORM, MAX_NORM, 0.0, 0.0];
    let at_bound = [MAX_NORM / 2.0, 0.0, 0.0, 0.0];
    for c in &collections {
        for bad in [huge, past_norm] {
            let err = c.upsert(1_000, &bad, &0).unwrap_err();
            assert!(matches!(err, Error::InvalidVector(_)), "{err:?}");
            assert!(err.to_string().contains("1e18"), "{err}");
            let err = c.search(&bad, 5).unwrap_err();
            assert!(matches!(err, Error::InvalidVector(_)), "{err:?}");
            let err = c.search_exact(&bad, 5).unwrap_err();
            assert!(matches!(err, Error::InvalidVector(_)), "{err:?}");
            let mut batch = c.batch();
            assert!(batch.upsert(1_001, &bad, &0).is_err());
            assert!(batch.is_empty(), "nothing was added");
        }
        assert!(c.get(1_000).unwrap().is_none(), "nothing was written");
        // Within the bound: stored, and every distance it takes part in is finite.
        c.upsert(1_002, &at_bound, &0).unwrap();
        for hit in c.search(&at_bound, 5).unwrap() {
            assert!(hit.distance.is_finite(), "{hit:?}");
        }
        for hit in c.search(&[0.0, 0.0, 0.0, 1.0], 300).unwrap() {
            assert!(hit.distance.is_finite(), "{hit:?}");
        }
    }
    for bad in [huge, past_norm] {
        assert!(matches!(
            store.global_search(&bad, 3),
            Err(Error::InvalidVector(_))
        ));
        assert!(matches!(
            store.search_collections(&["exact"], &bad, 3),
            Err(Error::InvalidVector(_))
        ));
    }
}

#[test]
fn ids_at_and_above_two_to_the_63_are_refused_by_numeric_entry_points() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, collections) = store_with_both(dir.path());
    for c in &collections {
        // A string-id item gets an id from 2^63 up: numeric calls must not reach it.
        c.upsert_str("named", &[1.0, 2.0, 3.0, 4.0], &7).unwrap();
        let named = c.id_of("named").unwrap().unwrap();
        assert!(named >= 1 << 63);
        for id in [named, 1 << 63, u64::MAX] {
            let err = c.delete(id).unwrap_err();
            assert!(matches!(err, Error::InvalidId(_)), "{err:?}");
            assert!(err.to_string().contains("delete_str"), "{err}");
            let err = c.upsert(id, &[1.0, 1.0, 1.0, 1.0], &0).unwrap_err();
            assert!(matches!(err, Error::InvalidId(_)), "{err:?}");
            let mut batch = c.batch();
            assert!(batch.delete(id).is_err());
            assert!(batch.is_empty());
        }
        assert_eq!(
            c.get_vector(named).unwrap(),
            Some(vec![1.0, 2.0, 3.0, 4.0]),
            "the string-id item is still there"
        );
        let mut batch = c.batch();
        batch.delete_str("named");
        c.commit(batch, Durability::Immediate).unwrap();
        assert_eq!(c.id_of("named").unwrap(), None);
    }
}
