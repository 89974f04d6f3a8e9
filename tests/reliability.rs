//! Reliability under load, end to end: the real `postdesk run` binary against the suite's
//! own Dovecot and Postfix while it catches up a backlog and sends the acknowledgements —
//! kill -9 at random moments, and each server stopped and started again.
//!
//! Every message is one request from a customer of its own (`cust+cNNNN@customer.example`;
//! Postfix and Dovecot deliver every `cust+...` address into the one Dovecot user `cust`, so
//! thousands of customers need no thousands of mailboxes), which makes the expectation
//! exact: one stored message, one ticket and one acknowledgement per customer.
//!
//! "Sent twice" is judged on what reached the customers: each delivered acknowledgement
//! carries the Postfix queue id of the SMTP transaction that submitted it (its `Received:`
//! header). Two submissions for one customer would be a duplicate sent by postdesk; the
//! same submission delivered twice would be the MTA's redelivery after an interrupted LMTP
//! transaction, counted separately.
//!
//! Size: `RELIABILITY_MESSAGES` (default 1,000) and `RELIABILITY_KILLS` (default 20);
//! `RELIABILITY_SEED` replays a run's kill moments. `scripts/reliability` runs these same
//! tests with 5,000 messages.

#[path = "support/e2e.rs"]
mod e2e;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use e2e::*;
use rand::{Rng, SeedableRng};

/// The Dovecot user every customer's mail is delivered to.
const CUSTOMER_BOX: &str = "cust";

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn messages_wanted() -> usize {
    env_number("RELIABILITY_MESSAGES", 1_000)
}

fn customer(i: usize) -> String {
    format!("{CUSTOMER_BOX}+c{i:04}@{CUSTOMERS}")
}

/// One new request per customer, `range` of them; returns (raw messages, Message-IDs).
fn requests(range: std::ops::Range<usize>) -> (Vec<Vec<u8>>, Vec<String>) {
    range
        .map(|i| {
            let id = unique_id(&format!("req{i}"));
            let raw = mail(
                &format!("Customer {i} <{}>", customer(i)),
                SUPPORT,
                &format!("Order {i} has not arrived"),
                &id,
                "",
                &format!(
                    "Hello,\n\nmy order number {i} was due last week and has not arrived. \
                     Could you tell me where it is?\n\nThank you,\nCustomer {i}"
                ),
            );
            (raw, id)
        })
        .unzip()
}

/// Config for both tests: acknowledgements a second after filing, retries a second after a
/// temporary SMTP failure (then 2 s, 4 s ...).
fn configure(daemon: &Daemon, stack: &Stack) {
    daemon.configure(
        stack,
        "support",
        SUPPORT,
        "ack_delay = \"1s\"",
        "retry_delay = \"1s\"\nmax_attempts = 30",
        "",
    );
}

fn count(daemon: &Daemon, sql: &str) -> i64 {
    daemon.count(sql).unwrap_or(0)
}

fn stored(daemon: &Daemon) -> i64 {
    count(daemon, "SELECT count(*) FROM messages")
}

fn acks_with_status(daemon: &Daemon, status: &str) -> i64 {
    count(
        daemon,
        &format!(
            "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' AND status = '{status}'"
        ),
    )
}

/// Outbox mail rows claimed for an SMTP transaction that has not finished.
fn in_flight(daemon: &Daemon) -> Vec<i64> {
    let Some(db) = daemon.db() else {
        return Vec::new();
    };
    let Ok(mut stmt) = db.prepare(
        "SELECT id FROM outbox WHERE status = 'pending' AND sending_since IS NOT NULL \
         AND kind = 'acknowledgement'",
    ) else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Waits until all `n` requests are stored, no acknowledgement is pending (every one done,
/// or parked) and no IMAP keyword job either; then until Postfix has delivered everything.
fn wait_settled(daemon: &Daemon, stack: &Stack, n: usize, timeout: Duration) {
    let settled = || {
        stored(daemon) == n as i64
            && count(
                daemon,
                "SELECT count(*) FROM outbox WHERE status = 'pending'",
            ) == 0
            && count(
                daemon,
                "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'",
            ) == n as i64
    };
    let deadline = Instant::now() + timeout;
    while !settled() {
        if Instant::now() > deadline {
            panic!(
                "not settled after {timeout:?}: {} of {n} requests stored; outbox {}\n\
                 --- warnings and errors of postdesk (distinct, last 20):\n{}",
                stored(daemon),
                outbox_summary(daemon),
                distinct_problems(daemon).join("\n")
            );
        }
        std::thread::sleep(POLL);
    }
    // Postfix's own retry schedule is not under test: what it deferred while Dovecot was
    // down is tried again now rather than at its next retry.
    let deadline = Instant::now() + ARRIVAL;
    while !stack.postfix.queue().contains("Mail queue is empty") {
        assert!(
            Instant::now() < deadline,
            "Postfix queue not empty:\n{}",
            stack.postfix.queue()
        );
        stack.postfix.flush();
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Outbox rows by kind and status, and the next pending ones with their last error.
fn outbox_summary(daemon: &Daemon) -> String {
    let Some(db) = daemon.db() else {
        return "(no database)".into();
    };
    let rows = |sql: &str| -> Vec<String> {
        let mut stmt = db.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let counts =
        rows("SELECT kind || ' ' || status || ': ' || count(*) FROM outbox GROUP BY kind, status");
    let pending = rows(
        "SELECT id || ' ' || kind || ' attempts ' || attempts || ', due in ' \
         || (due_at - CAST(strftime('%s', 'now') AS INTEGER)) || ' s: ' \
         || coalesce(last_error, '') FROM outbox WHERE status = 'pending' \
         ORDER BY due_at LIMIT 5",
    );
    format!("{}; pending: {}", counts.join(", "), pending.join(" | "))
}

/// The distinct WARN and ERROR messages of the daemon's log (without time stamps, and
/// with customers, rows and delays blanked so that the same problem shows once).
fn distinct_problems(daemon: &Daemon) -> Vec<String> {
    let log = std::fs::read_to_string(daemon.path("postdesk.log")).unwrap_or_default();
    let colours = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
    let details = regex::Regex::new(r"cust\+c\d+|outbox=\d+|\d+s\b").unwrap();
    let mut seen: Vec<String> = Vec::new();
    for line in log.lines() {
        let plain = colours.replace_all(line, "");
        if let Some(at) = plain.find(" WARN ").or_else(|| plain.find(" ERROR ")) {
            let message = details.replace_all(&plain[at..], "…").to_string();
            if !seen.contains(&message) {
                seen.push(message);
            }
        }
    }
    let skip = seen.len().saturating_sub(20);
    seen.split_off(skip)
}

/// Every request stored exactly once and each its own ticket.
fn assert_stored_once(daemon: &Daemon, ids: &[String]) {
    let n = ids.len() as i64;
    assert_eq!(
        count(daemon, "SELECT count(*) FROM messages"),
        n,
        "stored messages"
    );
    assert_eq!(
        count(daemon, "SELECT count(DISTINCT message_id) FROM messages"),
        n,
        "distinct Message-IDs"
    );
    let db = daemon.db().unwrap();
    let mut stmt = db.prepare("SELECT message_id FROM messages").unwrap();
    let stored: BTreeSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let missing: Vec<&String> = ids.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "requests never stored: {missing:?}");
    assert_eq!(count(daemon, "SELECT count(*) FROM tickets"), n, "tickets");
    assert_eq!(
        count(daemon, "SELECT count(DISTINCT customer) FROM tickets"),
        n,
        "a ticket per customer"
    );
    assert_eq!(
        count(
            daemon,
            "SELECT count(*) FROM tickets WHERE message_count <> 1 OR unparsed <> 0"
        ),
        0,
        "tickets with other than their one request"
    );
}

/// Every message in the support INBOX has `$Ticketed` (the post-actions settled too).
fn assert_all_ticketed(daemon: &Daemon, stack: &Stack, n: usize) {
    let flags = stack.dovecot.imap_fetch_flags("support", "INBOX");
    assert_eq!(flags.len(), n, "messages in the support INBOX");
    let without: Vec<u32> = flags
        .iter()
        .filter(|(_, f)| !f.iter().any(|f| f == "$Ticketed"))
        .map(|(uid, _)| *uid)
        .collect();
    if !without.is_empty() {
        let db = daemon.db().unwrap();
        let mut stmt = db
            .prepare(
                "SELECT id, status, coalesce(result, ''), coalesce(last_error, ''), \
                 substr(payload, 1, 60) FROM outbox WHERE kind = 'imap_flags'",
            )
            .unwrap();
        let jobs: Vec<String> = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} {} {:?} {:?} {}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let dovecot_log = stack.dovecot.log();
        let dovecot_problems: Vec<&str> = dovecot_log
            .lines()
            .filter(|l| l.contains("rror") || l.contains("orrupt") || l.contains("Warning"))
            .collect();
        panic!(
            "{} UIDs without $Ticketed (first {:?}); the keyword jobs:\n{}\nDovecot:\n{}",
            without.len(),
            without.first(),
            jobs.join("\n"),
            dovecot_problems.join("\n")
        );
    }
}

/// One acknowledgement as it arrived: its Message-ID and the Postfix queue id of the SMTP
/// transaction that submitted it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Arrived {
    message_id: String,
    submission: String,
}

/// Acknowledgements in the customers' mailbox, by recipient.
fn arrived_acks(stack: &Stack) -> BTreeMap<String, Vec<Arrived>> {
    let queue_id = regex::Regex::new(r"\(Postfix\) with E?SMTP id ([0-9A-Za-z]+)").unwrap();
    let mut by_customer: BTreeMap<String, Vec<Arrived>> = BTreeMap::new();
    for raw in acks_in(stack, CUSTOMER_BOX) {
        let to = header(&raw, "To").expect("To header");
        let to = to
            .rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>'))
            .unwrap_or(&to)
            .trim()
            .to_ascii_lowercase();
        let head = String::from_utf8_lossy(&raw);
        let head = head.split("\n\n").next().unwrap_or_default().to_string();
        let head = head.replace("\r\n", "\n").replace("\n\t", " ");
        let submission = queue_id
            .captures(&head)
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("no Postfix queue id in the header of\n{head}"));
        let message_id = header(&raw, "Message-ID")
            .unwrap()
            .trim_matches(['<', '>'])
            .to_string();
        by_customer.entry(to).or_default().push(Arrived {
            message_id,
            submission,
        });
    }
    by_customer
}

/// What the outbox and the customers' mailbox say together.
#[derive(Debug, Default)]
struct AckAudit {
    done: usize,
    parked: BTreeSet<i64>,
    parked_arrived: usize,
    /// Extra copies of one submission (the MTA delivering an accepted mail again).
    redelivered: usize,
}

/// Each customer has one acknowledgement row; a row done arrived exactly once (one
/// submission); a row parked as "delivery uncertain" arrived at most once; nothing else.
fn audit_acks(daemon: &Daemon, stack: &Stack, n: usize) -> AckAudit {
    let db = daemon.db().unwrap();
    let mut stmt = db
        .prepare(
            "SELECT id, recipient, status, coalesce(last_error, ''), message_id FROM outbox \
             WHERE kind = 'acknowledgement'",
        )
        .unwrap();
    type Row = (i64, String, String, String, Option<String>);
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), n, "acknowledgement rows");
    let recipients: BTreeSet<&String> = rows.iter().map(|r| &r.1).collect();
    assert_eq!(recipients.len(), n, "one acknowledgement row per customer");
    let mut arrived = arrived_acks(stack);
    let mut audit = AckAudit::default();
    for (id, recipient, status, error, message_id) in &rows {
        let copies = arrived.remove(recipient).unwrap_or_default();
        let submissions: BTreeSet<&String> = copies.iter().map(|a| &a.submission).collect();
        let ids: BTreeSet<&String> = copies.iter().map(|a| &a.message_id).collect();
        assert!(
            submissions.len() <= 1 && ids.len() <= 1,
            "{recipient} got the acknowledgement twice: {copies:?}"
        );
        audit.redelivered += copies.len().saturating_sub(1);
        match status.as_str() {
            "done" => {
                assert!(!copies.is_empty(), "{recipient}: row done, nothing arrived");
                assert_eq!(
                    Some(&copies[0].message_id),
                    message_id.as_ref(),
                    "{recipient}: the row's Message-ID is not the one that arrived"
                );
                audit.done += 1;
            }
            "failed" => {
                assert!(
                    error.starts_with("delivery uncertain"),
                    "{recipient}: failed row: {error}"
                );
                audit.parked.insert(*id);
                audit.parked_arrived += usize::from(!copies.is_empty());
            }
            other => panic!("{recipient}: row {other}: {error}"),
        }
    }
    assert!(
        arrived.is_empty(),
        "acknowledgements to addresses without a row: {arrived:?}"
    );
    audit
}

fn assert_no_panic(daemon: &Daemon) {
    let log = std::fs::read_to_string(daemon.path("postdesk.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "postdesk panicked:\n{log}");
}

/// What the database said right after one kill.
struct Kill {
    after: Duration,
    stored: i64,
    acks_done: i64,
    /// Rows this run had claimed for an SMTP transaction that did not finish.
    in_flight: usize,
}

/// The longest wait between the work reaching a kill's point and the kill.
const KILL_DELAY_MS: u64 = 40;

/// A backlog of requests, kill -9 at random moments while postdesk files it and sends the
/// acknowledgements, restarting after each; then a clean run until everything settles. Nothing is lost,
/// nothing doubled: each request stored once on a ticket of its own, each customer gets
/// one acknowledgement at most — exactly one, unless its row was in flight at a kill and
/// is parked as "delivery uncertain" (those, and only those, are the parked rows).
#[test]
fn kill_9_under_load_loses_nothing_and_sends_nothing_twice() {
    let n = messages_wanted();
    let kills_wanted = env_number("RELIABILITY_KILLS", 20);
    let seed = env_number("RELIABILITY_SEED", rand::random::<u32>() as usize) as u64;
    eprintln!("RELIABILITY_SEED={seed} RELIABILITY_MESSAGES={n} RELIABILITY_KILLS={kills_wanted}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let stack = Stack::start(&["support", CUSTOMER_BOX]);
    let mut daemon = Daemon::new();
    configure(&daemon, &stack);
    let (raws, ids) = requests(0..n);
    stack.dovecot.append_bulk("support", "INBOX", &raws);

    // The moments are spread over the work, not over the clock: 2n units (n requests to
    // store, n acknowledgements to settle), a random point in them for each kill. A run is
    // killed a random 0-40 ms after the work has reached its point: while the next batch
    // is fetched, parsed or stored, or while acknowledgements are in SMTP transactions. The
    // delay stays shorter than a batch takes, else the kill lands after the whole backlog is
    // filed and the filing phase goes untested.
    // (Over the clock, a slow machine would be killed before each first commit again and
    // again, a fast one would sit idle through the later kills.)
    let work = |daemon: &Daemon| {
        stored(daemon)
            + count(
                daemon,
                "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' \
                 AND status IN ('done', 'failed')",
            )
    };
    let mut points: Vec<i64> = (0..kills_wanted)
        .map(|_| rng.random_range(0..2 * n as i64))
        .collect();
    points.sort_unstable();
    let mut kills: Vec<Kill> = Vec::new();
    let mut parked_expected: BTreeSet<i64> = BTreeSet::new();
    for point in points {
        daemon.start();
        let t0 = Instant::now();
        while work(&daemon) < point && t0.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..KILL_DELAY_MS)));
        let after = t0.elapsed();
        daemon.kill9();
        // rows this run claimed (those of an earlier kill stay claimed until parked)
        let flying: Vec<i64> = in_flight(&daemon)
            .into_iter()
            .filter(|id| !parked_expected.contains(id))
            .collect();
        parked_expected.extend(&flying);
        kills.push(Kill {
            after,
            stored: stored(&daemon),
            acks_done: acks_with_status(&daemon, "done"),
            in_flight: flying.len(),
        });
    }
    let during_ingest = kills.iter().filter(|k| k.stored < n as i64).count();
    let during_sending = kills.iter().filter(|k| k.in_flight > 0).count();
    for (i, k) in kills.iter().enumerate() {
        eprintln!(
            "kill {i:>2} after {:>5} ms: {:>5} stored, {:>5} acknowledgements done, {:>3} in flight",
            k.after.as_millis(),
            k.stored,
            k.acks_done,
            k.in_flight
        );
    }
    assert!(
        during_ingest >= 1 && during_sending >= 1,
        "the kills missed a phase: {during_ingest} while filing, {during_sending} with mail in \
         flight (RELIABILITY_SEED={seed})"
    );

    daemon.start();
    wait_settled(&daemon, &stack, n, Duration::from_secs(60 + n as u64 / 25));
    daemon.stop();
    assert_no_panic(&daemon);
    assert_stored_once(&daemon, &ids);
    assert_all_ticketed(&daemon, &stack, n);
    let audit = audit_acks(&daemon, &stack, n);
    assert_eq!(
        audit.parked, parked_expected,
        "the parked rows are exactly those in flight at a kill"
    );
    // Neither server was touched: every submission was delivered once.
    assert_eq!(audit.redelivered, 0, "the MTA delivered a mail twice");
    assert_eq!(audit.done + audit.parked.len(), n);
    eprintln!(
        "kill -9 x{}: {n} requests, {during_ingest} kills while filing, {during_sending} with \
         acknowledgements in flight; {} acknowledgements sent once, {} parked as 'delivery \
         uncertain' ({} of them had arrived); {:.1} s",
        kills.len(),
        audit.done,
        audit.parked.len(),
        audit.parked_arrived,
        started.elapsed().as_secs_f64()
    );
}

/// Dovecot crashes while postdesk catches up a backlog (more mail arrives while it is
/// down; Postfix, which checks logins against Dovecot, drops its sessions meanwhile), and
/// Postfix stops while the acknowledgements go out; both come back. Everything is stored
/// once, and every customer gets exactly one acknowledgement — but for the rare mail whose
/// SMTP session died after the whole message was sent, parked as "delivery uncertain"
/// (at most one arrived). The log shows the IMAP reconnect with backoff and the deferred
/// mail retried after 1, 2 and 4 s.
#[test]
fn servers_stopped_and_started_under_load_lose_nothing() {
    let n = (messages_wanted() / 2).max(200);
    let late = n / 5;
    let started = Instant::now();
    let phase = |what: &str| eprintln!("{:>6.1} s  {what}", started.elapsed().as_secs_f64());
    let mut stack = Stack::start(&["support", CUSTOMER_BOX]);
    let mut daemon = Daemon::new();
    configure(&daemon, &stack);
    let (raws, mut ids) = requests(0..n);
    stack.dovecot.append_bulk("support", "INBOX", &raws);
    daemon.start();

    // Dovecot dies as soon as the first batch is stored (the next is being fetched).
    daemon.wait("the first batch stored", ARRIVAL, || {
        (stored(&daemon) > 0).then_some(())
    });
    let stored_at_crash = stored(&daemon);
    phase("Dovecot killed");
    stack.dovecot.stop();
    let (late_raws, late_ids) = requests(n..n + late);
    stack.dovecot.append_bulk("support", "INBOX", &late_raws);
    ids.extend(late_ids);
    daemon.wait("the IMAP failure logged", ARRIVAL, || {
        daemon.log().contains("retrying with backoff").then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    stack.dovecot.start_again();
    phase("Dovecot started again");

    // Postfix stops while acknowledgements are being sent.
    let total = n + late;
    daemon.wait(
        "acknowledgements going out",
        Duration::from_secs(60),
        || (acks_with_status(&daemon, "done") >= (total / 10) as i64).then_some(()),
    );
    let done_at_stop = acks_with_status(&daemon, "done");
    stack.postfix.stop();
    phase("Postfix stopped");
    daemon.wait("deferred mail", ARRIVAL, || {
        daemon.log().contains("deferred (").then_some(())
    });
    std::thread::sleep(Duration::from_secs(5));
    stack.postfix.start_again();
    phase("Postfix started again");

    wait_settled(
        &daemon,
        &stack,
        total,
        Duration::from_secs(90 + total as u64 / 25),
    );
    phase("everything settled");
    daemon.stop();
    assert_no_panic(&daemon);
    assert_stored_once(&daemon, &ids);
    assert_all_ticketed(&daemon, &stack, total);
    let audit = audit_acks(&daemon, &stack, total);
    // postdesk never stopped: a row is parked only when Postfix went away between
    // receiving the whole mail and answering it (it may have queued it, so it is not sent
    // again)
    let uncertain = count(
        &daemon,
        "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' AND status = 'failed' \
         AND last_error LIKE 'delivery uncertain: no answer from the SMTP server after the \
         whole message was sent%'",
    );
    assert_eq!(
        audit.parked.len() as i64,
        uncertain,
        "rows parked for another reason"
    );
    assert_eq!(audit.done + audit.parked.len(), total);

    let log = std::fs::read_to_string(daemon.path("postdesk.log")).unwrap();
    let lines = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert!(
        lines("retrying with backoff") >= 1 && lines("IMAP connection works again") >= 1,
        "no IMAP backoff and recovery in the log:\n{}",
        daemon.log()
    );
    // The outbox's backoff: the same mail deferred for 1 s, then 2 s, then 4 s.
    for wait in ["retrying in 1s", "retrying in 2s", "retrying in 4s"] {
        assert!(
            lines(wait) >= 1,
            "no deferred mail \"{wait}\" in the log:\n{}",
            daemon.log()
        );
    }
    eprintln!(
        "Dovecot killed after {stored_at_crash} of {n} stored ({late} more arrived while it was \
         down); Postfix stopped after {done_at_stop} acknowledgements; {} deferrals logged; all \
         {total} requests stored once; {} acknowledgements sent once, {} parked as 'delivery \
         uncertain' ({} of them had arrived); {} redelivered by the MTA; {:.1} s",
        lines("deferred ("),
        audit.done,
        audit.parked.len(),
        audit.parked_arrived,
        audit.redelivered,
        started.elapsed().as_secs_f64()
    );
}
