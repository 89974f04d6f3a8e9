//! The weekly report mail end to end: postdesk's own deadline scheduler and outbox worker
//! (the tasks `postdesk run` starts) on an injected clock, sending through the suite's real
//! Postfix into Dovecot mailboxes. The clock is set just before "mon 08:00" Kyiv time and
//! moved past it: the report arrives once per recipient, with the text report as its body
//! and the HTML page attached; moving on within the week, running the scheduler again or
//! restarting sends nothing more; the next Monday sends the next week's report.

#[path = "support/mailstack.rs"]
mod mailstack;
#[path = "support/tasks.rs"]
mod tasks;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mail_parser::{MessageParser, MimeHeaders};
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

fn config(dir: &Path, postfix: &Postfix) -> Config {
    let text = format!(
        r#"database = {db:?}

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

[[queue]]
name = "support"

[report]
recipients = ["lead@example.com", "head@example.com"]
weekly = "mon 08:00"
"#,
        db = dir.join("postdesk.db").display().to_string(),
        maildir = dir.join("maildir").display().to_string(),
        port = postfix.smtp_port(),
    );
    Config::from_toml(&text, Path::new("weekly.toml")).unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Files a message at the clock's time; returns its ticket's reference.
fn file(config: &Config, store: &mut Store, clock: &ManualClock, raw: String) -> i64 {
    let ingester = Ingester { config, clock };
    let batch = [Incoming {
        raw: raw.into_bytes(),
        origin: Origin {
            mailbox: Some("support".into()),
            location: "test".into(),
            imap: None,
            sent: false,
        },
    }];
    match ingester
        .ingest_batch(store, &batch, &mut Summary::default())
        .unwrap()
        .pop()
        .unwrap()
    {
        Filed::Stored { ticket, .. } => store::reference(ticket),
        other => panic!("not filed: {other:?}"),
    }
}

/// Written long before it was filed, so that it is not acknowledged (no other mail).
fn mail(from: &str, subject: &str, id: &str, in_reply_to: Option<&str>) -> String {
    let threading = in_reply_to
        .map(|p| format!("In-Reply-To: <{p}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: support@desk.example\r\nSubject: {subject}\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{threading}\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    )
}

fn reports_in(dovecot: &Dovecot, user: &str) -> Vec<Vec<u8>> {
    dovecot
        .messages(user, "INBOX")
        .into_iter()
        .filter(|m| {
            let parsed = MessageParser::default().parse(m);
            parsed
                .and_then(|p| p.message_id().map(|id| id.starts_with("postdesk.report.")))
                .unwrap_or(false)
        })
        .collect()
}

fn wait_reports(dovecot: &Dovecot, user: &str, count: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let reports = reports_in(dovecot, user);
        if reports.len() >= count {
            return reports;
        }
        assert!(
            Instant::now() < deadline,
            "{user} got {} report(s), expected {count}",
            reports.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn report_rows(shared: &Shared) -> Vec<(String, String, String)> {
    shared
        .read(|conn| {
            conn.prepare(
                "SELECT recipient, status, payload FROM outbox WHERE kind = 'report' ORDER BY id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect()
        })
        .unwrap()
}

#[test]
fn weekly_report_mail_goes_out_once_per_week_through_postfix() {
    let dovecot = Dovecot::start(&["lead", "head"]);
    let postfix = Postfix::start(&dovecot, "example.com");
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &postfix);
    let mut store = Store::open(&config.database, None).unwrap();

    // The week before Monday 16 November 2026: one request answered in an hour, one never.
    let clock = Arc::new(ManualClock::new(at("2026-11-12T08:00:00Z")));
    let answered = file(
        &config,
        &mut store,
        &clock,
        mail(
            "alice@customer.example",
            "Cannot log in",
            "a1@customer.example",
            None,
        ),
    );
    let overdue = file(
        &config,
        &mut store,
        &clock,
        mail(
            "bob@customer.example",
            "Refund for order 42",
            "b1@customer.example",
            None,
        ),
    );
    clock.set(at("2026-11-12T09:00:00Z"));
    file(
        &config,
        &mut store,
        &clock,
        // The desk's answer to Alice, a copy in the support mailbox.
        mail(
            "support@desk.example",
            "Re: Cannot log in",
            "r1@desk.example",
            Some("a1@customer.example"),
        )
        .replacen("To: support@desk.example", "To: alice@customer.example", 1),
    );

    // Monday 16 November, 07:59:50 in Kyiv (05:59:50 UTC): the first run only remembers
    // the slot that passed.
    clock.set(at("2026-11-16T05:59:50Z"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shared = Shared::new(config.clone(), store, clock.clone(), no_checkpointer());
    let tasks = start_tasks(&runtime, &shared);
    let deadline = Instant::now() + ARRIVAL;
    while shared
        .read(|c| {
            c.query_row(
                "SELECT count(*) FROM settings WHERE key LIKE 'report.%'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .unwrap()
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the scheduler never looked at the report"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        report_rows(&shared).is_empty(),
        "no report for a slot before the start"
    );

    // 08:00:05: the report of 9–16 November goes out, once to each recipient.
    clock.set(at("2026-11-16T06:00:05Z"));
    shared.deadline_wake.notify_one();
    let lead = wait_reports(&dovecot, "lead", 1);
    let head = wait_reports(&dovecot, "head", 1);
    assert_eq!((lead.len(), head.len()), (1, 1));

    let parsed = MessageParser::default().parse(&lead[0]).unwrap();
    let subject = parsed.subject().unwrap_or_default().to_string();
    assert_eq!(
        subject,
        "postdesk weekly report 2026-11-09 to 2026-11-16: 50.0% answered within target, 1 missed"
    );
    assert_eq!(
        parsed.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert!(
        parsed
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address())
            == Some("support@desk.example")
    );
    let body = parsed.body_text(0).unwrap().into_owned();
    for expected in [
        "postdesk report: 2026-11-09 08:00 to 2026-11-16 08:00 (Europe/Kyiv), all queues",
        "1 of 2 waiting periods",
        &format!("#{overdue}"),
        "Refund for order 42",
        "p50 1h 00m",
    ] {
        assert!(body.contains(expected), "{expected:?} missing in\n{body}");
    }
    assert!(!body.contains(&format!("#{answered} ")), "{body}");
    let attachment = parsed.attachment(0).expect("the HTML page is attached");
    assert_eq!(
        attachment.attachment_name(),
        Some("postdesk-report-2026-11-16.html")
    );
    let content_type = attachment.content_type().unwrap();
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("text", Some("html"))
    );
    let page = String::from_utf8(attachment.contents().to_vec()).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("data-chart=\"target\""));
    assert!(page.contains(&format!("<td>#{overdue}</td>")));

    // Later that week, and with the scheduler run by hand too: nothing more is queued.
    clock.set(at("2026-11-18T12:00:00Z"));
    shared.deadline_wake.notify_one();
    scheduler::handle_due(&shared).unwrap();
    let rows = report_rows(&shared);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|(_, status, _)| status == "done"),
        "{rows:?}"
    );
    let window: serde_json::Value = serde_json::from_str(&rows[0].2).unwrap();
    assert_eq!(window["until"], at("2026-11-16T06:00:00Z").as_second());
    assert_eq!(window["since"], at("2026-11-09T06:00:00Z").as_second());

    // A restart on the same database within the week: still nothing.
    tasks.stop(&runtime);
    drop(shared);
    let store = Store::open(&config.database, None).unwrap();
    let shared = Shared::new(config.clone(), store, clock.clone(), no_checkpointer());
    scheduler::handle_due(&shared).unwrap();
    assert_eq!(report_rows(&shared).len(), 2);

    // Down over the next Monday 08:00 and started after it: that week's report goes out
    // at the start.
    clock.set(at("2026-11-23T09:30:00Z"));
    let tasks = start_tasks(&runtime, &shared);
    let lead = wait_reports(&dovecot, "lead", 2);
    wait_reports(&dovecot, "head", 2);
    let second = MessageParser::default().parse(&lead[1]).unwrap();
    assert!(
        second
            .subject()
            .unwrap_or_default()
            .starts_with("postdesk weekly report 2026-11-16 to 2026-11-23:"),
        "{:?}",
        second.subject()
    );
    tasks.stop(&runtime);
    assert_eq!(report_rows(&shared).len(), 4);
    assert_eq!(reports_in(&dovecot, "lead").len(), 2);
}

/// These tasks run without the daemon's checkpointer thread: SQLite checkpoints the store
/// on its own, as it does for every connection that is not the daemon's.
fn no_checkpointer() -> std::sync::mpsc::SyncSender<postdesk::runtime::Checkpoint> {
    std::sync::mpsc::sync_channel(1).0
}
