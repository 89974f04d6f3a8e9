//! Proves the test harness in tests/support/mailstack.rs against the real servers:
//! plain IMAP and SMTP conversations over std TcpStreams, no client library.

#[path = "support/mailstack.rs"]
mod mailstack;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailstack::{Dovecot, Postfix};

const DOMAIN: &str = "example.test";

// ---------------------------------------------------------------- tiny IMAP client

struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

/// Untagged lines and the tagged completion line of one command.
struct Reply {
    untagged: Vec<String>,
    status: String,
}

impl Reply {
    fn ok(&self) -> bool {
        self.status.split_whitespace().nth(1) == Some("OK")
    }
    fn has(&self, needle: &str) -> bool {
        self.untagged.iter().any(|l| l.contains(needle))
    }
}

impl Imap {
    fn connect(port: u16) -> Imap {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect IMAP");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut imap = Imap {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            tag: 0,
        };
        let greeting = imap.line();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        imap
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        let n = self.reader.read_line(&mut l).expect("read IMAP line");
        assert!(n > 0, "IMAP server closed the connection");
        l.trim_end().to_string()
    }

    fn send(&mut self, text: &str) {
        self.writer
            .write_all(format!("{text}\r\n").as_bytes())
            .unwrap();
    }

    fn cmd(&mut self, command: &str) -> Reply {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.send(&format!("{tag} {command}"));
        let mut untagged = Vec::new();
        loop {
            let l = self.line();
            if l.starts_with(&format!("{tag} ")) {
                return Reply {
                    untagged,
                    status: l,
                };
            }
            untagged.push(l);
        }
    }

    fn login(port: u16, user: &str, password: &str) -> Imap {
        let mut imap = Imap::connect(port);
        let r = imap.cmd(&format!("LOGIN {user} {password}"));
        assert!(r.ok(), "LOGIN {user}: {}", r.status);
        imap
    }
}

fn exists(r: &Reply) -> u32 {
    r.untagged
        .iter()
        .find_map(|l| l.strip_suffix(" EXISTS")?.strip_prefix("* ")?.parse().ok())
        .unwrap_or_else(|| panic!("no EXISTS in {:?}", r.untagged))
}

fn uidvalidity(r: &Reply) -> u32 {
    r.untagged
        .iter()
        .find_map(|l| {
            let rest = l.split("[UIDVALIDITY ").nth(1)?;
            rest.split(']').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no UIDVALIDITY in {:?}", r.untagged))
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Customer <customer@elsewhere.test>\r\nTo: alice@{DOMAIN}\r\n\
         Subject: {subject}\r\nMessage-ID: <{subject}@elsewhere.test>\r\n\
         Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nHello,\r\nmy printer is on fire.\r\n"
    )
    .into_bytes()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

// ---------------------------------------------------------------- tiny SMTP client

struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    fn connect(port: u16) -> Smtp {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect SMTP");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut smtp = Smtp {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        let (code, text) = smtp.reply();
        assert_eq!(code, 220, "greeting: {text}");
        smtp
    }

    /// Reads a (multi-line) reply: code and all text.
    fn reply(&mut self) -> (u16, String) {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            let n = self.reader.read_line(&mut l).expect("read SMTP line");
            assert!(n > 0, "SMTP server closed the connection");
            all.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                return (l[..3].parse().expect("SMTP code"), all);
            }
        }
    }

    fn cmd(&mut self, line: &str) -> (u16, String) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    fn expect(&mut self, line: &str, code: u16) -> String {
        let (c, text) = self.cmd(line);
        assert_eq!(c, code, "{line} -> {text}");
        text
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn dovecot_login_capability_append_select_keywords() {
    let dovecot = Dovecot::start(&["alice", "bob"]);
    eprintln!("Dovecot ready in {:?}", dovecot.startup_time());
    assert_eq!(dovecot.host(), "127.0.0.1");
    assert_eq!(dovecot.password("alice"), "secret-alice");

    let mut imap = Imap::login(dovecot.imap_port(), "alice", "secret-alice");
    let caps = imap.cmd("CAPABILITY");
    assert!(caps.ok());
    let cap_line = caps
        .untagged
        .iter()
        .find(|l| l.starts_with("* CAPABILITY"))
        .expect("CAPABILITY line");
    for cap in [" IDLE", " UIDPLUS", " MOVE", " SPECIAL-USE"] {
        assert!(cap_line.contains(cap), "{cap} missing: {cap_line}");
    }

    // Sent is created and subscribed on first access, with its special-use flag
    let list = imap.cmd(r#"LIST "" "*""#);
    assert!(list.ok());
    assert!(
        list.untagged
            .iter()
            .any(|l| l.contains("\\Sent") && l.ends_with("Sent")),
        "no \\Sent folder: {:?}",
        list.untagged
    );

    let empty = imap.cmd("SELECT INBOX");
    assert!(empty.ok(), "{}", empty.status);
    assert_eq!(exists(&empty), 0);
    imap.cmd("UNSELECT");

    dovecot.append("alice", "INBOX", &message("first-ticket"));
    let sel = imap.cmd("SELECT INBOX");
    assert!(sel.ok(), "{}", sel.status);
    assert_eq!(exists(&sel), 1);
    // any keyword may be stored
    assert!(
        sel.has("PERMANENTFLAGS (") && sel.has("\\*)"),
        "{:?}",
        sel.untagged
    );

    let store = imap.cmd("UID STORE 1 +FLAGS ($Ticketed $SLABreached \\Seen)");
    assert!(store.ok(), "{}", store.status);
    let flags = dovecot.imap_fetch_flags("alice", "INBOX");
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].0, 1);
    for f in ["$Ticketed", "$SLABreached", "\\Seen"] {
        assert!(flags[0].1.iter().any(|x| x == f), "{f} missing: {flags:?}");
    }
    let fetched = imap.cmd("UID FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(fetched.ok());
    assert!(fetched.has("$Ticketed"), "{:?}", fetched.untagged);
    assert!(
        fetched.has("Subject: first-ticket"),
        "{:?}",
        fetched.untagged
    );

    // the Maildir holds it, readable by the tests
    let raw = dovecot.wait_for_message(
        "alice",
        "INBOX",
        |m| contains(m, "first-ticket"),
        Duration::from_secs(1),
    );
    assert!(contains(&raw, "printer is on fire"));
    assert!(dovecot.maildir("alice").join("cur").is_dir());

    // other folders: created on demand by append
    dovecot.append("alice", "Queues/Billing", &message("billing-1"));
    let b = imap.cmd("SELECT Queues/Billing");
    assert!(b.ok(), "{}", b.status);
    assert_eq!(exists(&b), 1);
    assert_eq!(dovecot.messages("alice", "Queues/Billing").len(), 1);

    // bob: separate mailbox; wrong password refused at once (no delay configured)
    let mut bob = Imap::login(dovecot.imap_port(), "bob", "secret-bob");
    assert_eq!(exists(&bob.cmd("SELECT INBOX")), 0);
    let mut bad = Imap::connect(dovecot.imap_port());
    let t = Instant::now();
    let r = bad.cmd("LOGIN bob wrong");
    assert!(!r.ok() && r.status.contains("NO"), "{}", r.status);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // the full address works as login name too
    Imap::login(dovecot.imap_port(), "bob@example.test", "secret-bob");
    imap.cmd("LOGOUT");
}

#[test]
fn idle_sees_appended_message() {
    let dovecot = Dovecot::start(&["alice"]);
    let mut imap = Imap::login(dovecot.imap_port(), "alice", "secret-alice");
    assert_eq!(exists(&imap.cmd("SELECT INBOX")), 0);
    imap.send("i1 IDLE");
    let cont = imap.line();
    assert!(cont.starts_with('+'), "{cont}");
    let t = Instant::now();
    dovecot.append("alice", "INBOX", &message("idle-1"));
    loop {
        let l = imap.line(); // 10 s read timeout
        if l == "* 1 EXISTS" {
            break;
        }
    }
    eprintln!("IDLE saw the append after {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(5));
    imap.send("DONE");
    loop {
        let l = imap.line();
        if l.starts_with("i1 ") {
            assert!(l.starts_with("i1 OK"), "{l}");
            break;
        }
    }
}

#[test]
fn postfix_delivers_into_dovecot_inbox() {
    let dovecot = Dovecot::start(&["alice", "bob"]);
    let t = Instant::now();
    let postfix = Postfix::start(&dovecot, DOMAIN);
    eprintln!(
        "Dovecot ready in {:?}, Postfix in {:?} (measured here {:?})",
        dovecot.startup_time(),
        postfix.startup_time(),
        t.elapsed()
    );
    assert_ne!(postfix.smtp_port(), dovecot.imap_port());
    assert_eq!(postfix.address("alice"), "alice@example.test");

    let mut smtp = Smtp::connect(postfix.smtp_port());
    let ehlo = smtp.expect("EHLO client.elsewhere.test", 250);
    assert!(ehlo.contains("AUTH"), "{ehlo}");
    smtp.expect("MAIL FROM:<customer@elsewhere.test>", 250);
    // unknown user of the domain, and other domains: refused at RCPT
    let (c, text) = smtp.cmd(&format!("RCPT TO:<nosuchuser@{DOMAIN}>"));
    assert_eq!(c, 550, "{text}");
    let (c, text) = smtp.cmd("RCPT TO:<someone@other.test>");
    assert_eq!(c, 554, "{text}");
    assert!(text.contains("Relay access denied"), "{text}");
    smtp.expect(&format!("RCPT TO:<alice@{DOMAIN}>"), 250);
    smtp.expect("DATA", 354);
    let mut body = message("smtp-delivery-1");
    body.extend_from_slice(b".\r\n");
    smtp.writer.write_all(&body).unwrap();
    let (c, text) = smtp.reply();
    assert_eq!(c, 250, "{text}");
    smtp.expect("QUIT", 221);
    let sent = Instant::now();

    let raw = dovecot.wait_for_message(
        "alice",
        "INBOX",
        |m| contains(m, "Subject: smtp-delivery-1"),
        Duration::from_secs(10),
    );
    eprintln!("delivered into the Maildir after {:?}", sent.elapsed());
    assert!(contains(&raw, "printer is on fire"));
    assert!(contains(&raw, "Return-Path: <customer@elsewhere.test>"));
    // and Dovecot indexed it: IMAP sees it
    let mut imap = Imap::login(dovecot.imap_port(), "alice", "secret-alice");
    assert_eq!(exists(&imap.cmd("SELECT INBOX")), 1);
    assert!(dovecot.messages("bob", "INBOX").is_empty());
    // Postfix logs the delivery after LMTP's answer: the message can be in the Maildir first.
    let logged = Instant::now() + Duration::from_secs(10);
    while !postfix.log().contains("status=sent") {
        assert!(
            Instant::now() < logged,
            "no status=sent in\n{}",
            postfix.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // SMTP AUTH against the Dovecot users works over plaintext
    let mut smtp = Smtp::connect(postfix.smtp_port());
    smtp.expect("EHLO client", 250);
    // base64("\0bob\0secret-bob")
    smtp.expect("AUTH PLAIN AGJvYgBzZWNyZXQtYm9i", 235);
    // ... and still relays nothing
    smtp.expect("MAIL FROM:<bob@example.test>", 250);
    let (c, text) = smtp.cmd("RCPT TO:<someone@other.test>");
    assert_eq!(c, 554, "{text}");
    smtp.expect("QUIT", 221);
}

#[test]
fn postfix_stop_and_start_again() {
    let dovecot = Dovecot::start(&["alice"]);
    let mut postfix = Postfix::start(&dovecot, DOMAIN);
    let port = postfix.smtp_port();
    let t = Instant::now();
    postfix.stop();
    eprintln!("Postfix stop took {:?}", t.elapsed());
    assert!(!postfix.is_running());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    let t = Instant::now();
    postfix.start_again();
    eprintln!("Postfix start_again took {:?}", t.elapsed());
    assert_eq!(postfix.smtp_port(), port);
    let mut smtp = Smtp::connect(port);
    smtp.expect("HELO client", 250);
    smtp.expect("MAIL FROM:<c@elsewhere.test>", 250);
    smtp.expect("RCPT TO:<alice@example.test>", 250);
    smtp.expect("DATA", 354);
    smtp.writer
        .write_all(b"Subject: after-restart\r\n\r\nhi\r\n.\r\n")
        .unwrap();
    assert_eq!(smtp.reply().0, 250);
    dovecot.wait_for_message(
        "alice",
        "INBOX",
        |m| contains(m, "after-restart"),
        Duration::from_secs(10),
    );
}

#[test]
fn dovecot_stop_and_start_again_keeps_port_and_mail() {
    let mut dovecot = Dovecot::start(&["alice"]);
    let port = dovecot.imap_port();
    dovecot.append("alice", "INBOX", &message("before-restart"));
    let mut imap = Imap::login(port, "alice", "secret-alice");
    assert_eq!(exists(&imap.cmd("SELECT INBOX")), 1);

    let t = Instant::now();
    dovecot.stop();
    eprintln!("Dovecot stop took {:?}", t.elapsed());
    assert!(!dovecot.is_running());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    // the old session is gone
    let mut buf = String::new();
    let n = imap.reader.read_line(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "old connection still answers: {buf}");
    // append while stopped goes straight into the Maildir
    dovecot.append("alice", "INBOX", &message("while-stopped"));

    let t = Instant::now();
    dovecot.start_again();
    eprintln!("Dovecot start_again took {:?}", t.elapsed());
    assert_eq!(dovecot.imap_port(), port);
    let mut imap = Imap::login(port, "alice", "secret-alice");
    assert_eq!(exists(&imap.cmd("SELECT INBOX")), 2);
    let subjects = imap.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(subjects.has("before-restart") && subjects.has("while-stopped"));
}

#[test]
fn two_dovecots_at_once() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Dovecot::start(&["alice"]));
        let b = s.spawn(|| Dovecot::start(&["alice", "carol"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.imap_port(), b.imap_port());
    assert_ne!(a.lmtp_port(), b.lmtp_port());
    assert_ne!(a.dir(), b.dir());
    a.append("alice", "INBOX", &message("only-in-a"));
    let mut ia = Imap::login(a.imap_port(), "alice", "secret-alice");
    let mut ib = Imap::login(b.imap_port(), "alice", "secret-alice");
    assert_eq!(exists(&ia.cmd("SELECT INBOX")), 1);
    assert_eq!(exists(&ib.cmd("SELECT INBOX")), 0);
    // carol only exists in b
    let mut c = Imap::connect(a.imap_port());
    assert!(!c.cmd("LOGIN carol secret-carol").ok());
    Imap::login(b.imap_port(), "carol", "secret-carol");
}

#[test]
fn recreate_folder_changes_uidvalidity() {
    let dovecot = Dovecot::start(&["alice"]);
    dovecot.append("alice", "Queues/Billing", &message("b1"));
    dovecot.append("alice", "INBOX", &message("i1"));
    let mut imap = Imap::login(dovecot.imap_port(), "alice", "secret-alice");
    let before = imap.cmd("SELECT Queues/Billing");
    assert_eq!(exists(&before), 1);
    let old = uidvalidity(&before);
    assert_eq!(old, dovecot.uid_validity("alice", "Queues/Billing"));
    imap.cmd("UNSELECT");

    let new = dovecot.recreate_folder("alice", "Queues/Billing");
    assert_ne!(new, old);
    let after = imap.cmd("SELECT Queues/Billing");
    assert!(after.ok(), "{}", after.status);
    assert_eq!(exists(&after), 0);
    assert_eq!(uidvalidity(&after), new);
    imap.cmd("UNSELECT");

    let old_inbox = uidvalidity(&imap.cmd("SELECT INBOX"));
    imap.cmd("UNSELECT");
    let new_inbox = dovecot.recreate_folder("alice", "INBOX");
    assert_ne!(new_inbox, old_inbox);
    let inbox = imap.cmd("SELECT INBOX");
    assert_eq!(uidvalidity(&inbox), new_inbox);
    assert_eq!(exists(&inbox), 0);

    // a folder that did not exist yet is simply created
    dovecot.recreate_folder("alice", "Queues/New");
    assert!(imap.cmd("SELECT Queues/New").ok());
}

#[test]
fn drop_kills_everything_and_removes_the_folder() {
    let dovecot = Dovecot::start(&["alice"]);
    let postfix = Postfix::start(&dovecot, DOMAIN);
    let dirs: Vec<PathBuf> = vec![dovecot.dir().to_path_buf(), postfix.dir().to_path_buf()];
    let pids = [dovecot.master_pid().unwrap(), postfix.master_pid().unwrap()];
    let ports = [
        dovecot.imap_port(),
        dovecot.lmtp_port(),
        postfix.smtp_port(),
    ];
    drop(postfix);
    drop(dovecot);
    for d in &dirs {
        assert!(!d.exists(), "{} still there", d.display());
    }
    for pid in pids {
        // no live process is left in the daemons' sessions
        let mut left = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.get(3) == Some(&pid.to_string().as_str()) && f[0] != "Z" {
                left.push(e.file_name());
            }
        }
        assert!(left.is_empty(), "session {pid} still has {left:?}");
    }
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{port} open"
        );
    }
}
