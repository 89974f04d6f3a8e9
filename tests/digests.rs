//! Breach digests end to end: postdesk's own deadline scheduler and outbox worker (the tasks
//! `postdesk run` starts) on an injected clock, sending through the suite's real Postfix
//! into Dovecot mailboxes. Two queues, three tickets each, all breaching between 12:00 and
//! 13:00 Kyiv time: the `breach_notice = "hourly"` queue's lead gets one digest at 13:00
//! naming all three (also across a restart in the middle of the hour), the default
//! `"each"` queue's head gets one notice per ticket as each deadline passes. With
//! `warning_notice = "daily"` the agent gets the day's warnings in one mail at local
//! midnight. The clock is moved, never waited for; only mail delivery is polled for.

#[path = "support/mailstack.rs"]
mod mailstack;
#[path = "support/tasks.rs"]
mod tasks;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mail_parser::MessageParser;
use mailstack::{Dovecot, Postfix};
use postdesk::clock::ManualClock;
use postdesk::config::Config;
use postdesk::daemon::deadlines as scheduler;
use postdesk::ingest::Origin;
use postdesk::runtime::Shared;
use postdesk::store::{self, Store};
use postdesk::store::{Filed, Incoming, Ingester, Summary};
use tasks::start_tasks;

const ARRIVAL: Duration = Duration::from_secs(40);

/// The two queues of the breach test.
const BREACH_QUEUES: &str = r#"
[[queue]]
name = "support"
escalation = "lead@example.com"
breach_notice = "hourly"

[[queue]]
name = "sales"
escalation = "head@example.com"

[[rule]]
subject = "^Quote"
queue = "sales"
"#;

fn config(dir: &Path, postfix: &Postfix, queues: &str) -> Config {
    let text = format!(
        r#"database = {db:?}

[defaults]
ack_delay = "1d"
response_target = "1h"

[calendar]
timezone = "Europe/Kyiv"

[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"

[[mailbox]]
name = "support"
address = "support@desk.example"
display_name = "Example Support"
maildir = {maildir:?}
{queues}"#,
        db = dir.join("postdesk.db").display().to_string(),
        maildir = dir.join("maildir").display().to_string(),
        port = postfix.smtp_port(),
    );
    Config::from_toml(&text, Path::new("digests.toml")).unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Files a customer's request at the clock's time; returns its ticket id.
fn file(shared: &Shared, clock: &ManualClock, from: &str, subject: &str) -> i64 {
    // Written long before it was filed, so that it is not acknowledged (no other mail).
    let raw = format!(
        "From: {from}\r\nTo: support@desk.example\r\nSubject: {subject}\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n",
        subject.replace(' ', ".")
    );
    let batch = [Incoming {
        raw: raw.into_bytes(),
        origin: Origin {
            mailbox: Some("support".into()),
            location: "test".into(),
            imap: None,
            sent: false,
        },
    }];
    let filed = shared
        .write(|store| {
            let ingester = Ingester {
                config: &shared.config,
                clock,
            };
            Ok(ingester
                .ingest_batch(store, &batch, &mut Summary::default())
                .unwrap())
        })
        .unwrap();
    match filed.into_iter().next().unwrap() {
        Filed::Stored { ticket, .. } => ticket,
        other => panic!("not filed: {other:?}"),
    }
}

fn mail_in(dovecot: &Dovecot, user: &str) -> Vec<Vec<u8>> {
    dovecot.messages(user, "INBOX")
}

fn wait_mail(dovecot: &Dovecot, user: &str, count: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let mail = mail_in(dovecot, user);
        if mail.len() >= count {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "{user} got {} mail(s), expected {count}",
            mail.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(shared: &Shared, sql: &str) -> i64 {
    shared.read(|c| c.query_row(sql, [], |r| r.get(0))).unwrap()
}

/// Moves the clock to `when` and waits until the scheduler has recorded the breach.
fn breach_at(shared: &Shared, clock: &ManualClock, when: &str, ticket: i64) {
    clock.set(at(when));
    shared.deadline_wake.notify_one();
    let deadline = Instant::now() + ARRIVAL;
    while count(
        shared,
        &format!("SELECT breached FROM tickets WHERE id = {ticket}"),
    ) == 0
    {
        assert!(Instant::now() < deadline, "ticket {ticket} never breached");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn subject_and_body(raw: &[u8]) -> (String, String) {
    let parsed = MessageParser::default().parse(raw).unwrap();
    (
        parsed.subject().unwrap_or_default().to_string(),
        parsed.body_text(0).unwrap_or_default().into_owned(),
    )
}

#[test]
fn three_breaches_in_an_hour_make_one_digest_and_each_makes_one_notice_per_ticket() {
    let dovecot = Dovecot::start(&["lead", "head"]);
    let postfix = Postfix::start(&dovecot, "example.com");
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &postfix, BREACH_QUEUES);
    let store = Store::open(&config.database, None).unwrap();
    // Monday 16 November 2026, 11:05 in Kyiv (09:05 UTC).
    let clock = Arc::new(ManualClock::new(at("2026-11-16T09:05:00Z")));
    let shared = Shared::new(config.clone(), store, clock.clone(), no_checkpointer());

    // Support tickets due at 12:05, 12:20 and 12:40 Kyiv; sales ones at the same times.
    let mut support = Vec::new();
    let mut sales = Vec::new();
    for (minute, who) in [("05", "alice"), ("20", "bob"), ("40", "carol")] {
        clock.set(at(&format!("2026-11-16T09:{minute}:00Z")));
        let customer = format!("{who}@customer.example");
        support.push(file(
            &shared,
            &clock,
            &customer,
            &format!("Login fails for {who}"),
        ));
        sales.push(file(
            &shared,
            &clock,
            &customer,
            &format!("Quote for {who}"),
        ));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks = start_tasks(&runtime, &shared);
    breach_at(&shared, &clock, "2026-11-16T10:05:01Z", support[0]);
    breach_at(&shared, &clock, "2026-11-16T10:20:01Z", support[1]);
    // A restart in the middle of the hour loses nothing.
    tasks.stop(&runtime);
    drop(shared);
    let store = Store::open(&config.database, None).unwrap();
    let shared = Shared::new(config.clone(), store, clock.clone(), no_checkpointer());
    let tasks = start_tasks(&runtime, &shared);
    breach_at(&shared, &clock, "2026-11-16T10:40:01Z", support[2]);
    for ticket in &sales {
        breach_at(&shared, &clock, "2026-11-16T10:40:01Z", *ticket);
    }

    // "each": one notice per ticket, right away.
    let head = wait_mail(&dovecot, "head", 3);
    let mut tagged: Vec<String> = head.iter().map(|raw| subject_and_body(raw).0).collect();
    tagged.sort();
    for (subject, ticket) in tagged.iter().zip(&sales) {
        let tag = format!("[#{}]", store::reference(*ticket));
        assert!(
            subject.starts_with(&tag) && subject.contains("Response target missed"),
            "{subject:?}"
        );
    }
    // "hourly": nothing before the end of the hour, one pending digest with all three.
    assert!(mail_in(&dovecot, "lead").is_empty(), "a digest came early");
    assert_eq!(
        count(
            &shared,
            "SELECT count(*) FROM outbox WHERE kind = 'breach_notice' AND recipient = 'lead@example.com'"
        ),
        0
    );
    let (status, due_at, payload): (String, i64, String) = shared
        .read(|c| {
            c.query_row(
                "SELECT status, due_at, payload FROM outbox WHERE kind = 'breach_digest'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .unwrap();
    assert_eq!(status, "pending");
    assert_eq!(due_at, at("2026-11-16T11:00:00Z").as_second());
    let listed: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(listed["tickets"].as_array().unwrap().len(), 3, "{listed}");

    // 13:00 Kyiv: the digest goes out, once.
    clock.set(at("2026-11-16T11:00:02Z"));
    shared.outbox_wake.notify_one();
    let lead = wait_mail(&dovecot, "lead", 1);
    let (subject, body) = subject_and_body(&lead[0]);
    assert_eq!(
        subject,
        "3 tickets missed the response target (2026-11-16 12:00-13:00)"
    );
    assert!(body.contains("(Europe/Kyiv)"), "{body}");
    for ((ticket, who), due) in support
        .iter()
        .zip(["alice", "bob", "carol"])
        .zip(["12:05", "12:20", "12:40"])
    {
        let tag = format!("[#{}]", store::reference(*ticket));
        let line = body
            .lines()
            .find(|l| l.starts_with(&tag))
            .unwrap_or_else(|| panic!("{tag} missing in\n{body}"));
        assert!(line.contains(&format!("2026-11-16 {due}")), "{line}");
        assert!(line.contains(&format!("{who}@customer.example")), "{line}");
        assert!(line.contains(&format!("Login fails for {who}")), "{line}");
    }
    // How late, when the digest went out: 55m, 40m and 20m.
    assert!(
        body.contains("55m") && body.contains("40m") && body.contains("20m"),
        "{body}"
    );

    // Each listed ticket learns its notice went out; nothing more is queued later.
    let deadline = Instant::now() + ARRIVAL;
    while count(
        &shared,
        "SELECT count(*) FROM events WHERE type = 'breach_notice_sent' AND detail LIKE 'in the digest to lead@example.com%'",
    ) < 3
    {
        assert!(Instant::now() < deadline, "no breach_notice_sent events");
        std::thread::sleep(Duration::from_millis(20));
    }
    clock.set(at("2026-11-16T13:00:00Z"));
    shared.deadline_wake.notify_one();
    shared.outbox_wake.notify_one();
    scheduler::handle_due(&shared).unwrap();
    tasks.stop(&runtime);
    assert_eq!(
        count(
            &shared,
            "SELECT count(*) FROM outbox WHERE kind = 'breach_digest'"
        ),
        1
    );
    assert_eq!(
        count(
            &shared,
            "SELECT count(*) FROM outbox WHERE kind = 'breach_notice' AND status = 'done'"
        ),
        3
    );
    assert_eq!(mail_in(&dovecot, "lead").len(), 1);
    assert_eq!(mail_in(&dovecot, "head").len(), 3);
}

#[test]
fn a_days_warnings_reach_the_agent_in_one_digest_at_local_midnight() {
    let dovecot = Dovecot::start(&["agent"]);
    let postfix = Postfix::start(&dovecot, "example.com");
    let dir = tempfile::tempdir().unwrap();
    let queues = "\n[[queue]]\nname = \"support\"\nagents = [\"agent@example.com\"]\nwarning_notice = \"daily\"\n";
    let config = config(dir.path(), &postfix, queues);
    let store = Store::open(&config.database, None).unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-16T09:00:00Z")));
    let shared = Shared::new(config.clone(), store, clock.clone(), no_checkpointer());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks = start_tasks(&runtime, &shared);
    // Filed at 11:00, 12:00 and 13:00 Kyiv; each warned at 75% of its hour.
    let mut tickets = Vec::new();
    for (hour, who) in [("09", "alice"), ("10", "bob"), ("11", "carol")] {
        clock.set(at(&format!("2026-11-16T{hour}:00:00Z")));
        let customer = format!("{who}@customer.example");
        let ticket = file(&shared, &clock, &customer, &format!("Invoice for {who}"));
        tickets.push(ticket);
        clock.set(at(&format!("2026-11-16T{hour}:45:01Z")));
        shared.deadline_wake.notify_one();
        let deadline = Instant::now() + ARRIVAL;
        while count(
            &shared,
            &format!("SELECT warned_at IS NOT NULL FROM tickets WHERE id = {ticket}"),
        ) == 0
        {
            assert!(Instant::now() < deadline, "ticket {ticket} never warned");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(
        count(
            &shared,
            "SELECT count(*) FROM outbox WHERE kind = 'warning'"
        ),
        0,
        "no single warnings"
    );
    assert_eq!(
        count(
            &shared,
            "SELECT count(*) FROM outbox WHERE kind = 'warning_digest' AND status = 'pending'"
        ),
        1
    );
    // Midnight in Kyiv is 22:00 UTC.
    clock.set(at("2026-11-16T22:00:01Z"));
    shared.outbox_wake.notify_one();
    let mail = wait_mail(&dovecot, "agent", 1);
    let (subject, body) = subject_and_body(&mail[0]);
    assert_eq!(subject, "3 tickets due for a reply soon (2026-11-16)");
    for (ticket, who) in tickets.iter().zip(["alice", "bob", "carol"]) {
        let tag = format!("[#{}]", store::reference(*ticket));
        let line = body
            .lines()
            .find(|l| l.starts_with(&tag))
            .unwrap_or_else(|| panic!("{tag} missing in\n{body}"));
        assert!(line.contains(&format!("Invoice for {who}")), "{line}");
    }
    tasks.stop(&runtime);
    assert_eq!(mail_in(&dovecot, "agent").len(), 1);
}

/// These tasks run without the daemon's checkpointer thread: SQLite checkpoints the store
/// on its own, as it does for every connection that is not the daemon's.
fn no_checkpointer() -> std::sync::mpsc::SyncSender<postdesk::runtime::Checkpoint> {
    std::sync::mpsc::sync_channel(1).0
}
