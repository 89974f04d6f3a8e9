//! IMAP catch-up throughput against a real, private Dovecot (tests/support/mailstack.rs):
//! 10,000 mixed messages (the generator of benches/ingest.rs) in one INBOX, fetched
//!
//! 1. by a bare minimal client (std TcpStream: LOGIN, SELECT, one `UID FETCH 1:*
//!    BODY.PEEK[]`, read to the tagged OK), the ceiling for any IMAP client;
//! 2. by `postdesk run` (the release binary) into a fresh database: spawn to the 10,000th
//!    message row, its ratio to the bare client (target >= 0.5) and its peak RSS;
//! 3. then the idle RSS of a daemon watching 5 IMAP mailboxes after catch-up (target < 30 MB).
//!
//! Run with `cargo bench --bench imap_catchup`. Needs Dovecot (scripts/install-deps).

#[path = "../tests/support/mailstack.rs"]
mod mailstack;
#[path = "support/mixed_mail.rs"]
mod mixed_mail;
#[path = "support/proc_status.rs"]
mod proc_status;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailstack::Dovecot;
use mixed_mail::{MESSAGES, generate};
use rusqlite::{Connection, OpenFlags};

const IDLE_MAILBOXES: usize = 5;
const IDLE_MESSAGES_EACH: usize = 3;

// ---------------------------------------------------------------- bare client

/// Reads one IMAP response line; a line announcing a literal (`{n}`) is read on through the
/// literal to its real end. Returns the line (literals left out) and the literal bytes.
fn read_response(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> usize {
    line.clear();
    let mut literal_bytes = 0;
    let mut literal = Vec::new();
    loop {
        let start = line.len();
        let n = reader.read_until(b'\n', line).expect("read from Dovecot");
        assert!(n > 0, "Dovecot closed the connection");
        let part = &line[start..];
        let size = part
            .strip_suffix(b"}\r\n")
            .and_then(|p| p.iter().rposition(|&b| b == b'{').map(|i| &p[i + 1..]))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse::<usize>().ok());
        match size {
            Some(size) => {
                literal.resize(size, 0);
                reader.read_exact(&mut literal).expect("read literal");
                literal_bytes += size;
            }
            None => return literal_bytes,
        }
    }
}

/// LOGIN, SELECT INBOX, `UID FETCH 1:* BODY.PEEK[]`: (messages, body bytes, elapsed).
fn bare_fetch(port: u16, user: &str, password: &str) -> (usize, usize, Duration) {
    let t0 = Instant::now();
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).ok();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut line = Vec::new();
    read_response(&mut reader, &mut line);
    assert!(line.starts_with(b"* OK"), "greeting");
    let mut command =
        |tag: &str, text: &str, reader: &mut BufReader<TcpStream>| -> (usize, usize) {
            writer
                .write_all(format!("{tag} {text}\r\n").as_bytes())
                .unwrap();
            let (mut fetches, mut bytes) = (0, 0);
            loop {
                let literal = read_response(reader, &mut line);
                if line.starts_with(format!("{tag} ").as_bytes()) {
                    assert!(
                        line.starts_with(format!("{tag} OK").as_bytes()),
                        "{text}: {}",
                        String::from_utf8_lossy(&line)
                    );
                    return (fetches, bytes);
                }
                if line.starts_with(b"* ") && line.windows(7).any(|w| w == b" FETCH ") {
                    fetches += 1;
                    bytes += literal;
                }
            }
        };
    command("a1", &format!("LOGIN {user} {password}"), &mut reader);
    command("a2", "SELECT INBOX", &mut reader);
    let (fetches, bytes) = command("a3", "UID FETCH 1:* BODY.PEEK[]", &mut reader);
    let elapsed = t0.elapsed();
    command("a4", "LOGOUT", &mut reader);
    (fetches, bytes, elapsed)
}

// ---------------------------------------------------------------- postdesk run

struct Daemon {
    child: Child,
    db: PathBuf,
    conn: Option<Connection>,
}

impl Daemon {
    fn start(dir: &Path, config: &str) -> Daemon {
        let config_path = dir.join("postdesk.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.join("postdesk.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(&config_path)
            .arg("run")
            .env_remove("POSTDESK_LOG")
            .env_remove("POSTDESK_DB")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn postdesk run");
        Daemon {
            child,
            db: dir.join("postdesk.db"),
            conn: None,
        }
    }

    fn messages(&mut self) -> i64 {
        if self.conn.is_none() && self.db.exists() {
            let conn = Connection::open_with_flags(&self.db, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open the database");
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            self.conn = Some(conn);
        }
        self.conn
            .as_ref()
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
                    .ok()
            })
            .unwrap_or(0)
    }

    fn wait_messages(&mut self, n: i64, timeout: Duration, log: &Path) {
        let deadline = Instant::now() + timeout;
        while self.messages() < n {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("postdesk run exited ({status}); see {}", log.display());
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} messages after {timeout:?}: {}",
                self.messages(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A field (`VmHWM:`, `VmRSS:`) of the daemon's /proc/<pid>/status, in KiB.
    fn status_kib(&self, field: &str) -> u64 {
        proc_status::status_kib(&self.child.id().to_string(), field)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example config (queues, rules, calendar) with this database and IMAP mailboxes.
fn config(db: &Path, dovecot: &Dovecot, users: &[&str]) -> String {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/postdesk.toml"),
    )
    .unwrap();
    let mut out = format!("database = {:?}\n", db.display().to_string());
    let mut in_mailbox = false;
    for line in example.lines() {
        if line.starts_with("database") {
            continue;
        }
        if line.starts_with('[') {
            in_mailbox = line == "[[mailbox]]";
        }
        if !in_mailbox {
            out.push_str(line);
            out.push('\n');
        }
    }
    for user in users {
        let password = dovecot.password(user);
        out.push_str(&format!(
            "\n[[mailbox]]\nname = {user:?}\naddress = \"{user}@example.com\"\nqueue = \"support\"\nfolders = [\"INBOX\"]\n\
             imap = {{ host = \"127.0.0.1\", port = {}, tls = \"none\", user = {user:?}, password_file = {:?} }}\n",
            dovecot.imap_port(),
            password_file(db, user, &password).display().to_string()
        ));
    }
    out
}

fn password_file(db: &Path, user: &str, password: &str) -> PathBuf {
    let path = db.with_file_name(format!("{user}.password"));
    std::fs::write(&path, password).unwrap();
    path
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let messages = generate();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let idle_users: Vec<String> = (1..=IDLE_MAILBOXES).map(|i| format!("idle{i}")).collect();
    let mut users = vec!["support"];
    users.extend(idle_users.iter().map(String::as_str));
    let dovecot = Dovecot::start(&users);
    let t0 = Instant::now();
    dovecot.append_bulk("support", "INBOX", &messages);
    drop(messages);
    println!(
        "setup: {MESSAGES} messages ({:.1} MB) into a private Dovecot in {:.2} s",
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );

    // (1) bare client; the first run warms Dovecot's index and cache and the page cache
    let password = dovecot.password("support");
    let (n, _, warm) = bare_fetch(dovecot.imap_port(), "support", &password);
    assert_eq!(n, MESSAGES, "the bare client saw {n} messages");
    let (n, fetched, bare) = bare_fetch(dovecot.imap_port(), "support", &password);
    assert_eq!(n, MESSAGES);
    let bare_rate = MESSAGES as f64 / bare.as_secs_f64();
    println!("bare client (warm-up run):  {:.2} s", warm.as_secs_f64());
    println!(
        "bare client:   {MESSAGES} messages ({:.1} MB as sent) in {:.2} s = {bare_rate:.0} messages/s",
        fetched as f64 / 1e6,
        bare.as_secs_f64()
    );

    // (2) postdesk run on a fresh database
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("postdesk.db");
    let log = dir.path().join("postdesk.log");
    let text = config(&db, &dovecot, &["support"]);
    let t0 = Instant::now();
    let mut daemon = Daemon::start(dir.path(), &text);
    daemon.wait_messages(MESSAGES as i64, Duration::from_secs(600), &log);
    let elapsed = t0.elapsed();
    let peak = daemon.status_kib("VmHWM:");
    drop(daemon);
    let rate = MESSAGES as f64 / elapsed.as_secs_f64();
    let ratio = rate / bare_rate;
    println!(
        "postdesk run:  {MESSAGES} messages from spawn to the last row in {:.2} s = {rate:.0} messages/s",
        elapsed.as_secs_f64()
    );
    println!(
        "ratio postdesk/bare: {ratio:.2} (target >= 0.5: {})",
        if ratio >= 0.5 { "met" } else { "NOT met" }
    );
    println!(
        "postdesk peak RSS (VmHWM) during catch-up: {:.1} MB",
        mb(peak)
    );

    // (3) idle RSS with five IMAP mailboxes
    for (u, user) in idle_users.iter().enumerate() {
        let few: Vec<Vec<u8>> = (0..IDLE_MESSAGES_EACH)
            .map(|n| {
                format!(
                    "From: Customer <c{n}@idle{u}.example>\nTo: {user}@example.com\nSubject: Question {n} for {user}\nDate: Tue, 17 Nov 2026 10:00:00 +0000\nMessage-ID: <idle-{u}-{n}@bench.example>\n\nHello, a question.\n"
                )
                .into_bytes()
            })
            .collect();
        dovecot.append_bulk(user, "INBOX", &few);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("postdesk.db");
    let log = dir.path().join("postdesk.log");
    let idle_refs: Vec<&str> = idle_users.iter().map(String::as_str).collect();
    let text = config(&db, &dovecot, &idle_refs);
    let mut daemon = Daemon::start(dir.path(), &text);
    daemon.wait_messages(
        (IDLE_MAILBOXES * IDLE_MESSAGES_EACH) as i64,
        Duration::from_secs(60),
        &log,
    );
    // until every mailbox has set its keywords and gone into IDLE
    let deadline = Instant::now() + Duration::from_secs(30);
    while !idle_users.iter().all(|u| {
        let flags = dovecot.imap_fetch_flags(u, "INBOX");
        flags.len() == IDLE_MESSAGES_EACH
            && flags
                .iter()
                .all(|(_, f)| f.iter().any(|k| k == "$Ticketed"))
    }) {
        assert!(Instant::now() < deadline, "keywords not set");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    let rss = daemon.status_kib("VmRSS:");
    println!(
        "idle RSS (VmRSS) with {IDLE_MAILBOXES} IMAP mailboxes after catch-up: {:.1} MB (target < 30 MB: {})",
        mb(rss),
        if mb(rss) < 30.0 { "met" } else { "NOT met" }
    );
    println!(
        "idle peak RSS (VmHWM) of that daemon: {:.1} MB",
        mb(daemon.status_kib("VmHWM:"))
    );
}
