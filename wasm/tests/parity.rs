//! The native half of the browser parity check: the parity data searched natively must give
//! the results in `fixtures/parity.json`, which the browser test (`browser.rs`) compares its own
//! results with. `QUIVER_BLESS=1 cargo test -p quiver-wasm --test parity` rewrites the fixture.
#![cfg(not(target_arch = "wasm32"))]

use quiver::vector::Store;
use quiver_wasm::workload::{self, load_parity_data, parity_queries};

#[test]
fn native_search_matches_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("parity.qvr")).unwrap();
    let parity = load_parity_data(&store).unwrap();
    let results: Vec<serde_json::Value> = parity_queries()
        .chunks_exact(16)
        .map(|query| {
            let found = parity.search(query, 10, None).unwrap();
            assert_eq!(found.len(), 10);
            for f in &found {
                assert_eq!(f.record, workload::record(f.id));
            }
            found
                .iter()
                .map(|f| serde_json::json!({"id": f.id, "distance": f.distance}))
                .collect()
        })
        .collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity.json");
    if std::env::var_os("QUIVER_BLESS").is_some() {
        let text =
            serde_json::to_string_pretty(&serde_json::json!({ "results": results })).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
    }
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let expected = fixture["results"].as_array().unwrap();
    assert_eq!(expected.len(), results.len());
    for (got, want) in results.iter().zip(expected) {
        let (got, want) = (got.as_array().unwrap(), want.as_array().unwrap());
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["id"], w["id"]);
            let (g, w) = (
                g["distance"].as_f64().unwrap(),
                w["distance"].as_f64().unwrap(),
            );
            assert!(
                (g - w).abs() <= 1e-5,
                "distance {g} natively, {w} in the fixture"
            );
        }
    }
}
