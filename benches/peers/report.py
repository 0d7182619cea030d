"""Merges the ANN harness's JSON lines (quiver's and the peers') into a markdown report and one
recall-vs-QPS plot per dataset.

    python3 benches/peers/report.py RESULTS.jsonl [MORE.jsonl ...] --out DIR

Writes DIR/ann.md and DIR/ann-DATASET.png. When a setting appears more than once (the files are
appended to), the last line wins. For each HNSW build the table shows, at recall@k targets of
0.8, 0.9, 0.95, 0.99 and 0.999, the fastest ef_search that reaches it (one thread); the plot shows
every setting.
"""

import argparse
import json
import os
import pathlib
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = [0.8, 0.9, 0.95, 0.99, 0.999]
# One colour per library, its exact search a star and each HNSW build a line in that colour.
COLOURS = {"quiver": "black", "faiss": "tab:blue", "hnswlib": "tab:orange", "usearch": "tab:green",
           "quiver-hnsw-int8": "tab:red", "quiver-hnsw-binary": "tab:purple"}
LINESTYLES = ["-", "--", ":", "-."]


def colour(index):
    return COLOURS.get(index, COLOURS.get(index.split("-")[0], "tab:gray"))


def read(paths):
    latest = {}
    for path in paths:
        for number, line in enumerate(open(path), 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{number}: not JSON ({e})")
            key = (row["dataset"], row["index"], json.dumps(row["params"], sort_keys=True),
                   row["k"], row.get("n"), row.get("queries"))
            latest[key] = row
    return list(latest.values())


def build_of(row):
    p = row["params"]
    return (row["index"], p.get("M"), p.get("ef_construction"))


def is_sweep(row):
    return "ef_search" in row["params"]


def is_plain(row):
    p = row["params"]
    return not is_sweep(row) and "filter" not in p and "churn" not in p


def mb(x):
    return f"{x / 1e6:.1f}"


def header():
    return ("| index | params | recall | recall (ids) | QPS 1 thread | QPS batched | p50 us | p99 us "
            "| build s | disk MB | RSS MB |\n|---|---|---|---|---|---|---|---|---|---|---|")


def table_row(row, params=None):
    if params is None:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()
                           if k not in ("element", "metric")) or "-"
    return (f"| {row['index']} | {params} | {row['recall']:.4f} | {row['recall_ids']:.4f} | "
            f"{row['qps_1t']:.0f} | {row['qps_batch']:.0f} | {row['p50_us']:.0f} | {row['p99_us']:.0f} | "
            f"{row['build_s']:.1f} | {mb(row['disk_bytes'])} | {mb(row['rss_bytes'])} |")


def dataset_section(name, rows, out_dir):
    lines = [f"## {name}", ""]
    first = rows[0]
    lines.append(f"{first.get('n', '?')} base vectors, {first.get('queries', '?')} queries, "
                 f"k = {first['k']}.")
    lines.append("")
    lines.append("### Exact search and HNSW at recall targets")
    lines.append("")
    lines.append(header())
    plain = sorted([r for r in rows if is_plain(r)], key=lambda r: r["index"])
    for row in plain:
        lines.append(table_row(row))
    builds = {}
    for row in rows:
        if is_sweep(row):
            builds.setdefault(build_of(row), []).append(row)
    for build, settings in sorted(builds.items(), key=lambda b: (b[0][0], b[0][1] or 0)):
        # The fastest setting per target; a setting that is fastest for several targets is one row.
        chosen = {}
        for target in TARGETS:
            reaching = [r for r in settings if r["recall"] >= target]
            if reaching:
                best = max(reaching, key=lambda r: r["qps_1t"])
                chosen.setdefault(best["params"]["ef_search"], (best, []))[1].append(target)
        for best, targets in sorted(chosen.values(), key=lambda c: c[0]["recall"]):
            p = best["params"]
            lines.append(table_row(
                best, f"M={p['M']}, ef_c={p['ef_construction']}, ef={p['ef_search']} "
                      f"(fastest for recall >= {', '.join(map(str, targets))})"))
    filtered = [r for r in rows if "filter" in r["params"]]
    if filtered:
        lines += ["", "### Filtered search (exact filtered ground truth)", "", header()]
        for row in filtered:
            lines.append(table_row(row, f"{row['params']['filter']} ({row['params'].get('allowed')} rows)"))
    churned = [r for r in rows if "churn" in r["params"]]
    if churned:
        lines += ["", "### After churn (delete and re-insert a random fraction)", "",
                  "| index | churned | recall | recall before | QPS 1 thread | disk MB before | after delete "
                  "| after re-insert |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in churned:
            p = row["params"]
            # The same search setting before the churn: the plain row, or the sweep row at the
            # ef_search the churned index searched with.
            before = [r for r in rows if r["index"] == row["index"] and "churn" not in r["params"]
                      and "filter" not in r["params"]
                      and r["params"].get("ef_search") == p.get("churn_ef")]
            recall_before = f"{before[0]['recall']:.4f}" if before else "-"
            lines.append(f"| {row['index']} | {p['churned']} ({p['churn']:.0%}) | {row['recall']:.4f} | "
                         f"{recall_before} | {row['qps_1t']:.0f} | {mb(p['disk_bytes_before'])} | "
                         f"{mb(p['disk_bytes_after_delete'])} | {mb(row['disk_bytes'])} |")
    image = plot(name, rows, builds, out_dir)
    lines += ["", f"![recall vs QPS on {name}]({image})", ""]
    return lines


def plot(name, rows, builds, out_dir):
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharex=True)
    for ax, key, title in ((axes[0], "qps_1t", "one thread, one query at a time"),
                           (axes[1], "qps_batch", "all cores, batches of 64")):
        seen = {}
        for build, settings in sorted(builds.items(), key=lambda b: (b[0][0], b[0][1] or 0)):
            settings = sorted(settings, key=lambda r: r["params"]["ef_search"])
            label = f"{build[0]} M={build[1]} ef_c={build[2]}"
            style = LINESTYLES[seen.setdefault(build[0], 0) % len(LINESTYLES)]
            seen[build[0]] += 1
            ax.plot([r["recall"] for r in settings], [r[key] for r in settings], marker=".",
                    linestyle=style, color=colour(build[0]), label=label)
        for row in rows:
            if is_plain(row):
                ax.scatter([row["recall"]], [row[key]], marker="*", s=160, zorder=3,
                           color=colour(row["index"]), label=f"{row['index']} (exact)")
        ax.set_yscale("log")
        ax.set_xlabel("recall@%d" % rows[0]["k"])
        ax.set_ylabel("queries per second")
        ax.set_title(f"{name}: {title}")
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    image = f"ann-{name}.png"
    fig.savefig(out_dir / image, dpi=90)
    plt.close(fig)
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = read(args.results)
    if not rows:
        raise SystemExit("no results")
    machine = next((r for r in rows if "cpu" in r), {})
    newest = max(os.path.getmtime(p) for p in args.results)
    lines = ["# ANN benchmark: quiver and its peers", "",
             f"Measured {time.strftime('%Y-%m-%d', time.gmtime(newest))} on "
             f"{machine.get('cpu', 'an unknown CPU')}, {machine.get('cores', '?')} cores. "
             "Recall is ann-benchmarks' (distance within the k-th true distance + 1e-3); QPS one "
             "thread is one query at a time, best of three passes; batched is all cores, batches "
             "of 64. Peers run from Python (call overhead included, as in ann-benchmarks).", ""]
    versions = sorted({f"{r['index'].split('-')[0]} {r['version']}" for r in rows if "version" in r})
    if versions:
        lines += ["Versions: " + ", ".join(versions) + ".", ""]
    for dataset in sorted({r["dataset"] for r in rows}):
        lines += dataset_section(dataset, [r for r in rows if r["dataset"] == dataset], out_dir)
    (out_dir / "ann.md").write_text("\n".join(lines))
    print(f"wrote {out_dir / 'ann.md'}")


if __name__ == "__main__":
    main()
