//! Similarity search for an e-commerce site in one quiver file.
//!
//! Three entity types are three collections of 384-d embeddings: products (a struct record with
//! name, category, price and stock, the last three indexed fields), users (name, favourite
//! category) and reviews (product, author, stars, text; string ids such as `review-17`). The
//! data is generated so that results can be checked: every category has a direction in
//! embedding space, and each item's embedding is its category's direction plus noise; users
//! review products of their favourite category.
//!
//! The program ingests the three collections at the same time (one thread each), then runs a
//! product similarity search, a filtered search on indexed fields (category, price range, in
//! stock), recommendations that exclude each user's already-reviewed products (a deny-list per
//! query, in one batch), a global search across all types through `_global_index`, and the
//! second lookup that prints full records. It checks every result against a brute-force
//! computation or the data's structure, reopens the file and checks again, and prints timings.
//! It exits with an error if any check fails.
//!
//! Run: `cargo run --release --example ecommerce_search [PATH]` (default: a temporary file).

use quiver::Durability;
use quiver::vector::{
    Collection, CollectionConfig, Doc, F32, FieldKind, Hit, Metric, Store, field, ids,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

const DIM: usize = 384;
type Vector = F32<DIM>;
/// A product: a plain serde struct; `category`, `price` and `in_stock` are indexed fields.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Product {
    name: String,
    category: String,
    /// In cents.
    price: u32,
    in_stock: bool,
}
/// name, favourite category (a redb tuple: zero-copy, no indexed fields)
type User = (&'static str, &'static str);
/// product id, author (user id), stars, text
type Review = (u64, u64, u8, &'static str);

const CATEGORIES: [&str; 12] = [
    "lamps", "chairs", "garden", "kitchen", "books", "toys", "audio", "bikes", "tools", "shoes",
    "games", "paint",
];
const PRODUCTS: u64 = 20_000;
const USERS: u64 = 5_000;
const REVIEWS: u64 = 20_000;
const BATCH: u64 = 1_000;

/// The generated data set: everything needed to check results.
struct Data {
    centers: Vec<Vec<f32>>,
    products: Vec<(Vec<f32>, String, usize, u32, bool)>,
    users: Vec<(Vec<f32>, String, usize)>,
    /// (embedding, product, author, stars, text)
    reviews: Vec<(Vec<f32>, u64, u64, u8, String)>,
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// A category direction plus noise of about half its length.
fn near(center: &[f32], rng: &mut StdRng) -> Vec<f32> {
    let spread = 0.5 * 3f32.sqrt() / (DIM as f32).sqrt();
    center
        .iter()
        .map(|c| c + rng.random_range(-spread..spread))
        .collect()
}

fn generate() -> Data {
    let mut rng = StdRng::seed_from_u64(2026);
    let centers: Vec<Vec<f32>> = CATEGORIES
        .iter()
        .map(|_| normalized((0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()))
        .collect();
    let products = (0..PRODUCTS)
        .map(|id| {
            let category = (id % CATEGORIES.len() as u64) as usize;
            let price = 500 + rng.random_range(0..20_000u32);
            let in_stock = rng.random_bool(0.7);
            let name = format!("{} #{id}", CATEGORIES[category]);
            (
                near(&centers[category], &mut rng),
                name,
                category,
                price,
                in_stock,
            )
        })
        .collect::<Vec<_>>();
    let users: Vec<(Vec<f32>, String, usize)> = (0..USERS)
        .map(|id| {
            let category = rng.random_range(0..CATEGORIES.len());
            (
                near(&centers[category], &mut rng),
                format!("user {id}"),
                category,
            )
        })
        .collect();
    let categories = CATEGORIES.len() as u64;
    // The first 64 users have reviewed the in-stock product nearest to them (so leaving out
    // what they reviewed changes their recommendations); other reviews are by random users of
    // random products in their favourite category.
    let nearest_in_stock = |user: &[f32]| -> u64 {
        let mut best = (f32::INFINITY, 0);
        for (id, p) in products.iter().enumerate() {
            let d = cosine_distance(user, &p.0);
            if p.4 && d < best.0 {
                best = (d, id as u64);
            }
        }
        best.1
    };
    let reviews = (0..REVIEWS)
        .map(|n| {
            let author = if n < 64 {
                n
            } else {
                rng.random_range(0..USERS)
            };
            let category = users[author as usize].2 as u64;
            let product = if n < 64 {
                nearest_in_stock(&users[author as usize].0)
            } else {
                category + categories * rng.random_range(0..PRODUCTS / categories)
            };
            let stars = rng.random_range(1..=5u8);
            let text = format!("review of {}", products[product as usize].1);
            let vector = near(&centers[category as usize], &mut rng);
            (vector, product, author, stars, text)
        })
        .collect();
    Data {
        centers,
        products,
        users,
        reviews,
    }
}

fn open(path: &Path) -> quiver::Result<Store> {
    Store::builder()
        .global_index::<Vector>(Metric::Cosine)
        .open(path)
}

fn check(condition: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if condition {
        println!("  check passed: {what}");
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    1.0 - dot / (na * nb)
}

/// Writes one collection in durable batches of `BATCH`; returns the time taken.
fn ingest<M: quiver::vector::Record>(
    collection: &Collection<Vector, M>,
    count: u64,
    mut add: impl FnMut(&mut quiver::vector::WriteBatch<Vector, M>, u64) -> quiver::Result<()>,
) -> quiver::Result<Duration> {
    let start = Instant::now();
    for first in (0..count).step_by(BATCH as usize) {
        let mut batch = collection.batch();
        for id in first..(first + BATCH).min(count) {
            add(&mut batch, id)?;
        }
        collection.commit(batch, Durability::Immediate)?;
    }
    Ok(start.elapsed())
}

fn print_records(store: &Store, hits: &[Hit]) -> quiver::Result<()> {
    for fetched in store.fetch(hits)? {
        let hit = &fetched.hit;
        let record = match &*hit.collection {
            "products" => fetched.record::<Doc<Product>>()?.map(|p| {
                format!(
                    "{} ({}), ${}.{:02}, in stock: {}",
                    p.name,
                    p.category,
                    p.price / 100,
                    p.price % 100,
                    p.in_stock
                )
            }),
            "users" => fetched
                .record::<User>()?
                .map(|(name, category)| format!("{name}, likes {category}")),
            "reviews" => fetched
                .record::<Review>()?
                .map(|(product, author, stars, text)| {
                    format!("{text} (product {product}, user {author}, {stars}/5)")
                }),
            _ => None,
        };
        let name = fetched
            .string_id
            .clone()
            .unwrap_or_else(|| hit.id.to_string());
        println!(
            "    {:<9} {:<12} distance {:.3}  {}",
            hit.collection,
            name,
            hit.distance,
            record.unwrap_or_default()
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let temp = tempfile::tempdir()?;
    let path = std::env::args()
        .nth(1)
        .map(Into::into)
        .unwrap_or_else(|| temp.path().join("ecommerce.qvr"));
    let data = generate();
    let store = open(&path)?;
    println!(
        "store: {} (kernels: {})",
        path.display(),
        quiver::vector::distance::kernel_name()
    );

    // Ingest: one thread per collection, all at once. Products declare indexed fields.
    let config = CollectionConfig::new(Metric::Cosine);
    let product_config = config
        .clone()
        .field("category", FieldKind::Keyword)
        .field("price", FieldKind::Int)
        .field("in_stock", FieldKind::Bool);
    let products = store.create_collection::<Vector, Doc<Product>>("products", product_config)?;
    let users = store.create_collection::<Vector, User>("users", config.clone())?;
    let reviews = store.create_collection::<Vector, Review>("reviews", config)?;
    let started = Instant::now();
    let (product_time, user_time, review_time) = std::thread::scope(|scope| {
        let p = scope.spawn(|| {
            ingest(&products, PRODUCTS, |batch, id| {
                let (v, name, category, price, stock) = &data.products[id as usize];
                let product = Product {
                    name: name.clone(),
                    category: CATEGORIES[*category].to_owned(),
                    price: *price,
                    in_stock: *stock,
                };
                batch.upsert(id, v, &product)
            })
        });
        let u = scope.spawn(|| {
            ingest(&users, USERS, |batch, id| {
                let (v, name, category) = &data.users[id as usize];
                batch.upsert(id, v, &(name.as_str(), CATEGORIES[*category]))
            })
        });
        let r = scope.spawn(|| {
            ingest(&reviews, REVIEWS, |batch, n| {
                let (v, product, author, stars, text) = &data.reviews[n as usize];
                batch.upsert_str(
                    &format!("review-{n}"),
                    v,
                    &(*product, *author, *stars, text.as_str()),
                )
            })
        });
        (p.join(), u.join(), r.join())
    });
    let (product_time, user_time, review_time) = (
        product_time.map_err(|_| "product ingest panicked")??,
        user_time.map_err(|_| "user ingest panicked")??,
        review_time.map_err(|_| "review ingest panicked")??,
    );
    let total = started.elapsed();
    let vectors = PRODUCTS + USERS + REVIEWS;
    println!(
        "ingested {vectors} vectors in {total:.2?} ({:.0} vectors/s, durable batches of {BATCH}, one thread per collection)",
        vectors as f64 / total.as_secs_f64()
    );
    println!("  products {product_time:.2?}, users {user_time:.2?}, reviews {review_time:.2?}");
    check(
        products.len() == PRODUCTS as usize,
        "products hold every item",
    )?;
    check(reviews.id_of("review-123")?.is_some(), "string ids resolve")?;

    // 1. Product similarity: the nearest products to product 7 share its category.
    println!("\nproducts similar to product 7:");
    let query = &data.products[7].0;
    let started = Instant::now();
    let hits = products.search(query, 10)?;
    let elapsed = started.elapsed();
    print_records(&store, &hits)?;
    println!("  search over {PRODUCTS} products: {elapsed:.2?}");
    check(
        hits.first().map(|h| h.id) == Some(7),
        "the product itself comes first",
    )?;
    let category = data.products[7].2;
    check(
        hits.iter()
            .all(|h| data.products[h.id as usize].2 == category),
        "all ten share its category",
    )?;

    // 2. Filtered on indexed fields: lamps under $50 that are in stock, nearest to a user who
    //    likes lamps. The filter is answered from the field indexes, no record is read.
    println!("\nin-stock lamps under $50 for a user who likes lamps:");
    let user = data
        .users
        .iter()
        .position(|u| u.2 == 0)
        .ok_or("no user likes lamps")?;
    let query = &data.users[user].0;
    let wanted =
        |category: &str, price: u32, stock: bool| category == "lamps" && price < 5_000 && stock;
    let filter =
        field("category").eq("lamps") & field("price").lt(5_000) & field("in_stock").eq(true);
    let started = Instant::now();
    let hits = products.query(query).k(10).filter(filter.clone()).run()?;
    let elapsed = started.elapsed();
    check(
        products.count(&filter)? as usize
            == data
                .products
                .iter()
                .filter(|p| wanted(CATEGORIES[p.2], p.3, p.4))
                .count(),
        "count by filter equals the matching products",
    )?;
    print_records(&store, &hits)?;
    println!("  filtered search: {elapsed:.2?}");
    let mut expected: Vec<(f32, u64)> = data
        .products
        .iter()
        .enumerate()
        .filter(|(_, p)| wanted(CATEGORIES[p.2], p.3, p.4))
        .map(|(id, p)| (cosine_distance(query, &p.0), id as u64))
        .collect();
    expected.sort_by(|a, b| a.0.total_cmp(&b.0));
    let matching = expected.len();
    expected.truncate(10);
    check(
        hits.len() == matching.min(10),
        &format!("k results whenever k of the {matching} matching items exist"),
    )?;
    check(
        hits.iter().all(|h| {
            let p = &data.products[h.id as usize];
            wanted(CATEGORIES[p.2], p.3, p.4)
        }),
        "every hit matches the filter",
    )?;
    check(
        hits.iter().map(|h| h.id).eq(expected.iter().map(|e| e.1)),
        "hits equal a brute-force filtered search",
    )?;

    // 3. Global: everything about gardens, across all entity types.
    store.sync_global_index()?;
    println!("\neverything near the 'garden' direction, across types:");
    let garden = CATEGORIES
        .iter()
        .position(|c| *c == "garden")
        .ok_or("no garden")?;
    let started = Instant::now();
    let hits = store.global_search(&data.centers[garden], 15)?;
    let elapsed = started.elapsed();
    print_records(&store, &hits)?;
    let graph = store.global_graph_stats()?;
    println!(
        "  global search over {} entries: {elapsed:.2?} (global graph {:.1} MiB)",
        store.global_index_len()?,
        graph.memory_bytes as f64 / (1 << 20) as f64
    );
    let category_of = |hit: &Hit| -> Option<usize> {
        match &*hit.collection {
            "products" => Some(data.products[hit.id as usize].2),
            "users" => Some(data.users[hit.id as usize].2),
            "reviews" => {
                let name = reviews.string_id(hit.id).ok()??;
                let n: usize = name.strip_prefix("review-")?.parse().ok()?;
                Some(data.products[data.reviews[n].1 as usize].2)
            }
            _ => None,
        }
    };
    check(
        hits.iter().all(|h| category_of(h) == Some(garden)),
        "every global hit belongs to the garden category",
    )?;
    let types: std::collections::BTreeSet<&str> = hits.iter().map(|h| &*h.collection).collect();
    check(
        types.len() == 3,
        "the global search returned all three entity types",
    )?;
    // Past 4,096 entries the global search walks the global index's graph (approximate); its
    // exact scan must equal the per-collection searches merged, and the walk must find nearly
    // all of the same hits.
    let merged =
        store.search_collections(&["products", "users", "reviews"], &data.centers[garden], 15)?;
    let exact = store.global_search_exact(&data.centers[garden], 15)?;
    check(
        merged == exact,
        "the exact global scan equals the merged per-collection searches",
    )?;
    // By item: the walk's distances come from the graph's own copy of the vectors and may
    // differ from the scan's in the last bits.
    let found = hits
        .iter()
        .filter(|h| {
            exact
                .iter()
                .any(|e| e.collection == h.collection && e.id == h.id)
        })
        .count();
    println!(
        "  global graph ({} nodes) found {found} of the exact top {}",
        store.global_graph_stats()?.nodes,
        exact.len()
    );
    check(
        found * 10 >= exact.len() * 9,
        "the global graph finds at least 90% of the exact global top k",
    )?;

    // 4. Batched: 64 user queries at once.
    let queries: Vec<&[f32]> = data.users[..64].iter().map(|u| u.0.as_slice()).collect();
    let started = Instant::now();
    let results = products.query_batch(&queries).k(10).run_batch()?;
    let batched = started.elapsed();
    println!(
        "\n64 user-to-product queries in one batch: {batched:.2?} ({:.2?} per query)",
        batched / 64
    );
    check(
        results.iter().zip(&data.users).all(|(hits, user)| {
            hits.iter()
                .all(|h| data.products[h.id as usize].2 == user.2)
        }),
        "each user's recommendations are in their favourite category",
    )?;

    // 4b. Recommendations that leave out what each user already reviewed: one deny-list per
    //     query, in one batch.
    let seen: Vec<Vec<u64>> = (0..64u64)
        .map(|user| {
            let mut seen: Vec<u64> = data
                .reviews
                .iter()
                .filter(|r| r.2 == user)
                .map(|r| r.1)
                .collect();
            seen.sort_unstable();
            seen.dedup();
            seen
        })
        .collect();
    let started = Instant::now();
    let recommended = products
        .query_batch(&queries)
        .k(10)
        .filter(field("in_stock").eq(true))
        .filters(seen.iter().map(|s| !ids(s)).collect())
        .run_batch()?;
    let elapsed = started.elapsed();
    println!(
        "64 recommendations excluding each user's {} reviewed products on average: {elapsed:.2?}",
        seen.iter().map(Vec::len).sum::<usize>() / 64
    );
    let expected_for = |user: usize| -> Vec<u64> {
        let mut scored: Vec<(f32, u64)> = data
            .products
            .iter()
            .enumerate()
            .filter(|(id, p)| p.4 && seen[user].binary_search(&(*id as u64)).is_err())
            .map(|(id, p)| (cosine_distance(queries[user], &p.0), id as u64))
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        scored.iter().take(10).map(|s| s.1).collect()
    };
    check(
        recommended.iter().enumerate().all(|(user, hits)| {
            hits.iter()
                .all(|h| seen[user].binary_search(&h.id).is_err())
        }),
        "no user is recommended a product they reviewed",
    )?;
    check(
        recommended
            .iter()
            .enumerate()
            .all(|(user, hits)| hits.iter().map(|h| h.id).eq(expected_for(user))),
        "each user's recommendations equal a brute-force search without their reviewed products",
    )?;
    let unfiltered_in_stock = products
        .query_batch(&queries)
        .k(10)
        .filter(field("in_stock").eq(true))
        .run_batch()?;
    check(
        unfiltered_in_stock
            .iter()
            .zip(&seen)
            .all(|(hits, seen)| hits.iter().any(|h| seen.binary_search(&h.id).is_ok())),
        "without the deny-lists every user would have been shown a product they reviewed",
    )?;

    // 5. Persistence: reopen and search again.
    let before = products.search(&data.products[7].0, 10)?;
    drop((products, users, reviews));
    store.close()?;
    let started = Instant::now();
    let store = open(&path)?;
    let products = store.collection::<Vector, Doc<Product>>("products")?;
    let _users = store.collection::<Vector, User>("users")?;
    let _reviews = store.collection::<Vector, Review>("reviews")?;
    println!(
        "\nreopened in {:.2?} (product mirror: {} vectors, {:.1} MiB, loaded in {:.2?})",
        started.elapsed(),
        products.mirror_stats().vectors,
        products.mirror_stats().memory_bytes as f64 / (1 << 20) as f64,
        products.mirror_stats().load_time
    );
    check(
        products.search(&data.products[7].0, 10)? == before,
        "the same results after reopening",
    )?;
    check(
        store.global_index_len()? == vectors,
        "the global index holds every item once",
    )?;
    store.close()?;
    println!("\nall checks passed");
    Ok(())
}
