#!/usr/bin/env bash
# Runs the browser tests (wasm/tests/browser.rs) with wasm-bindgen-test in a dedicated Web Worker
# of headless Chromium, driven by chromedriver. Needs Debian's chromium and chromium-driver and
# wasm-bindgen-cli at the wasm-bindgen crate's version (.ci/run installs all three).
set -euo pipefail
cd "$(dirname "$0")/.."

# A fresh profile every run, and no background network traffic: this machine has no internet,
# and Chromium's attempts to reach Google's hosts otherwise fail noisily at every start.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p target
cat > target/webdriver.json <<JSON
{
  "goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=$profile"]
  }
}
JSON
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/target/webdriver.json"
export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=120
# Only the browser suite: doctests and the native parity test run natively (cargo test --workspace).
cargo test --locked -p quiver-wasm --target wasm32-unknown-unknown --test browser "$@"
