//! Real process crashes: a child process commits durably on several column families and reports
//! each acknowledged commit on stdout; the parent kills it with SIGKILL at a random moment,
//! reopens the database and checks that every acknowledged commit is there. Repeated for many
//! rounds on the same database, so later rounds also recover from earlier kills.

use quiver::{Database, ReadableTable, TableDefinition};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

/// One row per acknowledged commit: commit number -> check value.
const COMMITS: TableDefinition<u64, u64> = TableDefinition::new("commits");
/// Extra rows written by the same transactions, so commits vary in size.
const ROWS: TableDefinition<u64, u64> = TableDefinition::new("rows");
const FAMILIES: [&str; 4] = ["users", "products", "orders", "reviews"];

fn rounds() -> usize {
    std::env::var("QUIVER_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// The child: commit forever, printing "ack <family> <n>" after each durable commit returns.
#[test]
fn kill_child_helper() {
    let Ok(path) = std::env::var("QUIVER_KILL_CHILD") else {
        return; // only meaningful when spawned by the test below
    };
    let db = Database::builder()
        .set_log_size(4 << 20)
        .set_checkpoint_bytes(512 << 10)
        .open(&path)
        .expect("child open");
    let families: Vec<_> = FAMILIES
        .iter()
        .map(|name| db.column_family_or_create(name).expect("family"))
        .collect();
    let mut next: Vec<u64> = families
        .iter()
        .map(|cf| {
            let read = cf.begin_read().expect("read");
            match read.open_table(COMMITS) {
                Ok(table) => table
                    .last()
                    .expect("last")
                    .map_or(0, |(k, _)| k.value() + 1),
                Err(_) => 0,
            }
        })
        .collect();
    let mut i = 0usize;
    loop {
        let f = i % families.len();
        let n = next[f];
        let txn = families[f].begin_write().expect("begin");
        {
            let mut rows = txn.open_table(ROWS).expect("rows");
            for k in 0..(1 + n % 5) {
                rows.insert(n * 16 + k, n).expect("insert");
            }
            let mut commits = txn.open_table(COMMITS).expect("commits");
            commits.insert(n, n ^ 0xABCD).expect("insert");
        }
        txn.commit().expect("commit");
        println!("ack {f} {n}");
        next[f] += 1;
        i += 1;
    }
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.qvr");
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6b11);
    let mut acked: BTreeMap<usize, u64> = BTreeMap::new();
    let mut total_acks = 0usize;
    for round in 0..rounds() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_child_helper",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("QUIVER_KILL_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stdout).read_to_string(&mut text);
            text
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(30..250)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let text = reader.join().unwrap();
        // Only complete lines count: the last one may have been cut by the kill.
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let mut parts = line.split_whitespace();
            if parts.next() != Some("ack") {
                continue;
            }
            let f: usize = parts.next().unwrap().parse().unwrap();
            let n: u64 = parts.next().unwrap().parse().unwrap();
            let entry = acked.entry(f).or_insert(0);
            *entry = (*entry).max(n + 1);
            total_acks += 1;
        }
        // Reopen in the parent and check every acknowledged commit.
        let db =
            Database::open(&path).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        for (&f, &count) in &acked {
            let cf = db.column_family(FAMILIES[f]).unwrap();
            let read = cf.begin_read().unwrap();
            let table = read.open_table(COMMITS).unwrap();
            for n in 0..count {
                let got = table.get(n).unwrap().map(|v| v.value());
                assert_eq!(
                    got,
                    Some(n ^ 0xABCD),
                    "round {round}: {} lost acknowledged commit {n}",
                    FAMILIES[f]
                );
            }
        }
        db.close().unwrap();
    }
    eprintln!(
        "{} kill rounds, {total_acks} acknowledged commits, none lost",
        rounds()
    );
    assert!(total_acks > 0, "the child never acknowledged a commit");
}
