//! `--records rag`: the RAG case on wordnet-minilm, with records of about 1 KB and the filters
//! a RAG or recommendation app runs, through indexed fields and the query builder.
//!
//! Each base row gets a [`Dynamic`] record: `pos`, `lemmas` (a keyword list), `definition`, a
//! `body` (the definition repeated to about 1 KB), a `doc` id (groups of ten consecutive rows,
//! as chunks of one document), a seeded uniform `ts` and a `tenant` drawn from 100 values.
//! `pos`, `lemmas`, `doc`, `ts` and `tenant` are indexed.
//!
//! Every filter is scored against the exact filtered ground truth, computed here from the
//! records (not through quiver), over `--filter-queries` queries, at each `--ef`. Its speed is
//! timed in passes alternating with the unfiltered walk at the same `ef` (the same machine,
//! side by side), giving `ratio` = filtered / unfiltered queries/s. One JSON line per filter
//! and ef:
//! `{"bench":"filter","filter","selectivity","record_bytes","route","recall","qps_1t",
//! "unfiltered_qps_1t_same_ef","ratio","ef","index","n","queries"}`; then one line each for
//! `count`, `scan` (pages of 100), `delete_where`, `update_record` and the field indexes'
//! memory.

use crate::args::Args;
use crate::data::{self, Dataset};
use crate::measure;
use crate::output::progress;
use crate::truth;
use quiver::Durability;
use quiver::vector::{
    AnnConfig, Collection, CollectionConfig, Dynamic, Expr, FieldKind, Filter, Hit, Metric, Store,
    VectorType, field, ids,
};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Instant;

type BoxError = Box<dyn std::error::Error>;
type Items<V> = Collection<V, Dynamic>;

/// Target size of a record's text.
const BODY_BYTES: usize = 1000;
/// Rows per document.
const CHUNKS_PER_DOC: usize = 10;
/// Distinct tenants.
const TENANTS: usize = 100;
/// Ids in each query's deny-list.
const DENIED: usize = 100;

/// What the bench knows of each row, to evaluate filters without quiver.
struct Meta {
    pos: String,
    lemmas: Vec<String>,
    tenant: usize,
    ts: i64,
}

/// Reads the rows' metadata and builds their records.
fn records(args: &Args, rows: usize) -> Result<(Vec<Meta>, Vec<Value>), BoxError> {
    let dir = data::wordnet_dir(args)
        .ok_or("--records rag needs a wordnet dataset (its base_meta.jsonl)")?;
    let file = std::fs::File::open(dir.join("base_meta.jsonl"))?;
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x4a6);
    let (mut metas, mut records) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    for (row, line) in std::io::BufReader::new(file).lines().enumerate().take(rows) {
        let meta: Value = serde_json::from_str(&line?)?;
        let pos = meta["pos"].as_str().unwrap_or("").to_owned();
        let definition = meta["definition"].as_str().unwrap_or("").to_owned();
        let lemmas: Vec<String> = meta["lemmas"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut body = String::with_capacity(BODY_BYTES + definition.len());
        while body.len() < BODY_BYTES && !definition.is_empty() {
            body.push_str(&definition);
            body.push(' ');
        }
        let tenant = rng.random_range(0..TENANTS);
        let ts = rng.random_range(0..1_000_000_000i64);
        records.push(json!({
            "pos": pos,
            "lemmas": lemmas,
            "definition": definition,
            "body": body,
            "doc": format!("d{}", row / CHUNKS_PER_DOC),
            "ts": ts,
            "tenant": format!("t{tenant}"),
        }));
        metas.push(Meta {
            pos,
            lemmas,
            tenant,
            ts,
        });
    }
    if metas.len() < rows {
        return Err(format!("base_meta.jsonl has {} rows, the base {rows}", metas.len()).into());
    }
    Ok((metas, records))
}

/// A filter of the bench: its name, its expression, and the rows it allows (sorted).
struct Case {
    name: String,
    expr: Expr,
    allowed: Vec<u32>,
    /// A deny-list per query instead of `expr`.
    deny: bool,
}

/// The filters the issue names, with their allowed rows computed from the metadata.
fn cases(metas: &[Meta]) -> Vec<Case> {
    let rows_where = |keep: &dyn Fn(&Meta) -> bool| -> Vec<u32> {
        (0..metas.len() as u32)
            .filter(|r| keep(&metas[*r as usize]))
            .collect()
    };
    let mut ts: Vec<i64> = metas.iter().map(|m| m.ts).collect();
    ts.sort_unstable();
    let t50 = ts[ts.len() / 2];
    let t90 = ts[ts.len() * 9 / 10];
    let mut lemma_counts: HashMap<&str, usize> = HashMap::new();
    for meta in metas {
        for lemma in &meta.lemmas {
            *lemma_counts.entry(lemma.as_str()).or_default() += 1;
        }
    }
    let common = lemma_counts
        .iter()
        .max_by_key(|(lemma, count)| (**count, std::cmp::Reverse(**lemma)))
        .map(|(lemma, _)| lemma.to_string())
        .unwrap_or_default();
    let tenants: Vec<String> = (0..10).map(|t| format!("t{t}")).collect();
    vec![
        Case {
            name: "pos == verb".into(),
            expr: field("pos").eq("verb"),
            allowed: rows_where(&|m| m.pos == "verb"),
            deny: false,
        },
        Case {
            name: "pos == adv".into(),
            expr: field("pos").eq("adv"),
            allowed: rows_where(&|m| m.pos == "adv"),
            deny: false,
        },
        Case {
            name: "tenant == t7".into(),
            expr: field("tenant").eq("t7"),
            allowed: rows_where(&|m| m.tenant == 7),
            deny: false,
        },
        Case {
            name: "ts > T (50%)".into(),
            expr: field("ts").gt(t50),
            allowed: rows_where(&|m| m.ts > t50),
            deny: false,
        },
        Case {
            name: "ts > T (10%)".into(),
            expr: field("ts").gt(t90),
            allowed: rows_where(&|m| m.ts > t90),
            deny: false,
        },
        Case {
            name: "tenant in [10] AND ts > T".into(),
            expr: field("tenant").is_in(tenants.iter()) & field("ts").gt(t50),
            allowed: rows_where(&|m| m.tenant < 10 && m.ts > t50),
            deny: false,
        },
        Case {
            name: "NOT pos == noun".into(),
            expr: !field("pos").eq("noun"),
            allowed: rows_where(&|m| m.pos != "noun"),
            deny: false,
        },
        Case {
            name: format!("lemmas contains any [{common}]"),
            expr: field("lemmas").contains_any([common.as_str()]),
            allowed: rows_where(&|m| m.lemmas.contains(&common)),
            deny: false,
        },
    ]
}

/// Times `candidate` against `baseline` over `n` queries (by index), one thread, passes
/// alternating; returns both queries/s (best pass each) and the candidate's answers of its
/// best pass.
fn paired(
    passes: usize,
    n: usize,
    label: &str,
    baseline: impl Fn(usize) -> quiver::Result<Vec<Hit>> + Sync,
    candidate: impl Fn(usize) -> quiver::Result<Vec<Hit>> + Sync,
) -> Result<(f64, f64, Vec<Vec<Hit>>), BoxError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (mut base_s, mut cand_s, mut answers) = (f64::INFINITY, f64::INFINITY, Vec::new());
    for pass in 0..passes.max(1) {
        let bar = progress(2 * n, &format!("{label} {}", pass + 1));
        let (b, (c, results)) = pool.install(|| -> quiver::Result<_> {
            let started = Instant::now();
            for q in 0..n {
                baseline(q)?;
                bar.inc(1);
            }
            let b = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let mut results = Vec::with_capacity(n);
            for q in 0..n {
                results.push(candidate(q)?);
                bar.inc(1);
            }
            Ok((b, (started.elapsed().as_secs_f64(), results)))
        })?;
        bar.finish_and_clear();
        base_s = base_s.min(b);
        if c < cand_s {
            cand_s = c;
            answers = results;
        }
    }
    Ok((n as f64 / base_s, n as f64 / cand_s, answers))
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Runs the RAG bench for an exact collection (`ann` None) or an indexed one, at each `ef`.
pub fn run<V: VectorType>(
    args: &Args,
    data: &Dataset,
    metric: Metric,
    ann: Option<AnnConfig>,
    efs: &[usize],
) -> Result<Vec<Value>, BoxError> {
    let n = data.base.rows();
    let (metas, records) = records(args, n)?;
    let record_bytes = {
        let mut total = 0usize;
        for record in &records {
            let mut out = Vec::new();
            <Dynamic as quiver::vector::Record>::encode(record, &mut out)?;
            total += out.len();
        }
        total / n.max(1)
    };
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("rag.qvr"))?;
    let mut config = CollectionConfig::new(metric)
        .field("pos", FieldKind::Keyword)
        .field("lemmas", FieldKind::Keywords)
        .field("doc", FieldKind::Keyword)
        .field("ts", FieldKind::Timestamp)
        .field("tenant", FieldKind::Keyword);
    if let Some(ann) = ann {
        config = config.approximate(ann);
    }
    let index_name = match ann {
        Some(_) => "quiver-hnsw",
        None => "quiver-flat",
    };
    let items: Items<V> = store.create_collection("chunks", config)?;
    let started = Instant::now();
    let bar = progress(n, "ingest");
    for (chunk_start, chunk) in records.chunks(1000).enumerate() {
        let mut batch = items.batch();
        for (i, record) in chunk.iter().enumerate() {
            let row = chunk_start * 1000 + i;
            batch.upsert(row as u64, data.base.row(row), record)?;
        }
        items.commit(batch, Durability::None)?;
        bar.inc(chunk.len() as u64);
    }
    items.commit(items.batch(), Durability::Immediate)?;
    bar.finish_and_clear();
    let build_s = started.elapsed().as_secs_f64();
    eprintln!("rag: {n} records of {record_bytes} bytes ingested in {build_s:.1} s");

    let k = args.k;
    let subset = data.with_first_queries(args.filter_queries);
    let filter_queries = &subset.queries;
    let nq = filter_queries.rows();
    let query = |q: usize| filter_queries.row(q);
    let default_ef = ann.map(|a| a.ef_search);
    let efs: Vec<Option<usize>> = match ann {
        Some(_) => efs.iter().copied().map(Some).collect(),
        None => vec![None],
    };
    let unfiltered = |q: usize, ef: Option<usize>| -> quiver::Result<Vec<Hit>> {
        let search = items.query(query(q)).k(k);
        match ef {
            Some(ef) => search.ef(ef).run(),
            None => search.run(),
        }
    };
    let mut lines = Vec::new();
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0xde1);
    let denied: Vec<Vec<u32>> = (0..nq)
        .map(|_| {
            let mut rows: Vec<u32> = sample(&mut rng, n, DENIED.min(n))
                .into_iter()
                .map(|r| r as u32)
                .collect();
            rows.sort_unstable();
            rows
        })
        .collect();
    let deny_exprs: Vec<Expr> = denied
        .iter()
        .map(|rows| !ids(&rows.iter().map(|r| u64::from(*r)).collect::<Vec<_>>()))
        .collect();
    let mut all_cases = cases(&metas);
    all_cases.push(Case {
        name: format!("deny-list of {DENIED} ids per query"),
        expr: Expr::all(),
        allowed: Vec::new(),
        deny: true,
    });
    for case in &all_cases {
        let deny = case.deny;
        let (truth, selectivity, route) = if deny {
            let route = items.explain(&Filter::expr(deny_exprs[0].clone()))?;
            (
                truth::filtered_each(&subset, k, |q, row| denied[q].binary_search(&row).is_err()),
                (n - DENIED.min(n)) as f64 / n as f64,
                route.route,
            )
        } else {
            let route = items.explain(&Filter::expr(case.expr.clone()))?;
            (
                truth::filtered(&subset, &case.allowed, k),
                case.allowed.len() as f64 / n as f64,
                route.route,
            )
        };
        for ef in &efs {
            let filtered = |q: usize| -> quiver::Result<Vec<Hit>> {
                let expr = match deny {
                    true => deny_exprs[q].clone(),
                    false => case.expr.clone(),
                };
                let search = items.query(query(q)).k(k).filter(expr);
                match ef {
                    Some(ef) => search.ef(*ef).run(),
                    None => search.run(),
                }
            };
            let (base_qps, qps, results) = paired(
                args.passes,
                nq,
                &case.name,
                |q| unfiltered(q, *ef),
                filtered,
            )?;
            let recall = measure::recall(
                data.distance,
                &data.base,
                filter_queries,
                &results,
                &truth,
                k,
            )
            .0;
            let line = json!({
                "bench": "filter",
                "filter": case.name,
                "selectivity": round(selectivity, 4),
                "record_bytes": record_bytes,
                "route": route.name(),
                "recall": round(recall, 4),
                "qps_1t": round(qps, 1),
                "unfiltered_qps_1t_same_ef": round(base_qps, 1),
                "ratio": round(qps / base_qps, 3),
                "ef": ef.or(default_ef),
                "index": index_name,
                "n": n,
                "queries": nq,
            });
            eprintln!("{line}");
            lines.push(line);
        }
    }

    // count, scan and delete_where timings, per filter (not the deny-list: it has no
    // meaning without a query).
    for case in &all_cases[..all_cases.len() - 1] {
        let reps = 50;
        let started = Instant::now();
        let mut counted = 0;
        for _ in 0..reps {
            counted = items.count(&case.expr)?;
        }
        let count_ms = started.elapsed().as_secs_f64() * 1e3 / reps as f64;
        if counted != case.allowed.len() as u64 {
            return Err(format!(
                "count({}) = {counted}, the records say {}",
                case.name,
                case.allowed.len()
            )
            .into());
        }
        let started = Instant::now();
        let (mut pages, mut after, mut scanned) = (0usize, None, 0usize);
        loop {
            let page = items.scan(&case.expr, after, 100)?;
            pages += 1;
            scanned += page.items.len();
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        let scan_ms = started.elapsed().as_secs_f64() * 1e3;
        let line = json!({
            "bench": "count_scan",
            "filter": case.name,
            "count_ms": round(count_ms, 4),
            "scan_pages": pages,
            "scan_items": scanned,
            "scan_ms_per_page": round(scan_ms / pages.max(1) as f64, 4),
            "index": index_name,
            "n": n,
        });
        eprintln!("{line}");
        lines.push(line);
    }

    let stats = items.field_index_stats()?;
    let line = json!({
        "bench": "field_indexes",
        "fields": stats.fields,
        "postings": stats.postings,
        "memory_bytes": stats.memory_bytes,
        "bytes_per_item": round(stats.memory_bytes as f64 / n.max(1) as f64, 1),
        "index": index_name,
        "n": n,
    });
    eprintln!("{line}");
    lines.push(line);

    // update_record: batches of 1,000, each durable; the graph keeps its node count.
    let nodes_before = items.index_stats().map(|s| s.nodes);
    let updates = n.min(10_000);
    let started = Instant::now();
    for chunk in (0..updates).collect::<Vec<_>>().chunks(1000) {
        let mut batch = items.batch();
        for &row in chunk {
            let mut record = records[row].clone();
            record["tenant"] = json!(format!("t{}", (row * 7) % TENANTS));
            batch.update_record(row as u64, &record)?;
        }
        items.commit(batch, Durability::Immediate)?;
    }
    let update_s = started.elapsed().as_secs_f64();
    let nodes_after = items.index_stats().map(|s| s.nodes);
    if nodes_before != nodes_after {
        return Err(format!(
            "update_record changed the nodes: {nodes_before:?} -> {nodes_after:?}"
        )
        .into());
    }
    let line = json!({
        "bench": "update_record",
        "records": updates,
        "batch": 1000,
        "records_per_s": round(updates as f64 / update_s, 0),
        "nodes_unchanged": nodes_before == nodes_after,
        "index": index_name,
        "n": n,
    });
    eprintln!("{line}");
    lines.push(line);

    // delete_where: whole documents by their id, one durable transaction each.
    let docs = (n / CHUNKS_PER_DOC).min(100);
    let started = Instant::now();
    let mut deleted = 0;
    for doc in 0..docs {
        deleted += items.delete_where(&field("doc").eq(format!("d{doc}")))?;
    }
    let delete_s = started.elapsed().as_secs_f64();
    let line = json!({
        "bench": "delete_where",
        "filter": "doc == dN",
        "calls": docs,
        "deleted": deleted,
        "ms_per_call": round(delete_s * 1e3 / docs.max(1) as f64, 3),
        "index": index_name,
        "n": n,
    });
    eprintln!("{line}");
    lines.push(line);
    drop(items);
    store.close()?;
    if let Some(path) = &args.json {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        for line in &lines {
            writeln!(file, "{line}")?;
        }
    }
    Ok(lines)
}
