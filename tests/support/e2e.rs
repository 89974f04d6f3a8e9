//! The end-to-end harness: the suite's own Dovecot and Postfix (a `Stack`), and the real
//! `postdesk run` binary as a child process (a `Daemon`) with its own config, database and
//! log. Customers write from `customer.example`, agents and the escalation address are in
//! `example.com`, and the support mailbox's own address is `support@desk.example`.
#![allow(dead_code)] // each test binary uses a different part of this module

#[path = "mailstack.rs"]
pub mod mailstack;

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mailstack::{Dovecot, Postfix};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

pub const CUSTOMERS: &str = "customer.example";
pub const STAFF: &str = "example.com";
pub const DESK: &str = "desk.example";
pub const SUPPORT: &str = "support@desk.example";
/// Public ticket references are `id + 999` (`#1000` is the first).
pub const REF_OFFSET: i64 = 999;
pub const POLL: Duration = Duration::from_millis(20);
/// Generous: CI machines are slow and several of these tests run at once.
pub const ARRIVAL: Duration = Duration::from_secs(40);
pub const SIGTERM: i32 = 15;
pub const SIGKILL: i32 = 9;

unsafe extern "C" {
    // kill(2) from the C library that std links anyway (std can only SIGKILL a child).
    pub fn kill(pid: i32, sig: i32) -> i32;
}

// ---------------------------------------------------------------- the stack and the daemon

/// Dovecot + a Postfix for the customers', staff and desk domains. Postfix is declared
/// first so that it is dropped before the Dovecot it delivers to.
pub struct Stack {
    pub postfix: Postfix,
    pub dovecot: Dovecot,
}

impl Stack {
    pub fn start(users: &[&str]) -> Stack {
        Stack::start_with_domains(users, &[CUSTOMERS, STAFF, DESK])
    }

    pub fn start_with_domains(users: &[&str], domains: &[&str]) -> Stack {
        let dovecot = Dovecot::start(users);
        let postfix = Postfix::start_with_domains(&dovecot, domains);
        Stack { postfix, dovecot }
    }

    /// The messages in `user`'s INBOX.
    pub fn inbox(&self, user: &str) -> Vec<Vec<u8>> {
        self.dovecot.messages(user, "INBOX")
    }

    /// Waits until Postfix has delivered everything it accepted.
    pub fn wait_postfix_idle(&self) {
        let deadline = Instant::now() + ARRIVAL;
        loop {
            let queue = self.postfix.queue();
            if queue.contains("Mail queue is empty") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Postfix queue not empty:\n{queue}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub static NONCE: AtomicU64 = AtomicU64::new(0);

/// A Message-ID (without brackets) unique across test processes and runs.
pub fn unique_id(what: &str) -> String {
    let n = NONCE.fetch_add(1, Ordering::Relaxed);
    let t = jiff::Timestamp::now().as_nanosecond();
    format!("{what}.{t}.{}.{n}@{CUSTOMERS}", std::process::id())
}

/// One `postdesk run` child with its own folder (config, database, password file, log).
pub struct Daemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Daemon {
    pub fn new() -> Daemon {
        Daemon {
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("postdesk.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.path("postdesk.db")
    }

    /// Writes the config: our database, one IMAP mailbox (`user` of the Dovecot, with this
    /// `address`), `[smtp]` to the Postfix (plus `smtp_extra` lines), `[defaults]`, and
    /// then `rest` (queues...).
    pub fn configure(
        &self,
        stack: &Stack,
        user: &str,
        address: &str,
        defaults: &str,
        smtp_extra: &str,
        rest: &str,
    ) {
        self.configure_mailbox(stack, user, address, defaults, smtp_extra, "", rest);
    }

    /// As [`Daemon::configure`], with more lines for the `[[mailbox]]` (`sent_folders`...).
    #[allow(clippy::too_many_arguments)]
    pub fn configure_mailbox(
        &self,
        stack: &Stack,
        user: &str,
        address: &str,
        defaults: &str,
        smtp_extra: &str,
        mailbox_extra: &str,
        rest: &str,
    ) {
        let password = self.path("imap.pass");
        fs::write(&password, stack.dovecot.password(user)).unwrap();
        let text = format!(
            r#"database = {db:?}

[defaults]
{defaults}

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
{smtp_extra}

[[mailbox]]
name = "support"
address = "{address}"
display_name = "Example Support"
reply_token = true
{mailbox_extra}
imap = {{ host = "127.0.0.1", port = {imap}, tls = "none", user = "{user}", password_file = {password:?} }}

{rest}
"#,
            db = self.db_path().display().to_string(),
            smtp = stack.postfix.smtp_port(),
            imap = stack.dovecot.imap_port(),
            password = password.display().to_string(),
        );
        fs::write(self.config_path(), text).unwrap();
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("postdesk.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(self.config_path())
            .arg("run")
            // E2E_POSTDESK_LOG=debug (or any filter) to see more when a test fails
            .env(
                "POSTDESK_LOG",
                std::env::var("E2E_POSTDESK_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start postdesk run");
        self.child = Some(child);
    }

    /// The process id of the running daemon.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, and waits for the exit (SIGKILL after 20 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        unsafe { kill(child.id() as i32, SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "postdesk did not stop within 20 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// kill -9, like a crash or a power cut of the process.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { kill(child.id() as i32, SIGKILL) };
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        let log = fs::read_to_string(self.path("postdesk.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// `postdesk --config FILE ARGS`.
    pub fn cli_output(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run postdesk")
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.cli_output(args);
        assert!(
            out.status.success(),
            "postdesk {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("postdesk {args:?}: {e}:\n{out}"))
    }

    pub fn db(&self) -> Option<Connection> {
        let conn = Connection::open_with_flags(
            self.db_path(),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        Some(conn)
    }

    /// One integer from the database (None while it does not exist yet).
    pub fn count(&self, sql: &str) -> Option<i64> {
        self.db()?.query_row(sql, [], |r| r.get(0)).ok()
    }

    /// Polls `f` until it returns Some; panics after `timeout` with the daemon's log.
    pub fn wait<T>(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- postdesk log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The ticket id of the message with this Message-ID (without brackets), once it is
    /// filed.
    pub fn wait_filed(&self, message_id: &str) -> i64 {
        let sql = format!("SELECT ticket_id FROM messages WHERE message_id = '{message_id}'");
        self.wait(&format!("{message_id} filed"), ARRIVAL, || self.count(&sql))
    }

    /// The ticket id of `customer`'s ticket, once it is stored.
    pub fn wait_ticket(&self, customer: &str) -> i64 {
        let sql =
            format!("SELECT id FROM tickets WHERE customer = '{customer}' ORDER BY id LIMIT 1");
        self.wait(&format!("a ticket from {customer}"), ARRIVAL, || {
            self.count(&sql)
        })
    }

    /// `(status, attempts, last_error, message_id)` of the acknowledgement row of a ticket.
    pub fn ack_row(&self, ticket: i64) -> Option<(String, i64, Option<String>, Option<String>)> {
        self.db()?
            .query_row(
                "SELECT status, attempts, last_error, message_id FROM outbox
                 WHERE ticket_id = ?1 AND kind = 'acknowledgement' ORDER BY id LIMIT 1",
                [ticket],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .ok()
            .flatten()
    }

    /// Waits until no due mail row is pending (one may be in its SMTP transaction right after
    /// its mail arrived).
    pub fn wait_mail_settled(&self) {
        let deadline = Instant::now() + ARRIVAL;
        while self.pending_mail() != Some(0) {
            if Instant::now() > deadline {
                panic!(
                    "mail rows still pending:\n{}\n--- postdesk log:\n{}",
                    self.cli(&["outbox", "--all"]),
                    self.log()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Mail rows (acknowledgements, warnings, notices, relayed mail) that are due and not
    /// finished.
    pub fn pending_mail(&self) -> Option<i64> {
        self.count(&format!(
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND kind IN {}
             AND due_at <= CAST(strftime('%s', 'now') AS INTEGER)",
            postdesk::store::outbox::MAIL_KINDS
        ))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "--- postdesk log ({}):\n{}",
                self.dir.path().display(),
                self.log()
            );
        }
    }
}

// ---------------------------------------------------------------- mail

pub fn rfc2822_now() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// A plain UTF-8 message (`extra` is more header lines, each ending in `\n`).
pub fn mail(
    from: &str,
    to: &str,
    subject: &str,
    message_id: &str,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nDate: {date}\nMessage-ID: <{message_id}>\n\
         {extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: 8bit\n\n{body}\n",
        date = rfc2822_now()
    )
    .into_bytes()
}

/// The unfolded value of the first `name` header of the top-level header block.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let head = head.split("\n\n").next().unwrap_or_default();
    let mut lines = head.lines().peekable();
    let prefix = format!("{}:", name.to_ascii_lowercase());
    while let Some(line) = lines.next() {
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut value = line[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with([' ', '\t']) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value);
        }
    }
    None
}

pub fn is_ack(raw: &[u8]) -> bool {
    header(raw, "Message-ID").is_some_and(|id| id.starts_with("<postdesk.acknowledgement."))
}

pub fn acks_in(stack: &Stack, user: &str) -> Vec<Vec<u8>> {
    stack
        .inbox(user)
        .into_iter()
        .filter(|m| is_ack(m))
        .collect()
}

/// Decoded subject and plain-text body.
pub fn subject_and_body(raw: &[u8]) -> (String, String) {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("parsable mail");
    (
        parsed.subject().unwrap_or_default().to_string(),
        parsed.body_text(0).unwrap_or_default().into_owned(),
    )
}

pub fn ticket_json(daemon: &Daemon, id: i64) -> Value {
    daemon.json(&["ticket", &(id + REF_OFFSET).to_string(), "--json"])
}

/// Hands `raw` to the suite's Postfix over SMTP, as a mail client would.
pub fn submit(stack: &Stack, from: &str, to: &[&str], raw: &[u8]) {
    use lettre::Transport;
    let envelope = lettre::address::Envelope::new(
        Some(from.parse().expect("sender address")),
        to.iter()
            .map(|a| a.parse().expect("recipient address"))
            .collect(),
    )
    .expect("envelope");
    lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(stack.postfix.smtp_port())
        .build()
        .send_raw(&envelope, raw)
        .unwrap_or_else(|e| panic!("Postfix refused mail from {from} to {to:?}: {e}"));
}

/// The mails in `user`'s INBOX whose Message-ID postdesk gave for `kind` (an outbox kind).
pub fn postdesk_mail_in(stack: &Stack, user: &str, kind: &str) -> Vec<Vec<u8>> {
    let prefix = format!("<postdesk.{kind}.");
    stack
        .inbox(user)
        .into_iter()
        .filter(|m| header(m, "Message-ID").is_some_and(|id| id.starts_with(&prefix)))
        .collect()
}
