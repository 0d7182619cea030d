#!/usr/bin/env bash
# Builds the example's module: the quiver-wasm crate for wasm32 (release), then wasm-bindgen's
# ES module glue into examples/wasm/pkg/ (not committed). Needs wasm-bindgen-cli at the version
# of the wasm-bindgen crate in Cargo.lock
# (`cargo install --no-default-features wasm-bindgen-cli --version 0.2.130`).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --locked --release -p quiver-wasm --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir examples/wasm/pkg \
    target/wasm32-unknown-unknown/release/quiver_wasm.wasm
ls -l examples/wasm/pkg/quiver_wasm_bg.wasm
