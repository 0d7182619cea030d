//! An e-commerce store in one quiver file: users, products and orders are column families,
//! written at the same time from one thread each. An order and its line items and the running
//! totals change in one atomic transaction (several tables of one column family). The program
//! then reopens the file, checks everything it wrote, and prints what it did and how long it
//! took.
//!
//! Run: `cargo run --release --example column_families [PATH]` (default: a temporary file).

use quiver::{ColumnFamily, Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::error::Error;
use std::time::{Duration, Instant};

const USERS: TableDefinition<u64, &str> = TableDefinition::new("users");
const EMAILS: TableDefinition<&str, u64> = TableDefinition::new("users_by_email");
const PRODUCTS: TableDefinition<u64, (&str, u64)> = TableDefinition::new("products"); // name, cents
const STOCK: TableDefinition<u64, u32> = TableDefinition::new("stock");
const ORDERS: TableDefinition<u64, (u64, u64)> = TableDefinition::new("orders"); // user, total
const LINES: TableDefinition<(u64, u32), (u64, u32)> = TableDefinition::new("order_lines");
const TOTALS: TableDefinition<&str, u64> = TableDefinition::new("totals");

const N_USERS: u64 = 20_000;
const N_PRODUCTS: u64 = 5_000;
const N_ORDERS: u64 = 10_000;
const BATCH: u64 = 500;

fn price_of(product: u64) -> u64 {
    199 + (product * 37) % 20_000
}

fn write_users(cf: &ColumnFamily) -> Result<(), quiver::Error> {
    for start in (0..N_USERS).step_by(BATCH as usize) {
        let txn = cf.begin_write()?;
        {
            let mut users = txn.open_table(USERS)?;
            let mut emails = txn.open_table(EMAILS)?;
            for id in start..start + BATCH {
                let name = format!("user {id}");
                users.insert(id, name.as_str())?;
                emails.insert(format!("user{id}@example.com").as_str(), id)?;
            }
        }
        txn.commit()?;
    }
    Ok(())
}

fn write_products(cf: &ColumnFamily) -> Result<(), quiver::Error> {
    for start in (0..N_PRODUCTS).step_by(BATCH as usize) {
        let txn = cf.begin_write()?;
        {
            let mut products = txn.open_table(PRODUCTS)?;
            let mut stock = txn.open_table(STOCK)?;
            for id in start..start + BATCH {
                let name = format!("product {id}");
                products.insert(id, (name.as_str(), price_of(id)))?;
                stock.insert(id, (id % 50) as u32)?;
            }
        }
        txn.commit()?;
    }
    Ok(())
}

/// One durable transaction per order: the order, its lines and the running totals commit
/// together or not at all.
fn write_orders(cf: &ColumnFamily) -> Result<(), quiver::Error> {
    for order in 0..N_ORDERS {
        // Durable by default: each order is on disk when commit() returns. Concurrent commits
        // of the three column families share the log's fsyncs.
        let txn = cf.begin_write()?;
        {
            let mut lines = txn.open_table(LINES)?;
            let mut total = 0;
            for line in 0..(1 + order % 4) as u32 {
                let product = (order * 7 + u64::from(line) * 13) % N_PRODUCTS;
                let quantity = 1 + line;
                lines.insert((order, line), (product, quantity))?;
                total += price_of(product) * u64::from(quantity);
            }
            txn.open_table(ORDERS)?
                .insert(order, (order % N_USERS, total))?;
            let mut totals = txn.open_table(TOTALS)?;
            let revenue = totals.get("revenue")?.map_or(0, |v| v.value());
            totals.insert("revenue", revenue + total)?;
            totals.insert("orders", order + 1)?;
        }
        txn.commit()?;
    }
    Ok(())
}

fn timed(
    name: &'static str,
    cf: ColumnFamily,
    job: fn(&ColumnFamily) -> Result<(), quiver::Error>,
) -> std::thread::JoinHandle<Result<(&'static str, Duration), quiver::Error>> {
    std::thread::spawn(move || {
        let start = Instant::now();
        job(&cf)?;
        Ok((name, start.elapsed()))
    })
}

fn verify(db: &Database) -> Result<(), Box<dyn Error>> {
    let users = db.column_family("users")?.begin_read()?;
    let table = users.open_table(USERS)?;
    let emails = users.open_table(EMAILS)?;
    assert_eq!(table.len()?, N_USERS);
    assert_eq!(
        emails.get("user4242@example.com")?.map(|v| v.value()),
        Some(4242)
    );
    assert_eq!(
        table.get(4242)?.map(|v| v.value().to_owned()),
        Some("user 4242".into())
    );

    let products = db.column_family("products")?.begin_read()?;
    let table = products.open_table(PRODUCTS)?;
    assert_eq!(table.len()?, N_PRODUCTS);
    let product = table.get(77)?.ok_or("product 77 missing")?;
    let (name, cents) = product.value();
    assert_eq!((name, cents), ("product 77", price_of(77)));
    assert_eq!(products.open_table(STOCK)?.len()?, N_PRODUCTS);

    // Every order's lines add up to its total, and the totals table matches the orders.
    let orders = db.column_family("orders")?.begin_read()?;
    let order_table = orders.open_table(ORDERS)?;
    let lines = orders.open_table(LINES)?;
    let mut revenue = 0;
    for entry in order_table.iter()? {
        let (order, value) = entry?;
        let (order, (_, total)) = (order.value(), value.value());
        let mut sum = 0;
        for line in lines.range((order, 0)..(order + 1, 0))? {
            let (product, quantity) = line?.1.value();
            sum += price_of(product) * u64::from(quantity);
        }
        assert_eq!(sum, total, "order {order}");
        revenue += total;
    }
    let totals = orders.open_table(TOTALS)?;
    assert_eq!(totals.get("orders")?.map(|v| v.value()), Some(N_ORDERS));
    assert_eq!(totals.get("revenue")?.map(|v| v.value()), Some(revenue));
    println!(
        "verified: {N_USERS} users, {N_PRODUCTS} products, {N_ORDERS} orders (revenue {revenue} cents)"
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let tempdir = tempfile::tempdir()?;
    let path = std::env::args()
        .nth(1)
        .map_or_else(|| tempdir.path().join("shop.qvr"), Into::into);
    let _ = std::fs::remove_file(&path);

    let start = Instant::now();
    let db = Database::open(&path)?;
    let handles = [
        timed("users", db.create_column_family("users")?, write_users),
        timed(
            "products",
            db.create_column_family("products")?,
            write_products,
        ),
        timed("orders", db.create_column_family("orders")?, write_orders),
    ];
    for handle in handles {
        let (name, took) = handle.join().map_err(|_| "writer thread panicked")??;
        println!("{name:>9}: written in {:>7.1} ms", took.as_secs_f64() * 1e3);
    }
    let written = start.elapsed();
    if let Some(log) = db.wal_stats() {
        println!(
            "log: {} fsyncs for {} durable commits, {:.1} MiB written, {} checkpoints",
            log.fsyncs,
            N_USERS / BATCH + N_PRODUCTS / BATCH + N_ORDERS,
            log.bytes as f64 / f64::from(1 << 20),
            log.checkpoints
        );
    }
    db.close()?;
    println!(
        "wrote 3 column families in parallel in {:.1} ms; file {} bytes at {}",
        written.as_secs_f64() * 1e3,
        std::fs::metadata(&path)?.len(),
        path.display()
    );

    let start = Instant::now();
    let db = Database::open(&path)?;
    println!("reopened: column families {:?}", db.list_column_families());
    verify(&db)?;
    println!(
        "reopen and verify took {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    db.close()?;
    Ok(())
}
