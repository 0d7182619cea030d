//! Dataset readers: round trips, malformed input (typed errors, never a panic), and the shared
//! wordnet-minilm files.

use half::f16;
use proptest::prelude::*;
use quiver::Error;
use quiver::datasets::{bigann, idx, npy, texmex};
use std::path::{Path, PathBuf};

fn path() -> &'static Path {
    Path::new("test.data")
}

fn texmex_bytes<T: Copy>(rows: &[Vec<T>], encode: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for row in rows {
        out.extend((row.len() as i32).to_le_bytes());
        for value in row {
            out.extend(encode(*value));
        }
    }
    out
}

fn bin_bytes(rows: u32, dim: u32, body: &[u8]) -> Vec<u8> {
    [rows.to_le_bytes().as_slice(), &dim.to_le_bytes(), body].concat()
}

/// A version-1 `.npy` with any descriptor and shape text (for malformed cases too).
fn npy_bytes(descr: &str, fortran: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}\n");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(body);
    out
}

fn assert_malformed<T: std::fmt::Debug>(result: quiver::Result<T>, what: &str) {
    match result {
        Err(Error::MalformedDataset { path, reason }) => {
            assert_eq!(path, PathBuf::from("test.data"));
            assert!(!reason.is_empty(), "{what}");
        }
        other => panic!("{what}: expected MalformedDataset, got {other:?}"),
    }
}

#[test]
fn texmex_files_round_trip() {
    let rows: Vec<Vec<f32>> = (0..5)
        .map(|r| (0..7).map(|c| (r * 7 + c) as f32 * 0.5).collect())
        .collect();
    let m = texmex::parse_fvecs(
        &texmex_bytes(&rows, |x: f32| x.to_le_bytes().to_vec()),
        path(),
    )
    .unwrap();
    assert_eq!((m.rows(), m.dim()), (5, 7));
    assert!(m.iter().zip(&rows).all(|(a, b)| a == b.as_slice()));
    let ids: Vec<Vec<i32>> = vec![vec![3, -1, 7], vec![0, 0, 9]];
    let m = texmex::parse_ivecs(
        &texmex_bytes(&ids, |x: i32| x.to_le_bytes().to_vec()),
        path(),
    )
    .unwrap();
    assert_eq!(m.row(1), &[0, 0, 9]);
    let bytes: Vec<Vec<u8>> = vec![vec![1, 2], vec![255, 0]];
    let m = texmex::parse_bvecs(&texmex_bytes(&bytes, |x: u8| vec![x]), path()).unwrap();
    assert_eq!(m.row(1), &[255, 0]);
    assert_eq!(texmex::parse_fvecs(&[], path()).unwrap().rows(), 0);
}

#[test]
fn malformed_texmex_files_get_typed_errors() {
    let good = texmex_bytes(&[vec![1.0f32, 2.0], vec![3.0, 4.0]], |x: f32| {
        x.to_le_bytes().to_vec()
    });
    assert_malformed(
        texmex::parse_fvecs(&good[..good.len() - 1], path()),
        "truncated row",
    );
    assert_malformed(texmex::parse_fvecs(&good[..2], path()), "truncated header");
    let mixed = [
        good[..12].to_vec(),
        texmex_bytes(&[vec![1.0f32]], |x: f32| x.to_le_bytes().to_vec()),
    ]
    .concat();
    assert_malformed(texmex::parse_fvecs(&mixed, path()), "mixed dimensions");
    for dim in [0i32, -3, i32::MAX] {
        let bytes = [dim.to_le_bytes().as_slice(), &[0u8; 8]].concat();
        assert_malformed(
            texmex::parse_ivecs(&bytes, path()),
            &format!("dimension {dim}"),
        );
    }
}

#[test]
fn bigann_files_round_trip_and_reject_wrong_sizes() {
    let body: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let m = bigann::parse_fbin(&bin_bytes(2, 3, &body), path()).unwrap();
    assert_eq!(m.row(1), &[3.0, 4.0, 5.0]);
    assert_eq!(
        bigann::parse_u8bin(&bin_bytes(3, 1, &[1, 2, 3]), path())
            .unwrap()
            .row(2),
        &[3]
    );
    let ids: Vec<u8> = [5i32, 6].iter().flat_map(|i| i.to_le_bytes()).collect();
    assert_eq!(
        bigann::parse_ibin(&bin_bytes(1, 2, &ids), path())
            .unwrap()
            .row(0),
        &[5, 6]
    );
    let distances: Vec<u8> = [0.25f32, 0.5]
        .iter()
        .flat_map(|d| d.to_le_bytes())
        .collect();
    let truth =
        bigann::parse_groundtruth(&bin_bytes(1, 2, &[ids.clone(), distances].concat()), path())
            .unwrap();
    assert_eq!(
        (truth.ids.row(0), truth.distances.row(0)),
        (&[5, 6][..], &[0.25, 0.5][..])
    );

    assert_malformed(
        bigann::parse_fbin(&bin_bytes(2, 3, &body[..20]), path()),
        "short body",
    );
    assert_malformed(
        bigann::parse_fbin(&bin_bytes(1, 3, &body), path()),
        "long body",
    );
    assert_malformed(
        bigann::parse_fbin(&bin_bytes(1, 0, &[]), path()),
        "zero dimension",
    );
    assert_malformed(
        bigann::parse_u8bin(&bin_bytes(u32::MAX, u32::MAX, &[]), path()),
        "huge header",
    );
    assert_malformed(bigann::parse_fbin(&[1, 2, 3], path()), "no header");
    assert_malformed(
        bigann::parse_groundtruth(&bin_bytes(1, 2, &ids), path()),
        "ids without distances",
    );
}

#[test]
fn npy_files_round_trip_for_every_supported_type() {
    let m = npy::parse(
        &npy::to_bytes_f32(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3),
        path(),
    )
    .unwrap();
    assert_eq!(m.shape(), (2, 3));
    assert_eq!(m.into_f32().row(1), &[4.0, 5.0, 6.0]);
    let halves: Vec<u8> = [0.5f32, -2.0]
        .iter()
        .flat_map(|x| f16::from_f32(*x).to_le_bytes())
        .collect();
    match npy::parse(&npy_bytes("<f2", "False", "(1, 2)", &halves), path()).unwrap() {
        npy::NpyArray::F16(m) => assert_eq!(m.row(0), &[f16::from_f32(0.5), f16::from_f32(-2.0)]),
        other => panic!("expected f16, got {other:?}"),
    }
    let ints: Vec<u8> = [7i32, -8, 9].iter().flat_map(|x| x.to_le_bytes()).collect();
    let m = npy::parse(&npy_bytes("<i4", "False", "(3,)", &ints), path()).unwrap();
    assert_eq!(m.shape(), (3, 1));
    assert_eq!(m.into_i32().unwrap().row(1), &[-8]);
    let bytes = npy::parse(&npy_bytes("|u1", "False", "(2, 2)", &[1, 2, 3, 4]), path()).unwrap();
    assert_eq!(bytes.into_f32().row(1), &[3.0, 4.0]);
    // Version 2 headers have a 4-byte length.
    let v1 = npy::to_bytes_f32(&[1.5], 1);
    let header_len = u16::from_le_bytes([v1[8], v1[9]]) as u32;
    let v2 = [
        b"\x93NUMPY\x02\x00".as_slice(),
        &header_len.to_le_bytes(),
        &v1[10..],
    ]
    .concat();
    assert_eq!(npy::parse(&v2, path()).unwrap().into_f32().row(0), &[1.5]);
}

#[test]
fn malformed_npy_files_get_typed_errors() {
    let body = [0u8; 16];
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"\x93NUMPX\x01\x00\x00\x00".to_vec(), "bad magic"),
        (b"\x93NUMPY\x09\x00\x00\x00".to_vec(), "unknown version"),
        (b"\x93NUMPY\x01".to_vec(), "truncated version"),
        (npy_bytes("<f4", "True", "(2, 2)", &body), "Fortran order"),
        (npy_bytes("<f8", "False", "(2, 1)", &body), "float64"),
        (
            npy_bytes("<f4", "False", "(2, 2, 1)", &body),
            "three dimensions",
        ),
        (npy_bytes("<f4", "False", "(2, 0)", &[]), "zero columns"),
        (npy_bytes("<f4", "False", "(2, 3)", &body), "short body"),
        (npy_bytes("<f4", "False", "(1, 2)", &body), "long body"),
        (
            npy_bytes("<f4", "False", "(x, 2)", &body),
            "shape not numbers",
        ),
        (
            npy_bytes("<f4", "False", "(99999999999999999999, 2)", &body),
            "shape overflow",
        ),
    ];
    for (bytes, what) in cases {
        assert_malformed(npy::parse(&bytes, path()), what);
    }
    let mut long_header = npy::to_bytes_f32(&[1.0], 1);
    long_header[8] = 0xff;
    long_header[9] = 0xff;
    assert_malformed(
        npy::parse(&long_header, path()),
        "header longer than the file",
    );
}

fn idx_bytes(code: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(body);
    out
}

#[test]
fn idx_files_round_trip_and_reject_malformed_input() {
    let m = idx::parse_u8(
        &idx_bytes(0x08, &[3, 2, 2], &(0..12).collect::<Vec<u8>>()),
        path(),
    )
    .unwrap();
    assert_eq!((m.rows(), m.dim()), (3, 4));
    assert_eq!(m.row(2), &[8, 9, 10, 11]);
    // A one-dimensional file (labels) is a column.
    let labels = idx::parse_u8(&idx_bytes(0x08, &[4], &[1, 2, 3, 4]), path()).unwrap();
    assert_eq!(
        (labels.rows(), labels.dim(), labels.row(3)),
        (4, 1, &[4u8][..])
    );
    assert_malformed(
        idx::parse_u8(&idx_bytes(0x0d, &[1, 1], &[0; 4]), path()),
        "float type code",
    );
    assert_malformed(
        idx::parse_u8(&idx_bytes(0x08, &[2, 2], &[0; 3]), path()),
        "short body",
    );
    assert_malformed(
        idx::parse_u8(&idx_bytes(0x08, &[], &[]), path()),
        "no dimensions",
    );
    assert_malformed(idx::parse_u8(&[1, 0, 8, 1], path()), "bad magic");
    assert_malformed(
        idx::parse_u8(&[0, 0, 8, 2, 0, 0], path()),
        "truncated sizes",
    );
    assert_malformed(
        idx::parse_u8(&idx_bytes(0x08, &[1, u32::MAX, u32::MAX], &[]), path()),
        "huge rows",
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes, and valid files with bytes flipped or cut short, never make a reader
    /// panic: every outcome is a matrix or a typed error.
    #[test]
    fn readers_never_panic(random in proptest::collection::vec(any::<u8>(), 0..256),
                           flip in 0usize..200, value in any::<u8>(), cut in 0usize..200) {
        let mut inputs = vec![random];
        for valid in [
            npy::to_bytes_f32(&[1.0, 2.0, 3.0, 4.0], 2),
            bin_bytes(2, 2, &[0u8; 16]),
            texmex_bytes(&[vec![1.0f32, 2.0]], |x: f32| x.to_le_bytes().to_vec()),
        ] {
            let mut flipped = valid.clone();
            let at = flip % flipped.len();
            flipped[at] = value;
            inputs.push(flipped);
            inputs.push(valid[..cut.min(valid.len())].to_vec());
        }
        for bytes in &inputs {
            let _ = npy::parse(bytes, path());
            let _ = bigann::parse_fbin(bytes, path());
            let _ = bigann::parse_u8bin(bytes, path());
            let _ = bigann::parse_groundtruth(bytes, path());
            let _ = texmex::parse_fvecs(bytes, path());
            let _ = texmex::parse_bvecs(bytes, path());
            let _ = idx::parse_u8(bytes, path());
        }
    }
}

/// The shared real dataset (beside the project, as in CI) reads with the shapes its README gives.
#[test]
fn the_shared_wordnet_minilm_files_read_with_their_documented_shapes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/wordnet-minilm");
    assert!(
        dir.exists(),
        "{} is missing: CI and the harness expect ../shared beside the project",
        dir.display()
    );
    let queries = npy::read(dir.join("query_f16.npy")).unwrap();
    assert!(matches!(queries, npy::NpyArray::F16(_)));
    assert_eq!(queries.shape(), (10_000, 384));
    let ids = npy::read(dir.join("gt_ids.npy"))
        .unwrap()
        .into_i32()
        .unwrap();
    assert_eq!((ids.rows(), ids.dim()), (10_000, 100));
    assert!(ids.as_slice().iter().all(|id| (0..117_659).contains(id)));
    let distances = npy::read(dir.join("gt_cosdist.npy")).unwrap().into_f32();
    assert_eq!((distances.rows(), distances.dim()), (10_000, 100));
    assert!(
        distances
            .iter()
            .all(|row| row.windows(2).all(|w| w[0] <= w[1])),
        "nearest first"
    );
}
