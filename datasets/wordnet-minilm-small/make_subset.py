"""Rebuilds this directory from the full wordnet-minilm (../../../shared/datasets/wordnet-minilm).

A seeded random sample of 2,000 base rows (all parts of speech, in their original order) and 200
queries; the vectors are copied bit for bit (float16). No ground truth is stored: the harness
computes it exactly for this subset. Needs numpy (benches/peers/requirements.txt has it).

    python3 datasets/wordnet-minilm-small/make_subset.py [FULL_DIR]
"""

import json
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
FULL = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "../../../shared/datasets/wordnet-minilm"
BASE_ROWS, QUERY_ROWS, SEED = 2000, 200, 20261124


def main() -> None:
    rng = np.random.default_rng(SEED)
    base = np.load(FULL / "base_f16.npy")
    queries = np.load(FULL / "query_f16.npy")
    base_rows = np.sort(rng.choice(base.shape[0], BASE_ROWS, replace=False))
    query_rows = np.sort(rng.choice(queries.shape[0], QUERY_ROWS, replace=False))
    np.save(HERE / "base_f16.npy", np.ascontiguousarray(base[base_rows]))
    np.save(HERE / "query_f16.npy", np.ascontiguousarray(queries[query_rows]))
    meta = (FULL / "base_meta.jsonl").read_text().splitlines()
    with open(HERE / "base_meta.jsonl", "w") as out:
        for new_id, row in enumerate(base_rows):
            record = json.loads(meta[row])
            record = {"id": new_id, "source_row": int(row), "synset": record["synset"],
                      "pos": record["pos"], "lemmas": record["lemmas"]}
            out.write(json.dumps(record) + "\n")
    query_meta = (FULL / "query_meta.jsonl").read_text().splitlines()
    with open(HERE / "query_meta.jsonl", "w") as out:
        for new_id, row in enumerate(query_rows):
            record = json.loads(query_meta[row])
            out.write(json.dumps({"id": new_id, "source_row": int(row), "text": record["text"]}) + "\n")


if __name__ == "__main__":
    main()
