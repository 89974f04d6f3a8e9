//! mailstack: a real, private Dovecot (IMAP + LMTP) and Postfix (SMTP) on loopback for
//! postdesk's integration tests. No mocks: these are the Debian packages' own daemons,
//! each instance in its own folder under /tmp on its own free ports.
//!
//! # Using it from a test file
//!
//! Every integration test crate that needs it includes this file as a module:
//!
//! ```ignore
//! #[path = "support/mailstack.rs"]
//! mod mailstack;
//! use mailstack::{Dovecot, Postfix};
//!
//! let dovecot = Dovecot::start(&["support", "customer"]);
//! let postfix = Postfix::start(&dovecot, "example.test");
//! // IMAP: 127.0.0.1:dovecot.imap_port(), login "support" / dovecot.password("support")
//! // SMTP: 127.0.0.1:postfix.smtp_port(), mail for support@example.test lands in its INBOX
//! ```
//!
//! (`#[path]` rather than `tests/support/mod.rs`, so that cargo does not also build
//! `tests/support/*.rs` as test crates and each test file states what it uses.)
//! Dependencies: std and `tempfile` only.
//!
//! # What the servers are
//!
//! * [`Dovecot`] (2.3 config syntax, as in Debian 12): users from a passwd-file, Maildir
//!   storage, plaintext IMAP `LOGIN` allowed without TLS (no TLS at all: `ssl = no`),
//!   IDLE, any keyword (`$Ticketed`, `$SLABreached`, ...), special-use folders `Sent`,
//!   `Drafts`, `Trash`, `Junk` created and subscribed on first access, hierarchy separator
//!   `/`, LMTP on a loopback port, no login delays or penalties after a wrong password.
//!   A user logs in as `alice` or `alice@<any domain>` (the domain is dropped) with
//!   password `secret-alice`.
//! * [`Postfix`]: SMTP on a loopback port, no AUTH needed (AUTH PLAIN/LOGIN against the
//!   same Dovecot users is offered too, over plaintext), accepts mail for
//!   `<user>@<domain>` of the Dovecot users and delivers it over LMTP into their INBOX.
//!   Unknown users of the domain are refused at `RCPT TO` with `550 5.1.1`; every other
//!   domain is **rejected** at `RCPT TO` with `554 5.7.1 Relay access denied`, for
//!   authenticated clients too: nothing is ever relayed or queued for elsewhere.
//!
//! # Privileges
//!
//! As root (CI, and this project's dev machines) Dovecot runs entirely as `nobody:nogroup`
//! (`setpriv`), and Postfix is started by root as it requires (its daemons run as
//! `postfix`). As a normal user Dovecot runs as that user, and [`Postfix::start`] panics
//! because Postfix cannot be started without root.
//!
//! Missing packages make `start` panic with a message naming `scripts/install-deps`;
//! tests never skip.
//!
//! # Cleanup
//!
//! `Drop` kills every process of the instance (SIGKILL on all members of the daemon's own
//! session, by PID, never by name) and removes its folder. If the test process itself is
//! killed (so `Drop` never runs, e.g. a nextest timeout), the next `start` in any later
//! test process finds the instance folder whose owner process is gone, kills what it
//! recorded there and removes it. Set `MAILSTACK_KEEP=1` to keep the folders (logs, mail)
//! for inspection; the processes are still stopped.
//!
//! Recipe and measurements: /work/shared/mailstack/README.md.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The only address the servers listen on.
pub const HOST: &str = "127.0.0.1";

const DOVECOT_BIN: &str = "/usr/sbin/dovecot";
const DOVEADM_BIN: &str = "/usr/bin/doveadm";
const POSTFIX_BIN: &str = "/usr/sbin/postfix";
const POSTQUEUE_BIN: &str = "/usr/sbin/postqueue";
const DOVECOT_MISSING: &str = "Dovecot not found: run scripts/install-deps (apt-get install dovecot-imapd dovecot-lmtpd postfix)";
const POSTFIX_MISSING: &str = "Postfix not found: run scripts/install-deps (apt-get install dovecot-imapd dovecot-lmtpd postfix)";

/// Instance folders are `/tmp/pd-mailstack.XXXXXX` (short: Dovecot's unix sockets live
/// below it and socket paths are limited to 107 bytes).
const DIR_PARENT: &str = "/tmp";
const DIR_PREFIX: &str = "pd-mailstack.";
/// Ports are picked at random in this range: below Linux's ephemeral range
/// (32768-60999), so an outgoing connection can never be holding one.
const PORT_RANGE: std::ops::Range<u16> = 20000..32000;
/// How often a start is retried with new ports (another process may take a port between
/// the free-port probe and the server's bind).
const START_TRIES: usize = 8;
const READY_TIMEOUT: Duration = Duration::from_secs(15);
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

unsafe extern "C" {
    // kill(2) from the C library that std links anyway (std has no way to signal a
    // process that is not our own child).
    fn kill(pid: i32, sig: i32) -> i32;
}

// ====================================================================== Dovecot

/// A private Dovecot (IMAP on [`Dovecot::imap_port`], LMTP on [`Dovecot::lmtp_port`])
/// in its own temp folder. Stopped and removed on drop.
pub struct Dovecot {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    users: Vec<String>,
    imap_port: u16,
    lmtp_port: u16,
    token: String,
    master: Option<Child>,
    startup: Duration,
}

impl Dovecot {
    /// Starts a Dovecot with these users (local parts such as `"alice"`, no `@`), each
    /// with password `secret-<user>` and an (empty) Maildir, on two free loopback ports,
    /// and returns once both IMAP and LMTP greet. Retries with other ports if one was
    /// taken meanwhile. Panics if Dovecot is not installed or does not come up (the panic
    /// message carries its log).
    pub fn start(users: &[&str]) -> Dovecot {
        if !Path::new(DOVECOT_BIN).exists() || !Path::new(DOVEADM_BIN).exists() {
            panic!("{DOVECOT_MISSING}");
        }
        assert!(!users.is_empty(), "Dovecot::start needs at least one user");
        for u in users {
            assert!(
                !u.is_empty()
                    && u.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c)),
                "Dovecot user {u:?}: use a plain local part (letters, digits, . _ - +), no '@'"
            );
        }
        let t0 = Instant::now();
        sweep_stale_instances();
        let acct = account();
        let dir = new_instance_dir("dovecot");
        let root = dir.path().to_path_buf();
        let dv = root.join("dovecot");
        for sub in ["run", "state", "mail"] {
            mkdir(&dv.join(sub));
        }
        let mut passwd = String::new();
        for u in users {
            let _ = writeln!(passwd, "{u}:{{PLAIN}}secret-{u}::::::");
            let md = dv.join("mail").join(u).join("Maildir");
            for sub in ["cur", "new", "tmp"] {
                mkdir(&md.join(sub));
            }
        }
        write(&dv.join("users"), passwd.as_bytes());
        let token = dir_token(&root);
        let mut me = Dovecot {
            dir: Some(dir),
            root,
            users: users.iter().map(|u| u.to_string()).collect(),
            imap_port: 0,
            lmtp_port: 0,
            token,
            master: None,
            startup: Duration::ZERO,
        };
        let mut failures = String::new();
        for attempt in 1..=START_TRIES {
            let mut ports = pick_ports(2);
            me.imap_port = ports.remove(0);
            me.lmtp_port = ports.remove(0);
            write(&me.config_path(), me.config_text(acct).as_bytes());
            chown_tree(&dv, acct.uid, acct.gid);
            match me.spawn_and_wait() {
                Ok(()) => {
                    me.startup = t0.elapsed();
                    return me;
                }
                Err(e) => {
                    eprintln!(
                        "mailstack: Dovecot start, try {attempt}: {e}; retrying with new ports"
                    );
                    let _ = writeln!(failures, "try {attempt}: {e}");
                    me.kill_master();
                }
            }
        }
        panic!(
            "Dovecot did not come up in {START_TRIES} tries:\n{failures}--- {}:\n{}",
            me.log_path().display(),
            me.log_tail()
        );
    }

    /// Always `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// Plaintext IMAP port (LOGIN allowed, no TLS).
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// `127.0.0.1:imap_port`.
    pub fn imap_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.imap_port))
    }

    /// Dovecot's LMTP port on 127.0.0.1 (what [`Postfix`] delivers to; `LHLO`, then
    /// `RCPT TO:<user@any.domain>`).
    pub fn lmtp_port(&self) -> u16 {
        self.lmtp_port
    }

    /// The users given to [`Dovecot::start`].
    pub fn users(&self) -> &[String] {
        &self.users
    }

    /// The password of `user`: `secret-<user>`.
    pub fn password(&self, user: &str) -> String {
        format!("secret-{user}")
    }

    /// The root of `user`'s Maildir (INBOX; folder `A/B` is `.A.B` below it). Files in it
    /// belong to the account Dovecot runs as (`nobody` when the tests run as root).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.root.join("dovecot/mail").join(user).join("Maildir")
    }

    /// The Maildir folder that holds `folder` of `user` (`INBOX`, `Sent`, `Queues/Billing`).
    pub fn folder_dir(&self, user: &str, folder: &str) -> PathBuf {
        let md = self.maildir(user);
        if folder.eq_ignore_ascii_case("INBOX") {
            md
        } else {
            md.join(format!(".{}", folder.replace('/', ".")))
        }
    }

    /// The instance folder (`/tmp/pd-mailstack.XXXXXX`).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The generated dovecot.conf (for `doveadm -c`).
    pub fn config_path(&self) -> PathBuf {
        self.root.join("dovecot/dovecot.conf")
    }

    /// Dovecot's log file.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("dovecot/dovecot.log")
    }

    /// The whole Dovecot log (for assertions or panic messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The unix socket where Dovecot answers SASL requests (Postfix's `smtpd_sasl_path`).
    pub fn auth_socket(&self) -> PathBuf {
        self.root.join("dovecot/run/auth-postfix")
    }

    /// Time from the call of [`Dovecot::start`] until both greetings (including retries).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// PID of the running Dovecot master (leader of the session all its processes are in).
    pub fn master_pid(&self) -> Option<u32> {
        self.master.as_ref().map(Child::id)
    }

    /// True between a start and a [`Dovecot::stop`].
    pub fn is_running(&self) -> bool {
        self.master.is_some()
    }

    /// Kills the server at once (SIGKILL to every process of it, like a crash; a clean
    /// SIGTERM shutdown would take Dovecot ~1.1 s). Mail, indexes and ports are kept for
    /// [`Dovecot::start_again`]. Connected clients see their connection reset.
    pub fn stop(&mut self) {
        self.kill_master();
    }

    /// Starts the stopped server again on the same ports with the same data (calls
    /// [`Dovecot::stop`] first if it is running). Panics if it does not come up, e.g.
    /// because another process took one of its ports while it was down (unlikely: ports
    /// are picked at random from 12,000).
    pub fn start_again(&mut self) {
        if self.master.is_some() {
            self.stop();
        }
        if let Err(e) = self.spawn_and_wait() {
            self.kill_master();
            panic!(
                "Dovecot did not come up again on IMAP {} / LMTP {}: {e}\n--- {}:\n{}",
                self.imap_port,
                self.lmtp_port,
                self.log_path().display(),
                self.log_tail()
            );
        }
    }

    /// Runs `doveadm -c <conf> ARGS` (with `stdin` if given) and returns its stdout;
    /// panics if it fails. Needs the server running (doveadm asks Dovecot's auth service
    /// for the user).
    pub fn doveadm(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.doveadm_output(args, stdin);
        if !out.status.success() {
            panic!(
                "doveadm {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Puts a raw RFC 5322 message (CRLF or LF line ends) into `folder` of `user` (folder
    /// created if missing). While the server runs this is `doveadm save`: the message has
    /// its UID when this returns, and IMAP clients (IDLE included; Dovecot notifies IDLE
    /// ~0.5 s after a change) see it like any delivery. While the server is stopped the
    /// message is written straight into the Maildir's `new/` (Dovecot picks it up when
    /// the folder is next opened).
    pub fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        self.check_user(user);
        if self.master.is_none() {
            self.append_to_maildir(user, folder, raw);
            return;
        }
        let out = self.doveadm_output(&["save", "-u", user, "-m", folder], Some(raw));
        if out.status.success() {
            return;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("doesn't exist") {
            self.create_folder(user, folder);
            self.doveadm(&["save", "-u", user, "-m", folder], Some(raw));
        } else {
            panic!("doveadm save -u {user} -m {folder} failed: {}", err.trim());
        }
    }

    /// Puts many raw messages into `folder` of `user` at once, far faster than one
    /// [`Dovecot::append`] each (~10,000 messages/s instead of ~100): every message is
    /// written into the Maildir's `new/` as a delivery agent would, in this order (so
    /// Dovecot gives them ascending UIDs in this order). If the server runs, Dovecot is
    /// then made to take them in (`doveadm mailbox status`), so they have their UIDs and
    /// IMAP clients see them when this returns; if it is stopped they are picked up when
    /// the folder is next opened.
    pub fn append_bulk(&self, user: &str, folder: &str, raws: &[Vec<u8>]) {
        self.check_user(user);
        if raws.is_empty() {
            return;
        }
        let acct = account();
        let dir = self.prepare_folder(user, folder);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let mut names = Vec::with_capacity(raws.len());
        for (i, raw) in raws.iter().enumerate() {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            // same second, ascending "microseconds": Dovecot orders new files by name
            let name = format!(
                "{}.M{:06}P{}Q{}.mailstack,S={}",
                now.as_secs(),
                i,
                std::process::id(),
                n,
                raw.len()
            );
            let tmp = dir.join("tmp").join(&name);
            write(&tmp, raw);
            let _ = std::os::unix::fs::chown(&tmp, Some(acct.uid), Some(acct.gid));
            names.push(name);
        }
        for name in &names {
            fs::rename(dir.join("tmp").join(name), dir.join("new").join(name))
                .expect("rename into new/");
        }
        if self.master.is_some() {
            self.doveadm(
                &["mailbox", "status", "-u", user, "messages uidnext", folder],
                None,
            );
        }
    }

    /// Creates (and subscribes) `folder` of `user`; no-op if it exists.
    pub fn create_folder(&self, user: &str, folder: &str) {
        self.check_user(user);
        let out = self.doveadm_output(&["mailbox", "create", "-s", "-u", user, folder], None);
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && !err.contains("already exists") {
            panic!(
                "doveadm mailbox create {folder} for {user} failed: {}",
                err.trim()
            );
        }
    }

    /// Deletes `folder` of `user` with all its messages and creates it again, empty, so
    /// that its UIDVALIDITY changes; returns the new UIDVALIDITY. INBOX cannot be deleted
    /// in Dovecot: for INBOX all messages are expunged and the UIDVALIDITY is set to a new,
    /// larger value (UIDs then go on from where they were rather than restarting at 1).
    /// Clients that have the folder selected are disconnected or told it is gone.
    pub fn recreate_folder(&self, user: &str, folder: &str) -> u32 {
        self.check_user(user);
        let is_inbox = folder.eq_ignore_ascii_case("INBOX");
        let old = if is_inbox || self.folder_exists(user, folder) {
            Some(self.uid_validity(user, folder))
        } else {
            None
        };
        if is_inbox {
            self.doveadm(&["expunge", "-u", user, "mailbox", "INBOX", "all"], None);
        } else {
            let out = self.doveadm_output(&["mailbox", "delete", "-s", "-u", user, folder], None);
            let err = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() && !err.contains("doesn't exist") {
                panic!(
                    "doveadm mailbox delete {folder} for {user} failed: {}",
                    err.trim()
                );
            }
            self.create_folder(user, folder);
        }
        let mut now = self.uid_validity(user, folder);
        if let Some(old) = old {
            if now == old {
                let unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as u32;
                let new = unix.max(old.wrapping_add(1)).max(1);
                let v = new.to_string();
                self.doveadm(
                    &[
                        "mailbox",
                        "update",
                        "-u",
                        user,
                        "--uid-validity",
                        &v,
                        folder,
                    ],
                    None,
                );
                now = self.uid_validity(user, folder);
            }
            assert_ne!(now, old, "UIDVALIDITY of {user}/{folder} did not change");
        }
        now
    }

    /// UIDVALIDITY of `folder` of `user` (`doveadm mailbox status`).
    pub fn uid_validity(&self, user: &str, folder: &str) -> u32 {
        let out = self.doveadm(
            &[
                "-f",
                "tab",
                "mailbox",
                "status",
                "-u",
                user,
                "uidvalidity",
                folder,
            ],
            None,
        );
        // "mailbox\tuidvalidity" header, then "<folder>\t<n>"
        let line = out.lines().nth(1).unwrap_or_default();
        let value = line.rsplit('\t').next().unwrap_or_default();
        value.trim().parse().unwrap_or_else(|_| {
            panic!("unexpected doveadm mailbox status output for {user}/{folder}: {out:?}")
        })
    }

    /// `(uid, flags)` of every message in `folder` of `user`, by UID, as Dovecot stores
    /// them: system flags (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`) and
    /// keywords (`$Ticketed`, ...). `\Recent` is left out (it is per session, and doveadm's
    /// own session would see it). Empty if the folder does not exist. Does not change any
    /// flag. Needs the server running.
    pub fn imap_fetch_flags(&self, user: &str, folder: &str) -> Vec<(u32, Vec<String>)> {
        self.check_user(user);
        let out = self.doveadm(
            &[
                "-f",
                "tab",
                "fetch",
                "-u",
                user,
                "uid flags",
                "mailbox",
                folder,
            ],
            None,
        );
        let mut rows: Vec<(u32, Vec<String>)> = out
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (uid, flags) = l.split_once('\t').unwrap_or((l, ""));
                let uid = uid
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("unexpected doveadm fetch line {l:?}"));
                let flags = flags
                    .split_whitespace()
                    .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                    .map(str::to_string)
                    .collect();
                (uid, flags)
            })
            .collect();
        rows.sort_by_key(|r| r.0);
        rows
    }

    /// The raw messages now in `folder` of `user`, read from the Maildir (`new/` and `cur/`),
    /// oldest first (by delivery-time file name). Works with the server stopped too.
    pub fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        self.check_user(user);
        let dir = self.folder_dir(user, folder);
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = fs::read_dir(dir.join(sub)) {
                for e in rd.flatten() {
                    files.push((e.file_name().to_string_lossy().into_owned(), e.path()));
                }
            }
        }
        files.sort_by_key(|f| maildir_key(&f.0));
        files
            .into_iter()
            // a file can move from new/ to cur/ between listing and reading: skip it then
            .filter_map(|(_, p)| fs::read(p).ok())
            .collect()
    }

    /// Waits until a message for which `predicate` is true is in `folder` of `user`
    /// (polls the Maildir every 20 ms) and returns it; panics after `timeout` with a list
    /// of the messages that are there.
    pub fn wait_for_message(
        &self,
        user: &str,
        folder: &str,
        predicate: impl Fn(&[u8]) -> bool,
        timeout: Duration,
    ) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            let msgs = self.messages(user, folder);
            if let Some(m) = msgs.iter().find(|m| predicate(m)) {
                return m.clone();
            }
            if Instant::now() >= deadline {
                let mut seen = String::new();
                for m in &msgs {
                    let _ = writeln!(seen, "  {}", header_line(m, "Subject").unwrap_or_default());
                }
                panic!(
                    "no matching message in {user}/{folder} after {timeout:?}; {} there:\n{seen}",
                    msgs.len()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // ------------------------------------------------------------------ internals

    fn check_user(&self, user: &str) {
        assert!(
            self.users.iter().any(|u| u == user),
            "{user:?} is not a user of this Dovecot (users: {:?})",
            self.users
        );
    }

    fn folder_exists(&self, user: &str, folder: &str) -> bool {
        self.folder_dir(user, folder).join("cur").is_dir()
    }

    fn doveadm_output(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let conf = self.config_path();
        let mut cmd = Command::new(DOVEADM_BIN);
        cmd.arg("-c").arg(&conf).args(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {DOVEADM_BIN}: {e}"));
        if let Some(data) = stdin {
            let mut w = child.stdin.take().unwrap();
            let data = data.to_vec();
            // write from a thread: doveadm may answer before reading everything
            let t = std::thread::spawn(move || {
                let _ = w.write_all(&data);
            });
            let out = child.wait_with_output().expect("doveadm wait");
            let _ = t.join();
            out
        } else {
            child.wait_with_output().expect("doveadm wait")
        }
    }

    /// The folder's Maildir, created (with its `maildirfolder` marker below INBOX) and owned
    /// by the mail account.
    fn prepare_folder(&self, user: &str, folder: &str) -> PathBuf {
        let acct = account();
        let dir = self.folder_dir(user, folder);
        for sub in ["cur", "new", "tmp"] {
            mkdir(&dir.join(sub));
        }
        if !folder.eq_ignore_ascii_case("INBOX") {
            let marker = dir.join("maildirfolder");
            if !marker.exists() {
                write(&marker, b"");
            }
        }
        chown_tree(&self.maildir(user), acct.uid, acct.gid);
        dir
    }

    fn append_to_maildir(&self, user: &str, folder: &str, raw: &[u8]) {
        let acct = account();
        let dir = self.prepare_folder(user, folder);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.M{}P{}Q{}.mailstack,S={}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            n,
            raw.len()
        );
        let tmp = dir.join("tmp").join(&name);
        write(&tmp, raw);
        let _ = std::os::unix::fs::chown(&tmp, Some(acct.uid), Some(acct.gid));
        fs::rename(&tmp, dir.join("new").join(&name)).expect("rename into new/");
    }

    fn config_text(&self, acct: &Account) -> String {
        let dir = self.root.display();
        let (user, group) = (&acct.user, &acct.group);
        format!(
            r#"# Private Dovecot 2.3 instance for postdesk tests (tests/support/mailstack.rs).
instance_name = mailstack-{imap}
base_dir = {dir}/dovecot/run
state_dir = {dir}/dovecot/state
log_path = {dir}/dovecot/dovecot.log
hostname = mail.mailstack.test
postmaster_address = postmaster@mailstack.test
protocols = imap lmtp
listen = 127.0.0.1
# unique per instance: tells our greeting from another instance's on a reused port
login_greeting = Dovecot ready ({token})

# every process runs as one unprivileged account
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = 1
first_valid_gid = 1

ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# no 2 s wait after a wrong password
auth_failure_delay = 0
# "alice@example.test" (LMTP RCPT TO, logins with a domain) is the user "alice"
auth_username_format = %Ln
# "support+t.abc@example.test" is delivered to the user "support" (its INBOX)
recipient_delimiter = +

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/dovecot/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/dovecot/users
  default_fields = uid={user} gid={group} home={dir}/dovecot/mail/%n
}}

mail_location = maildir:~/Maildir
mail_fsync = optimized
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \Junk
    auto = subscribe
  }}
}}
protocol imap {{
  # the default (10) is easily reached by tests that open many connections
  mail_max_userip_connections = 1000
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service auth {{
  # Postfix's smtpd checks SMTP AUTH passwords here
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
  # no auth penalty (up to 15 s delays for every login from 127.0.0.1 after a failure)
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"#,
            imap = self.imap_port,
            lmtp = self.lmtp_port,
            token = self.token,
        )
    }

    /// Spawns the master in its own session and waits for both greetings.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let acct = account();
        let conf = self.config_path();
        let _ = fs::remove_file(self.root.join("dovecot/run/master.pid"));
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("dovecot-stderr.log"))
            .expect("open dovecot-stderr.log");
        // setsid: own session, so that all of its processes can be found and killed.
        // setpriv (as root): everything runs as the unprivileged account.
        let mut cmd = Command::new("setsid");
        if acct.root {
            cmd.arg("setpriv")
                .arg(format!("--reuid={}", acct.uid))
                .arg(format!("--regid={}", acct.gid))
                .arg("--clear-groups")
                .arg("--");
        }
        cmd.arg(DOVECOT_BIN).arg("-F").arg("-c").arg(&conf);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run setsid/setpriv/dovecot: {e}"))?;
        record_session(&self.root, "dovecot", child.id());
        self.master = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        let token = self.token.clone();
        let (imap, lmtp) = (self.imap_port, self.lmtp_port);
        let child = self.master.as_mut().unwrap();
        wait_greeting(child, imap, "* OK", &token, "a LOGOUT", deadline)?;
        wait_greeting(child, lmtp, "220 ", &token, "QUIT", deadline)?;
        Ok(())
    }

    fn kill_master(&mut self) {
        if let Some(mut child) = self.master.take() {
            kill_session(child.id() as i32, SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            wait_session_gone(child.id() as i32, Duration::from_secs(5));
        }
    }

    fn log_tail(&self) -> String {
        let mut s = tail(&self.log(), 40);
        let err = fs::read_to_string(self.root.join("dovecot-stderr.log")).unwrap_or_default();
        if !err.trim().is_empty() {
            s.push_str("--- stderr:\n");
            s.push_str(&tail(&err, 20));
        }
        s
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill_master();
        if let Some(dir) = self.dir.take() {
            finish_dir(dir);
        }
    }
}

// ====================================================================== Postfix

/// A private Postfix accepting mail for one domain on [`Postfix::smtp_port`] and
/// delivering it over LMTP into a [`Dovecot`]. Stopped and removed on drop. Needs root.
pub struct Postfix {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    domain: String,
    smtp_port: u16,
    token: String,
    master_pid: Option<i32>,
    startup: Duration,
}

impl Postfix {
    /// Starts a Postfix on a free loopback port that accepts mail for `<user>@<domain>`
    /// for every user of `dovecot` and delivers it over LMTP into that user's INBOX
    /// (usually within ~50 ms); refuses unknown users of the domain (`550`) and every
    /// other domain (`554 Relay access denied`). Returns once it greets. Start it after
    /// the Dovecot and drop it before (declare it later); mail accepted while Dovecot is
    /// down is retried every second or so. Panics if Postfix is missing, if not root, or
    /// if it does not come up (with its log).
    pub fn start(dovecot: &Dovecot, domain: &str) -> Postfix {
        if !Path::new(POSTFIX_BIN).exists() {
            panic!("{POSTFIX_MISSING}");
        }
        assert!(
            !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "bad mail domain {domain:?}"
        );
        let acct = account();
        if !acct.root {
            panic!(
                "Postfix must be started as root (`postfix start` refuses otherwise): run the \
                 tests as root, as CI does"
            );
        }
        let postfix_uid = lookup_id(&["-u", "postfix"]).unwrap_or_else(|| {
            panic!(
                "account 'postfix' missing (it comes with the postfix package): {POSTFIX_MISSING}"
            )
        });
        let t0 = Instant::now();
        sweep_stale_instances();
        let dir = new_instance_dir("postfix");
        let root = dir.path().to_path_buf();
        mkdir(&root.join("postfix"));
        mkdir(&root.join("postfix-spool"));
        mkdir(&root.join("postfix-data"));
        std::os::unix::fs::chown(root.join("postfix-data"), Some(postfix_uid), None)
            .expect("chown postfix-data");
        let mut vmailbox = String::new();
        for u in dovecot.users() {
            let _ = writeln!(vmailbox, "{u}@{domain} OK");
        }
        write(&root.join("postfix/vmailbox"), vmailbox.as_bytes());
        let token = dir_token(&root);
        let mut me = Postfix {
            dir: Some(dir),
            root,
            domain: domain.to_string(),
            smtp_port: 0,
            token,
            master_pid: None,
            startup: Duration::ZERO,
        };
        write(
            &me.root.join("postfix/main.cf"),
            me.main_cf(dovecot).as_bytes(),
        );
        let mut failures = String::new();
        for attempt in 1..=START_TRIES {
            me.smtp_port = pick_ports(1)[0];
            write(
                &me.root.join("postfix/master.cf"),
                me.master_cf().as_bytes(),
            );
            backdate(&me.root.join("postfix"));
            match me.spawn_and_wait() {
                Ok(()) => {
                    me.startup = t0.elapsed();
                    return me;
                }
                Err(e) => {
                    eprintln!(
                        "mailstack: Postfix start, try {attempt}: {e}; retrying with new ports"
                    );
                    let _ = writeln!(failures, "try {attempt}: {e}");
                    me.kill_master();
                }
            }
        }
        panic!(
            "Postfix did not come up in {START_TRIES} tries:\n{failures}--- logs:\n{}",
            me.log_tail()
        );
    }

    /// Always `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// Plain SMTP port (like port 25: no AUTH needed for the domain's users; AUTH PLAIN
    /// and LOGIN offered, checked against the Dovecot users; no STARTTLS).
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// `127.0.0.1:smtp_port`.
    pub fn smtp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.smtp_port))
    }

    /// The domain given to [`Postfix::start`].
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `<user>@<domain>`.
    pub fn address(&self, user: &str) -> String {
        format!("{user}@{}", self.domain)
    }

    /// The instance folder.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Postfix's log file (one line per SMTP session step and delivery).
    pub fn log_path(&self) -> PathBuf {
        self.root.join("postfix.log")
    }

    /// The whole Postfix log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `postqueue -p` for this instance: mail not delivered yet (e.g. while Dovecot is
    /// down). `Mail queue is empty` when all was delivered.
    pub fn queue(&self) -> String {
        let out = Command::new(POSTQUEUE_BIN)
            .arg("-c")
            .arg(self.root.join("postfix"))
            .arg("-p")
            .stdin(Stdio::null())
            .output()
            .expect("postqueue");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `postqueue -f`: every queued mail is tried again now, whatever its retry time (mail
    /// deferred while Dovecot was down can otherwise wait for Postfix's next retry).
    pub fn flush(&self) {
        let status = Command::new(POSTQUEUE_BIN)
            .arg("-c")
            .arg(self.root.join("postfix"))
            .arg("-f")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("postqueue -f");
        assert!(status.success(), "postqueue -f failed ({status})");
    }

    /// Time from the call of [`Postfix::start`] until its greeting.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// PID of the running Postfix master.
    pub fn master_pid(&self) -> Option<u32> {
        self.master_pid.map(|p| p as u32)
    }

    /// True between a start and a [`Postfix::stop`].
    pub fn is_running(&self) -> bool {
        self.master_pid.is_some()
    }

    /// Stops the server (SIGTERM to the master: ~50 ms; SIGKILL for anything left after
    /// 5 s). The port is closed until [`Postfix::start_again`]; queue and config are kept.
    pub fn stop(&mut self) {
        if let Some(pid) = self.master_pid.take() {
            if belongs_to(pid, &self.root) {
                unsafe { kill(pid, SIGTERM) };
                let deadline = Instant::now() + Duration::from_secs(5);
                while alive(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            kill_session(pid, SIGKILL);
            wait_session_gone(pid, Duration::from_secs(5));
        }
    }

    /// Starts the stopped server again on the same port with the same queue (stops it
    /// first if running). Panics if it does not come up.
    pub fn start_again(&mut self) {
        if self.master_pid.is_some() {
            self.stop();
        }
        if let Err(e) = self.spawn_and_wait() {
            self.kill_master();
            panic!(
                "Postfix did not come up again on port {}: {e}\n--- logs:\n{}",
                self.smtp_port,
                self.log_tail()
            );
        }
    }

    // ------------------------------------------------------------------ internals

    fn main_cf(&self, dovecot: &Dovecot) -> String {
        let dir = self.root.display();
        format!(
            r#"# Private Postfix instance for postdesk tests (tests/support/mailstack.rs).
compatibility_level = 3.6
queue_directory = {dir}/postfix-spool
data_directory = {dir}/postfix-data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {dir}
maillog_file = {dir}/postfix.log

myhostname = mail.{domain}
mydomain = {domain}
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
# unique per instance: tells our greeting from another instance's on a reused port
smtpd_banner = $myhostname ESMTP Postfix ({token})
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
# support+t.<token>@desk is the user "support" (postdesk's reply addresses)
recipient_delimiter = +

# Mail for {domain} goes to the private Dovecot over LMTP; unknown users are refused
# at RCPT time. Nothing ever leaves the machine: every other domain is refused at RCPT
# time (authenticated or not), and the transports for elsewhere are errors anyway.
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{dir}/postfix/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
local_transport = error:local delivery is disabled
default_transport = error:outbound mail is disabled in this test stack
relay_transport = error:outbound mail is disabled in this test stack
smtpd_relay_restrictions = reject_unauth_destination

# SMTP AUTH (PLAIN, LOGIN) against the Dovecot passwd-file
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl}
smtpd_sasl_security_options = noanonymous

# retry quickly if Dovecot was briefly away
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
# smtpd exits at once while Dovecot's auth socket is away ("no SASL authentication
# mechanisms"); the master would then stop starting it for 60 s, well after Dovecot is back
service_throttle_time = 1s
"#,
            domain = self.domain,
            token = self.token,
            lmtp = dovecot.lmtp_port(),
            sasl = dovecot.auth_socket().display(),
        )
    }

    fn master_cf(&self) -> String {
        format!(
            "# service type private unpriv chroot wakeup maxproc command\n\
             127.0.0.1:{port} inet n - n - - smtpd\n{rest}",
            port = self.smtp_port,
            rest = r#"pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"#
        )
    }

    /// `postfix -c DIR start` (returns once the master listens), then waits for our
    /// greeting.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("postfix-start.log"))
            .expect("open postfix-start.log");
        let pidfile = self.root.join("postfix-spool/pid/master.pid");
        let _ = fs::remove_file(&pidfile);
        // After a stop that cut a delivery short, `postfix start` runs postsuper, which
        // (as user postfix) logs a warning about the half-written queue file itself into
        // the log file, and gives up the whole start if it cannot open it.
        let log_file = self.log_path();
        if log_file.exists() {
            let _ = fs::set_permissions(&log_file, fs::Permissions::from_mode(0o666));
        }
        // stdout/stderr to a file, never to a pipe: the daemon could keep a pipe open.
        let status = Command::new(POSTFIX_BIN)
            .arg("-c")
            .arg(self.root.join("postfix"))
            .arg("start")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .status()
            .map_err(|e| format!("cannot run {POSTFIX_BIN}: {e}"))?;
        let pid = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            record_session(&self.root, "postfix", pid as u32);
            self.master_pid = Some(pid);
        }
        if !status.success() {
            return Err(format!("`postfix start` failed ({status})"));
        }
        let pid = pid.ok_or("no postfix-spool/pid/master.pid after `postfix start`")?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if !alive(pid) {
                return Err(format!("Postfix master {pid} died"));
            }
            match greeting(self.smtp_port, "QUIT") {
                Some(line) if line.starts_with("220 ") && line.contains(&self.token) => {
                    return Ok(());
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no SMTP greeting on port {} in time",
                    self.smtp_port
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill_master(&mut self) {
        if let Some(pid) = self.master_pid.take() {
            kill_session(pid, SIGKILL);
            wait_session_gone(pid, Duration::from_secs(5));
        }
    }

    fn log_tail(&self) -> String {
        let mut s = tail(&self.log(), 40);
        let start = fs::read_to_string(self.root.join("postfix-start.log")).unwrap_or_default();
        if !start.trim().is_empty() {
            s.push_str("--- postfix start:\n");
            s.push_str(&tail(&start, 20));
        }
        s
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.kill_master();
        if let Some(dir) = self.dir.take() {
            finish_dir(dir);
        }
    }
}

// ====================================================================== helpers

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The account Dovecot runs as (`nobody` when we are root, else ourselves).
struct Account {
    root: bool,
    user: String,
    group: String,
    uid: u32,
    gid: u32,
}

fn account() -> &'static Account {
    static ACCOUNT: OnceLock<Account> = OnceLock::new();
    ACCOUNT.get_or_init(|| {
        let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let euid: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("euid");
        let root = euid == 0;
        let who: &[&str] = if root { &["nobody"] } else { &[] };
        let id = |flag: &str| -> String {
            let out = Command::new("id")
                .arg(flag)
                .args(who)
                .output()
                .expect("run id");
            assert!(out.status.success(), "id {flag} {who:?} failed");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        Account {
            root,
            user: id("-un"),
            group: id("-gn"),
            uid: id("-u").parse().unwrap(),
            gid: id("-g").parse().unwrap(),
        }
    })
}

fn lookup_id(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// `n` distinct ports in [`PORT_RANGE`] that are free right now (bind probe).
fn pick_ports(n: usize) -> Vec<u16> {
    let mut ports: Vec<u16> = Vec::new();
    let span = (PORT_RANGE.end - PORT_RANGE.start) as u64;
    while ports.len() < n {
        let p = PORT_RANGE.start + (random_u64() % span) as u16;
        if ports.contains(&p) {
            continue;
        }
        if TcpListener::bind((HOST, p)).is_ok() {
            ports.push(p);
        }
    }
    ports
}

/// Connects to 127.0.0.1:port and returns the first line the server sends, then says
/// `bye` and closes. None if nothing answers.
fn greeting(port: u16, bye: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).ok()?;
    let _ = s.write_all(format!("{bye}\r\n").as_bytes());
    Some(line.trim_end().to_string())
}

/// Waits until `port` greets with `prefix` and our `token`, while `child` lives.
fn wait_greeting(
    child: &mut Child,
    port: u16,
    prefix: &str,
    token: &str,
    bye: &str,
    deadline: Instant,
) -> Result<(), String> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "dovecot exited ({status}) before port {port} greeted"
            ));
        }
        if let Some(line) = greeting(port, bye)
            && line.starts_with(prefix)
            && line.contains(token)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("no greeting on port {port} in time"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh `/tmp/pd-mailstack.XXXXXX` (mode 0755, so that the unprivileged daemon
/// accounts can reach their subfolders) with an `owner` file naming this process.
fn new_instance_dir(kind: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir_in(DIR_PARENT)
        .expect("create instance folder in /tmp");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let me = std::process::id();
    let start = proc_starttime(me as i32).unwrap_or_default();
    write(
        &dir.path().join("owner"),
        format!("{me} {start} {kind}\n").as_bytes(),
    );
    dir
}

/// The random part of the instance folder's name.
fn dir_token(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy();
    format!("mailstack-{}", name.trim_start_matches(DIR_PREFIX))
}

fn record_session(dir: &Path, kind: &str, pid: u32) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("sessions"))
        .expect("open sessions file");
    let _ = writeln!(f, "{kind} {pid}");
}

/// Removes the instance folder, or keeps it if MAILSTACK_KEEP is set.
fn finish_dir(dir: tempfile::TempDir) {
    if std::env::var_os("MAILSTACK_KEEP").is_some_and(|v| !v.is_empty() && v != "0") {
        let path = dir.keep();
        let _ = fs::remove_file(path.join("owner"));
        eprintln!("mailstack: kept {}", path.display());
    } else {
        drop(dir);
    }
}

/// Once per test process: stop and remove instances whose owning test process is gone
/// (it was killed before its `Drop` could run).
fn sweep_stale_instances() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let Ok(rd) = fs::read_dir(DIR_PARENT) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(DIR_PREFIX) {
                continue;
            }
            let dir = e.path();
            let owner = fs::read_to_string(dir.join("owner")).unwrap_or_default();
            let mut it = owner.split_whitespace();
            let owner_alive = match (
                it.next().and_then(|p| p.parse::<i32>().ok()),
                it.next().and_then(|s| s.parse::<u64>().ok()),
            ) {
                (Some(pid), Some(start)) => proc_starttime(pid) == Some(start),
                // no owner file: kept on purpose (MAILSTACK_KEEP), or being created
                _ => true,
            };
            if owner_alive {
                continue;
            }
            let sessions = fs::read_to_string(dir.join("sessions")).unwrap_or_default();
            for line in sessions.lines() {
                if let Some(pid) = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.parse::<i32>().ok())
                    && belongs_to(pid, &dir)
                {
                    kill_session(pid, SIGKILL);
                    wait_session_gone(pid, Duration::from_secs(2));
                }
            }
            let _ = fs::remove_dir_all(&dir);
        }
    });
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot): tells a process
/// from a later one that got the same PID.
fn proc_starttime(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// (state, session id) of a process.
fn proc_state_session(pid: i32) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let session = f.nth(2)?.parse().ok()?;
    Some((state, session))
}

/// The process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    matches!(proc_state_session(pid), Some((s, _)) if s != 'Z' && s != 'X')
}

/// Live (non-zombie) processes whose session id is `sid`.
fn session_members(sid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    if sid <= 1 {
        return pids;
    }
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok())
                && let Some((state, session)) = proc_state_session(pid)
                && session == sid
                && state != 'Z'
                && state != 'X'
            {
                pids.push(pid);
            }
        }
    }
    pids
}

fn kill_session(sid: i32, sig: i32) {
    for pid in session_members(sid) {
        unsafe { kill(pid, sig) };
    }
}

fn wait_session_gone(sid: i32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let left = session_members(sid);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            // late forks: kill again, then give up quietly (teardown must not panic)
            for pid in left {
                unsafe { kill(pid, SIGKILL) };
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `pid` is a daemon of the instance in `dir`: its command line or environment names
/// the folder (Dovecot: `-c DIR/dovecot/dovecot.conf`; Postfix: `MAIL_CONFIG=DIR/postfix`).
fn belongs_to(pid: i32, dir: &Path) -> bool {
    let needle = dir.as_os_str().as_encoded_bytes();
    ["cmdline", "environ"].iter().any(|f| {
        let mut buf = Vec::new();
        fs::File::open(format!("/proc/{pid}/{f}"))
            .and_then(|mut file| file.read_to_end(&mut buf))
            .is_ok()
            && buf.windows(needle.len()).any(|w| w == needle)
    })
}

fn mkdir(p: &Path) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
}

fn write(p: &Path, data: &[u8]) {
    fs::write(p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn chown_tree(p: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
    if p.is_dir()
        && !p.is_symlink()
        && let Ok(rd) = fs::read_dir(p)
    {
        for e in rd.flatten() {
            chown_tree(&e.path(), uid, gid);
        }
    }
}

/// Postfix re-reads a config file until it is ~2 s old ("pausing to let main.cf
/// finish"), which costs every start 2 s: backdate the files by a minute.
fn backdate(dir: &Path) {
    let past = SystemTime::now() - Duration::from_secs(60);
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(f) = fs::File::options().write(true).open(e.path()) {
                let _ = f.set_modified(past);
            }
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
    out.push('\n');
    out
}

/// Sort key of a Maildir file name: `<secs>.M<usecs>...` sorts by delivery time.
fn maildir_key(name: &str) -> (u64, u64, String) {
    let secs = name
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let usecs = name
        .split('.')
        .nth(1)
        .and_then(|s| s.strip_prefix('M'))
        .map(|s| {
            s.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (secs, usecs, name.to_string())
}

/// The (unfolded) value of the first header `name` of a raw message, if any.
pub fn header_line(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let prefix = format!("{}:", name.to_ascii_lowercase());
    while let Some(l) = lines.next() {
        if l.is_empty() {
            return None;
        }
        if l.to_ascii_lowercase().starts_with(&prefix) {
            let mut v = l[prefix.len()..].trim().to_string();
            for cont in lines.by_ref() {
                if cont.starts_with([' ', '\t']) {
                    v.push(' ');
                    v.push_str(cont.trim());
                } else {
                    break;
                }
            }
            return Some(v);
        }
    }
    None
}

// ====================================================================== Postfix, several domains

impl Postfix {
    /// Like [`Postfix::start`], but accepts `<user>@<d>` for every user of `dovecot` and
    /// every domain `d` of `domains`, and delivers all of them into that user's INBOX
    /// (`alice@a.example` and `alice@b.example` both go to Dovecot user `alice`); other
    /// domains are still refused. [`Postfix::domain`] and [`Postfix::address`] use the
    /// first domain. (Started for the first domain, then restarted once with the others
    /// added: ~0.3–0.9 s more than [`Postfix::start`].)
    pub fn start_with_domains(dovecot: &Dovecot, domains: &[&str]) -> Postfix {
        assert!(
            !domains.is_empty(),
            "Postfix::start_with_domains needs a domain"
        );
        let mut me = Postfix::start(dovecot, domains[0]);
        if domains.len() == 1 {
            return me;
        }
        for d in domains {
            assert!(
                !d.is_empty()
                    && d.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "bad mail domain {d:?}"
            );
        }
        me.stop();
        let mut vmailbox = String::new();
        for d in domains {
            for u in dovecot.users() {
                let _ = writeln!(vmailbox, "{u}@{d} OK");
            }
        }
        write(&me.root.join("postfix/vmailbox"), vmailbox.as_bytes());
        let main_cf = me.root.join("postfix/main.cf");
        let text = fs::read_to_string(&main_cf).expect("read main.cf");
        let old = format!("\nvirtual_mailbox_domains = {}\n", domains[0]);
        assert!(text.contains(&old), "main.cf without {old:?}");
        let new = format!("\nvirtual_mailbox_domains = {}\n", domains.join(", "));
        write(&main_cf, text.replacen(&old, &new, 1).as_bytes());
        backdate(&me.root.join("postfix"));
        me.start_again();
        me
    }
}
