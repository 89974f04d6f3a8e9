//! `postdesk tickets` on years of history: 1,000,000 tickets (rows inserted directly in one
//! transaction; `POSTDESK_BENCH_TICKETS` for another count) as a desk has them after three
//! years: 3% open (new, acknowledged, pending; a tenth of those breached), the rest
//! answered, closed or ignored. Prints, for the release binary run as an admin runs it:
//!
//! - the default listing (the 50 most urgent open tickets), as text and `--json`: median
//!   wall time of the whole process (target < 50 ms), and of the page's query in process;
//! - a deep page (`--after` the cursor of the 100th page) and `--status closed`;
//! - `--json --all`: wall time, document size and peak RSS (GNU time), streamed.
//!
//! Run with `cargo bench --bench listing`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postdesk::store::Store;
use postdesk::store::listing::{self, Cursor, Listing, OPEN, Order};
use rusqlite::params;

const RUNS: usize = 21;

fn main() {
    let tickets: i64 = std::env::var("POSTDESK_BENCH_TICKETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("listing.db");
    let t = Instant::now();
    let open = fill(&db, tickets);
    eprintln!(
        "{tickets} tickets ({open} open) inserted in {:.1} s; database {} MB",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&db).unwrap().len() / 1_000_000
    );
    let db = db.to_str().unwrap();

    let (text, _) = median(|| run(db, &["tickets"]));
    let (json, bytes) = median(|| run(db, &["tickets", "--json"]));
    let (query, rows) = in_process(db, None);
    println!(
        "default `tickets` on {tickets} tickets: median {:.1} ms as text, {:.1} ms as --json \
         ({bytes} bytes), the page's query {:.2} ms ({rows} rows) (target < 50 ms)",
        ms(text),
        ms(json),
        ms(query)
    );

    let deep = cursor_of_page(db, 100);
    let (deep_time, _) = median(|| run(db, &["tickets", "--after", &deep.to_string()]));
    let (deep_query, _) = in_process(db, Some(deep));
    let (closed, _) = median(|| run(db, &["tickets", "--status", "closed"]));
    println!(
        "page 101 (`--after`): median {:.1} ms (its query {:.2} ms); `--status closed`: {:.1} ms",
        ms(deep_time),
        ms(deep_query),
        ms(closed)
    );

    let (baseline, _) = peak(db, &["tickets", "--limit", "1", "--json"]);
    let t = Instant::now();
    let (peak_kib, document) = peak(db, &["tickets", "--all", "--json"]);
    println!(
        "`tickets --all --json`: {:.1} s for {} MB, peak RSS {:.1} MB (a one-ticket page: \
         {:.1} MB)",
        t.elapsed().as_secs_f64(),
        document / 1_000_000,
        peak_kib as f64 / 1024.0,
        baseline as f64 / 1024.0
    );
}

/// The tickets, by direct INSERTs in one transaction; returns how many are open.
fn fill(db: &std::path::Path, tickets: i64) -> i64 {
    let mut store = Store::open(db, None).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let span = 3 * 365 * 86_400;
    let mut open = 0;
    let tx = store.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO tickets (id, token, status, queue, priority, customer, customer_name,
                    subject, normalized_subject, created_at, last_message_at, due_at, breached,
                    message_count)
                 VALUES (?1, NULL, ?2, ?3, 'normal', ?4, ?5, ?6, 'question', ?7, ?7, ?8, ?9, 2)",
            )
            .unwrap();
        for id in 1..=tickets {
            let created = now - span + id * span / tickets;
            // 3% open, spread over the statuses; a tenth of them past due and breached
            let slot = id % 100;
            let (status, due, breached) = match slot {
                0 => ("new", Some(created + 86_400), false),
                1 => ("acknowledged", Some(created + 86_400), id % 1000 == 1),
                2 => ("pending", None, false),
                3..=12 => ("answered", None, false),
                13..=19 => ("ignored", None, false),
                _ => ("closed", Some(created + 86_400), id % 37 == 0),
            };
            open += i64::from(slot <= 2);
            insert
                .execute(params![
                    id,
                    status,
                    ["support", "billing", "sales"][(id % 3) as usize],
                    format!("c{}@customer{}.example", id % 200_000, id % 97),
                    format!("Customer {}", id % 200_000),
                    format!("Question {id} about contract {} and its invoice", id % 5000),
                    created,
                    due,
                    breached,
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    store.connection().execute_batch("ANALYZE").unwrap();
    open
}

/// Wall time of `postdesk --db DB ARGS`, and how many bytes it wrote.
fn run(db: &str, args: &[&str]) -> (Duration, usize) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .env_remove("POSTDESK_CONFIG")
        .env("POSTDESK_LOG", "warn")
        .args(["--db", db])
        .args(args)
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, out.stdout.len())
}

fn median(mut f: impl FnMut() -> (Duration, usize)) -> (Duration, usize) {
    let mut times: Vec<(Duration, usize)> = (0..RUNS).map(|_| f()).collect();
    times.sort();
    times[RUNS / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn default_listing(after: Option<Cursor>) -> Listing {
    Listing {
        queue: None,
        statuses: OPEN.to_vec(),
        breached: false,
        order: Order::Urgent,
        limit: Some(50),
        after,
    }
}

/// Median time of the default page's query and rows, in this process.
fn in_process(db: &str, after: Option<Cursor>) -> (Duration, usize) {
    let store = Store::open(std::path::Path::new(db), None).unwrap();
    median(|| {
        let t = Instant::now();
        let n =
            listing::list::<anyhow::Error>(store.connection(), &default_listing(after), |_| Ok(()))
                .unwrap();
        (t.elapsed(), n)
    })
}

/// The cursor that ends the `page`-th page of the default listing.
fn cursor_of_page(db: &str, page: usize) -> Cursor {
    let store = Store::open(std::path::Path::new(db), None).unwrap();
    let mut after = None;
    for _ in 0..page {
        listing::list::<anyhow::Error>(store.connection(), &default_listing(after), |row| {
            if row.next.is_some() {
                after = row.next;
            }
            Ok(())
        })
        .unwrap();
    }
    after.expect("enough open tickets for the pages")
}

/// Peak RSS (KiB, GNU time) of `postdesk --db DB ARGS` and how many bytes it wrote, read
/// as it comes and dropped.
fn peak(db: &str, args: &[&str]) -> (u64, u64) {
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "peak %M KiB"])
        .arg(env!("CARGO_BIN_EXE_postdesk"))
        .env_remove("POSTDESK_CONFIG")
        .env("POSTDESK_LOG", "warn")
        .args(["--db", db])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::io::copy(&mut child.stdout.take().unwrap(), &mut std::io::sink()).unwrap();
    let mut said = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{args:?}: {said}");
    let kib = said
        .lines()
        .find_map(|l| l.strip_prefix("peak ")?.strip_suffix(" KiB")?.parse().ok())
        .unwrap_or_else(|| panic!("no peak in {said}"));
    (kib, bytes)
}
