//! The native half of the browser-versus-native comparison: runs the workload of
//! `quiver_wasm::workload` (10,000 vectors of 384 dimensions in durable commits of 500, then 200
//! exact searches one at a time) in a store on disk, prints its report and writes it to
//! `target/native-workload.json`, where `examples/wasm/e2e` finds it after its browser run.
//!
//! `cargo run --release -p quiver-wasm --example native_workload`

#[cfg(target_arch = "wasm32")]
fn main() {
    // The browser runs the workload through the example page (`runWorkload`), not this binary.
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use quiver::vector::Store;
    use quiver_wasm::workload::{WorkloadSpec, run};

    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("workload.qvr"))?;
    let spec = WorkloadSpec {
        items: 10_000,
        dim: 384,
        batch: 500,
        queries: 200,
        k: 10,
    };
    let report = run(&store, &spec)?;
    store.close()?;
    let json = report.to_json();
    println!("{json}");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&target)?;
    std::fs::write(target.join("native-workload.json"), json + "\n")?;
    Ok(())
}
