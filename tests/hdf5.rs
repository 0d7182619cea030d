//! The ann-benchmarks HDF5 reader (feature `hdf5`, on for this crate's tests): a file written by
//! h5py (the reference HDF5 library) reads back with the values it holds, and malformed files get
//! typed errors, never a panic.

use hdf5_pure::{AttrValue, FileBuilder};
use quiver::Error;
use quiver::datasets::hdf5::{parse_ann_benchmarks, read_ann_benchmarks};
use std::path::Path;

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ann-tiny.hdf5"
    ))
}

#[test]
fn a_file_written_by_h5py_reads_back_with_exact_neighbours() {
    let data = read_ann_benchmarks(fixture()).expect("the fixture reads");
    assert_eq!(data.distance, "euclidean");
    assert_eq!((data.train.rows(), data.train.dim()), (64, 8));
    assert_eq!((data.test.rows(), data.test.dim()), (5, 8));
    assert_eq!((data.neighbors.rows(), data.neighbors.dim()), (5, 10));
    // The values are small integers; check them against a brute force of our own.
    assert!(
        data.train
            .as_slice()
            .iter()
            .all(|x| x.fract() == 0.0 && x.abs() <= 8.0)
    );
    for q in 0..data.test.rows() {
        let mut all: Vec<(f64, usize)> = data
            .train
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let d: f64 = v
                    .iter()
                    .zip(data.test.row(q))
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum();
                (d, i)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (rank, (d, _)) in all.iter().copied().take(10).enumerate() {
            let id = data.neighbors.row(q)[rank] as usize;
            // Ties may order differently; the distance at each rank must agree exactly.
            let theirs: f64 = data
                .train
                .row(id)
                .iter()
                .zip(data.test.row(q))
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            assert_eq!(theirs, d, "query {q} rank {rank}");
            assert!((f64::from(data.distances.row(q)[rank]) - d.sqrt()).abs() < 1e-5);
        }
    }
}

fn assert_malformed<T: std::fmt::Debug>(result: quiver::Result<T>, what: &str) {
    match result {
        Err(Error::MalformedDataset { .. }) => {}
        other => panic!("{what}: expected MalformedDataset, got {other:?}"),
    }
}

/// A file built with hdf5-pure's writer: `train` shaped as given, the rest consistent.
fn built(train_shape: &[u64], with_distance: bool, neighbour: i32) -> Vec<u8> {
    let mut builder = FileBuilder::new();
    let train_len: u64 = train_shape.iter().product();
    builder
        .create_dataset("train")
        .with_f32_data(&vec![1.0; train_len as usize])
        .with_shape(train_shape);
    builder
        .create_dataset("test")
        .with_f32_data(&[0.0; 4])
        .with_shape(&[2, 2]);
    builder
        .create_dataset("neighbors")
        .with_i32_data(&[0, neighbour])
        .with_shape(&[2, 1]);
    builder
        .create_dataset("distances")
        .with_f32_data(&[1.0, 1.0])
        .with_shape(&[2, 1]);
    if with_distance {
        builder.set_attr("distance", AttrValue::String("angular".into()));
    }
    builder.finish().expect("hdf5-pure writes the file")
}

#[test]
fn inconsistent_files_get_typed_errors() {
    let p = Path::new("x.hdf5");
    let good = parse_ann_benchmarks(built(&[3, 2], true, 1), p).expect("a consistent file reads");
    assert_eq!(good.distance, "angular");
    assert_eq!(good.neighbors.row(1), &[1]);
    assert_malformed(
        parse_ann_benchmarks(built(&[3, 2], false, 1), p),
        "no distance",
    );
    assert_malformed(parse_ann_benchmarks(built(&[6], true, 1), p), "1-d train");
    assert_malformed(
        parse_ann_benchmarks(built(&[2, 3], true, 1), p),
        "dimension",
    );
    assert_malformed(
        parse_ann_benchmarks(built(&[3, 2], true, 3), p),
        "id past train",
    );
    assert_malformed(
        parse_ann_benchmarks(built(&[3, 2], true, -1), p),
        "negative id",
    );
    assert_malformed(parse_ann_benchmarks(Vec::new(), p), "empty");
    assert!(matches!(
        read_ann_benchmarks("/nonexistent/x.hdf5"),
        Err(Error::Io(_))
    ));
}

#[test]
fn truncated_and_corrupted_files_never_panic() {
    let bytes = std::fs::read(fixture()).expect("fixture");
    let p = Path::new("x.hdf5");
    let mut outcomes = (0usize, 0usize);
    for cut in (0..bytes.len()).step_by(7) {
        match parse_ann_benchmarks(bytes[..cut].to_vec(), p) {
            Err(Error::MalformedDataset { .. }) => outcomes.0 += 1,
            other => panic!("truncated at {cut}: {other:?}"),
        }
    }
    // Flip one byte at a time across the metadata (the first 2 KiB holds the superblock and
    // object headers): each result is an error or a file that still parses, never a panic.
    for at in 0..bytes.len().min(2048) {
        let mut corrupt = bytes.clone();
        corrupt[at] ^= 0x5a;
        match parse_ann_benchmarks(corrupt, p) {
            Err(Error::MalformedDataset { .. }) => outcomes.0 += 1,
            Ok(_) => outcomes.1 += 1,
            Err(other) => panic!("flip at {at}: unexpected error kind {other:?}"),
        }
    }
    assert!(outcomes.0 > 0, "no malformed input was detected");
}
