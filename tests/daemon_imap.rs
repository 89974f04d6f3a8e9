//! `postdesk run` against a real, private Dovecot (tests/support/mailstack.rs): the real
//! binary as a child process, its config in a temp folder, its stderr (JSON log lines) in a
//! file, and the database polled every 20 ms until a condition holds or a timeout passes.

#[path = "support/mailstack.rs"]
mod mailstack;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mailstack::Dovecot;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

const POLL: Duration = Duration::from_millis(20);
const SIGINT: i32 = 2;
const SIGHUP: i32 = 1;
const SIGTERM: i32 = 15;

unsafe extern "C" {
    // kill(2) from the C library std links anyway: std cannot send SIGTERM or SIGHUP.
    fn kill(pid: i32, sig: i32) -> i32;
}

// ---------------------------------------------------------------- the daemon under test

/// One `postdesk run` child with its own folder (config, database, password files, log).
struct Daemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    db: Option<Connection>,
}

impl Daemon {
    fn new() -> Daemon {
        Daemon {
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            db: None,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config_path(&self) -> PathBuf {
        self.path("postdesk.toml")
    }

    fn db_path(&self) -> PathBuf {
        self.path("postdesk.db")
    }

    fn log_path(&self) -> PathBuf {
        self.path("postdesk.log")
    }

    /// The config: the database in our folder, then the given `[[mailbox]]` tables etc.
    fn write_config(&self, body: &str) {
        let text = format!(
            "database = {:?}\n{body}",
            self.db_path().display().to_string()
        );
        // write-then-rename: a SIGHUP never reads a half-written file
        let tmp = self.path("postdesk.toml.tmp");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, self.config_path()).unwrap();
    }

    /// A `[[mailbox]]` table for `user` of `dovecot`, its password in a file (`password`
    /// overrides the right one).
    fn imap_mailbox(
        &self,
        name: &str,
        dovecot: &Dovecot,
        user: &str,
        folders: &[&str],
        password: Option<&str>,
    ) -> String {
        let pw_file = self.path(&format!("{name}.password"));
        let pw = password.map_or_else(|| dovecot.password(user), str::to_string);
        fs::write(&pw_file, format!("{pw}\n")).unwrap();
        let folders: Vec<String> = folders.iter().map(|f| format!("{f:?}")).collect();
        format!(
            "[[mailbox]]\nname = {name:?}\naddress = \"{name}@example.com\"\nfolders = [{}]\npoll_interval = \"1s\"\n\
             imap = {{ host = \"127.0.0.1\", port = {}, tls = \"none\", user = {user:?}, password_file = {:?} }}\n",
            folders.join(", "),
            dovecot.imap_port(),
            pw_file.display().to_string(),
        )
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(self.config_path())
            .args(["--log-format", "json", "run"])
            .env("POSTDESK_LOG", "info,postdesk=debug")
            .env_remove("POSTDESK_DB")
            .env_remove("POSTDESK_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn postdesk run");
        self.child = Some(child);
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().expect("daemon not started").id() as i32
    }

    fn signal(&self, sig: i32) {
        let rc = unsafe { kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Exit status if the child has ended (reaped), else None.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().expect("try_wait")
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The JSON log records (lines that are not JSON, such as a panic, are kept as strings).
    fn records(&self) -> Vec<Value> {
        self.log()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
            .collect()
    }

    /// Log records whose message contains `needle` (and, if given, of that mailbox).
    fn logged(&self, needle: &str, mailbox: Option<&str>) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| message(r).contains(needle))
            .filter(|r| mailbox.is_none_or(|m| r["fields"]["mailbox"] == m))
            .collect()
    }

    fn query_i64(&mut self, sql: &str) -> i64 {
        self.query(sql, |r| r.get(0)).unwrap_or(0)
    }

    /// Runs a query on the daemon's database (None while it does not exist yet).
    fn query<T>(
        &mut self,
        sql: &str,
        row: impl FnOnce(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Option<T> {
        if self.db.is_none() {
            if !self.db_path().exists() {
                return None;
            }
            let conn = Connection::open_with_flags(
                self.db_path(),
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok()?;
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            self.db = Some(conn);
        }
        match self.db.as_ref().unwrap().query_row(sql, [], row) {
            Ok(v) => Some(v),
            // no such row, or the schema is still being created
            Err(rusqlite::Error::QueryReturnedNoRows | rusqlite::Error::SqliteFailure(..)) => None,
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    fn messages(&mut self) -> i64 {
        self.query_i64("SELECT count(*) FROM messages")
    }

    /// Polls `cond` every 20 ms; panics after `timeout` naming `what`, with the log's tail.
    fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut(&mut Daemon) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(self) {
                return;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "postdesk run exited ({status}) while waiting for {what}\n{}",
                    self.log_tail()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} ({} messages stored)\n{}",
                    self.messages(),
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn wait_messages(&mut self, n: i64, timeout: Duration) {
        self.wait_until(&format!("{n} stored messages"), timeout, |d| {
            d.messages() >= n
        });
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- {} (last 40 lines):\n{}",
            self.log_path().display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    /// (uidvalidity, last_uid) of a folder.
    fn position(&mut self, mailbox: &str, folder: &str) -> Option<(u32, u32)> {
        let sql = format!(
            "SELECT uidvalidity, last_uid FROM folder_state WHERE mailbox = '{mailbox}' AND folder = '{folder}'"
        );
        self.query(&sql, |r| Ok((r.get(0)?, r.get(1)?)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.as_ref().map_or(0, Child::id);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::env::var_os("DAEMON_TEST_LOG").is_some() {
            // DAEMON_TEST_LOG=1 cargo nextest run --no-capture --test daemon_imap NAME
            eprintln!("--- {}:\n{}", self.log_path().display(), self.log());
        } else if std::thread::panicking() {
            // the tail may be all "new ticket" lines: list every distinct warning and error
            let mut problems: Vec<(String, usize)> = Vec::new();
            for r in self.records() {
                if r["level"] == "WARN" || r["level"] == "ERROR" || r.is_string() {
                    let text = format!("{} {}", r["level"], message(&r));
                    match problems.iter_mut().find(|p| p.0 == text) {
                        Some(p) => p.1 += 1,
                        None => problems.push((text, 1)),
                    }
                }
            }
            eprintln!("--- warnings and errors of postdesk run (distinct, with counts):");
            for (text, count) in problems.iter().take(30) {
                eprintln!("{count:>5} x {text}");
            }
            let keep = std::env::temp_dir().join(format!(
                "postdesk-daemon-test-{}-{}.log",
                std::process::id(),
                pid
            ));
            let _ = fs::copy(self.log_path(), &keep);
            eprintln!(
                "--- log without the per-ticket lines (whole log kept in {}):",
                keep.display()
            );
            for line in self.log().lines().filter(|l| !l.contains(": new ticket (")) {
                eprintln!("{line}");
            }
        }
    }
}

fn message(record: &Value) -> String {
    match record {
        Value::String(s) => s.clone(),
        r => r["fields"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

// ---------------------------------------------------------------- test mail

/// A distinct new request with CRLF line ends; Message-ID `<{tag}-{n}@test.example>`.
fn mail(tag: &str, n: usize) -> Vec<u8> {
    format!(
        "From: Customer {n} <customer{n}@{tag}.example.org>\r\n\
         To: support@example.com\r\n\
         Subject: {tag} request number {n}\r\n\
         Date: Tue, 17 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <{tag}-{n}@test.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello,\r\n\r\nthis is request {n} of {tag}. The printer on floor {} does not print.\r\n\r\nRegards\r\n",
        n % 7
    )
    .into_bytes()
}

fn mails(tag: &str, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range.map(|n| mail(tag, n)).collect()
}

/// Stored messages whose Message-ID is of this tag, and how many distinct Message-IDs.
fn tagged(daemon: &mut Daemon, tag: &str) -> (i64, i64) {
    let sql = format!(
        "SELECT count(*), count(DISTINCT message_id) FROM messages WHERE message_id LIKE '%{tag}-%@test.example%'"
    );
    daemon
        .query(&sql, |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap_or((0, 0))
}

fn has_flag(flags: &[String], flag: &str) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

/// Waits until Dovecot has `$Ticketed` on every message of the folder (and `n` of them).
fn wait_ticketed(dovecot: &Dovecot, daemon: &mut Daemon, user: &str, folder: &str, n: usize) {
    daemon.wait_until(
        &format!("$Ticketed on all {n} messages of {user}/{folder}"),
        Duration::from_secs(30),
        |_| {
            let flags = dovecot.imap_fetch_flags(user, folder);
            flags.len() == n && flags.iter().all(|(_, f)| has_flag(f, "$Ticketed"))
        },
    );
}

// ---------------------------------------------------------------- tests

#[test]
fn backlog_is_stored_once_unread_and_ticketed() {
    let dovecot = Dovecot::start(&["support"]);
    dovecot.append_bulk("support", "INBOX", &mails("backlog", 0..300));
    let uids = dovecot.imap_fetch_flags("support", "INBOX");
    assert_eq!(uids.len(), 300);
    let highest = uids.iter().map(|(uid, _)| *uid).max().unwrap();

    let mut daemon = Daemon::new();
    daemon.write_config(&daemon.imap_mailbox("support", &dovecot, "support", &["INBOX"], None));
    daemon.start();
    daemon.wait_messages(300, Duration::from_secs(60));
    daemon.wait_until("the folder position", Duration::from_secs(10), |d| {
        d.position("support", "INBOX")
            .is_some_and(|p| p.1 == highest)
    });
    wait_ticketed(&dovecot, &mut daemon, "support", "INBOX", 300);

    assert_eq!(daemon.messages(), 300);
    assert_eq!(tagged(&mut daemon, "backlog"), (300, 300));
    let (validity, last) = daemon.position("support", "INBOX").unwrap();
    assert_eq!(validity, dovecot.uid_validity("support", "INBOX"));
    assert_eq!(last, highest);
    let flags = dovecot.imap_fetch_flags("support", "INBOX");
    assert_eq!(flags.len(), 300);
    for (uid, f) in &flags {
        assert!(!has_flag(f, "\\Seen"), "UID {uid} was marked \\Seen: {f:?}");
        assert!(has_flag(f, "$Ticketed"), "UID {uid} lacks $Ticketed: {f:?}");
    }
    // every keyword job is done, none failed
    assert_eq!(
        daemon.query_i64(
            "SELECT count(*) FROM outbox WHERE kind = 'imap_flags' AND status <> 'done'"
        ),
        0
    );
    assert!(daemon.query_i64("SELECT count(*) FROM outbox WHERE kind = 'imap_flags'") >= 1);
    assert!(daemon.exited().is_none(), "the daemon must keep running");
}

/// `[[queue]] imap_folder`: each message filed into that queue is copied into the folder
/// (created on first use), once, and the original stays where it was.
#[test]
fn queue_folders_mirror_their_tickets_messages() {
    let dovecot = Dovecot::start(&["support"]);
    let billing = |n: usize| {
        String::from_utf8(mail("mirror", n))
            .unwrap()
            .replace("request number", "refund for invoice")
            .into_bytes()
    };
    dovecot.append_bulk(
        "support",
        "INBOX",
        &[billing(0), mail("mirror", 1), billing(2)],
    );
    let mut daemon = Daemon::new();
    let config = format!(
        "{}\n[[queue]]\nname = \"support\"\n\n[[queue]]\nname = \"billing\"\nimap_folder = \"Billing\"\n\n\
         [[rule]]\nsubject = \"(?i)invoice\"\nqueue = \"billing\"\n",
        daemon.imap_mailbox("support", &dovecot, "support", &["INBOX"], None)
    );
    daemon.write_config(&config);
    daemon.start();
    daemon.wait_messages(3, Duration::from_secs(30));
    daemon.wait_until("2 copies in Billing", Duration::from_secs(30), |_| {
        dovecot.imap_fetch_flags("support", "Billing").len() == 2
    });
    // Later mail of the queue joins the folder; the others stay out of it.
    dovecot.append("support", "INBOX", &billing(3));
    dovecot.append("support", "INBOX", &mail("mirror", 4));
    daemon.wait_until("3 copies in Billing", Duration::from_secs(30), |_| {
        dovecot.imap_fetch_flags("support", "Billing").len() == 3
    });
    daemon.wait_until("every copy job done", Duration::from_secs(30), |d| {
        d.query_i64("SELECT count(*) FROM outbox WHERE kind = 'imap_copy' AND status = 'pending'")
            == 0
    });
    let copies = dovecot.messages("support", "Billing");
    let ids: Vec<bool> = [0, 2, 3]
        .iter()
        .map(|n| {
            copies
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains(&format!("<mirror-{n}@test.example>")))
        })
        .collect();
    assert_eq!(
        ids,
        vec![true, true, true],
        "the billing requests are the copies"
    );
    assert_eq!(
        dovecot.imap_fetch_flags("support", "INBOX").len(),
        5,
        "originals stay"
    );
    assert_eq!(
        daemon.query_i64(
            "SELECT count(*) FROM outbox WHERE kind = 'imap_copy' AND status = 'failed'"
        ),
        0
    );
}

#[test]
fn new_mail_while_idling_is_stored_within_a_second() {
    let dovecot = Dovecot::start(&["support"]);
    dovecot.append_bulk("support", "INBOX", &mails("early", 0..3));
    let mut daemon = Daemon::new();
    daemon.write_config(&daemon.imap_mailbox("support", &dovecot, "support", &["INBOX"], None));
    daemon.start();
    daemon.wait_messages(3, Duration::from_secs(30));
    // keywords set = the daemon is past its catch-up and about to IDLE
    wait_ticketed(&dovecot, &mut daemon, "support", "INBOX", 3);
    assert!(
        !daemon.logged("connected", Some("support")).is_empty()
            && daemon.logged("connected", Some("support"))[0]["fields"]["idle"] == true,
        "Dovecot offers IDLE and the daemon must use it\n{}",
        daemon.log_tail()
    );

    let mut latencies = Vec::new();
    for n in 0..3 {
        // let the daemon settle back into IDLE after the previous message
        std::thread::sleep(Duration::from_millis(if n == 0 { 200 } else { 600 }));
        let t0 = Instant::now();
        dovecot.append("support", "INBOX", &mail("live", n));
        let want = 4 + n as i64;
        daemon.wait_until("the new message", Duration::from_secs(10), |d| {
            d.messages() >= want
        });
        latencies.push(t0.elapsed());
    }
    eprintln!("append → stored: {latencies:?}");
    for (n, latency) in latencies.iter().enumerate() {
        assert!(
            *latency < Duration::from_secs(1),
            "message {n} took {latency:?} from APPEND to the database (all: {latencies:?})"
        );
    }
    assert_eq!(tagged(&mut daemon, "live"), (3, 3));
    // nothing was polled: no reconnects, no errors
    assert!(
        daemon.logged("retrying with backoff", None).is_empty(),
        "{}",
        daemon.log_tail()
    );
}

#[test]
fn connection_killed_mid_backlog_resumes_without_loss_or_doubles() {
    const N: usize = 3000;
    let mut dovecot = Dovecot::start(&["support"]);
    dovecot.append_bulk("support", "INBOX", &mails("killed", 0..N));
    assert_eq!(dovecot.imap_fetch_flags("support", "INBOX").len(), N);

    let mut daemon = Daemon::new();
    daemon.write_config(&daemon.imap_mailbox("support", &dovecot, "support", &["INBOX"], None));
    daemon.start();
    daemon.wait_until("the first stored batch", Duration::from_secs(60), |d| {
        d.messages() > 0
    });
    dovecot.stop();
    let at_stop = daemon.messages();
    assert!(
        (at_stop as usize) < N,
        "the whole backlog was stored before Dovecot could be stopped; the test proves nothing"
    );
    // the daemon notices and logs the failure before the server is back
    daemon.wait_until("the retry log", Duration::from_secs(30), |d| {
        !d.logged("retrying with backoff", Some("support"))
            .is_empty()
    });
    let during = daemon.messages();
    eprintln!("{at_stop} of {N} stored when Dovecot was killed, {during} while it was down");
    dovecot.start_again();
    daemon.wait_messages(N as i64, Duration::from_secs(120));
    daemon.wait_until("the recovery log", Duration::from_secs(10), |d| {
        !d.logged("IMAP connection works again", Some("support"))
            .is_empty()
    });
    wait_ticketed(&dovecot, &mut daemon, "support", "INBOX", N);

    assert_eq!(tagged(&mut daemon, "killed"), (N as i64, N as i64));
    assert_eq!(daemon.messages(), N as i64);
    assert!(
        during < N as i64,
        "stored {during} while the server was down"
    );
    // the position advanced with each stored batch: nothing was fetched and stored twice
    let duplicates: u64 = daemon
        .logged("stored ", Some("support"))
        .iter()
        .filter_map(|r| {
            let m = message(r);
            let after = m.split(" new, ").nth(1)?;
            after.split(' ').next()?.parse::<u64>().ok()
        })
        .sum();
    assert_eq!(
        duplicates,
        0,
        "batches stored again after the reconnect\n{}",
        daemon.log_tail()
    );
    let warns = daemon.logged("retrying with backoff", Some("support"));
    assert!(!warns.is_empty());
    assert!(warns.iter().all(|r| r["level"] == "WARN"));
    assert_eq!(
        daemon.position("support", "INBOX").unwrap().1 as usize,
        N,
        "UIDs of a fresh folder are 1..N"
    );
}

/// Another writer on the database (a `postdesk` CLI command, a backup) holding the write
/// lock for a moment must only delay the store (the daemon's busy timeout is 5 s), not
/// fail it and tear down the IMAP session.
#[test]
fn a_briefly_locked_database_delays_the_store_without_reconnecting() {
    const N: usize = 500;
    let dovecot = Dovecot::start(&["support"]);
    dovecot.append_bulk("support", "INBOX", &mails("locked", 0..N));
    let mut daemon = Daemon::new();
    daemon.write_config(&daemon.imap_mailbox("support", &dovecot, "support", &["INBOX"], None));
    daemon.start();
    daemon.wait_until("the login", Duration::from_secs(30), |d| {
        !d.logged("connected", Some("support")).is_empty()
    });
    let lock = Connection::open(daemon.db_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert_eq!(
        daemon.messages(),
        0,
        "stored before the lock was taken: the test proves nothing"
    );
    std::thread::sleep(Duration::from_secs(1));
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    daemon.wait_messages(N as i64, Duration::from_secs(30));
    assert_eq!(tagged(&mut daemon, "locked"), (N as i64, N as i64));
    assert!(
        daemon.logged("retrying with backoff", None).is_empty(),
        "a held lock shorter than the busy timeout broke the session\n{}",
        daemon.log_tail()
    );
    assert_eq!(daemon.logged("connected", Some("support")).len(), 1);
}

/// A TCP relay to Dovecot that breaks its first connection at an exact place: just before
/// the `occurrence`-th server response line starting with `cut_before` (e.g. `* 100 FETCH`),
/// i.e. between two complete responses, as a server crash or network loss can. Later
/// connections pass through untouched. Returns the relay's port.
fn cutting_relay(target: u16, cut_before: &'static str, occurrence: usize) -> u16 {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                return;
            };
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut s_write);
                let _ = s_write.shutdown(Shutdown::Write);
            });
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                let needle = format!("\r\n{cut_before}").into_bytes();
                let mut window: Vec<u8> = Vec::new();
                let mut seen = 0;
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(got) = s_read.read(&mut buf) {
                    if got == 0 {
                        break;
                    }
                    if n > 0 {
                        if c_write.write_all(&buf[..got]).is_err() {
                            break;
                        }
                        continue;
                    }
                    // keep the last bytes of the previous chunk to find the needle across chunks
                    let keep = window.len();
                    window.extend_from_slice(&buf[..got]);
                    let mut found = None;
                    let mut from = 0;
                    while let Some(at) = window[from..]
                        .windows(needle.len())
                        .position(|w| w == needle)
                    {
                        let at = from + at;
                        // a match that ends in the kept tail was counted with the last chunk
                        if at + needle.len() > keep {
                            seen += 1;
                            if seen == occurrence {
                                found = Some(at);
                                break;
                            }
                        }
                        from = at + 1;
                    }
                    if let Some(at) = found {
                        let upto = at + 2; // forward the CRLF that ends the previous response
                        if upto > keep {
                            let _ = c_write.write_all(&window[keep..upto]);
                        }
                        let _ = c_write.flush();
                        let _ = c_write.shutdown(Shutdown::Both);
                        let _ = s_read.shutdown(Shutdown::Both);
                        return;
                    }
                    if c_write.write_all(&window[keep..]).is_err() {
                        break;
                    }
                    let tail = window.len().saturating_sub(needle.len());
                    window.drain(..tail);
                }
                let _ = c_write.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

/// The connection breaks in the middle of a FETCH response, between two messages: the
/// messages that did arrive may be stored, but the folder position must not pass the ones
/// that did not, or they are never fetched again (lost for good). Staged exactly with a
/// relay that ends the first connection just before the 100th message of the first batch
/// (the UID list comes as one `* SEARCH` line, so the first `* 100 FETCH` carries a body).
#[test]
fn connection_lost_mid_fetch_does_not_skip_the_rest_of_the_batch() {
    const N: usize = 600;
    let dovecot = Dovecot::start(&["support"]);
    dovecot.append_bulk("support", "INBOX", &mails("cut", 0..N));
    let relay = cutting_relay(dovecot.imap_port(), "* 100 FETCH", 1);
    let mut daemon = Daemon::new();
    let config = daemon
        .imap_mailbox("support", &dovecot, "support", &["INBOX"], None)
        .replace(
            &format!("port = {}", dovecot.imap_port()),
            &format!("port = {relay}"),
        );
    daemon.write_config(&config);
    daemon.start();
    daemon.wait_until(
        "the failure and the recovery",
        Duration::from_secs(30),
        |d| {
            !d.logged("retrying with backoff", Some("support"))
                .is_empty()
                && !d.logged("works again", Some("support")).is_empty()
        },
    );
    daemon.wait_until(
        "the position at the last UID",
        Duration::from_secs(30),
        |d| {
            d.position("support", "INBOX")
                .is_some_and(|p| p.1 as usize == N)
        },
    );
    // let the last batch's transaction land (it commits the position with its messages)
    daemon.wait_until("no more stores", Duration::from_secs(10), |d| {
        d.logged("(up to UID 600)", Some("support")).len() == 1
    });
    let stored = daemon.messages();
    assert_eq!(
        stored,
        N as i64,
        "the position reached UID {N} but only {stored} of {N} messages were stored: the \
         rest of the cut batch will never be fetched again\n{}",
        daemon.log_tail()
    );
    daemon.wait_messages(N as i64, Duration::from_secs(30));
    assert_eq!(tagged(&mut daemon, "cut"), (N as i64, N as i64));
}

#[test]
fn uidvalidity_change_stores_nothing_twice_and_is_logged() {
    const N: usize = 20;
    let dovecot = Dovecot::start(&["support"]);
    dovecot.create_folder("support", "Support");
    for n in 0..N {
        dovecot.append("support", "Support", &mail("valid", n));
    }
    let mut daemon = Daemon::new();
    daemon.write_config(&daemon.imap_mailbox("support", &dovecot, "support", &["Support"], None));
    daemon.start();
    daemon.wait_messages(N as i64, Duration::from_secs(30));
    wait_ticketed(&dovecot, &mut daemon, "support", "Support", N);
    let before = daemon.position("support", "Support").unwrap();
    assert_eq!(before.1 as usize, N);
    let tickets = daemon.query_i64("SELECT count(*) FROM tickets");
    let acks = daemon.query_i64("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'");
    let outbox = daemon.query_i64("SELECT count(*) FROM outbox WHERE kind <> 'imap_flags'");
    assert_eq!(tickets, N as i64);

    // deleted and created again: new UIDVALIDITY, UIDs start at 1 again
    let new_validity = dovecot.recreate_folder("support", "Support");
    assert_ne!(new_validity, before.0);
    dovecot.append_bulk("support", "Support", &mails("valid", 0..N));
    daemon.wait_until(
        "the new UIDVALIDITY in folder_state",
        Duration::from_secs(60),
        |d| d.position("support", "Support") == Some((new_validity, N as u32)),
    );
    daemon.wait_until("the UIDVALIDITY log", Duration::from_secs(10), |d| {
        !d.logged("UIDVALIDITY changed", Some("support")).is_empty()
    });
    wait_ticketed(&dovecot, &mut daemon, "support", "Support", N);
    assert_eq!(daemon.messages(), N as i64, "messages stored twice");
    assert_eq!(
        daemon.query_i64("SELECT count(*) FROM tickets"),
        tickets,
        "new tickets"
    );
    assert_eq!(
        daemon.query_i64("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"),
        acks,
        "acknowledgements scheduled again"
    );
    assert_eq!(
        daemon.query_i64("SELECT count(*) FROM outbox WHERE kind <> 'imap_flags'"),
        outbox
    );
    let log = &daemon.logged("UIDVALIDITY changed", Some("support"))[0];
    assert_eq!(log["level"], "WARN");
    assert!(
        message(log).contains(&format!("from {} to {new_validity}", before.0)),
        "{log}"
    );

    // the old position (N) must not hide new mail whose UID (N + 1) is above it only in
    // the new numbering
    dovecot.append("support", "Support", &mail("valid", N));
    daemon.wait_messages(N as i64 + 1, Duration::from_secs(10));
    assert_eq!(tagged(&mut daemon, "valid"), (N as i64 + 1, N as i64 + 1));
    assert_eq!(
        daemon.query_i64("SELECT count(*) FROM tickets"),
        tickets + 1
    );
}

#[test]
fn wrong_password_is_logged_once_and_the_other_mailbox_works() {
    let dovecot = Dovecot::start(&["support", "other"]);
    dovecot.append_bulk("support", "INBOX", &mails("good", 0..5));
    dovecot.append_bulk("other", "INBOX", &mails("bad", 0..5));
    let mut daemon = Daemon::new();
    let good = daemon.imap_mailbox("good", &dovecot, "support", &["INBOX"], None);
    let bad = daemon.imap_mailbox(
        "bad",
        &dovecot,
        "other",
        &["INBOX"],
        Some("not-the-password"),
    );
    daemon.write_config(&format!("{good}{bad}"));
    daemon.start();
    daemon.wait_messages(5, Duration::from_secs(30));
    // three attempts (at ~0 s, ~1 s, ~3 s): enough to see that retries are not logged again
    daemon.wait_until("three failed logins", Duration::from_secs(20), |d| {
        d.logged("reconnecting in", Some("bad")).len() >= 3
    });
    // and the good mailbox still takes new mail meanwhile
    dovecot.append("support", "INBOX", &mail("good", 5));
    daemon.wait_messages(6, Duration::from_secs(10));

    assert_eq!(tagged(&mut daemon, "good"), (6, 6));
    assert_eq!(tagged(&mut daemon, "bad"), (0, 0));
    let failures = daemon.logged("retrying with backoff", Some("bad"));
    assert_eq!(
        failures.len(),
        1,
        "the login failure must be logged once, not per retry\n{}",
        daemon.log_tail()
    );
    let text = message(&failures[0]);
    assert!(text.contains("login as other refused"), "{text}");
    assert_eq!(failures[0]["level"], "WARN");
    assert!(
        daemon
            .logged("retrying with backoff", Some("good"))
            .is_empty()
    );
    assert!(daemon.logged("works again", Some("bad")).is_empty());
    assert!(daemon.position("bad", "INBOX").is_none());
}

#[test]
fn sigterm_during_backlog_exits_cleanly_and_resumes() {
    const N: usize = 3000;
    let dovecot = Dovecot::start(&["support"]);
    dovecot.append_bulk("support", "INBOX", &mails("term", 0..N));
    let mut daemon = Daemon::new();
    daemon.write_config(&daemon.imap_mailbox("support", &dovecot, "support", &["INBOX"], None));
    daemon.start();
    daemon.wait_until("the first stored batch", Duration::from_secs(60), |d| {
        d.messages() > 0
    });
    let t0 = Instant::now();
    daemon.signal(SIGTERM);
    let status = daemon
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM\n{}", daemon.log_tail()));
    eprintln!("exit {status} {:?} after SIGTERM", t0.elapsed());
    assert_eq!(status.code(), Some(0), "{}", daemon.log_tail());
    assert!(!daemon.logged("stopping", None).is_empty());

    // what was stored matches the position exactly (UIDs of a fresh folder are 1..N)
    let stored = daemon.messages();
    let (_, last) = daemon.position("support", "INBOX").unwrap();
    assert_eq!(stored, last as i64, "position and stored messages disagree");
    assert!(stored > 0);

    // a new run resumes there and stores the rest, nothing twice
    daemon.start();
    daemon.wait_messages(N as i64, Duration::from_secs(120));
    assert_eq!(tagged(&mut daemon, "term"), (N as i64, N as i64));
    daemon.signal(SIGINT);
    let status = daemon
        .wait_exit(Duration::from_secs(10))
        .expect("exit after SIGINT");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sighup_refuses_a_broken_config_and_applies_a_good_one() {
    let dovecot = Dovecot::start(&["support", "other"]);
    dovecot.append_bulk("support", "INBOX", &mails("first", 0..3));
    dovecot.append_bulk("other", "INBOX", &mails("second", 0..4));
    let mut daemon = Daemon::new();
    let first = daemon.imap_mailbox("support", &dovecot, "support", &["INBOX"], None);
    daemon.write_config(&first);
    daemon.start();
    daemon.wait_messages(3, Duration::from_secs(30));

    // broken: a rule with an invalid regular expression
    daemon.write_config(&format!(
        "{first}[[rule]]\nsubject = \"(unclosed\"\nqueue = \"support\"\n"
    ));
    daemon.signal(SIGHUP);
    daemon.wait_until("the refusal", Duration::from_secs(10), |d| {
        !d.logged("config not reloaded", None).is_empty()
    });
    let refusal = &daemon.logged("config not reloaded", None)[0];
    assert_eq!(refusal["level"], "ERROR");
    assert!(message(refusal).contains("rule[1].subject"), "{refusal}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        daemon.exited().is_none(),
        "the daemon died on a broken config"
    );
    // the running config stays in force: the mailbox still works
    dovecot.append("support", "INBOX", &mail("first", 3));
    daemon.wait_messages(4, Duration::from_secs(10));
    assert!(daemon.logged("config reloaded", None).is_empty());

    // valid: a second mailbox
    let second = daemon.imap_mailbox("other", &dovecot, "other", &["INBOX"], None);
    daemon.write_config(&format!("{first}{second}"));
    daemon.signal(SIGHUP);
    daemon.wait_messages(8, Duration::from_secs(30));
    assert_eq!(tagged(&mut daemon, "first"), (4, 4));
    assert_eq!(tagged(&mut daemon, "second"), (4, 4));
    assert!(!daemon.logged("config reloaded", None).is_empty());
    assert!(daemon.position("other", "INBOX").is_some());
    // and the first mailbox still works after the reload
    dovecot.append("support", "INBOX", &mail("first", 4));
    daemon.wait_messages(9, Duration::from_secs(10));
    assert!(daemon.exited().is_none());
}

/// Writes a message into a Maildir's `new/` the way a delivery agent does.
fn deliver(maildir: &Path, name: &str, raw: &[u8]) {
    let tmp = maildir.join("tmp").join(name);
    fs::write(&tmp, raw).unwrap();
    fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn maildir_mailbox_stores_new_mail_and_moves_it_to_cur() {
    let mut daemon = Daemon::new();
    let md = daemon.path("Maildir");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(md.join(sub)).unwrap();
    }
    for n in 0..5 {
        deliver(&md, &format!("1700000000.M{n}P1.host"), &mail("md", n));
    }
    daemon.write_config(&format!(
        "[[mailbox]]\nname = \"local\"\naddress = \"local@example.com\"\nmaildir = {:?}\npoll_interval = \"1s\"\n",
        md.display().to_string()
    ));
    daemon.start();
    daemon.wait_messages(5, Duration::from_secs(30));
    daemon.wait_until("new/ emptied", Duration::from_secs(10), |_| {
        names(&md.join("new")).is_empty()
    });
    for n in 5..10 {
        deliver(&md, &format!("1700000001.M{n}P1.host"), &mail("md", n));
    }
    daemon.wait_messages(10, Duration::from_secs(10));
    daemon.wait_until("new/ emptied", Duration::from_secs(10), |_| {
        names(&md.join("new")).is_empty()
    });

    assert_eq!(tagged(&mut daemon, "md"), (10, 10));
    let cur = names(&md.join("cur"));
    let expected: Vec<String> = (0..10)
        .map(|n| {
            format!(
                "{}.M{n}P1.host:2,",
                if n < 5 { 1700000000 } else { 1700000001 }
            )
        })
        .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(
        cur, expected,
        "every message moved to cur/ with no flags (still unread)"
    );
    // the moved files are the same messages
    assert_eq!(
        fs::read(md.join("cur").join(&expected[0])).unwrap(),
        mail("md", 0)
    );
    // a file moved to cur/ is not stored again on later scans
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(daemon.messages(), 10);
    assert!(daemon.exited().is_none());
}
