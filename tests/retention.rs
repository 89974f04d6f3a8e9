//! Retention and erasure with the real binary: `db prune --before DATE --export FILE.mbox`
//! and `customer ADDRESS --erase` on databases filled by `postdesk ingest`; what goes, what
//! stays, that the file shrinks, and that a prune killed with SIGKILL half-way leaves the
//! database as it was before or as it is after, never in between.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("postdesk.toml"),
            "[calendar]\ntimezone = \"UTC\"\n\n[[mailbox]]\nname = \"support\"\n\
             address = \"support@example.com\"\nqueue = \"support\"\nmaildir = \"maildir\"\n\n\
             [[queue]]\nname = \"support\"\n",
        )
        .unwrap();
        Desk { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db_path(&self) -> PathBuf {
        self.path("desk.db")
    }

    fn command(&self, args: &[&str]) -> Command {
        self.command_on(&self.db_path(), args)
    }

    fn command_on(&self, db: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
        cmd.env_remove("POSTDESK_CONFIG")
            .env_remove("POSTDESK_DB")
            .env("POSTDESK_LOG", "warn")
            .arg("--config")
            .arg(self.path("postdesk.toml"))
            .arg("--db")
            .arg(db)
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Files `messages` through `postdesk ingest` as one mbox.
    fn ingest(&self, messages: &[Vec<u8>]) {
        let mut mbox = Vec::new();
        for raw in messages {
            mbox.extend_from_slice(b"From sender@example.com Tue Nov 17 10:00:00 2026\n");
            for line in raw.split_inclusive(|&b| b == b'\n') {
                let quotes = line.iter().take_while(|&&b| b == b'>').count();
                if line[quotes..].starts_with(b"From ") {
                    mbox.push(b'>');
                }
                mbox.extend_from_slice(line);
            }
            mbox.extend_from_slice(b"\n");
        }
        let file = self.path("in.mbox");
        std::fs::write(&file, mbox).unwrap();
        let out = self.ok(&["ingest", file.to_str().unwrap()]);
        assert!(
            out.contains(&format!("ingested {}", messages.len())),
            "{out}"
        );
    }

    fn db(&self) -> Connection {
        Connection::open(self.db_path()).unwrap()
    }

    fn size(&self) -> u64 {
        std::fs::metadata(self.db_path()).unwrap().len()
    }
}

fn mail(n: usize, from: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\nTo: support@example.com\n{extra}Subject: question {n}\n\
         Date: Tue, 17 Nov 2026 10:00:00 +0000\nMessage-ID: <m{n}@customer.example>\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
    .into_bytes()
}

/// Some kilobytes of words, many of them seen nowhere else (a real full-text index).
fn filler(n: usize, kilobytes: usize) -> String {
    let mut words = String::new();
    let mut x = n as u64 * 2_654_435_761 + 1;
    while words.len() < kilobytes * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words.push_str(&format!("w{:x} ", x % 500_000));
        if words.len() % 70 < 8 {
            words.push('\n');
        }
    }
    words
}

/// Closes the tickets and dates them back to 2020 (as if they were years old).
fn close_in_2020(conn: &Connection, ids: &str) {
    let old = 1_580_000_000; // 2020-01-26
    conn.execute_batch(&format!(
        "UPDATE tickets SET status = 'closed', closed_at = {old}, last_message_at = {old}
         WHERE id IN ({ids})"
    ))
    .unwrap();
}

fn one<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every row of the tables about tickets, as text, for before/after comparisons.
fn dump(conn: &Connection, tables: &[&str]) -> Vec<String> {
    let mut rows = Vec::new();
    for table in tables {
        let mut statement = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let columns = statement.column_count();
        let mut result = statement.query([]).unwrap();
        while let Some(row) = result.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            rows.push(format!("{table}: {}", values.join(" | ")));
        }
    }
    rows
}

fn healthy(conn: &Connection) {
    assert_eq!(one::<String>(conn, "PRAGMA integrity_check"), "ok");
    assert_eq!(
        one::<i64>(conn, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    conn.execute_batch(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
    )
    .unwrap();
}

/// The messages of an mbox(rd) as they were before quoting.
fn unmbox(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for line in mbox.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            messages.push(Vec::new());
            continue;
        }
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        let unquoted = if quotes > 0 && line[quotes..].starts_with(b"From ") {
            &line[1..]
        } else {
            line
        };
        messages.last_mut().unwrap().extend_from_slice(unquoted);
    }
    // each message ends with the separator's blank line
    for message in &mut messages {
        assert!(message.ends_with(b"\n\n"));
        message.pop();
    }
    messages
}

const TICKET_TABLES: [&str; 7] = [
    "tickets",
    "messages",
    "attachments",
    "participants",
    "thread_refs",
    "events",
    "outbox",
];

#[test]
fn a_prune_exports_then_removes_old_closed_tickets_and_nothing_else() {
    let desk = Desk::new();
    let mut messages = Vec::new();
    for n in 1..=6 {
        // a body line that an mbox must quote, and enough text for the file to shrink
        let body = format!(
            "uniqueword{n} please help\nFrom the start it failed.\n>From quoted\n{}",
            filler(n, 64)
        );
        messages.push(mail(n, &format!("c{n}@customer.example"), "", &body));
    }
    desk.ingest(&messages);
    let conn = desk.db();
    close_in_2020(&conn, "1, 2, 3");
    // closed, but recently; and open ones from long ago: all stay
    conn.execute_batch(
        "UPDATE tickets SET status = 'closed', closed_at = last_message_at WHERE id = 4;
         UPDATE tickets SET last_message_at = 1580000000 WHERE id IN (5, 6);",
    )
    .unwrap();
    // every row of the tickets that stay, the tickets themselves included
    let stays = |conn: &Connection| {
        let mut rows: Vec<String> = dump(conn, &["tickets"])
            .into_iter()
            .filter(|r| {
                !["1", "2", "3"]
                    .iter()
                    .any(|id| r.starts_with(&format!("tickets: Integer({id}) ")))
            })
            .collect();
        rows.extend(dump_where(conn, "ticket_id IN (4, 5, 6)"));
        rows
    };
    let staying = stays(&conn);
    assert!(staying.len() > 10, "{staying:#?}");
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM messages WHERE ticket_id IN (1, 2, 3) ORDER BY ticket_id, id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let raws: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| postdesk::store::raw::read(&conn, *id).unwrap().unwrap())
        .collect();
    drop(conn);
    let mut by_ticket = Vec::new();
    for reference in ["1000", "1001", "1002"] {
        by_ticket.extend(desk.run(&["ticket", reference, "--mbox"]).stdout);
    }
    assert!(
        desk.ok(&["search", "uniqueword2", "--json"])
            .contains("c2@customer.example")
    );

    let dry = desk.ok(&["db", "prune", "--before", "2021-01-01", "--dry-run"]);
    assert_eq!(
        dry.trim(),
        "would remove 3 closed ticket(s) with 3 message(s)"
    );
    assert_eq!(one::<i64>(&desk.db(), "SELECT count(*) FROM tickets"), 6);

    let size_before = desk.size();
    let export = desk.path("old.mbox");
    let out = desk.run(&[
        "db",
        "prune",
        "--before",
        "2021-01-01",
        "--export",
        export.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("tickets 3") && stdout.contains("messages 3"),
        "{stdout}"
    );
    assert!(
        stderr.contains(" before, ") && stderr.contains(" after"),
        "{stderr}"
    );

    // the export holds the stored bytes, as `ticket --mbox` wrote them before
    let exported = std::fs::read(&export).unwrap();
    assert_eq!(exported, by_ticket);
    assert_eq!(unmbox(&exported), raws);
    // removed: every row of the three tickets; their words are no longer found
    let conn = desk.db();
    for table in TICKET_TABLES
        .iter()
        .filter(|t| **t != "tickets" && **t != "attachments")
    {
        let left: i64 = one(
            &conn,
            &format!("SELECT count(*) FROM {table} WHERE ticket_id IN (1, 2, 3)"),
        );
        assert_eq!(left, 0, "{table}");
    }
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM tickets WHERE id <= 3"),
        0
    );
    assert_eq!(
        one::<i64>(&conn, "SELECT count(*) FROM messages_fts_docsize"),
        3
    );
    assert_eq!(desk.ok(&["search", "uniqueword2", "--json"]).trim(), "[]");
    assert!(
        desk.ok(&["search", "uniqueword5", "--json"])
            .contains("c5@customer.example")
    );
    // the others exactly as they were
    assert_eq!(stays(&conn), staying);
    healthy(&conn);
    drop(conn);
    assert!(
        desk.size() < size_before,
        "the file did not shrink: {size_before} -> {}",
        desk.size()
    );
    // again: nothing left to prune, and an export is never written over
    let again = desk.run(&[
        "db",
        "prune",
        "--before",
        "2021-01-01",
        "--export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("name a new file"));
    let future = desk.run(&["db", "prune", "--before", "2999-01-01"]);
    assert_eq!(future.status.code(), Some(2));
    assert!(
        desk.ok(&["db", "prune", "--before", "2021-01-01"])
            .contains("removed nothing")
    );
}

/// The rows of every table with a `ticket_id` that match `condition`.
fn dump_where(conn: &Connection, condition: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for table in [
        "messages",
        "participants",
        "thread_refs",
        "events",
        "outbox",
    ] {
        let mut statement = conn
            .prepare(&format!(
                "SELECT * FROM {table} WHERE {condition} ORDER BY 1, 2"
            ))
            .unwrap();
        let columns = statement.column_count();
        let mut result = statement.query([]).unwrap();
        while let Some(row) = result.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            rows.push(format!("{table}: {}", values.join(" | ")));
        }
    }
    rows
}

/// Every table and column of the database in which `needle` occurs, in any case (but for
/// Joann, whose address holds Ann's).
fn occurrences(conn: &Connection, needle: &str) -> Vec<String> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for table in tables {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for column in columns {
            let n: i64 = one(
                conn,
                &format!(
                    "SELECT count(*) FROM \"{table}\"
                     WHERE instr(replace(lower(CAST(\"{column}\" AS TEXT)), 'jo{needle}', ''), '{needle}') > 0"
                ),
            );
            if n > 0 {
                found.push(format!("{table}.{column}: {n}"));
            }
        }
    }
    found
}

#[test]
fn an_erasure_leaves_nothing_of_the_address_but_an_anonymous_event() {
    let desk = Desk::new();
    let ann = "ann.lee@customer.example";
    let attachment = "QUJD".repeat(200_000); // 800 kB of base64 in Ann's mail
    desk.ingest(&[
        // Ann's own tickets
        mail(
            1,
            ann,
            "",
            &format!("my account, Ann Lee\n{}", filler(1, 8)),
        ),
        mail(2, "Ann Lee <ANN.LEE@customer.example>", "", &attachment),
        // Bob's ticket, Ann in copy, and her reply on it
        mail(
            3,
            "bob@customer.example",
            &format!("Cc: {ann}\n"),
            "bob asks",
        ),
        mail(
            4,
            ann,
            "In-Reply-To: <m3@customer.example>\nReferences: <m3@customer.example>\n",
            "ann answers on bob's ticket",
        ),
        // Carol's ticket, which does not name her, and Joann, who is someone else
        mail(5, "carol@customer.example", "", "carol asks"),
        mail(6, "joann.lee@customer.example", "", "joann asks"),
    ]);
    let conn = desk.db();
    assert!(!occurrences(&conn, ann).is_empty());
    let bob_ticket: i64 = one(
        &conn,
        "SELECT ticket_id FROM messages WHERE from_addr = 'bob@customer.example'",
    );
    let ann_reply_ticket: i64 = one(
        &conn,
        "SELECT ticket_id FROM messages WHERE message_id = 'm4@customer.example'",
    );
    assert_eq!(
        ann_reply_ticket, bob_ticket,
        "Ann's reply did not thread into Bob's ticket"
    );
    let carol = dump_where(
        &conn,
        "ticket_id = (SELECT id FROM tickets WHERE customer = 'carol@customer.example')",
    );
    drop(conn);
    let size_before = desk.size();

    let out = desk.run(&["customer", "Ann.Lee@customer.example", "--erase"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("erased ann.lee@customer.example"),
        "{stdout}"
    );
    assert!(stdout.contains("tickets: 2 row(s)"), "{stdout}");
    // her two messages, Bob's (it names her) and her reply
    assert!(stdout.contains("messages: 4 row(s)"), "{stdout}");
    assert!(
        stdout.contains(&format!("#{}", bob_ticket + 999)),
        "{stdout}"
    );

    let conn = desk.db();
    assert_eq!(occurrences(&conn, ann), Vec::<String>::new());
    let events: Vec<(String, String)> = conn
        .prepare(&format!(
            "SELECT type, detail FROM events WHERE ticket_id = {bob_ticket} AND type = 'erased'"
        ))
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        !events[0].1.contains('@') && !events[0].1.to_lowercase().contains("ann"),
        "{events:?}"
    );
    // the others are untouched
    assert_eq!(
        dump_where(
            &conn,
            "ticket_id = (SELECT id FROM tickets WHERE customer = 'carol@customer.example')"
        ),
        carol
    );
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT count(*) FROM messages WHERE from_addr = 'joann.lee@customer.example'"
        ),
        1
    );
    assert_eq!(desk.ok(&["search", "answers", "--json"]).trim(), "[]");
    healthy(&conn);
    drop(conn);
    assert!(
        desk.size() + 500_000 < size_before,
        "the file did not shrink: {size_before} -> {}",
        desk.size()
    );
    let again = desk.ok(&["customer", ann, "--erase"]);
    assert_eq!(again.trim(), format!("nothing stored for {ann}"));
}

/// Row counts of every table a prune changes, and of the full-text index.
fn counts(path: &Path) -> Vec<i64> {
    let conn = Connection::open(path).unwrap();
    let mut counts: Vec<i64> = TICKET_TABLES
        .iter()
        .map(|t| one(&conn, &format!("SELECT count(*) FROM {t}")))
        .collect();
    counts.push(one(&conn, "SELECT count(*) FROM messages_fts_docsize"));
    healthy(&conn);
    counts
}

/// Starts a prune of `db`; returns the child and the moment it said it starts removing.
fn start_prune(
    desk: &Desk,
    db: &Path,
) -> (
    std::process::Child,
    Instant,
    std::sync::mpsc::Receiver<Instant>,
) {
    let mut child = desk
        .command_on(db, &["db", "prune", "--before", "2021-01-01"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("removing "), "{line}");
    let removing = Instant::now();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if line.unwrap().starts_with("removed rows") {
                let _ = tx.send(Instant::now());
            }
        }
    });
    std::thread::spawn(move || for _ in stderr.lines() {});
    (child, removing, rx)
}

#[test]
fn a_prune_killed_half_way_leaves_everything_or_nothing() {
    let desk = Desk::new();
    let messages: Vec<Vec<u8>> = (1..=3000)
        .map(|n| mail(n, &format!("c{n}@customer.example"), "", &filler(n, 3)))
        .collect();
    desk.ingest(&messages);
    close_in_2020(&desk.db(), "SELECT id FROM tickets WHERE id > 10");
    let master = desk.db_path();
    let before = counts(&master);
    let copy = |name: &str| {
        let path = desk.path(name);
        std::fs::copy(&master, &path).unwrap();
        path
    };

    // how long removing takes, from its announcement to its commit
    let measured = copy("measured.db");
    let (mut child, removing, committed) = start_prune(&desk, &measured);
    let took = committed.recv().unwrap() - removing;
    assert!(child.wait().unwrap().success());
    let after = counts(&measured);
    assert_eq!(after[0], 10, "{after:?}");
    assert!(
        took > Duration::from_millis(20),
        "the prune is too small to be killed half-way: {took:?}"
    );

    let mut states = Vec::new();
    for (n, share) in [0.1, 0.3, 0.6].iter().enumerate() {
        let db = copy(&format!("killed{n}.db"));
        let (mut child, removing, _) = start_prune(&desk, &db);
        std::thread::sleep(
            (removing + took.mul_f64(*share)).saturating_duration_since(Instant::now()),
        );
        // On a busy machine this run may be quicker than the measured one and be done.
        let running = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!running || status.signal() == Some(9), "{status:?}");
        let now = counts(&db);
        assert!(
            now == before || now == after,
            "half-done after a kill at {share}: {now:?}, before {before:?}, after {after:?}"
        );
        states.push(match (running, now == before) {
            (false, _) => "finished",
            (true, true) => "before",
            (true, false) => "after",
        });
        // and the prune can be done again, to the end
        let out = desk
            .command_on(&db, &["db", "prune", "--before", "2021-01-01"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(counts(&db), after);
    }
    eprintln!("removal took {took:?}; killed at 10%, 30%, 60%: {states:?}");
    // a kill in the removal finds the database as it was
    assert!(states.contains(&"before"), "{states:?}");
}

#[test]
fn the_daemon_applies_each_queues_retention() {
    let desk = Desk::new();
    desk.ingest(&[
        mail(1, "a@customer.example", "", "old and closed"),
        mail(2, "b@customer.example", "", "old and closed too"),
        mail(
            3,
            "c@customer.example",
            "",
            "old, closed, in a queue kept forever",
        ),
        mail(4, "d@customer.example", "", "old but open"),
    ]);
    let conn = desk.db();
    close_in_2020(&conn, "1, 2, 3");
    conn.execute_batch(
        "UPDATE tickets SET queue = 'sales' WHERE id = 3;
         UPDATE tickets SET last_message_at = 1580000000 WHERE id = 4;",
    )
    .unwrap();
    drop(conn);
    let config = std::fs::read_to_string(desk.path("postdesk.toml")).unwrap();
    std::fs::write(
        desk.path("postdesk.toml"),
        format!(
            "[defaults]\nretention = \"1y\"\n\n{config}\n[[queue]]\nname = \"sales\"\nretention = \"forever\"\n"
        ),
    )
    .unwrap();
    let shown = desk.ok(&["config", "show"]);
    assert!(shown.contains("retention = \"1y\""), "{shown}");
    assert!(shown.contains("retention = \"forever\""), "{shown}");
    for folder in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(desk.path("maildir").join(folder)).unwrap();
    }
    let mut daemon = desk
        .command(&["run"])
        .current_dir(desk.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ids = loop {
        let ids: String = one(
            &desk.db(),
            "SELECT group_concat(id) FROM (SELECT id FROM tickets ORDER BY id)",
        );
        if ids == "3,4" || Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert_eq!(ids, "3,4");
    let conn = desk.db();
    assert_eq!(one::<i64>(&conn, "SELECT count(*) FROM messages"), 2);
    assert_eq!(
        one::<i64>(
            &conn,
            "SELECT count(*) FROM settings WHERE key = 'retention_last_run'"
        ),
        1
    );
    healthy(&conn);
    // a bad retention is refused at its place
    std::fs::write(
        desk.path("postdesk.toml"),
        format!("[defaults]\nretention = \"3 years\"\n\n{config}"),
    )
    .unwrap();
    let out = desk.run(&["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("defaults.retention") && stderr.contains("\"3y\""),
        "{stderr}"
    );
}

#[test]
fn an_older_database_shrinks_once_vacuumed() {
    let desk = Desk::new();
    // as the releases before incremental vacuum made it
    let conn = desk.db();
    conn.pragma_update(None, "page_size", 16384).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    drop(conn);
    // Large enough that what a prune frees outweighs the full-text index's deletion records:
    // the raw mail is stored compressed, so a message frees less than its size.
    let messages: Vec<Vec<u8>> = (1..=4)
        .map(|n| mail(n, &format!("c{n}@customer.example"), "", &filler(n, 256)))
        .collect();
    desk.ingest(&messages);
    assert_eq!(one::<i64>(&desk.db(), "PRAGMA auto_vacuum"), 0);
    close_in_2020(&desk.db(), "1");
    let size = desk.size();
    let out = desk.run(&["db", "prune", "--before", "2021-01-01"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `postdesk db vacuum` once"));
    assert_eq!(
        desk.size(),
        size,
        "the file changed size without incremental vacuum"
    );
    desk.ok(&["db", "vacuum"]);
    assert_eq!(one::<i64>(&desk.db(), "PRAGMA auto_vacuum"), 2);
    let vacuumed = desk.size();
    assert!(
        vacuumed < size,
        "{size} -> {vacuumed}; prune said {}",
        String::from_utf8_lossy(&out.stdout)
    );
    close_in_2020(&desk.db(), "2");
    let out = desk.run(&["db", "prune", "--before", "2021-01-01"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("db vacuum"));
    assert!(desk.size() < vacuumed, "{} -> {}", vacuumed, desk.size());
}
