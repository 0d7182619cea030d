#!/usr/bin/env bash
# The whole ANN comparison: quiver's harness and the peers (FAISS, hnswlib, usearch) on both
# datasets, then the report (markdown table and recall-vs-QPS plots).
#
#   benches/peers/run.sh            full datasets; writes docs/bench/ (about an hour here)
#   benches/peers/run.sh --quick    wordnet-minilm-small and 5,000 fashion-mnist vectors, one
#                                   small HNSW build per peer; writes target/ann-quick/ (CI)
#
# Creates a Python virtual environment with the pinned peers (benches/peers/requirements.txt) in
# target/peers-venv (or $QUIVER_PEERS_VENV) on first use; fashion-mnist comes from Debian's
# dataset-fashion-mnist, installed here if missing and we are root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

quick=""
out="docs/bench"
if [ "${1:-}" = "--quick" ]; then
    quick="--quick"
    out="target/ann-quick"
fi

venv="${QUIVER_PEERS_VENV:-$root/target/peers-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import faiss, hnswlib, usearch, matplotlib" 2>/dev/null; then
    echo "== creating the peers' virtual environment in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r benches/peers/requirements.txt
fi
python="$venv/bin/python"

fashion="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
if [ ! -f "$fashion" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq dataset-fashion-mnist >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }
    else
        echo "fashion-mnist is missing: sudo apt-get install dataset-fashion-mnist" >&2
        exit 1
    fi
fi

mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
if [ -n "$quick" ]; then
    runs=("wordnet-minilm-small|--filter 50,10,1,0.1,pos --churn 0.1 --passes 1"
          "fashion-mnist|--quick --filter 50,1 --churn 0.1 --passes 1")
else
    runs=("wordnet-minilm|--filter 50,10,1,0.1,pos --churn 0.1"
          "fashion-mnist|--filter 50,10,1,0.1 --churn 0.1")
fi
for run in "${runs[@]}"; do
    dataset="${run%%|*}"
    flags="${run#*|}"
    export_dir="target/ann-export/$dataset"
    echo "== quiver: $dataset"
    # shellcheck disable=SC2086 # the flags are words
    cargo bench --locked --bench ann -- --dataset "$dataset" $flags --min-recall 0.999 \
        --json "$results" --export "$export_dir" >/dev/null
    echo "== quiver-hnsw: $dataset"
    # The approximate index: an ef sweep for each first pass (exact, int8 and binary codes),
    # then half the rows deleted and re-inserted.
    # shellcheck disable=SC2086
    cargo bench --locked --bench ann -- --dataset "$dataset" --index hnsw --churn 0.5 \
        --quantization none,int8,binary \
        $( [ -n "$quick" ] && echo "--passes 1" ) $( [ "$dataset" = fashion-mnist ] && [ -n "$quick" ] && echo "--quick" ) \
        --json "$results" >/dev/null
    echo "== peers: $dataset"
    "$python" benches/peers/peers.py "$export_dir" $quick $( [ -n "$quick" ] && echo "--passes 1" ) \
        --json "$results" >/dev/null
done

echo "== report"
"$python" benches/peers/report.py "$results" --out "$out"
# Every dataset must have a line from quiver and from each peer, or the comparison is incomplete.
"$python" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
expected = {"quiver-flat", "quiver-hnsw", "quiver-hnsw-int8", "quiver-hnsw-binary", "faiss-flat", "faiss-hnsw", "hnswlib", "usearch-flat",
            "usearch-hnsw"}
for dataset in sorted({r["dataset"] for r in rows}):
    missing = expected - {r["index"] for r in rows if r["dataset"] == dataset}
    if missing:
        sys.exit(f"{dataset}: no results from {', '.join(sorted(missing))}")
print(f"complete: {len(rows)} settings over {len({r['dataset'] for r in rows})} datasets")
PY
