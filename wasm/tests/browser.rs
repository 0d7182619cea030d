//! Browser tests, run by `wasm-bindgen-test` in a dedicated Web Worker of headless Chromium
//! (`wasm/run-browser-tests.sh`): the store on OPFS through the same API the example uses.
#![cfg(target_arch = "wasm32")]

use quiver::io::opfs::{open_database, remove_database};
use quiver::vector::Store;
use quiver::{Builder, Error};
use quiver_wasm::dynamic::{self, DynCollection};
use quiver_wasm::js::QuiverStore;
use quiver_wasm::workload::{self, load_parity_data, parity_queries};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

async fn fresh(name: &str) -> Store {
    remove_database(name).await.expect("remove old files");
    let db = open_database(&Builder::new(), name).await.expect("open");
    Store::builder().open_database(db).expect("store")
}

/// Closes `store` (after its collection handle) and deletes its files, so the next run of the
/// suite starts clean.
async fn close_and_remove(collection: Box<dyn DynCollection>, store: Store, name: &str) {
    drop(collection);
    store.close().expect("close");
    remove_database(name).await.expect("remove files");
}

async fn reopen(name: &str) -> Store {
    let db = open_database(&Builder::new(), name).await.expect("reopen");
    Store::builder().open_database(db).expect("store")
}

#[wasm_bindgen_test]
async fn write_close_reopen_read_back() {
    let name = "test-reopen.qvr";
    let store = fresh(name).await;
    let docs = dynamic::create(&store, "docs", 8, quiver::vector::Metric::L2, false).unwrap();
    let vectors = workload::vectors(11, 300, 8);
    for start in (0..300).step_by(50) {
        let ids: Vec<u64> = (start..start + 50).collect();
        let records: Vec<String> = ids.iter().map(|&id| workload::record(id)).collect();
        docs.upsert_many(
            &ids,
            &vectors[start as usize * 8..(start as usize + 50) * 8],
            &records,
        )
        .unwrap();
    }
    assert!(docs.delete(7).unwrap());
    drop(docs);
    store.close().unwrap();

    let store = reopen(name).await;
    let docs = dynamic::open(&store, "docs").unwrap();
    assert_eq!(docs.len(), 299);
    assert_eq!(docs.get(7).unwrap(), None);
    for id in [0u64, 1, 150, 299] {
        let (vector, record) = docs.get(id).unwrap().expect("present after reopen");
        assert_eq!(
            vector,
            vectors[id as usize * 8..(id as usize + 1) * 8].to_vec()
        );
        assert_eq!(record, workload::record(id));
    }
    // A stored vector is its own nearest neighbour.
    let found = docs.search(&vectors[42 * 8..43 * 8], 1, None).unwrap();
    assert_eq!(found[0].id, 42);
    close_and_remove(docs, store, name).await;
}

/// The expected results, computed natively by `tests/parity.rs` (which checks them against the
/// native build on every `cargo test --workspace`).
const PARITY: &str = include_str!("fixtures/parity.json");

#[wasm_bindgen_test]
async fn search_equals_native_result() {
    let name = "test-parity.qvr";
    let store = fresh(name).await;
    let parity = load_parity_data(&store).unwrap();
    let expected: serde_json::Value = serde_json::from_str(PARITY).unwrap();
    let expected = expected["results"].as_array().unwrap();
    let queries = parity_queries();
    assert_eq!(expected.len(), queries.len() / 16);
    for (query, want) in queries.chunks_exact(16).zip(expected) {
        let found = parity.search(query, 10, None).unwrap();
        let want = want.as_array().unwrap();
        assert_eq!(found.len(), want.len());
        for (got, want) in found.iter().zip(want) {
            assert_eq!(got.id, want["id"].as_u64().unwrap());
            let distance = want["distance"].as_f64().unwrap() as f32;
            assert!(
                (got.distance - distance).abs() <= 1e-5,
                "id {}: {} in the browser, {} natively",
                got.id,
                got.distance,
                distance
            );
            assert_eq!(got.record, workload::record(got.id));
        }
    }
    close_and_remove(parity, store, name).await;
}

#[wasm_bindgen_test]
async fn crash_recovers_every_acknowledged_commit() {
    let name = "test-crash.qvr";
    let store = fresh(name).await;
    let docs = dynamic::create(&store, "docs", 4, quiver::vector::Metric::Dot, false).unwrap();
    let vectors = workload::vectors(5, 100, 4);
    // 100 durable commits of one item each: every one is acknowledged when upsert returns.
    for id in 0..100u64 {
        let i = id as usize;
        docs.upsert_many(&[id], &vectors[i * 4..(i + 1) * 4], &[workload::record(id)])
            .unwrap();
    }
    let replayed_before = store.database().wal_stats().unwrap().replayed_bytes;
    drop(docs);
    // The crash: no close, no checkpoint; the log is refused further writes and the handles are
    // released as a killed worker's would be.
    store.abandon();

    let store = reopen(name).await;
    let stats = store.database().wal_stats().unwrap();
    assert!(
        stats.replayed_bytes > replayed_before,
        "reopening replayed nothing: the crash was not a crash"
    );
    let docs = dynamic::open(&store, "docs").unwrap();
    assert_eq!(docs.len(), 100);
    for id in 0..100u64 {
        let i = id as usize;
        let (vector, record) = docs.get(id).unwrap().expect("acknowledged commit lost");
        assert_eq!(vector, vectors[i * 4..(i + 1) * 4].to_vec());
        assert_eq!(record, workload::record(id));
    }
    close_and_remove(docs, store, name).await;
}

#[wasm_bindgen_test]
async fn second_open_is_refused_with_already_open() {
    let name = "test-exclusive.qvr";
    let store = fresh(name).await;
    match open_database(&Builder::new(), name).await {
        Err(Error::AlreadyOpen(path)) => assert_eq!(path.to_str(), Some(name)),
        other => panic!("expected AlreadyOpen, got {other:?}"),
    }
    store.close().unwrap();
    // Once closed, it opens again.
    let store = reopen(name).await;
    store.close().unwrap();
    remove_database(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn javascript_api_round_trip() {
    let name = "test-js.qvr";
    QuiverStore::destroy(name.into()).await.unwrap();
    let mut store = QuiverStore::open(name.into()).await.unwrap();
    let options = js_sys::JSON::parse(r#"{"metric":"l2"}"#).unwrap();
    store.create_collection("notes".into(), 3, options).unwrap();
    let record = js_sys::JSON::parse(r#"{"tag":"a","n":1}"#).unwrap();
    store
        .upsert("notes".into(), 1.0, vec![1.0, 0.0, 0.0], record)
        .unwrap();
    let records = js_sys::Array::new();
    records.push(&js_sys::JSON::parse(r#"{"tag":"b","n":2}"#).unwrap());
    records.push(&js_sys::JSON::parse(r#"{"tag":"a","n":3}"#).unwrap());
    store
        .upsert_many(
            "notes".into(),
            vec![2.0, 3.0],
            vec![0.0, 1.0, 0.0, 0.9, 0.1, 0.0],
            records,
        )
        .unwrap();
    assert_eq!(store.count("notes".into()).unwrap(), 3);

    // A wrong dimension is a typed error, and nothing is written.
    let err = store
        .upsert("notes".into(), 9.0, vec![1.0, 2.0], JsValue::NULL)
        .unwrap_err();
    let err: js_sys::Error = err.into();
    assert_eq!(String::from(err.name()), "DimensionMismatch");
    assert_eq!(store.count("notes".into()).unwrap(), 3);
    // So is a bad id.
    assert!(store.delete("notes".into(), -1.0).is_err());

    let filter = js_sys::JSON::parse(r#"{"tag":"a"}"#).unwrap();
    let hits = store
        .search("notes".into(), vec![0.0, 1.0, 0.0], 3, filter)
        .unwrap();
    let ids: Vec<f64> = hits
        .iter()
        .map(|h| {
            js_sys::Reflect::get(&h, &"id".into())
                .unwrap()
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, vec![3.0, 1.0], "only tag a, nearest first");

    assert!(store.delete("notes".into(), 2.0).unwrap());
    assert!(!store.delete("notes".into(), 2.0).unwrap());
    store.checkpoint().unwrap();
    store.close().unwrap();
    assert!(
        store.count("notes".into()).is_err(),
        "closed store refuses calls"
    );

    let mut store = QuiverStore::open(name.into()).await.unwrap();
    let list = store.list_collections().unwrap();
    assert_eq!(list.length(), 1);
    let entry = list.get(0);
    let count = js_sys::Reflect::get(&entry, &"count".into()).unwrap();
    assert_eq!(count.as_f64(), Some(2.0));
    let item = store.get("notes".into(), 3.0).unwrap();
    let record = js_sys::Reflect::get(&item, &"record".into()).unwrap();
    assert_eq!(
        js_sys::JSON::stringify(&record)
            .unwrap()
            .as_string()
            .unwrap(),
        r#"{"tag":"a","n":3}"#
    );
    assert!(store.get("notes".into(), 2.0).unwrap().is_undefined());
    store.close().unwrap();
    QuiverStore::destroy(name.into()).await.unwrap();
}

#[wasm_bindgen_test]
async fn approximate_index_builds_and_reloads_on_one_thread() {
    let name = "test-hnsw.qvr";
    let store = fresh(name).await;
    let docs = dynamic::create(&store, "docs", 16, quiver::vector::Metric::Cosine, true).unwrap();
    let vectors = workload::vectors(21, 600, 16);
    let ids: Vec<u64> = (0..600).collect();
    let records: Vec<String> = ids.iter().map(|&id| workload::record(id)).collect();
    // One commit of 600 rows: the index's parallel build runs inline on wasm's one thread.
    docs.upsert_many(&ids, &vectors, &records).unwrap();
    let hits = (0..600)
        .filter(|&i| {
            docs.search(&vectors[i * 16..(i + 1) * 16], 1, None)
                .unwrap()[0]
                .id
                == i as u64
        })
        .count();
    assert!(
        hits >= 594,
        "only {hits} of 600 items found themselves through the index"
    );
    drop(docs);
    store.close().unwrap();

    let store = reopen(name).await;
    let docs = dynamic::open(&store, "docs").unwrap();
    assert_eq!(docs.len(), 600);
    let found = docs.search(&vectors[7 * 16..8 * 16], 3, None).unwrap();
    assert_eq!(found[0].id, 7);
    close_and_remove(docs, store, name).await;
}

/// The simd128 kernels (the ones searches use here) against an f64 reference, at every length
/// 0-99 for the row kernels (at byte offsets 0-3: stored values are unaligned) and every
/// dimension 0-40 for the block kernels.
#[wasm_bindgen_test]
fn simd128_kernels_equal_the_reference() {
    use quiver::vector::Element;
    use quiver::vector::distance::{
        block_dots_1, block_dots_4x4, dot_stored, kernel_name, l2_squared_stored,
        norm_squared_stored,
    };
    assert_eq!(kernel_name(), "simd128");
    let close = |got: f32, want: f64, n: usize| {
        let tolerance = 1e-5 * (n as f64 + 1.0) * want.abs().max(1.0);
        assert!(
            (got as f64 - want).abs() <= tolerance,
            "{got} vs {want} (n {n})"
        );
    };
    for n in 0..100usize {
        let query = workload::vectors(n as u64 + 100, 1, n);
        let values = workload::vectors(n as u64 + 200, 1, n);
        for offset in 0..4 {
            let mut bytes = vec![0u8; offset];
            bytes.extend(values.iter().flat_map(|x| x.to_le_bytes()));
            let stored = &bytes[offset..];
            let pairs = query
                .iter()
                .zip(&values)
                .map(|(&q, &v)| (q as f64, v as f64));
            let dot: f64 = pairs.clone().map(|(q, v)| q * v).sum();
            let l2: f64 = pairs.map(|(q, v)| (q - v) * (q - v)).sum();
            let norm: f64 = values.iter().map(|&v| v as f64 * v as f64).sum();
            close(dot_stored(&query, stored, Element::F32), dot, n);
            close(l2_squared_stored(&query, stored, Element::F32), l2, n);
            close(norm_squared_stored(stored, Element::F32), norm, n);
        }
    }
    for dim in 0..41usize {
        let queries: Vec<Vec<f32>> = (0..4).map(|q| workload::vectors(300 + q, 1, dim)).collect();
        let vectors: Vec<Vec<f32>> = (0..4)
            .map(|b| workload::vectors(400 + b, 16, dim))
            .collect();
        // Component-major blocks: component d of vector j at position d * 16 + j.
        let blocks: Vec<Vec<u8>> = vectors
            .iter()
            .map(|v| {
                (0..dim)
                    .flat_map(|d| (0..16).map(move |j| v[j * dim + d]))
                    .flat_map(|x| x.to_le_bytes())
                    .collect()
            })
            .collect();
        let reference = |q: usize, b: usize, j: usize| -> f64 {
            (0..dim)
                .map(|d| queries[q][d] as f64 * vectors[b][j * dim + d] as f64)
                .sum()
        };
        let one = block_dots_1(&queries[0], &blocks[0], Element::F32);
        for (j, &got) in one.iter().enumerate() {
            close(got, reference(0, 0, j), dim);
        }
        let q: [&[f32]; 4] = std::array::from_fn(|i| queries[i].as_slice());
        let b: [&[u8]; 4] = std::array::from_fn(|i| blocks[i].as_slice());
        let all = block_dots_4x4(q, b, Element::F32);
        for (qi, row) in all.iter().enumerate() {
            for (bi, dots) in row.iter().enumerate() {
                for (j, &got) in dots.iter().enumerate() {
                    close(got, reference(qi, bi, j), dim);
                }
            }
        }
    }
}
