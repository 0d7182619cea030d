//! Records as users write them (serde structs, dynamic documents), indexed fields and filter
//! expressions, checked against a brute-force evaluation of the same JSON filter over the same
//! documents: through exact and approximate search, count, after updates and deletes, and after
//! reopening.

use quiver::vector::{
    AnnConfig, Collection, CollectionConfig, Doc, Dynamic, Expr, F32, FieldKind, Filter, Metric,
    Store, field, ids,
};
use quiver::{Durability, Error};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const DIM: usize = 8;
type Items = Collection<F32<DIM>, Dynamic>;

fn config() -> CollectionConfig {
    CollectionConfig::new(Metric::L2)
        .field("tag", FieldKind::Keyword)
        .field("ts", FieldKind::Timestamp)
        .field("price", FieldKind::Float)
        .field("ok", FieldKind::Bool)
        .field("tags", FieldKind::Keywords)
}

const TAGS: [&str; 4] = ["a", "b", "c", "d"];
const LIST: [&str; 4] = ["x", "y", "z", "w"];

fn random_record(rng: &mut StdRng) -> Value {
    let mut record = serde_json::Map::new();
    if rng.random_bool(0.9) {
        record.insert("tag".into(), json!(TAGS[rng.random_range(0..4)]));
    }
    if rng.random_bool(0.9) {
        record.insert("ts".into(), json!(rng.random_range(-50i64..50)));
    }
    match rng.random_range(0..3) {
        0 => {}
        1 => {
            record.insert("price".into(), json!(rng.random_range(0..10)));
        }
        _ => {
            record.insert("price".into(), json!(rng.random_range(0.0f64..10.0)));
        }
    }
    if rng.random_bool(0.8) {
        record.insert("ok".into(), json!(rng.random_bool(0.5)));
    }
    if rng.random_bool(0.7) {
        let n = rng.random_range(0..4);
        let tags: Vec<&str> = (0..n).map(|_| LIST[rng.random_range(0..4)]).collect();
        record.insert("tags".into(), json!(tags));
    }
    if rng.random_bool(0.5) {
        record.insert("text".into(), json!("some words that are not indexed"));
    }
    Value::Object(record)
}

fn random_vector(rng: &mut StdRng) -> Vec<f32> {
    (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn random_value(rng: &mut StdRng, name: &str) -> Value {
    match name {
        "tag" => json!(TAGS[rng.random_range(0..4)]),
        "tags" => json!(LIST[rng.random_range(0..4)]),
        "ts" => json!(rng.random_range(-55i64..55)),
        "price" if rng.random_bool(0.5) => json!(rng.random_range(0..11)),
        "price" => json!(rng.random_range(-0.5f64..10.5)),
        _ => json!(rng.random_bool(0.5)),
    }
}

/// A random filter in the JSON form, over every field kind and operator.
fn random_filter(rng: &mut StdRng, depth: u32, max_id: u64) -> Value {
    if depth > 0 && rng.random_bool(0.4) {
        let n = rng.random_range(1..4);
        let parts: Vec<Value> = (0..n)
            .map(|_| random_filter(rng, depth - 1, max_id))
            .collect();
        return match rng.random_range(0..3) {
            0 => json!({"$and": parts}),
            1 => json!({"$or": parts}),
            _ => json!({"$not": parts[0]}),
        };
    }
    let names = ["tag", "ts", "price", "ok", "tags"];
    let name = names[rng.random_range(0..names.len())];
    let ordered = matches!(name, "ts" | "price");
    let list = |rng: &mut StdRng| -> Vec<Value> {
        (0..rng.random_range(0..4))
            .map(|_| random_value(rng, name))
            .collect()
    };
    match rng.random_range(0..9) {
        0 => json!({ name: random_value(rng, name) }),
        1 => json!({ name: {"$ne": random_value(rng, name)} }),
        2 => json!({ name: {"$in": list(rng)} }),
        3 => json!({ name: {"$nin": list(rng)} }),
        4 => json!({ name: {"$exists": rng.random_bool(0.5)} }),
        5 | 6 if ordered => {
            let op = ["$gt", "$gte", "$lt", "$lte"][rng.random_range(0..4)];
            json!({ name: { op: random_value(rng, name) } })
        }
        7 => {
            let ids: Vec<u64> = (0..rng.random_range(0..30))
                .map(|_| rng.random_range(0..max_id + 10))
                .collect();
            match rng.random_bool(0.5) {
                true => json!({"id": {"$in": ids}}),
                false => json!({"id": {"$nin": ids}}),
            }
        }
        _ => json!({ name: random_value(rng, name) }),
    }
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// Whether `record`'s `name` equals `value` (a list: contains it).
fn equals(record: &Value, name: &str, value: &Value) -> bool {
    match record.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::Array(items)) => items.contains(value),
        Some(held) => match (number(held), number(value)) {
            (Some(a), Some(b)) => a == b,
            _ => held == value,
        },
    }
}

/// The brute-force meaning of a JSON filter (MongoDB's semantics, as documented on `Expr`).
fn matches(filter: &Value, id: u64, record: &Value) -> bool {
    let Value::Object(entries) = filter else {
        panic!("filters are objects")
    };
    entries.iter().all(|(key, cond)| match key.as_str() {
        "$and" => cond
            .as_array()
            .unwrap()
            .iter()
            .all(|f| matches(f, id, record)),
        "$or" => cond
            .as_array()
            .unwrap()
            .iter()
            .any(|f| matches(f, id, record)),
        "$not" => !matches(cond, id, record),
        "id" => {
            let (op, list) = cond.as_object().unwrap().iter().next().unwrap();
            let listed = list
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v.as_u64() == Some(id));
            if op == "$in" { listed } else { !listed }
        }
        name => match cond {
            Value::Object(ops) => ops.iter().all(|(op, operand)| {
                // Null and an empty list count as absent.
                let held = record
                    .get(name)
                    .filter(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
                let compare = |f: fn(f64, f64) -> bool| {
                    held.and_then(number)
                        .zip(number(operand))
                        .is_some_and(|(a, b)| f(a, b))
                };
                match op.as_str() {
                    "$ne" => !equals(record, name, operand),
                    "$in" => operand
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|v| equals(record, name, v)),
                    "$nin" => !operand
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|v| equals(record, name, v)),
                    "$exists" => held.is_some() == operand.as_bool().unwrap(),
                    "$gt" => compare(|a, b| a > b),
                    "$gte" => compare(|a, b| a >= b),
                    "$lt" => compare(|a, b| a < b),
                    "$lte" => compare(|a, b| a <= b),
                    other => panic!("unexpected operator {other}"),
                }
            }),
            value => equals(record, name, value),
        },
    })
}

/// Ingests `n` random items in batches, returning what was written.
fn ingest(items: &Items, rng: &mut StdRng, n: u64) -> BTreeMap<u64, (Vec<f32>, Value)> {
    let mut written = BTreeMap::new();
    let mut batch = items.batch();
    for id in 0..n {
        let (vector, record) = (random_vector(rng), random_record(rng));
        batch.upsert(id, &vector, &record).unwrap();
        written.insert(id, (vector, record));
        if batch.len() == 500 {
            items
                .commit(
                    std::mem::replace(&mut batch, items.batch()),
                    Durability::None,
                )
                .unwrap();
        }
    }
    items.commit(batch, Durability::Immediate).unwrap();
    written
}

/// Checks `rounds` random filters: count and exact search equal brute force; an approximate
/// search returns only matching items, and `k` of them whenever `k` match.
fn check_filters(
    items: &Items,
    written: &BTreeMap<u64, (Vec<f32>, Value)>,
    rng: &mut StdRng,
    rounds: usize,
    approximate: bool,
) -> BTreeMap<&'static str, usize> {
    let mut routes = BTreeMap::new();
    let max_id = written.keys().max().copied().unwrap_or(0);
    for round in 0..rounds {
        let filter = random_filter(rng, 3, max_id);
        let expr = Expr::from_json(&filter).unwrap();
        let expected: Vec<u64> = written
            .iter()
            .filter(|(id, (_, record))| matches(&filter, **id, record))
            .map(|(id, _)| *id)
            .collect();
        let context = format!("round {round}: {filter}");
        assert_eq!(
            items.count(&expr).unwrap(),
            expected.len() as u64,
            "count, {context}"
        );
        // Scan in pages of a random size: every matching id once, in order.
        let limit = rng.random_range(1..400);
        let (mut scanned, mut after) = (Vec::new(), None);
        loop {
            let page = items.scan(&expr, after, limit).unwrap();
            assert!(page.items.len() <= limit);
            for item in &page.items {
                assert_eq!(
                    item.record.value().unwrap(),
                    written[&item.id].1,
                    "{context}"
                );
            }
            scanned.extend(page.items.iter().map(|item| item.id));
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        assert_eq!(scanned, expected, "scan, {context}");
        let query = random_vector(rng);
        let plan = items.query(&query).filter(expr.clone()).explain().unwrap();
        *routes.entry(plan.route.name()).or_insert(0) += 1;
        assert_eq!(plan.allowed, Some(expected.len()), "{context}");
        // The builder and the convenience answer alike.
        let built = items.query(&query).k(5).filter(expr.clone()).run().unwrap();
        let convenience = items
            .search_filtered(&query, 5, &Filter::expr(expr.clone()))
            .unwrap();
        assert_eq!(built, convenience, "{context}");
        let filter = Filter::expr(expr);
        if approximate {
            let k = 10;
            let hits = items.search_filtered(&query, k, &filter).unwrap();
            assert_eq!(hits.len(), k.min(expected.len()), "{context}");
            for hit in &hits {
                assert!(
                    expected.binary_search(&hit.id).is_ok(),
                    "{} does not match, {context}",
                    hit.id
                );
            }
        } else {
            let hits = items
                .search_filtered(&query, written.len(), &filter)
                .unwrap();
            let mut found: Vec<u64> = hits.iter().map(|h| h.id).collect();
            found.sort_unstable();
            assert_eq!(found, expected, "{context}");
        }
    }
    routes
}

#[test]
fn filter_expressions_equal_brute_force_through_updates_deletes_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.qvr");
    let mut rng = StdRng::seed_from_u64(19);
    let mut written = {
        let store = Store::open(&path).unwrap();
        let items: Items = store.create_collection("items", config()).unwrap();
        let written = ingest(&items, &mut rng, 1_500);
        check_filters(&items, &written, &mut rng, 150, false);
        written
    };
    let store = Store::open(&path).unwrap();
    let items: Items = store.collection("items").unwrap();
    // Loaded back from the postings table.
    check_filters(&items, &written, &mut rng, 100, false);
    // Re-upserts change fields (old postings must go), deletes remove them.
    let mut batch = items.batch();
    for _ in 0..300 {
        let id = rng.random_range(0..1_600u64);
        if rng.random_bool(0.3) {
            batch.delete(id).unwrap();
            written.remove(&id);
        } else {
            let (vector, record) = (random_vector(&mut rng), random_record(&mut rng));
            batch.upsert(id, &vector, &record).unwrap();
            written.insert(id, (vector, record));
        }
    }
    items.commit(batch, Durability::Immediate).unwrap();
    check_filters(&items, &written, &mut rng, 100, false);
    drop(items);
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    let items: Items = store.collection("items").unwrap();
    check_filters(&items, &written, &mut rng, 100, false);
    // Deletes by filter remove exactly the matching items, atomically.
    for _ in 0..5 {
        let filter = random_filter(&mut rng, 2, 1_600);
        let expr = Expr::from_json(&filter).unwrap();
        let doomed: Vec<u64> = written
            .iter()
            .filter(|(id, (_, record))| matches(&filter, **id, record))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(
            items.delete_where(&expr).unwrap(),
            doomed.len() as u64,
            "{filter}"
        );
        for id in doomed {
            written.remove(&id);
            assert!(items.get(id).unwrap().is_none());
        }
        assert_eq!(items.len(), written.len());
    }
    // Record updates and patches: vectors stay, postings follow.
    for _ in 0..50 {
        let id = rng.random_range(0..1_600u64);
        let record = random_record(&mut rng);
        let exists = written.contains_key(&id);
        assert_eq!(items.update_record(id, &record).unwrap(), exists);
        if let Some(entry) = written.get_mut(&id) {
            entry.1 = record;
        }
        let id = rng.random_range(0..1_600u64);
        let patch = json!({"tag": TAGS[rng.random_range(0..4)], "ts": null});
        assert_eq!(items.patch(id, &patch).unwrap(), written.contains_key(&id));
        if let Some(entry) = written.get_mut(&id) {
            let record = entry.1.as_object_mut().unwrap();
            record.insert("tag".into(), patch["tag"].clone());
            record.remove("ts");
        }
    }
    for (id, (vector, record)) in &written {
        let (stored, found) = items.get(*id).unwrap().unwrap();
        assert_eq!(&stored, vector);
        assert_eq!(&found.value().unwrap(), record);
    }
    check_filters(&items, &written, &mut rng, 60, false);
    drop(items);
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    let items: Items = store.collection("items").unwrap();
    check_filters(&items, &written, &mut rng, 60, false);
    let stats = items.field_index_stats().unwrap();
    assert_eq!(stats.items, written.len() as u64);
    assert_eq!(stats.fields, 5);
    assert!(stats.memory_bytes > 0);
}

#[test]
fn approximate_searches_return_only_matching_items_and_k_whenever_k_match() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("ann.qvr")).unwrap();
    let items: Items = store
        .create_collection("items", config().approximate(AnnConfig::default()))
        .unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    // Enough items that a share below 40% still allows the 2,000 a walk needs.
    let mut written = ingest(&items, &mut rng, 6_000);
    let routes = check_filters(&items, &written, &mut rng, 150, true);
    // Random filters reach every filtered route of an indexed collection.
    for route in ["filtered-walk", "two-hop-walk", "index-scan"] {
        assert!(
            routes.contains_key(route),
            "{route} never taken: {routes:?}"
        );
    }
    // Record updates keep every graph node; the filters follow the new records.
    let nodes = items.index_stats().unwrap().nodes;
    let mut batch = items.batch();
    for id in (0..6_000u64).step_by(3) {
        let record = random_record(&mut rng);
        batch.update_record(id, &record).unwrap();
        written.get_mut(&id).unwrap().1 = record;
    }
    items.commit(batch, Durability::Immediate).unwrap();
    assert_eq!(items.index_stats().unwrap().nodes, nodes);
    check_filters(&items, &written, &mut rng, 60, true);
}

#[test]
fn record_updates_reach_the_index_in_memory_records() {
    // Fixed-width records are kept in the index for predicate filters: updates must reach them.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("u.qvr")).unwrap();
    let config = CollectionConfig::new(Metric::L2).approximate(AnnConfig::default());
    let items = store
        .create_collection::<F32<2>, u32>("items", config)
        .unwrap();
    let mut batch = items.batch();
    for id in 0..500u64 {
        batch
            .upsert(id, &[id as f32, 1.0], &(id as u32 % 5))
            .unwrap();
    }
    items.commit(batch, Durability::Immediate).unwrap();
    assert!(items.update_record(7, &99).unwrap());
    let hits = items
        .search_filtered(
            &[0.0, 1.0],
            5,
            &Filter::predicate(|bucket: u32| bucket == 99),
        )
        .unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![7]);
    assert_eq!(items.index_stats().unwrap().nodes, 500);
    // A patch needs named fields.
    assert!(matches!(
        items.patch(7, &json!({"a": 1})),
        Err(Error::InvalidRecord(_))
    ));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct ChunkV1 {
    doc: String,
    ts: i64,
    text: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct ChunkV2 {
    doc: String,
    ts: i64,
    text: String,
    lang: Option<String>,
    #[serde(default)]
    stars: u32,
}

#[test]
fn struct_records_evolve_and_read_as_dynamic_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chunks.qvr");
    let config = CollectionConfig::new(Metric::Cosine)
        .field("doc", FieldKind::Keyword)
        .field("ts", FieldKind::Timestamp);
    {
        let store = Store::open(&path).unwrap();
        let chunks = store
            .create_collection::<F32<2>, Doc<ChunkV1>>("chunks", config.clone())
            .unwrap();
        for id in 0..10u64 {
            let chunk = ChunkV1 {
                doc: format!("doc-{}", id / 4),
                ts: id as i64,
                text: format!("chunk {id}"),
            };
            chunks.upsert(id, &[1.0, id as f32], &chunk).unwrap();
        }
        store.close().unwrap();
    }
    let store = Store::open(&path).unwrap();
    // A newer version of the struct with an optional and a defaulted field reads old rows.
    let chunks = store.collection::<F32<2>, Doc<ChunkV2>>("chunks").unwrap();
    let old = chunks.get_record(3).unwrap().unwrap().value().unwrap();
    assert_eq!(
        old,
        ChunkV2 {
            doc: "doc-0".into(),
            ts: 3,
            text: "chunk 3".into(),
            lang: None,
            stars: 0
        }
    );
    let newer = ChunkV2 {
        lang: Some("en".into()),
        stars: 4,
        ..old
    };
    chunks.upsert(3, &[1.0, 3.0], &newer).unwrap();
    assert_eq!(
        chunks.get_record(3).unwrap().unwrap().value().unwrap(),
        newer
    );
    // The same rows as dynamic documents.
    let dynamic = store.collection::<F32<2>, Dynamic>("chunks").unwrap();
    let record = dynamic.get_record(3).unwrap().unwrap().value().unwrap();
    assert_eq!(record["lang"], "en");
    assert_eq!(record["stars"], 4);
    // A filter over the struct's fields.
    let hits = chunks
        .search_filtered(
            &[1.0, 0.0],
            10,
            &Filter::expr(field("doc").eq("doc-1") & field("ts").ge(5)),
        )
        .unwrap();
    let mut found: Vec<u64> = hits.iter().map(|h| h.id).collect();
    found.sort_unstable();
    assert_eq!(found, vec![5, 6, 7]);
    // Opening with other indexed fields than stored is a mismatch, not a silent change.
    assert!(matches!(
        store.collection_or_create::<F32<2>, Doc<ChunkV2>>(
            "chunks",
            CollectionConfig::new(Metric::Cosine).field("doc", FieldKind::Keyword)
        ),
        Err(Error::ConfigMismatch { .. })
    ));
}

/// Fields need named record fields: a tuple collection cannot add one.
fn plain_add_field(store: &Store) -> quiver::Result<()> {
    let tuples = store.collection_or_create::<F32<1>, (u32, u32)>(
        "tuples-later",
        CollectionConfig::new(Metric::L2),
    )?;
    tuples.add_field("a", FieldKind::Int)
}

#[derive(Serialize, Deserialize)]
struct Tagged {
    tag: u32,
}

#[test]
fn bad_records_filters_and_declarations_are_typed_errors_that_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bad.qvr")).unwrap();
    // Fields need self-describing records, and `id` is reserved.
    assert!(matches!(
        store.create_collection::<F32<1>, (u32, &str)>("tuples", config()),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        store.create_collection::<F32<1>, Dynamic>(
            "ids",
            CollectionConfig::new(Metric::L2).field("id", FieldKind::Int)
        ),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        store.create_collection::<F32<1>, Dynamic>(
            "twice",
            CollectionConfig::new(Metric::L2)
                .field("a", FieldKind::Int)
                .field("a", FieldKind::Bool)
        ),
        Err(Error::InvalidConfig(_))
    ));
    assert!(store.list_collections().is_empty());
    let items: Items = store.create_collection("items", config()).unwrap();
    items
        .upsert(1, &[0.5; DIM], &json!({"tag": "a", "ts": 3}))
        .unwrap();
    // A value of the wrong kind: refused by the batch, and by a direct upsert; nothing written.
    let mut batch = items.batch();
    let err = batch
        .upsert(2, &[0.5; DIM], &json!({"tag": "a", "ts": "yesterday"}))
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRecord(m) if m.contains("'ts'")),
        "{err}"
    );
    assert!(batch.is_empty());
    assert!(
        items
            .upsert(1, &[0.5; DIM], &json!({"tags": [1, 2]}))
            .is_err()
    );
    assert!(
        items
            .upsert(1, &[0.5; DIM], &json!(["not", "a", "map"]))
            .is_err()
    );
    // A patch whose result does not fit: refused at commit, nothing written.
    assert!(matches!(
        items.patch(1, &json!({"ts": "later"})),
        Err(Error::InvalidRecord(_))
    ));
    assert!(matches!(
        items.patch(1, &json!([1])),
        Err(Error::InvalidRecord(_))
    ));
    assert_eq!(
        items.get_record(1).unwrap().unwrap().value().unwrap(),
        json!({"tag": "a", "ts": 3})
    );
    assert_eq!(items.len(), 1);
    assert_eq!(items.count(&field("tag").eq("a")).unwrap(), 1);
    // A struct whose field does not fit: the same.
    let typed = store.collection::<F32<DIM>, Doc<Tagged>>("items").unwrap();
    assert!(matches!(
        typed.upsert(5, &[0.5; DIM], &Tagged { tag: 3 }),
        Err(Error::InvalidRecord(_))
    ));
    // A stored row that does not decode as the struct is an error, not a panic.
    assert!(matches!(
        typed.get_record(1).unwrap().unwrap().value(),
        Err(Error::InvalidRecord(_))
    ));
    // Filters: unknown fields, wrong kinds, malformed JSON.
    for expr in [
        field("nope").eq(1),
        field("tag").gt("a"),
        field("ts").eq("soon"),
        field("ok").eq(1),
        field("tags").lt(3),
    ] {
        let err = items
            .search_filtered(&[0.5; DIM], 3, &Filter::expr(expr.clone()))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidFilter(_)), "{expr:?}: {err}");
        assert!(matches!(items.count(&expr), Err(Error::InvalidFilter(_))));
    }
    assert!(matches!(
        Expr::from_json_str(r#"{"tag": {"$regex": "a.*"}}"#),
        Err(Error::InvalidFilter(_))
    ));
    // A field added later is built from the rows; one row of the wrong kind refuses it all.
    items
        .upsert(2, &[0.5; DIM], &json!({"tag": "b", "stars": 4}))
        .unwrap();
    items
        .upsert(3, &[0.5; DIM], &json!({"tag": "b", "stars": "many"}))
        .unwrap();
    let err = items.add_field("stars", FieldKind::Int).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRecord(m) if m.contains("item 3")),
        "{err}"
    );
    assert!(matches!(
        items.count(&field("stars").eq(4)),
        Err(Error::InvalidFilter(_))
    ));
    items.delete(3).unwrap();
    items.add_field("stars", FieldKind::Int).unwrap();
    assert_eq!(items.count(&field("stars").eq(4)).unwrap(), 1);
    assert!(matches!(
        items.add_field("stars", FieldKind::Int),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        items.upsert(3, &[0.5; DIM], &json!({"stars": "many"})),
        Err(Error::InvalidRecord(_))
    ));
    items.delete(2).unwrap();
    assert!(matches!(
        plain_add_field(&store),
        Err(Error::InvalidConfig(_))
    ));
    // A deny-list of ids that do not exist denies nothing; an allow-list of them allows nothing.
    assert_eq!(items.count(&!ids(&[77, 78])).unwrap(), 1);
    assert_eq!(items.count(&ids(&[77, 78])).unwrap(), 0);
    // A collection without fields still takes id expressions.
    let plain = store
        .create_collection::<F32<1>, u64>("plain", CollectionConfig::new(Metric::L2))
        .unwrap();
    for id in 0..5u64 {
        plain.upsert(id, &[id as f32], &id).unwrap();
    }
    let hits = plain
        .search_filtered(&[0.0], 5, &Filter::expr(!ids(&[0, 1])))
        .unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert!(matches!(
        plain.count(&field("tag").eq("a")),
        Err(Error::InvalidFilter(m)) if m.contains("no indexed fields")
    ));
}

#[test]
fn store_queries_filter_each_collection_and_the_global_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .global_index::<F32<DIM>>(Metric::L2)
        .open(dir.path().join("many.qvr"))
        .unwrap();
    let names = ["a", "b", "c"];
    let mut rng = StdRng::seed_from_u64(5);
    let mut all: Vec<(&str, u64, Vec<f32>, Value)> = Vec::new();
    for name in names {
        let items: Items = store.create_collection(name, config()).unwrap();
        let written = ingest(&items, &mut rng, 300);
        all.extend(written.into_iter().map(|(id, (v, r))| (name, id, v, r)));
    }
    store.sync_global_index().unwrap();
    let distance =
        |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum() };
    for round in 0..40 {
        let filter = random_filter(&mut rng, 2, 300);
        let expr = Expr::from_json(&filter).unwrap();
        let query = random_vector(&mut rng);
        let only: &[&str] = if round % 2 == 0 { &["a", "c"] } else { &names };
        let mut expected: Vec<(f32, &str, u64)> = all
            .iter()
            .filter(|(name, id, _, record)| only.contains(name) && matches(&filter, *id, record))
            .map(|(name, id, v, _)| (distance(&query, v), *name, *id))
            .collect();
        expected.sort_by(|x, y| x.0.total_cmp(&y.0));
        let expected: Vec<(&str, u64)> = expected.iter().take(10).map(|e| (e.1, e.2)).collect();
        let key = |hits: Vec<quiver::vector::Hit>| -> Vec<(String, u64)> {
            hits.into_iter()
                .map(|h| (h.collection.to_string(), h.id))
                .collect()
        };
        let want: Vec<(String, u64)> = expected
            .iter()
            .map(|(n, id)| (n.to_string(), *id))
            .collect();
        let merged = store
            .query(&query)
            .collections(only)
            .filter(expr.clone())
            .run()
            .unwrap();
        assert_eq!(key(merged), want, "collections, {filter}");
        let global = store
            .query(&query)
            .global()
            .collections(only)
            .filter(expr.clone())
            .run()
            .unwrap();
        assert_eq!(key(global), want, "global, {filter}");
    }
    // A field not indexed in every collection searched is an error, not a silent skip.
    let other = store
        .create_collection::<F32<DIM>, Dynamic>("plain", CollectionConfig::new(Metric::L2))
        .unwrap();
    other.upsert(1, &[0.5; DIM], &json!({"tag": "a"})).unwrap();
    assert!(matches!(
        store
            .query(&[0.5; DIM])
            .collections(&["a", "plain"])
            .filter(field("tag").eq("a"))
            .run(),
        Err(Error::InvalidFilter(_))
    ));
}
