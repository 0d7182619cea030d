//! Property tests of the segmented backend against a flat reference model.
//!
//! Two column families share a container with tiny segments, so their segments interleave and
//! reads and writes cross segment boundaries; a third is created and deleted to put space on the
//! free list for reuse. Every operation is mirrored on a `Vec<u8>` per column family: what
//! `StorageBackend` promises (exact lengths, zero-filled growth, read-your-writes) must match it,
//! including after a sync and reopen of the container.

use crate::cf::backend::CfBackend;
use crate::cf::container::{Container, ContainerConfig};
use crate::testing::SimDisk;
use proptest::prelude::*;
use redb::StorageBackend;
use std::sync::Arc;

const MAX_LEN: u64 = 160 * 1024;

#[derive(Debug, Clone)]
enum Step {
    SetLen {
        cf: usize,
        len: u64,
    },
    Write {
        cf: usize,
        offset: u64,
        len: usize,
        byte: u8,
    },
    Read {
        cf: usize,
        offset: u64,
        len: usize,
    },
    Sync {
        cf: usize,
    },
    Reopen,
    ChurnThirdFamily,
}

fn step() -> impl Strategy<Value = Step> {
    let cf = 0..2usize;
    prop_oneof![
        2 => (cf.clone(), 0..MAX_LEN).prop_map(|(cf, len)| Step::SetLen { cf, len }),
        6 => (cf.clone(), 0..MAX_LEN, 1..20_000usize, any::<u8>())
            .prop_map(|(cf, offset, len, byte)| Step::Write { cf, offset, len, byte }),
        4 => (cf.clone(), 0..MAX_LEN, 1..20_000usize)
            .prop_map(|(cf, offset, len)| Step::Read { cf, offset, len }),
        1 => cf.prop_map(|cf| Step::Sync { cf }),
        1 => Just(Step::Reopen),
        1 => Just(Step::ChurnThirdFamily),
    ]
}

fn config() -> ContainerConfig {
    ContainerConfig {
        initial_segment: 4096,
        max_growth: 16384,
    }
}

fn create(container: &Arc<Container>, name: &str) -> CfBackend {
    let cf = container.begin_create(name).expect("create");
    container.mark_live(&cf).expect("mark live");
    CfBackend {
        cf,
        container: container.clone(),
    }
}

fn open_all(disk: &SimDisk) -> (Arc<Container>, Vec<CfBackend>) {
    let container =
        Container::open(Arc::new(disk.file()), config(), None, Default::default()).expect("open");
    let backends = ["a", "b"]
        .iter()
        .map(|name| CfBackend {
            cf: container.find(name).expect("column family survives reopen"),
            container: container.clone(),
        })
        .collect();
    (container, backends)
}

fn run(steps: Vec<Step>) {
    let disk = SimDisk::new();
    let container =
        Container::open(Arc::new(disk.file()), config(), None, Default::default()).expect("open");
    let mut backends = vec![create(&container, "a"), create(&container, "b")];
    let mut container = container;
    let mut models: Vec<Vec<u8>> = vec![Vec::new(), Vec::new()];
    let mut churn = 0;
    for step in steps {
        match step {
            Step::SetLen { cf, len } => {
                backends[cf].set_len(len).expect("set_len");
                models[cf].resize(len as usize, 0);
            }
            Step::Write {
                cf,
                offset,
                len,
                byte,
            } => {
                let data = vec![byte; len];
                let fits = offset as usize + len <= models[cf].len();
                let result = backends[cf].write(offset, &data);
                assert_eq!(result.is_ok(), fits, "write {offset}+{len}: {result:?}");
                if fits {
                    models[cf][offset as usize..offset as usize + len].copy_from_slice(&data);
                }
            }
            Step::Read { cf, offset, len } => {
                let mut out = vec![0xEE; len];
                let fits = offset as usize + len <= models[cf].len();
                let result = backends[cf].read(offset, &mut out);
                assert_eq!(result.is_ok(), fits, "read {offset}+{len}: {result:?}");
                if fits {
                    assert!(
                        out == models[cf][offset as usize..offset as usize + len],
                        "read {offset}+{len} of cf {cf} differs from the model"
                    );
                }
            }
            Step::Sync { cf } => backends[cf].sync_data().expect("sync"),
            Step::Reopen => {
                for backend in &backends {
                    backend.sync_data().expect("sync");
                }
                drop(backends);
                drop(container);
                (container, backends) = open_all(&disk);
            }
            Step::ChurnThirdFamily => {
                let name = format!("churn{churn}");
                churn += 1;
                let third = create(&container, &name);
                third.set_len(40_000).expect("set_len");
                third.write(0, &[0xAB; 40_000]).expect("write");
                container.remove(&third.cf).expect("remove");
            }
        }
        for (backend, model) in backends.iter().zip(&models) {
            assert_eq!(backend.len().expect("len"), model.len() as u64);
        }
    }
    // Finally every byte of each column family matches.
    for (backend, model) in backends.iter().zip(&models) {
        let mut all = vec![0u8; model.len()];
        backend.read(0, &mut all).expect("read all");
        assert!(all == *model, "final contents differ");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn backend_matches_a_flat_model(steps in proptest::collection::vec(step(), 1..60)) {
        run(steps);
    }
}

#[test]
fn a_new_column_family_reports_length_zero_and_regrown_space_reads_zero() {
    let disk = SimDisk::new();
    let container =
        Container::open(Arc::new(disk.file()), config(), None, Default::default()).expect("open");
    let backend = create(&container, "fresh");
    assert_eq!(backend.len().expect("len"), 0);
    backend.set_len(3 * 4096).expect("grow");
    backend.write(0, &[9; 3 * 4096]).expect("write");
    backend.set_len(4096).expect("shrink");
    backend.set_len(3 * 4096).expect("regrow");
    let mut out = vec![1u8; 2 * 4096];
    backend.read(4096, &mut out).expect("read");
    assert!(
        out.iter().all(|&b| b == 0),
        "space exposed again must read as zeros"
    );
}

#[test]
fn space_of_a_deleted_column_family_is_reused_only_after_its_last_handle_drops() {
    let disk = SimDisk::new();
    let container =
        Container::open(Arc::new(disk.file()), config(), None, Default::default()).expect("open");
    let doomed = create(&container, "doomed");
    doomed.set_len(64 * 1024).expect("set_len");
    doomed.write(0, &[7; 64 * 1024]).expect("write");
    container.remove(&doomed.cf).expect("remove");
    let stats = container.stats();
    let (free, quarantined) = (stats.free_bytes, stats.quarantined_bytes);
    assert!(
        quarantined >= 64 * 1024,
        "space must wait for the handle: {free} {quarantined}"
    );
    // The live handle still reads its own data, and cannot write.
    let mut out = vec![0u8; 4096];
    doomed.read(0, &mut out).expect("read after delete");
    assert!(out.iter().all(|&b| b == 7));
    assert!(doomed.write(0, &[1]).is_err());
    drop(doomed);
    let stats = container.stats();
    let (free, quarantined, end_before) = (
        stats.free_bytes,
        stats.quarantined_bytes,
        stats.allocated_end,
    );
    assert_eq!(quarantined, 0);
    assert!(free >= 64 * 1024);
    // A new column family grows into the freed space instead of extending the file.
    let reuse = create(&container, "reuse");
    reuse.set_len(48 * 1024).expect("set_len");
    reuse.write(0, &[3; 48 * 1024]).expect("write");
    let end_after = container.stats().allocated_end;
    assert!(
        end_after <= end_before + 8192,
        "file grew from {end_before} to {end_after}"
    );
    let mut out = vec![0u8; 48 * 1024];
    reuse.read(0, &mut out).expect("read");
    assert!(out.iter().all(|&b| b == 3));
}

#[test]
fn a_write_far_past_the_backed_space_leaves_a_hole_instead_of_backing_the_gap() {
    // The default growth settings, as redb sees them: redb doubles its length and may write a
    // page near the new end before anything below it.
    let config = ContainerConfig {
        initial_segment: crate::cf::builder::DEFAULT_INITIAL_SEGMENT_SIZE,
        max_growth: crate::cf::builder::DEFAULT_MAX_SEGMENT_GROWTH,
    };
    let disk = SimDisk::new();
    let container =
        Container::open(Arc::new(disk.file()), config, None, Default::default()).expect("open");
    let backend = create(&container, "sparse");
    backend.set_len(64 << 20).expect("set_len");
    backend.write(0, &[1; 4096]).expect("write low");
    backend
        .write((60 << 20) + 4096, &[2; 4096])
        .expect("write high");
    let end = container.stats().allocated_end;
    assert!(
        end < 2 << 20,
        "two pages written, {end} bytes of file allocated"
    );
    backend.sync_data().expect("sync");
    drop(backend);
    drop(container);

    let container =
        Container::open(Arc::new(disk.file()), config, None, Default::default()).expect("reopen");
    let backend = CfBackend {
        cf: container
            .find("sparse")
            .expect("column family survives reopen"),
        container: container.clone(),
    };
    let mut out = vec![0xEE; 8192];
    backend.read((60 << 20) - 4096, &mut out[..]).expect("read");
    assert!(
        out[..4096].iter().all(|&b| b == 0),
        "the hole reads as zeros"
    );
    backend
        .read((60 << 20) + 4096, &mut out[..4096])
        .expect("read");
    assert!(out[..4096].iter().all(|&b| b == 2));
    // Filling the hole later backs only what is written.
    backend
        .write(30 << 20, &[3; 4096])
        .expect("write into the hole");
    let mut page = vec![0u8; 4096];
    backend.read(30 << 20, &mut page).expect("read");
    assert!(page.iter().all(|&b| b == 3));
    assert!(container.stats().allocated_end < 4 << 20);
}
