//! Outbox and deadline figures:
//!
//! 1. acknowledgement throughput: 10,000 new requests from 10,000 distinct customers
//!    (`postdesk ingest` of one mbox, `ack_delay = "1s"`, so every acknowledgement is due
//!    by the time the daemon starts), then `postdesk run` (the bench-profile binary) sends
//!    them through a private Postfix (tests/support/mailstack.rs) that delivers into a
//!    private Dovecot. Measured from the first to the 10,000th `done` row (target ≥ 200
//!    mails/s);
//! 2. the deadline scan on 1,000,000 tickets (rows inserted directly, a few hundred due):
//!    median time of `store::deadlines::due_deadlines(conn, now, 500)` and of
//!    `next_deadline` (target < 10 ms), and their `EXPLAIN QUERY PLAN`.
//!
//! Run with `cargo bench --bench outbox`. Needs Dovecot and Postfix (scripts/install-deps)
//! and root (Postfix).

#[path = "../tests/support/mailstack.rs"]
mod mailstack;

use std::fmt::Write as _;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailstack::{Dovecot, Postfix};
use postdesk::store::{Store, deadlines};
use rusqlite::{Connection, OpenFlags, params};

const CUSTOMERS: usize = 10_000;
const TICKETS: i64 = 1_000_000;
const DUE: i64 = 300;
const RUNS: usize = 101;

fn main() {
    acknowledgement_throughput();
    deadline_scan();
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn acknowledgement_throughput() {
    let names: Vec<String> = (0..CUSTOMERS).map(|i| format!("c{i:05}")).collect();
    let users: Vec<&str> = names.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let dovecot = Dovecot::start(&users);
    let postfix = Postfix::start(&dovecot, "customer.example");
    eprintln!("mail stack with {CUSTOMERS} users up in {:?}", t0.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pd.db");
    let maildir = dir.path().join("maildir");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let config = dir.path().join("postdesk.toml");
    fs::write(
        &config,
        format!(
            r#"database = {db:?}
[defaults]
ack_delay = "1s"
ack_daily_cap = 100
[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
[[mailbox]]
name = "support"
address = "support@desk.example"
display_name = "Example Support"
reply_token = true
maildir = {maildir:?}
"#,
            db = db.display().to_string(),
            port = postfix.smtp_port(),
            maildir = maildir.display().to_string(),
        ),
    )
    .unwrap();

    // 10,000 requests in one mbox, dated now
    let date = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    let mut mbox = String::with_capacity(CUSTOMERS * 600);
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            mbox,
            "From {name}@customer.example Thu Jan  1 00:00:00 2026\n\
             From: Customer {i} <{name}@customer.example>\nTo: support@desk.example\n\
             Subject: Question number {i} about my contract\nDate: {date}\n\
             Message-ID: <bench.{i}.{pid}@customer.example>\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\n\
             Hello, I would like to know how to change the tariff of contract {i}.\n\
             Could you please help me? Thank you.\n\n",
            pid = std::process::id()
        );
    }
    let mbox_path = dir.path().join("requests.mbox");
    fs::write(&mbox_path, mbox).unwrap();
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(&config)
        .args(["ingest", "--mailbox", "support"])
        .arg(&mbox_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "ingest of {CUSTOMERS} requests: {:?} ({})",
        t.elapsed(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_WRITE).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let scheduled = count("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'");
    assert_eq!(scheduled as usize, CUSTOMERS, "acknowledgements scheduled");
    // every acknowledgement due before the daemon starts
    let latest: i64 = count("SELECT max(due_at) FROM outbox WHERE kind = 'acknowledgement'");
    while jiff::Timestamp::now().as_second() <= latest {
        std::thread::sleep(Duration::from_millis(50));
    }

    let log = fs::File::create(dir.path().join("postdesk.log")).unwrap();
    let machine_before = machine_ticks();
    let started = Instant::now();
    let _daemon = Kill(
        Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env("POSTDESK_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let done_sql = "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' AND status = 'done'";
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let last = loop {
        let done = count(done_sql);
        let now = Instant::now();
        if done >= 1 && first.is_none() {
            first = Some(now);
        }
        if done as usize >= CUSTOMERS {
            break now;
        }
        let failed = count("SELECT count(*) FROM outbox WHERE status = 'failed'");
        assert!(
            failed == 0 && now < deadline,
            "{done} done, {failed} failed; log:\n{}",
            fs::read_to_string(dir.path().join("postdesk.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let cpu = cpu_seconds(_daemon.0.id());
    let machine_after = machine_ticks();
    let busy = (machine_after.0 - machine_before.0) / (machine_after.1 - machine_before.1).max(1.0);
    let first = first.unwrap();
    let span = last.duration_since(first).as_secs_f64();
    println!(
        "acknowledgements sent: {CUSTOMERS} in {span:.2} s from the first to the last done row = {:.0} mails/s (target >= 200); {:.2} s from daemon start",
        (CUSTOMERS - 1) as f64 / span,
        last.duration_since(started).as_secs_f64()
    );
    println!(
        "postdesk CPU time while sending: {cpu:.1} s (user + system) over {:.1} s; the whole machine ({} cores) {:.0}% busy (Postfix and Dovecot deliver meanwhile)",
        last.duration_since(started).as_secs_f64(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        busy * 100.0
    );
    drop(_daemon);
    drop(postfix);
    drop(dovecot);
}

/// User + system CPU seconds of a process so far (/proc/PID/stat, clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // after the command name: state is field 0, utime 11, stime 12
    (ticks(11) + ticks(12)) / 100.0
}

/// (busy, total) clock ticks of the whole machine (/proc/stat).
fn machine_ticks() -> (f64, f64) {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = values.iter().sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn deadline_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deadlines.db");
    let mut store = Store::open(&path, None).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let t = Instant::now();
    {
        let tx = store.transaction().unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO tickets (id, token, status, queue, priority, customer, subject,
                        normalized_subject, created_at, last_message_at, waiting_since, warn_at,
                        due_at, deadline_at, message_count)
                     VALUES (?1, NULL, ?2, ?3, 'normal', ?4, 'Question', 'question', ?5, ?5, ?6, ?7, ?8, ?9, 1)",
                )
                .unwrap();
            let every_due = TICKETS / DUE;
            for id in 1..=TICKETS {
                let queue = ["support", "billing", "sales"][(id % 3) as usize];
                let customer = format!("c{id}@customer.example");
                let created = now - 3_600 + id % 3_000;
                // most: open with a deadline in the future; a third answered (no deadline);
                // every `every_due`-th due now
                let (status, waiting, warn, due, deadline) = if id % every_due == 0 {
                    (
                        "new",
                        Some(created),
                        Some(now - 60),
                        Some(now - 10),
                        Some(now - 60),
                    )
                } else if id % 3 == 0 {
                    ("answered", None, None, None, None)
                } else {
                    let due = now + 3_600 + id % 86_400;
                    (
                        "new",
                        Some(created),
                        Some(due - 900),
                        Some(due),
                        Some(due - 900),
                    )
                };
                insert
                    .execute(params![
                        id, status, queue, customer, created, waiting, warn, due, deadline
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let conn = store.connection();
    conn.execute_batch("ANALYZE").unwrap();
    eprintln!(
        "{TICKETS} tickets inserted in {:?} ({DUE} due)",
        t.elapsed()
    );
    let median = |f: &mut dyn FnMut() -> usize| -> (Duration, usize) {
        let mut times = Vec::with_capacity(RUNS);
        let mut n = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            n = f();
            times.push(t.elapsed());
        }
        times.sort();
        (times[RUNS / 2], n)
    };
    let (due_time, due_count) =
        median(&mut || deadlines::due_deadlines(conn, now, 500).unwrap().len());
    assert_eq!(due_count as i64, DUE);
    let (next_time, _) = median(&mut || {
        let next = deadlines::next_deadline(conn).unwrap();
        assert!(next.is_some());
        1
    });
    println!(
        "due_deadlines(now, 500) on {TICKETS} tickets: median {:.3} ms ({due_count} due; target < 10 ms)",
        due_time.as_secs_f64() * 1e3
    );
    println!(
        "next_deadline on {TICKETS} tickets: median {:.3} ms (target < 10 ms)",
        next_time.as_secs_f64() * 1e3
    );
    for (name, sql) in [
        (
            "due_deadlines",
            "SELECT t.id, t.queue, t.warn_at, t.warned_at, t.due_at,
                (SELECT m.mailbox FROM messages m WHERE m.ticket_id = t.id AND m.mailbox IS NOT NULL
                 ORDER BY m.id LIMIT 1)
             FROM tickets t WHERE t.deadline_at <= ?1 ORDER BY t.deadline_at LIMIT ?2",
        ),
        (
            "next_deadline",
            "SELECT min(deadline_at) FROM tickets WHERE deadline_at IS NOT NULL",
        ),
    ] {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let row = |r: &rusqlite::Row<'_>| r.get::<_, String>(3);
        let plan: Vec<String> = if sql.contains("?1") {
            stmt.query_map(params![now, 500], row)
        } else {
            stmt.query_map([], row)
        }
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
        println!("query plan of {name}: {}", plan.join(" | "));
    }
}
