"""Runs the libraries users would otherwise pick on exactly the data quiver's harness searched.

    python3 benches/peers/peers.py EXPORT_DIR [--k 10] [--json FILE] [--quick] [--only NAMES]
        [--m 16,32]

EXPORT_DIR is what `cargo bench --bench ann -- --export DIR` wrote: base.npy and queries.npy
(f32, the values quiver stored), truth_ids.npy / truth_distances.npy (exact neighbours, in the
harness's units: 1 - dot for "angular", squared L2 for "euclidean") and meta.json.

For each peer: the exact (flat) search where it has one, and HNSW over a parameter sweep
(M, ef_construction, then ef_search from low to high), timed the way quiver is:
- one thread, one query at a time, best of --passes passes, a pass over a minute not repeated
  (Python's call overhead, a few microseconds per query, is included, as in ann-benchmarks);
- all cores, batches of 64 queries, best of three passes.
Recall is computed as the harness does: the true distance of each returned id is recomputed in
f64 and counts if it is within the k-th true distance + 1e-3; also by id overlap.
One JSON line per setting, the same keys as quiver's lines, with the peer in "index".
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import sys
import tempfile
import time

import numpy as np

EPSILON = 1e-3
BATCH = 64
# A pass slower than this is not repeated (the slow exact searches would otherwise take many
# minutes); quiver's harness applies the same rule.
LONG_PASS_S = 60.0


def load(export_dir):
    d = pathlib.Path(export_dir)
    meta = json.loads((d / "meta.json").read_text())
    return (
        meta,
        np.ascontiguousarray(np.load(d / "base.npy"), dtype=np.float32),
        np.ascontiguousarray(np.load(d / "queries.npy"), dtype=np.float32),
        np.load(d / "truth_ids.npy"),
        np.load(d / "truth_distances.npy"),
    )


def exact_distances(distance, base, queries, ids):
    """The true distance of every returned id, in f64 (inf for a missing id)."""
    out = np.full(ids.shape, np.inf)
    valid = (ids >= 0) & (ids < base.shape[0])
    for q in range(ids.shape[0]):
        rows = ids[q][valid[q]]
        vectors = base[rows].astype(np.float64)
        query = queries[q].astype(np.float64)
        if distance == "angular":
            d = 1.0 - vectors @ query
        else:
            d = ((vectors - query) ** 2).sum(axis=1)
        out[q][valid[q]] = d
    return out


def recall(distance, base, queries, ids, truth_ids, truth_distances, k):
    ids = np.asarray(ids)[:, :k]
    returned = exact_distances(distance, base, queries, ids)
    by_distance, by_ids = 0.0, 0.0
    for q in range(ids.shape[0]):
        valid_truth = truth_ids[q][:k][truth_ids[q][:k] >= 0]
        kq = len(valid_truth)
        if kq == 0:
            by_distance += 1.0
            by_ids += 1.0
            continue
        threshold = truth_distances[q][kq - 1] + EPSILON
        by_distance += float((returned[q][:kq] <= threshold).sum()) / kq
        by_ids += len(set(ids[q][:kq].tolist()) & set(valid_truth.tolist())) / kq
    n = max(ids.shape[0], 1)
    return by_distance / n, by_ids / n


def peak_rss():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def time_searches(search_one, search_batch, queries, passes, set_threads):
    """Best-of-passes single-thread timing with per-query latencies, then batched all-core."""
    cores = os.cpu_count() or 1
    set_threads(1)
    best = None
    for _ in range(max(passes, 1)):
        latencies = np.empty(len(queries))
        results = []
        started = time.perf_counter()
        for i, query in enumerate(queries):
            t = time.perf_counter()
            results.append(search_one(query))
            latencies[i] = (time.perf_counter() - t) * 1e6
        seconds = time.perf_counter() - started
        if best is None or seconds < best[0]:
            best = (seconds, latencies, results)
        if seconds > LONG_PASS_S:
            break
    set_threads(cores)
    seconds_batch = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for start in range(0, len(queries), BATCH):
            search_batch(queries[start:start + BATCH])
        seconds_batch = min(seconds_batch, time.perf_counter() - started)
    seconds, latencies, results = best
    latencies.sort()
    pick = lambda p: float(latencies[int(round((len(latencies) - 1) * p))]) if len(latencies) else 0.0
    speed = {
        "qps_1t": round(len(queries) / seconds), "qps_batch": round(len(queries) / seconds_batch),
        "p50_us": round(pick(0.5)), "p95_us": round(pick(0.95)), "p99_us": round(pick(0.99)),
    }
    return speed, results


def pad(ids, k):
    """Rows of exactly k ids (-1 where a library returned fewer)."""
    out = np.full((len(ids), k), -1, dtype=np.int64)
    for i, row in enumerate(ids):
        row = np.asarray(row, dtype=np.int64).reshape(-1)[:k]
        out[i, :len(row)] = row
    return out


class Context:
    def __init__(self, args):
        self.args = args
        self.meta, self.base, self.queries, self.truth_ids, self.truth_distances = load(args.export_dir)
        self.distance = self.meta["distance"]
        self.lines = []
        self.machine = machine()

    def emit(self, index, params, speed, ids, build_s, disk_bytes, version):
        k = self.args.k
        r, r_ids = recall(self.distance, self.base, self.queries, pad(ids, k),
                          self.truth_ids, self.truth_distances, k)
        line = {
            "dataset": self.meta["dataset"], "index": index, "params": params, "k": k,
            "recall": r, "recall_ids": r_ids, **speed, "build_s": round(build_s, 3),
            "disk_bytes": disk_bytes, "log_bytes": 0, "rss_bytes": peak_rss(),
            "n": int(self.base.shape[0]), "queries": int(self.queries.shape[0]),
            "version": version, **self.machine,
        }
        print(json.dumps(line), flush=True)
        print(f"  {index:14} {json.dumps(params):48} recall {r:.4f}  qps_1t {speed['qps_1t']:>7}  "
              f"qps_batch {speed['qps_batch']:>7}", file=sys.stderr, flush=True)
        if self.args.json:
            with open(self.args.json, "a") as f:
                f.write(json.dumps(line) + "\n")


def machine():
    cpu = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d", time.gmtime())}


def sweep(args):
    """(M, ef_construction) builds and the ef_search values tried on each."""
    if args.quick:
        return [(16, 100)], [10, 40, 160]
    ms = [int(m) for m in args.m.split(",")]
    return [(m, 200) for m in ms], [10, 20, 40, 80, 160, 320, 640]


def file_size(save):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "index")
        save(path)
        return os.path.getsize(path)


def run_faiss(ctx):
    import faiss
    k, dim = ctx.args.k, ctx.base.shape[1]
    metric = faiss.METRIC_INNER_PRODUCT if ctx.distance == "angular" else faiss.METRIC_L2
    flat = faiss.IndexFlat(dim, metric)
    started = time.perf_counter()
    flat.add(ctx.base)
    build_s = time.perf_counter() - started
    speed, results = time_searches(
        lambda q: flat.search(q.reshape(1, -1), k)[1][0],
        lambda qs: flat.search(qs, k), ctx.queries, ctx.args.passes, faiss.omp_set_num_threads)
    ctx.emit("faiss-flat", {}, speed, results, build_s,
             file_size(lambda p: faiss.write_index(flat, p)), faiss.__version__)
    del flat
    builds, efs = sweep(ctx.args)
    for m, ef_construction in builds:
        index = faiss.IndexHNSWFlat(dim, m, metric)
        index.hnsw.efConstruction = ef_construction
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        started = time.perf_counter()
        index.add(ctx.base)
        build_s = time.perf_counter() - started
        disk = file_size(lambda p: faiss.write_index(index, p))
        for ef in efs:
            index.hnsw.efSearch = ef
            speed, results = time_searches(
                lambda q: index.search(q.reshape(1, -1), k)[1][0],
                lambda qs: index.search(qs, k), ctx.queries, ctx.args.passes,
                faiss.omp_set_num_threads)
            ctx.emit("faiss-hnsw", {"M": m, "ef_construction": ef_construction, "ef_search": ef},
                     speed, results, build_s, disk, faiss.__version__)
        del index


def run_hnswlib(ctx):
    import hnswlib
    k, (n, dim) = ctx.args.k, ctx.base.shape
    space = "ip" if ctx.distance == "angular" else "l2"
    builds, efs = sweep(ctx.args)
    version = getattr(hnswlib, "__version__", "0.8.0")
    for m, ef_construction in builds:
        index = hnswlib.Index(space=space, dim=dim)
        index.init_index(max_elements=n, ef_construction=ef_construction, M=m, random_seed=100)
        started = time.perf_counter()
        index.add_items(ctx.base, np.arange(n), num_threads=os.cpu_count() or 1)
        build_s = time.perf_counter() - started
        disk = file_size(index.save_index)
        threads = {"n": 1}
        set_threads = lambda t: threads.__setitem__("n", t)
        for ef in efs:
            index.set_ef(max(ef, k))
            speed, results = time_searches(
                lambda q: index.knn_query(q, k=k, num_threads=1)[0][0],
                lambda qs: index.knn_query(qs, k=k, num_threads=threads["n"]),
                ctx.queries, ctx.args.passes, set_threads)
            ctx.emit("hnswlib", {"M": m, "ef_construction": ef_construction, "ef_search": ef},
                     speed, results, build_s, disk, version)
        del index


def run_usearch(ctx):
    import usearch
    from usearch.index import Index, search as exact_search
    k, (n, dim) = ctx.args.k, ctx.base.shape
    metric = "ip" if ctx.distance == "angular" else "l2sq"
    threads = {"n": 1}
    set_threads = lambda t: threads.__setitem__("n", t)
    speed, results = time_searches(
        lambda q: exact_search(ctx.base, q, k, metric, exact=True, threads=1).keys,
        lambda qs: exact_search(ctx.base, qs, k, metric, exact=True, threads=threads["n"]),
        ctx.queries, ctx.args.passes, set_threads)
    ctx.emit("usearch-flat", {}, speed, results, 0.0, 0, usearch.__version__)
    builds, efs = sweep(ctx.args)
    for m, ef_construction in builds:
        index = Index(ndim=dim, metric=metric, dtype="f32", connectivity=m,
                      expansion_add=ef_construction)
        started = time.perf_counter()
        index.add(np.arange(n), ctx.base, threads=os.cpu_count() or 1)
        build_s = time.perf_counter() - started
        disk = file_size(index.save)
        for ef in efs:
            index.expansion_search = max(ef, k)
            speed, results = time_searches(
                lambda q: index.search(q, k, threads=1).keys,
                lambda qs: index.search(qs, k, threads=threads["n"]),
                ctx.queries, ctx.args.passes, set_threads)
            ctx.emit("usearch-hnsw", {"M": m, "ef_construction": ef_construction, "ef_search": ef},
                     speed, results, build_s, disk, usearch.__version__)
        del index


PEERS = {"faiss": run_faiss, "hnswlib": run_hnswlib, "usearch": run_usearch}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", help="append the JSON lines to this file")
    parser.add_argument("--quick", action="store_true", help="one small build, three ef values")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--only", default=",".join(PEERS), help="comma-separated peers")
    parser.add_argument("--m", default="16,32", help="comma-separated M values to build")
    args = parser.parse_args()
    ctx = Context(args)
    if args.k > ctx.truth_ids.shape[1]:
        sys.exit(f"k = {args.k} but the ground truth holds {ctx.truth_ids.shape[1]} neighbours")
    print(f"{ctx.meta['dataset']}: {ctx.base.shape[0]} x {ctx.base.shape[1]}, "
          f"{ctx.queries.shape[0]} queries, {ctx.distance}, k = {args.k}", file=sys.stderr)
    for name in args.only.split(","):
        if name not in PEERS:
            sys.exit(f"unknown peer {name!r} (available: {', '.join(PEERS)})")
        PEERS[name](ctx)


if __name__ == "__main__":
    main()
