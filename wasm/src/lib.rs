//! # quiver-wasm
//!
//! quiver in the browser: the same engine (column families, the write-ahead log, recovery, the
//! vector layer) compiled to `wasm32-unknown-unknown`, storing its two files in the Origin
//! Private File System through `quiver::io::opfs`, with a small JavaScript API made by
//! `wasm-bindgen` ([`js::QuiverStore`], wasm32 only).
//!
//! The browser gives synchronous file access only to dedicated Web Workers, so the module runs
//! in one: the page posts messages to a worker that owns the store (see `examples/wasm/`).
//! Where the engine would use threads (the background checkpoint, the global index applier,
//! rayon's parallel scans) it runs the same work inline, because wasm32 has one thread.
//!
//! The modules other than `js` are plain Rust and are tested natively too: [`dynamic`]
//! (collections whose dimension is chosen at run time), [`records`] (JSON records and filters)
//! and [`workload`] (the fixed workload that compares browser and native speed).

#![warn(missing_docs)]

pub mod dynamic;
#[cfg(target_arch = "wasm32")]
pub mod js;
pub mod records;
pub mod workload;
