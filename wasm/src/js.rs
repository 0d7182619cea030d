//! The JavaScript API (wasm32 only): [`QuiverStore`], for use inside a dedicated Web Worker.
//!
//! ```js
//! import init, { QuiverStore } from "./pkg/quiver_wasm.js";
//! await init();
//! const store = await QuiverStore.open("notes.qvr");
//! store.createCollection("notes", 384, { metric: "cosine" });
//! store.upsert("notes", 1, embedding, { title: "hello", tag: "inbox" });
//! const hits = store.search("notes", query, 5, { tag: "inbox" });
//! store.close();
//! ```
//!
//! Every write is one durable commit (acknowledged only once its log record is flushed to OPFS);
//! `upsertMany` puts many items in one commit, which is much faster than one `upsert` each.
//! Errors are thrown as JavaScript `Error`s whose `name` is quiver's error kind (`AlreadyOpen`,
//! `DimensionMismatch`, `CollectionNotFound`, ...) and whose `message` says what to do.

use crate::dynamic::{self, DynCollection};
use crate::records::{self, RecordFilter};
use crate::workload::{self, WorkloadSpec};
use quiver::vector::{Metric, Store};
use quiver::{Builder, Error};
use std::collections::HashMap;
use wasm_bindgen::prelude::*;

/// An open store in the browser's origin private file system.
#[wasm_bindgen]
pub struct QuiverStore {
    open: Option<OpenStore>,
}

struct OpenStore {
    store: Store,
    collections: HashMap<String, Box<dyn DynCollection>>,
}

/// Our error as a JavaScript `Error` named after its kind.
fn js_error(err: Error) -> JsValue {
    let debug = format!("{err:?}");
    let kind: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let error = js_sys::Error::new(&err.to_string());
    error.set_name(&kind);
    error.into()
}

fn invalid(message: String) -> JsValue {
    js_error(Error::InvalidConfig(message))
}

fn parse_metric(name: &str) -> Result<Metric, JsValue> {
    match name {
        "cosine" => Ok(Metric::Cosine),
        "dot" => Ok(Metric::Dot),
        "l2" => Ok(Metric::L2),
        other => Err(invalid(format!(
            "unknown metric {other:?}; use \"cosine\", \"dot\" or \"l2\""
        ))),
    }
}

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Cosine => "cosine",
        Metric::Dot => "dot",
        Metric::L2 => "l2",
    }
}

/// `JSON.stringify(value)` in compact form (`undefined` becomes `null`).
fn to_json(value: &JsValue) -> Result<String, JsValue> {
    if value.is_undefined() {
        return Ok("null".into());
    }
    let text = js_sys::JSON::stringify(value)?;
    text.as_string()
        .ok_or_else(|| invalid("the record cannot be turned into JSON".into()))
}

fn from_json(text: &str) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(text)
}

/// Reads an optional string option of an options object.
fn string_option(options: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    let value = js_sys::Reflect::get(options, &JsValue::from_str(name))?;
    if value.is_undefined() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| invalid(format!("option {name} must be a string")))
}

fn set(object: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(object, &JsValue::from_str(key), value).map(drop)
}

#[wasm_bindgen]
impl QuiverStore {
    /// Opens (creating if missing) the store `name` in this origin's private file system: two
    /// files, `name` and `name-wal`. Replays the log of an earlier session that did not close.
    /// Rejects with `AlreadyOpen` if another tab or worker has it open.
    pub async fn open(name: String) -> Result<QuiverStore, JsValue> {
        let db = quiver::io::opfs::open_database(&Builder::new(), &name)
            .await
            .map_err(js_error)?;
        let store = Store::builder().open_database(db).map_err(js_error)?;
        Ok(QuiverStore {
            open: Some(OpenStore {
                store,
                collections: HashMap::new(),
            }),
        })
    }

    /// Deletes the store `name` (both files). It must not be open.
    pub async fn destroy(name: String) -> Result<(), JsValue> {
        quiver::io::opfs::remove_database(&name)
            .await
            .map_err(js_error)
    }

    fn inner(&mut self) -> Result<&mut OpenStore, JsValue> {
        self.open.as_mut().ok_or_else(|| js_error(Error::Closed))
    }

    fn collection(&mut self, name: &str) -> Result<&dyn DynCollection, JsValue> {
        let open = self.inner()?;
        if !open.collections.contains_key(name) {
            let collection = dynamic::open(&open.store, name).map_err(js_error)?;
            open.collections.insert(name.to_owned(), collection);
        }
        // Inserted just above if it was missing.
        open.collections
            .get(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| js_error(Error::CollectionNotFound(name.to_owned())))
    }

    /// Creates a collection of `dim`-component vectors. `options`: `{ metric: "cosine" | "dot" |
    /// "l2" (default "cosine"), index: "exact" | "hnsw" (default "exact") }`.
    #[wasm_bindgen(js_name = createCollection)]
    pub fn create_collection(
        &mut self,
        name: String,
        dim: usize,
        options: JsValue,
    ) -> Result<(), JsValue> {
        let metric = parse_metric(&string_option(&options, "metric")?.unwrap_or("cosine".into()))?;
        let approximate = match string_option(&options, "index")?.as_deref() {
            None | Some("exact") => false,
            Some("hnsw") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "unknown index {other:?}; use \"exact\" or \"hnsw\""
                )));
            }
        };
        let open = self.inner()?;
        let collection =
            dynamic::create(&open.store, &name, dim, metric, approximate).map_err(js_error)?;
        open.collections.insert(name, collection);
        Ok(())
    }

    /// The collections: `[{ name, dim, metric, count }]`, sorted by name.
    #[wasm_bindgen(js_name = listCollections)]
    pub fn list_collections(&mut self) -> Result<js_sys::Array, JsValue> {
        let names = self.inner()?.store.list_collections();
        let list = js_sys::Array::new();
        for name in names {
            let info = self
                .inner()?
                .store
                .collection_info(&name)
                .map_err(js_error)?;
            let count = self.collection(&name)?.len();
            let entry = js_sys::Object::new();
            set(&entry, "name", &JsValue::from_str(&name))?;
            set(&entry, "dim", &JsValue::from(info.dim as u32))?;
            set(
                &entry,
                "metric",
                &JsValue::from_str(metric_name(info.metric)),
            )?;
            set(&entry, "count", &JsValue::from(count as u32))?;
            list.push(&entry);
        }
        Ok(list)
    }

    /// Deletes a collection and everything in it.
    #[wasm_bindgen(js_name = deleteCollection)]
    pub fn delete_collection(&mut self, name: String) -> Result<(), JsValue> {
        let open = self.inner()?;
        open.collections.remove(&name);
        open.store.delete_collection(&name).map_err(js_error)
    }

    /// Number of items in a collection.
    pub fn count(&mut self, collection: String) -> Result<usize, JsValue> {
        Ok(self.collection(&collection)?.len())
    }

    /// Inserts or replaces one item (a durable commit). `record` is any JSON-serializable value.
    pub fn upsert(
        &mut self,
        collection: String,
        id: f64,
        vector: Vec<f32>,
        record: JsValue,
    ) -> Result<(), JsValue> {
        let id = records::id_from_number(id).map_err(js_error)?;
        let record = to_json(&record)?;
        self.collection(&collection)?
            .upsert_many(&[id], &vector, &[record])
            .map_err(js_error)
    }

    /// Inserts or replaces many items in one durable commit: `ids[i]`, the `i`-th `dim`
    /// components of the flat `vectors`, and `records[i]`.
    #[wasm_bindgen(js_name = upsertMany)]
    pub fn upsert_many(
        &mut self,
        collection: String,
        ids: Vec<f64>,
        vectors: Vec<f32>,
        records: js_sys::Array,
    ) -> Result<(), JsValue> {
        let ids = ids
            .into_iter()
            .map(records::id_from_number)
            .collect::<quiver::Result<Vec<u64>>>()
            .map_err(js_error)?;
        let records = records
            .iter()
            .map(|r| to_json(&r))
            .collect::<Result<Vec<String>, JsValue>>()?;
        self.collection(&collection)?
            .upsert_many(&ids, &vectors, &records)
            .map_err(js_error)
    }

    /// Deletes one item (a durable commit); `false` if it was not there.
    pub fn delete(&mut self, collection: String, id: f64) -> Result<bool, JsValue> {
        let id = records::id_from_number(id).map_err(js_error)?;
        self.collection(&collection)?.delete(id).map_err(js_error)
    }

    /// `{ id, vector, record }` of one item, or `undefined`.
    pub fn get(&mut self, collection: String, id: f64) -> Result<JsValue, JsValue> {
        let id = records::id_from_number(id).map_err(js_error)?;
        let Some((vector, record)) = self.collection(&collection)?.get(id).map_err(js_error)?
        else {
            return Ok(JsValue::UNDEFINED);
        };
        let item = js_sys::Object::new();
        set(&item, "id", &JsValue::from(id as f64))?;
        set(
            &item,
            "vector",
            &js_sys::Float32Array::from(vector.as_slice()),
        )?;
        set(&item, "record", &from_json(&record)?)?;
        Ok(item.into())
    }

    /// The `k` nearest items: `[{ id, distance, record }]`, nearest first. `filter` (optional) is
    /// an object of record fields to a value or an array of accepted values.
    pub fn search(
        &mut self,
        collection: String,
        query: Vec<f32>,
        k: usize,
        filter: JsValue,
    ) -> Result<js_sys::Array, JsValue> {
        let filter = if filter.is_undefined() || filter.is_null() {
            None
        } else {
            Some(RecordFilter::parse(&to_json(&filter)?).map_err(js_error)?)
        };
        let found = self
            .collection(&collection)?
            .search(&query, k, filter.as_ref())
            .map_err(js_error)?;
        let list = js_sys::Array::new();
        for hit in found {
            let entry = js_sys::Object::new();
            set(&entry, "id", &JsValue::from(hit.id as f64))?;
            set(&entry, "distance", &JsValue::from(hit.distance))?;
            set(&entry, "record", &from_json(&hit.record)?)?;
            list.push(&entry);
        }
        Ok(list)
    }

    /// Writes everything to the main file and recycles the log (the store does this on its own
    /// as the log fills; call it before a long idle period to make reopening instant).
    pub fn checkpoint(&mut self) -> Result<(), JsValue> {
        self.inner()?
            .store
            .database()
            .checkpoint()
            .map_err(js_error)
    }

    /// Closes the store and releases its files. Later calls throw `Closed`.
    pub fn close(&mut self) -> Result<(), JsValue> {
        match self.open.take() {
            Some(open) => {
                drop(open.collections);
                open.store.close().map_err(js_error)
            }
            None => Ok(()),
        }
    }
}

/// Runs the fixed workload of [`workload`] in a fresh store `name` (deleted before and after)
/// and returns its report as a JSON string: the browser half of the browser-versus-native
/// comparison.
#[wasm_bindgen(js_name = runWorkload)]
pub async fn run_workload(
    name: String,
    items: usize,
    dim: usize,
    batch: usize,
    queries: usize,
) -> Result<String, JsValue> {
    quiver::io::opfs::remove_database(&name)
        .await
        .map_err(js_error)?;
    let db = quiver::io::opfs::open_database(&Builder::new(), &name)
        .await
        .map_err(js_error)?;
    let store = Store::builder().open_database(db).map_err(js_error)?;
    let spec = WorkloadSpec {
        items,
        dim,
        batch,
        queries,
        k: 10,
    };
    let report = workload::run(&store, &spec).map_err(js_error)?;
    store.close().map_err(js_error)?;
    quiver::io::opfs::remove_database(&name)
        .await
        .map_err(js_error)?;
    Ok(report.to_json())
}
