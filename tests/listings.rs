//! `postdesk tickets` as a desk with a long history uses it: the open tickets most urgent
//! first, a page at a time with a cursor that survives mail arriving between pages, every
//! ticket with `--all`, `--status` repeatable, and JSON written as it is read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::{Connection, params};
use serde_json::Value;

struct Desk {
    dir: tempfile::TempDir,
    /// Messages ingested so far, to give each a sender and Message-ID of its own.
    sent: std::cell::Cell<usize>,
}

impl Desk {
    fn new() -> Desk {
        Desk {
            dir: tempfile::tempdir().unwrap(),
            sent: std::cell::Cell::new(0),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("desk.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .env_remove("POSTDESK_CONFIG")
            .env_remove("POSTDESK_DB")
            .env("POSTDESK_LOG", "warn")
            .arg("--config")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/postdesk.toml"))
            .arg("--db")
            .arg(self.db())
            .args(args)
            .output()
            .unwrap()
    }

    fn text(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Vec<Value> {
        match serde_json::from_str(&self.text(args)).unwrap() {
            Value::Array(rows) => rows,
            other => panic!("{args:?}: not an array: {other}"),
        }
    }

    /// `n` requests from `n` new customers, through `postdesk ingest` of one mbox: `n` new
    /// tickets.
    fn requests(&self, n: usize) {
        let mut mbox = String::new();
        for _ in 0..n {
            let i = self.sent.get();
            self.sent.set(i + 1);
            mbox.push_str(&format!(
                "From c{i}@customer.example Thu Jan  1 00:00:00 2026\n\
                 From: Customer {i} <c{i}@customer.example>\nTo: support@example.com\n\
                 Subject: Question {i} about my contract\n\
                 Message-ID: <listing.{i}@customer.example>\n\n\
                 How do I change the tariff of contract {i}? Thank you.\n\n"
            ));
        }
        let path = self
            .dir
            .path()
            .join(format!("batch{}.mbox", self.sent.get()));
        std::fs::write(&path, mbox).unwrap();
        let said = self.text(&["ingest", path.to_str().unwrap()]);
        assert!(said.starts_with(&format!("ingested {n},")), "{said}");
    }

    fn sql(&self) -> Connection {
        let conn = Connection::open(self.db()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn refs(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|t| t["ref"].as_i64().unwrap()).collect()
}

/// Ten tickets, then their later life written as the desk would have left it: (status,
/// breached, due, created) per ticket, times in hours from an epoch.
fn desk_with_history() -> Desk {
    let desk = Desk::new();
    desk.requests(10);
    let hour = 3600;
    let base = 1_780_000_000;
    let life: [(&str, bool, Option<i64>, i64); 10] = [
        ("new", false, Some(50), 1),          // #1000
        ("answered", false, None, 2),         // #1001
        ("acknowledged", true, Some(20), 3),  // #1002 breached
        ("closed", true, Some(10), 4),        // #1003 closed, never listed by default
        ("pending", false, None, 5),          // #1004 waiting on the customer
        ("new", true, Some(30), 6),           // #1005 breached
        ("acknowledged", false, Some(40), 7), // #1006
        ("ignored", false, None, 8),          // #1007
        ("new", false, Some(40), 0),          // #1008 same due as #1006, older
        ("pending", false, None, 9),          // #1009
    ];
    let conn = desk.sql();
    for (id, (status, breached, due, created)) in (1..).zip(life) {
        let changed = conn
            .execute(
                "UPDATE tickets SET status = ?2, breached = ?3, due_at = ?4, created_at = ?5
                 WHERE id = ?1",
                params![
                    id,
                    status,
                    breached,
                    due.map(|d| base + d * hour),
                    base + created * hour
                ],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    desk
}

#[test]
fn by_default_the_open_tickets_come_most_urgent_first() {
    let desk = desk_with_history();
    // Breached (by due), then the nearest due (older first on a tie), then undated by age.
    let expected = [1002, 1005, 1008, 1006, 1000, 1004, 1009];
    let listed = desk.json(&["tickets", "--json"]);
    assert_eq!(refs(&listed), expected);
    assert!(listed.iter().all(|t| t.get("next").is_none()));

    let text = desk.text(&["tickets"]);
    let shown: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix('#')?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(shown, expected, "{text}");
    assert!(text.contains("7 ticket(s)"), "{text}");
    assert!(!text.contains("more:"), "{text}");
    assert!(text.contains("[BREACHED]"), "{text}");

    // `open` says the same; --breached keeps the order within the breached ones.
    assert_eq!(
        refs(&desk.json(&["tickets", "--status", "open", "--json"])),
        expected
    );
    assert_eq!(
        refs(&desk.json(&["tickets", "--breached", "--json"])),
        [1002, 1005]
    );
}

#[test]
fn all_lists_every_ticket_oldest_first() {
    let desk = desk_with_history();
    let every: Vec<i64> = (1000..1010).collect();
    assert_eq!(refs(&desk.json(&["tickets", "--all", "--json"])), every);
    let text = desk.text(&["tickets", "--all"]);
    assert!(text.contains("10 ticket(s)"), "{text}");
    // With --status, every ticket of those statuses, still oldest first.
    assert_eq!(
        refs(&desk.json(&["tickets", "--all", "--status", "closed,ignored", "--json"])),
        [1003, 1007]
    );
}

#[test]
fn status_is_repeatable_and_takes_lists() {
    let desk = desk_with_history();
    let repeated = desk.json(&[
        "tickets", "--status", "closed", "--status", "answered", "--json",
    ]);
    // Most urgent first there too: the breached closed one before the undated answer.
    assert_eq!(refs(&repeated), [1003, 1001]);
    let listed = desk.json(&["tickets", "--status", "pending,new", "--json"]);
    assert_eq!(refs(&listed), [1005, 1008, 1000, 1004, 1009]);
    let twice = desk.json(&["tickets", "--status", "new", "--status", "open", "--json"]);
    assert_eq!(refs(&twice), [1002, 1005, 1008, 1006, 1000, 1004, 1009]);
}

#[test]
fn an_unknown_status_or_cursor_is_refused_with_what_to_use() {
    let desk = desk_with_history();
    let refused = desk.run(&["tickets", "--status", "sleeping"]);
    assert_eq!(refused.status.code(), Some(2));
    let said = stderr(&refused);
    for status in [
        "open",
        "new",
        "acknowledged",
        "answered",
        "pending",
        "closed",
        "ignored",
    ] {
        assert!(said.contains(status), "{status} in {said}");
    }
    assert!(said.contains("sleeping"), "{said}");
    let refused = desk.run(&["tickets", "--status", "new,sleeping"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));

    let refused = desk.run(&["tickets", "--after", "nonsense"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("--after nonsense"),
        "{}",
        stderr(&refused)
    );

    // A cursor of the --all order does not continue the urgent one, and says so.
    let page = desk.json(&["tickets", "--all", "--limit", "2", "--json"]);
    let cursor = page[1]["next"].as_str().unwrap();
    let refused = desk.run(&["tickets", "--after", cursor]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("add --all"),
        "{}",
        stderr(&refused)
    );

    let refused = desk.run(&["tickets", "--limit", "0"]);
    assert_eq!(refused.status.code(), Some(2));
}

/// Pages of `--limit` through `next` until the last, running `between` after the first
/// page: every ticket of the listing exactly once.
fn walk(desk: &Desk, args: &[&str], between: impl Fn()) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut command: Vec<&str> = args.to_vec();
        if let Some(cursor) = &after {
            command.extend(["--after", cursor]);
        }
        let page = desk.json(&command);
        pages += 1;
        assert!(!page.is_empty() || pages == 1);
        for (n, row) in page.iter().enumerate() {
            assert!(
                row.get("next").is_none() || n == page.len() - 1,
                "only the last row carries next"
            );
        }
        seen.extend(refs(&page));
        if pages == 1 {
            between();
        }
        match page.last().and_then(|t| t["next"].as_str()) {
            Some(cursor) => after = Some(cursor.to_string()),
            None => break,
        }
    }
    seen
}

#[test]
fn limit_and_cursor_walk_every_ticket_once_while_mail_arrives() {
    let desk = Desk::new();
    desk.requests(120);

    // The default page is 50, and the text ends with the command that continues it.
    let text = desk.text(&["tickets"]);
    assert!(text.contains("50 ticket(s)"), "{text}");
    let more = text.lines().find_map(|l| l.strip_prefix("more: ")).unwrap();
    let words: Vec<&str> = more.split(' ').collect();
    assert_eq!(&words[..3], ["postdesk", "tickets", "--after"], "{more}");
    let next = desk.text(&["tickets", "--after", words[3]]);
    assert!(next.contains("50 ticket(s)"), "{next}");
    let last = desk.text(&["tickets", "--after", words[3], "--limit", "100"]);
    assert!(
        last.contains("70 ticket(s)") && !last.contains("more:"),
        "{last}"
    );

    for (args, added) in [
        (&["tickets", "--limit", "7", "--json"][..], 1),
        (&["tickets", "--all", "--limit", "9", "--json"][..], 1),
    ] {
        let before: BTreeSet<i64> = refs(&desk.json(&["tickets", "--all", "--json"]))
            .into_iter()
            .collect();
        let seen = walk(&desk, args, || desk.requests(added));
        let unique: BTreeSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{args:?}: a ticket came twice");
        assert!(before.is_subset(&unique), "{args:?}: a ticket was missed");
        // The one filed between pages is due after all the others: it comes, once, last.
        assert_eq!(unique.len(), before.len() + 1, "{args:?}");
        assert!(!before.contains(seen.last().unwrap()), "{args:?}: {seen:?}");
    }
}

#[test]
fn json_rows_have_the_ticket_fields_and_the_cursor_on_the_last() {
    let desk = desk_with_history();
    let page = desk.json(&["tickets", "--limit", "3", "--json"]);
    assert_eq!(refs(&page), [1002, 1005, 1008]);
    let detail: Value = serde_json::from_str(&desk.text(&["ticket", "1002", "--json"])).unwrap();
    for (field, value) in page[0].as_object().unwrap() {
        if field != "next" {
            assert_eq!(&detail[field], value, "{field}");
        }
    }
    let fields =
        |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(fields(&page[0]), fields(&page[1]));
    let mut with_next = fields(&page[0]);
    with_next.insert("next".into());
    assert_eq!(fields(&page[2]), with_next);
    let rest = desk.json(&[
        "tickets",
        "--json",
        "--after",
        page[2]["next"].as_str().unwrap(),
    ]);
    assert_eq!(refs(&rest), [1006, 1000, 1004, 1009]);
}

/// Peak RSS in KiB (GNU time) of `postdesk tickets ARGS`, and what it wrote.
fn peak_of(desk: &Desk, args: &[&str]) -> (u64, Vec<u8>) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak %M KiB"])
        .arg(env!("CARGO_BIN_EXE_postdesk"))
        .env("POSTDESK_LOG", "warn")
        .arg("--config")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/postdesk.toml"))
        .arg("--db")
        .arg(desk.db())
        .arg("tickets")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let peak = stderr(&out)
        .lines()
        .find_map(|l| l.strip_prefix("peak ")?.strip_suffix(" KiB")?.parse().ok())
        .unwrap();
    (peak, out.stdout)
}

/// `--json --all` on 100,000 tickets: the document is written as the rows are read, so the
/// process grows by its SQLite page cache (8 MB), not by the document (GNU time's peak RSS
/// against that of a one-ticket page).
#[test]
fn json_of_every_ticket_streams_in_bounded_memory() {
    const TICKETS: i64 = 100_000;
    let desk = Desk::new();
    desk.requests(1);
    let mut conn = desk.sql();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO tickets (id, status, queue, priority, customer, subject,
                    normalized_subject, created_at, last_message_at, due_at, message_count)
                 VALUES (?1, 'new', 'support', 'normal', ?2, ?3, 'q', ?4, ?4, ?5, 1)",
            )
            .unwrap();
        for id in 2..=TICKETS {
            let subject = format!("Question {id} about the contract and its many clauses");
            insert
                .execute(params![
                    id,
                    format!("c{id}@customer.example"),
                    subject,
                    1_780_000_000 + id,
                    1_780_090_000 + id
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    drop(conn);
    let (baseline_kib, _) = peak_of(&desk, &["--limit", "1", "--json"]);
    let (peak_kib, document) = peak_of(&desk, &["--all", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&document).unwrap();
    assert_eq!(rows.len() as i64, TICKETS);
    let document_kib = document.len() as u64 / 1024;
    assert!(document_kib > 50_000, "{document_kib} KiB");
    let grown = peak_kib.saturating_sub(baseline_kib);
    assert!(
        grown < document_kib / 3,
        "peak RSS {peak_kib} KiB ({grown} KiB over a one-ticket page) for a {document_kib} KiB \
         document"
    );
}
