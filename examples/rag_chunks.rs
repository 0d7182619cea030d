//! Retrieval for a RAG application: documents cut into chunks, each chunk a struct record with
//! its text, searched by similarity under metadata filters, in one quiver file.
//!
//! Documents have a tag (their topic) and a timestamp; each is cut into chunks whose embedding
//! is the topic's direction plus noise, so results can be checked. The program:
//! 1. ingests the chunks, one transaction per document, with string ids (`doc-17#3`);
//! 2. runs a filtered query, `tag == X AND ts > T`, through the approximate index, and checks
//!    every hit against the filter and the result against an exact search of the same filter
//!    and against brute force;
//! 3. reads the hits' records (the second lookup);
//! 4. deletes a document by filter, updates a chunk's metadata without touching its vector,
//!    and pages through a tag's chunks;
//! 5. reopens the file and checks that everything is as it was left.
//!
//! It exits with an error if any check fails. Run: `cargo run --release --example rag_chunks`.

use quiver::Durability;
use quiver::vector::{
    AnnConfig, Collection, CollectionConfig, Doc, Expr, F32, FieldKind, Metric, Store, field,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::error::Error;
use std::time::Instant;

const DIM: usize = 128;
const DOCUMENTS: usize = 600;
const CHUNKS_PER_DOC: usize = 8;
const TAGS: [&str; 4] = ["finance", "legal", "health", "tech"];

/// A chunk of a document, as the application defines it: a plain serde struct.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Chunk {
    doc: String,
    tag: String,
    ts: i64,
    page: u32,
    text: String,
    /// Added after the first release: absent in older rows, read as false.
    #[serde(default)]
    reviewed: bool,
}

type Chunks = Collection<F32<DIM>, Doc<Chunk>>;

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Box<dyn Error>> {
    if ok { Ok(()) } else { Err(what().into()) }
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// A topic's direction plus noise.
fn embed(topic: &[f32], rng: &mut StdRng) -> Vec<f32> {
    normalized(
        topic
            .iter()
            .map(|x| x + rng.random_range(-0.15f32..0.15))
            .collect(),
    )
}

/// Cosine distance, for the brute-force check.
fn distance(a: &[f32], b: &[f32]) -> f32 {
    1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>()
}

struct Corpus {
    topics: Vec<Vec<f32>>,
    /// (string id, vector, chunk) of every chunk.
    chunks: Vec<(String, Vec<f32>, Chunk)>,
}

fn corpus() -> Corpus {
    let mut rng = StdRng::seed_from_u64(7);
    let topics: Vec<Vec<f32>> = (0..TAGS.len())
        .map(|_| normalized((0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()))
        .collect();
    let mut chunks = Vec::new();
    for d in 0..DOCUMENTS {
        let tag = d % TAGS.len();
        let ts = 1_700_000_000 + (d as i64) * 3_600;
        for page in 0..CHUNKS_PER_DOC {
            let chunk = Chunk {
                doc: format!("doc-{d}"),
                tag: TAGS[tag].to_owned(),
                ts,
                page: page as u32,
                text: format!("Page {page} of document {d}, about {}.", TAGS[tag]),
                reviewed: false,
            };
            chunks.push((
                format!("doc-{d}#{page}"),
                embed(&topics[tag], &mut rng),
                chunk,
            ));
        }
    }
    Corpus { topics, chunks }
}

fn open(store: &Store) -> quiver::Result<Chunks> {
    let config = CollectionConfig::new(Metric::Cosine)
        .approximate(AnnConfig::default())
        .field("doc", FieldKind::Keyword)
        .field("tag", FieldKind::Keyword)
        .field("ts", FieldKind::Timestamp)
        .field("reviewed", FieldKind::Bool);
    store.collection_or_create("chunks", config)
}

/// The string ids of the `k` chunks nearest `query` among those `keep` admits, by brute force.
fn brute_force(
    corpus: &Corpus,
    gone: &[String],
    query: &[f32],
    k: usize,
    keep: impl Fn(&Chunk) -> bool,
) -> Vec<String> {
    let mut scored: Vec<(f32, &String)> = corpus
        .chunks
        .iter()
        .filter(|(id, _, chunk)| keep(chunk) && !gone.contains(id))
        .map(|(id, vector, _)| (distance(query, vector), id))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored
        .into_iter()
        .take(k)
        .map(|(_, id)| id.clone())
        .collect()
}

/// The ids of the exact top 10 under `filter`.
fn exact_top_10(chunks: &Chunks, query: &[f32], filter: Expr) -> quiver::Result<Vec<u64>> {
    let hits = chunks.query(query).k(10).filter(filter).exact().run()?;
    Ok(hits.iter().map(|h| h.id).collect())
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rag.qvr");
    let corpus = corpus();
    let store = Store::open(&path)?;
    let chunks = open(&store)?;

    // 1. Ingest: one transaction per document (its chunks appear together or not at all).
    let started = Instant::now();
    for document in corpus.chunks.chunks(CHUNKS_PER_DOC) {
        let mut batch = chunks.batch();
        for (id, vector, chunk) in document {
            batch.upsert_str(id, vector, chunk)?;
        }
        chunks.commit(batch, Durability::None)?;
    }
    chunks.commit(chunks.batch(), Durability::Immediate)?;
    println!(
        "ingested {} chunks of {DOCUMENTS} documents in {:.2} s",
        chunks.len(),
        started.elapsed().as_secs_f64()
    );
    check(chunks.len() == corpus.chunks.len(), || "chunk count".into())?;

    // 2. A filtered query: recent legal chunks.
    let since = 1_700_000_000 + 300 * 3_600;
    let recent_legal = field("tag").eq("legal") & field("ts").gt(since);
    let query = embed(&corpus.topics[1], &mut StdRng::seed_from_u64(99));
    let plan = chunks
        .query(&query)
        .filter(recent_legal.clone())
        .explain()?;
    println!(
        "filter tag == legal AND ts > T admits {:?} of {} chunks: route {}",
        plan.allowed,
        plan.live,
        plan.route.name()
    );
    let started = Instant::now();
    let found = chunks
        .query(&query)
        .k(10)
        .filter(recent_legal.clone())
        .run_with_records()?;
    println!(
        "filtered query: {} hits in {:.2} ms",
        found.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    check(found.len() == 10, || {
        format!("{} hits, expected 10", found.len())
    })?;
    for hit in &found {
        let chunk = hit.record.value()?;
        check(chunk.tag == "legal" && chunk.ts > since, || {
            format!("hit {:?} does not match the filter", hit.string_id)
        })?;
    }
    // 3. The second lookup gave each hit's record and string id.
    println!(
        "  best: {} ({})",
        found[0].string_id.as_deref().unwrap_or("?"),
        found[0].record.value()?.text
    );
    let exact = exact_top_10(&chunks, &query, recent_legal.clone())?;
    let approximate: Vec<u64> = found.iter().map(|f| f.hit.id).collect();
    let overlap = approximate.iter().filter(|id| exact.contains(id)).count();
    println!("  recall against the exact filtered search: {overlap}/10");
    check(overlap >= 9, || format!("recall {overlap}/10"))?;
    let truth = brute_force(&corpus, &[], &query, 10, |c| {
        c.tag == "legal" && c.ts > since
    });
    let exact_names: Vec<String> = exact
        .iter()
        .map(|id| chunks.string_id(*id).map(Option::unwrap_or_default))
        .collect::<quiver::Result<_>>()?;
    check(exact_names == truth, || {
        "exact filtered search differs from brute force".into()
    })?;

    // 4a. Delete a document by filter: all its chunks, in one transaction.
    let deleted = chunks.delete_where(&field("doc").eq("doc-17"))?;
    println!("deleted document doc-17: {deleted} chunks");
    check(deleted == CHUNKS_PER_DOC as u64, || {
        format!("deleted {deleted}")
    })?;
    check(chunks.count(&field("doc").eq("doc-17"))? == 0, || {
        "doc-17 left".into()
    })?;
    let gone: Vec<String> = (0..CHUNKS_PER_DOC).map(|p| format!("doc-17#{p}")).collect();

    // 4b. Update a chunk's metadata: the record changes, the vector and the graph do not.
    let id = chunks.id_of("doc-21#0")?.ok_or("doc-21#0 missing")?;
    let (vector_before, record) = chunks.get(id)?.ok_or("doc-21#0 missing")?;
    let mut chunk = record.value()?;
    chunk.reviewed = true;
    let nodes = chunks.index_stats().map(|s| s.nodes);
    // String-id items are written by their string.
    check(chunks.update_record_str("doc-21#0", &chunk)?, || {
        "update of a missing chunk".into()
    })?;
    let (vector_after, record) = chunks.get(id)?.ok_or("doc-21#0 missing")?;
    check(
        record.value()?.reviewed && vector_after == vector_before,
        || "the update changed the wrong thing".into(),
    )?;
    check(chunks.index_stats().map(|s| s.nodes) == nodes, || {
        "the update added a graph node".into()
    })?;
    check(chunks.count(&field("reviewed").eq(true))? == 1, || {
        "reviewed count".into()
    })?;

    // 4c. Page through every health chunk, 25 at a time, in id order.
    let health = field("tag").eq("health");
    let (mut seen, mut pages, mut after) = (0u64, 0, None);
    loop {
        let page = chunks.scan(&health, after, 25)?;
        pages += 1;
        seen += page.items.len() as u64;
        for item in &page.items {
            check(item.record.value()?.tag == "health", || {
                "scan returned another tag".into()
            })?;
        }
        match page.next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    println!("paged through {seen} health chunks in {pages} pages");
    check(seen == chunks.count(&health)?, || {
        "scan and count differ".into()
    })?;

    // 5. Reopen: the same answers.
    let before = exact_top_10(&chunks, &query, recent_legal.clone())?;
    drop(chunks);
    store.close()?;
    let store = Store::open(&path)?;
    let chunks = open(&store)?;
    let after_reopen = exact_top_10(&chunks, &query, recent_legal)?;
    check(before == after_reopen, || {
        "results changed across reopening".into()
    })?;
    check(chunks.len() == corpus.chunks.len() - CHUNKS_PER_DOC, || {
        "chunk count after reopening".into()
    })?;
    check(chunks.count(&field("reviewed").eq(true))? == 1, || {
        "the update was lost across reopening".into()
    })?;
    let truth = brute_force(&corpus, &gone, &query, 5, |c| c.tag == "legal");
    let hits: Vec<String> = chunks
        .query(&query)
        .k(5)
        .filter(field("tag").eq("legal"))
        .exact()
        .run_with_records()?
        .into_iter()
        .filter_map(|f| f.string_id)
        .collect();
    check(hits == truth, || {
        "exact search after reopening differs from brute force".into()
    })?;
    let report = store.verify()?;
    println!(
        "reopened and verified: {} items, field indexes and index consistent",
        report.items
    );
    println!("all checks passed");
    Ok(())
}
