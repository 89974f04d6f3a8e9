//! The admin's commands: `db backup` (also while another connection writes), `db restore`
//! (never under a live daemon, the replaced database kept), `db vacuum`,
//! and the shell completions and man page generated from the command line definition.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::Connection;
use serde_json::Value;

struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    /// A database with the fixture mail filed into tickets.
    fn with_tickets() -> Desk {
        let desk = Desk {
            dir: tempfile::tempdir().unwrap(),
        };
        let mail = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mail");
        let out = desk.run(&["ingest", mail.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        desk
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("desk.db")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_on(&self.db(), args)
    }

    fn run_on(&self, db: &Path, args: &[&str]) -> Output {
        postdesk().arg("--db").arg(db).args(args).output().unwrap()
    }

    /// `tickets --json` on a database: (ref, subject) of every ticket.
    fn tickets(&self, db: &Path) -> Vec<(i64, String)> {
        let out = self.run_on(db, &["tickets", "--all", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let tickets: Value = serde_json::from_slice(&out.stdout).unwrap();
        tickets
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["ref"].as_i64().unwrap(),
                    t["subject"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn postdesk() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
    cmd.env_remove("POSTDESK_CONFIG")
        .env_remove("POSTDESK_DB")
        .env("POSTDESK_LOG", "warn");
    cmd
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn backup_holds_every_ticket_and_serves_as_the_database() {
    let desk = Desk::with_tickets();
    let original = desk.tickets(&desk.db());
    assert!(original.len() > 10, "{original:?}");
    let copy = desk.path("backup.db");
    let out = desk.run(&["db", "backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{} ticket(s), 24 message(s)", original.len())),
        "{}",
        stdout(&out)
    );

    // The copy is one plain SQLite file, readable by its owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    for journal in ["-wal", "-shm", "-journal"] {
        assert!(!desk.path(&format!("backup.db{journal}")).exists());
    }
    let conn = Connection::open(&copy).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    let tickets: i64 = conn
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tickets as usize, original.len());
    let raw: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages JOIN message_raw r ON r.message_id = messages.id WHERE length(r.bytes) > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(raw, 24, "every message is kept whole");
    drop(conn);

    // Restoring is using the copy as the database: the same tickets.
    assert_eq!(desk.tickets(&copy), original);
}

#[test]
fn backup_works_while_another_connection_writes() {
    let desk = Desk::with_tickets();
    let original = desk.tickets(&desk.db());
    let (first_ref, first_subject) = original[0].clone();

    // A writer in the middle of a transaction, as the daemon is while it files a batch.
    let writer = Connection::open(desk.db()).unwrap();
    writer
        .execute_batch(
            "BEGIN IMMEDIATE; UPDATE tickets SET subject = 'not committed yet' WHERE id = (SELECT min(id) FROM tickets);",
        )
        .unwrap();
    let copy = desk.path("during-write.db");
    let out = desk.run(&["db", "backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The writer goes on and commits after the backup began.
    writer.execute_batch("COMMIT").unwrap();
    drop(writer);

    let backed_up = desk.tickets(&copy);
    assert_eq!(backed_up.len(), original.len());
    let first = backed_up.iter().find(|(r, _)| *r == first_ref).unwrap();
    assert_eq!(
        first.1, first_subject,
        "the copy holds what was committed when it began"
    );
    let now = desk.tickets(&desk.db());
    assert!(now.iter().any(|(_, s)| s == "not committed yet"));
}

#[test]
fn backup_never_overwrites_without_force() {
    let desk = Desk::with_tickets();
    let copy = desk.path("backup.db");
    std::fs::write(&copy, "an older file the admin keeps").unwrap();
    let out = desk.run(&["db", "backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exists; pass --force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "an older file the admin keeps"
    );
    assert!(!desk.path("backup.db.partial").exists());

    let out = desk.run(&["db", "backup", "--force", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(desk.tickets(&copy), desk.tickets(&desk.db()));

    // Never the database itself, never from a database that is not there.
    let db = desk.db();
    let out = desk.run(&["db", "backup", "--force", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is the database itself"),
        "{}",
        stderr(&out)
    );
    let missing = desk.path("missing.db");
    let out = desk.run_on(
        &missing,
        &["db", "backup", desk.path("x.db").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
    assert!(!missing.exists(), "no empty database is created");
}

#[test]
fn restore_checks_the_backup_keeps_the_replaced_database_and_refuses_under_a_daemon() {
    let desk = Desk::with_tickets();
    let original = desk.tickets(&desk.db());
    let copy = desk.path("backup.db");
    let out = desk.run(&["db", "backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // After the backup the desk goes on: one ticket more than the backup holds.
    let later = desk.path("later.eml");
    std::fs::write(
        &later,
        "From: Late Customer <late@example.org>\r\nTo: support@example.com\r\nSubject: After the backup\r\nMessage-ID: <after-backup@example.org>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nWritten after the backup was taken.\r\n",
    )
    .unwrap();
    let out = desk.run(&["ingest", later.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(desk.tickets(&desk.db()).len(), original.len() + 1);

    // Not over a database without --force; not from something that is no postdesk backup.
    let out = desk.run(&["db", "restore", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pass --force"), "{}", stderr(&out));
    let foreign = desk.path("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (t TEXT)")
        .unwrap();
    let garbage = desk.path("garbage.db");
    std::fs::write(&garbage, vec![b'x'; 8192]).unwrap();
    for bad in [&foreign, &garbage] {
        let out = desk.run(&["db", "restore", "--force", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    assert!(
        stderr(&desk.run(&["db", "restore", "--force", foreign.to_str().unwrap()]))
            .contains("is not a postdesk database")
    );
    assert_eq!(
        desk.tickets(&desk.db()).len(),
        original.len() + 1,
        "untouched"
    );

    // Under a live daemon it refuses and changes nothing.
    let mut daemon = postdesk()
        .arg("--db")
        .arg(desk.db())
        .args(["run", "--no-mailboxes"])
        // The readiness line below is logged at info.
        .env("POSTDESK_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::io::BufReader::new(daemon.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("watching 0 mailbox(es)") {
        line.clear();
        let read = std::io::BufRead::read_line(&mut log, &mut line).unwrap();
        assert!(read > 0, "the daemon ended before it was ready");
    }
    let out = desk.run(&["db", "restore", "--force", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a postdesk daemon (pid "),
        "{}",
        stderr(&out)
    );
    Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    daemon.wait().unwrap();
    assert_eq!(desk.tickets(&desk.db()).len(), original.len() + 1);

    // Stopped, it restores; the database it replaced is kept whole beside it.
    let out = desk.run(&["db", "restore", "--force", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&format!("{} ticket(s), 24 message(s)", original.len())),
        "{said}"
    );
    assert_eq!(desk.tickets(&desk.db()), original);
    let kept: Vec<PathBuf> = std::fs::read_dir(desk.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("desk.db.replaced-"))
        .filter(|p| {
            !p.to_string_lossy().ends_with("-wal") && !p.to_string_lossy().ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(said.contains(&kept[0].display().to_string()), "{said}");
    assert_eq!(desk.tickets(&kept[0]).len(), original.len() + 1);
    assert!(!desk.path("desk.db.partial").exists());
}

#[test]
fn vacuum_reclaims_free_pages_and_keeps_the_tickets() {
    let desk = Desk::with_tickets();
    let before = desk.tickets(&desk.db());
    let conn = Connection::open(desk.db()).unwrap();
    conn.execute_batch(
        "CREATE TABLE scratch (b BLOB); INSERT INTO scratch SELECT zeroblob(100000) FROM messages; DROP TABLE scratch;",
    )
    .unwrap();
    let free = |conn: &Connection| -> i64 {
        conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap()
    };
    assert!(free(&conn) > 0);
    drop(conn);

    let out = desk.run(&["db", "vacuum"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let sizes: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(sizes.len(), 2, "{text}");
    assert!(sizes[1] < sizes[0], "{text}");
    let conn = Connection::open(desk.db()).unwrap();
    assert_eq!(free(&conn), 0);
    drop(conn);
    assert_eq!(desk.tickets(&desk.db()), before);
}

/// The completions and the man page come from the command line definition, so every
/// command is in them; they read no config (a broken one does not matter).
#[test]
fn completions_and_man_page_name_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "this is = = not toml").unwrap();
    let doc = |args: &[&str]| -> String {
        let out = postdesk()
            .env("POSTDESK_CONFIG", &broken)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let commands = [
        "run",
        "ingest",
        "tickets",
        "customer",
        "outbox",
        "check-config",
        "db",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let script = doc(&["completions", shell]);
        for command in commands
            .iter()
            .chain(&["backup", "vacuum", "connect", "force"])
        {
            assert!(
                script.contains(command),
                "{shell} completion lacks {command}"
            );
        }
    }
    assert!(doc(&["completions", "bash"]).contains("complete -F _postdesk"));
    assert!(doc(&["completions", "fish"]).contains("complete -c postdesk"));

    let page = doc(&["man"]);
    assert!(page.contains(".TH postdesk 1"), "{page}");
    for section in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
    ] {
        assert!(
            page.contains(&format!(".SH {section}"))
                || page.contains(&format!(".SH \"{section}\"")),
            "man page lacks {section}"
        );
    }
    for command in commands {
        assert!(
            page.contains(&format!("postdesk\\-{}", command.replace('-', "\\-"))),
            "man page lacks {command}"
        );
    }

    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).unwrap();
    doc(&["man", "--dir", pages.to_str().unwrap()]);
    let main = std::fs::read_to_string(pages.join("postdesk.1")).unwrap();
    assert_eq!(main, page, "the main page in the folder is the one printed");
    let backup = std::fs::read_to_string(pages.join("postdesk-db-backup.1")).unwrap();
    assert!(backup.contains("\\-\\-force"), "{backup}");
}
