//! The attacks on the daemon itself, end to end against the suite's Dovecot and Postfix:
//! one hostile mail must not hold up the mail behind it or the report, must not write to
//! an agent's terminal, and the smaller holes (secrets in the trace log, readable database
//! files, overlong outgoing header lines, the References parent, quoted local parts) stay
//! shut. What was delivered is read back from the mailboxes.

#[path = "support/e2e.rs"]
mod e2e;

use std::os::unix::fs::PermissionsExt;

use e2e::*;

fn alice() -> String {
    format!("alice@{CUSTOMERS}")
}

fn desk(stack: &Stack) -> Daemon {
    let mut daemon = Daemon::new();
    daemon.configure(stack, "support", SUPPORT, "ack_delay = \"1s\"", "", "");
    daemon.start();
    daemon
}

/// An ordinary request behind the hostile mail; returns its Message-ID.
fn ordinary_request(stack: &Stack) -> String {
    let normal = unique_id("normal");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &alice(),
            SUPPORT,
            "Cannot log in",
            &normal,
            "",
            "Please help.",
        ),
    );
    normal
}

/// Attack 4 and 5: a 4 MB subject of a million `Re: ` and a subject of 200,000 distinct
/// words, in the INBOX before an ordinary request. The request is filed (within the
/// harness's arrival wait, where it took minutes before), the report is computed, and what
/// the store derived from the subjects is bounded.
#[test]
fn hostile_subjects_hold_up_nothing() {
    let stack = Stack::start(&["support", "alice"]);
    let re = unique_id("re-bomb");
    let subject = format!("{}x", "Re: ".repeat(1_000_000));
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            "Mallory <mallory@evil.example>",
            SUPPORT,
            &subject,
            &re,
            "",
            "hi",
        ),
    );
    let words = unique_id("word-bomb");
    let subject: String = (0..200_000).map(|n| format!("w{n} ")).collect();
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            "Mallory <mallory@evil.example>",
            SUPPORT,
            &subject,
            &words,
            "",
            "hi",
        ),
    );
    let normal = ordinary_request(&stack);
    let daemon = desk(&stack);
    daemon.wait_filed(&normal);
    for id in [&re, &words] {
        let ticket = daemon.wait_filed(id);
        let t = ticket_json(&daemon, ticket);
        let stored = t["messages"][0]["subject"].as_str().unwrap();
        assert!(stored.chars().count() <= 1000, "{} chars", stored.len());
    }
    let report = daemon.json(&["report", "--since", "7d", "--json"]);
    let topics = report["topics"].as_array().map_or(0, Vec::len);
    assert!(topics <= 50, "{topics} topics");
}

/// Attack 6: a mail that tries to set the terminal title, write the clipboard (OSC 52),
/// clear the screen and draw a fake line, in its subject, body, sender name and attachment
/// type. `postdesk ticket` shows all of it, with no control byte reaching the terminal.
#[test]
fn mail_cannot_write_to_an_agents_terminal() {
    let stack = Stack::start(&["support", "alice"]);
    let id = unique_id("escapes");
    let raw = format!(
        "From: =?utf-8?q?Eve=1B]0;pwned=07?= <eve@evil.example>\r\nTo: {SUPPORT}\r\n\
         Subject: =?utf-8?q?Order=1B]52;c;ZXZpbA=3D=3D=07_late?=\r\nMessage-ID: <{id}>\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello\x1b[2J\x1b[H\r\nTicket closed by admin\rmore\x7f\u{9b}31m\r\n\
         --b\r\nContent-Type: =?utf-8?q?image/png=1B]52;c;eA=3D=3D=07?=; name=\"a\x1b[1mb.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n--b--\r\n",
        date = rfc2822_now()
    );
    stack.dovecot.append("support", "INBOX", raw.as_bytes());
    let daemon = desk(&stack);
    let ticket = daemon.wait_filed(&id);
    let shown = daemon.cli_output(&["ticket", &(ticket + REF_OFFSET).to_string()]);
    assert!(shown.status.success());
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("Ticket closed by admin"), "{text}");
    for (n, c) in text.chars().enumerate() {
        let control = (c.is_control() && c != '\n' && c != '\t')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        assert!(!control, "control {:?} at {n} in:\n{text}", c);
    }
}

/// The smaller items of attack 7, in one desk: `POSTDESK_LOG=trace` logs no password; the
/// database files are the owner's only; a 5,000-character subject without spaces goes out
/// in header lines of at most 998 characters and reads back whole; a reply whose parent is
/// the last of 150 References threads; quoted local parts stay separate people.
#[test]
fn the_smaller_holes_stay_shut() {
    // SAFETY: this test binary runs this one test in its own process (nextest).
    unsafe { std::env::set_var("E2E_POSTDESK_LOG", "trace") };
    let stack = Stack::start(&["support", "alice"]);
    let daemon = desk(&stack);
    let long_word = "x".repeat(5_000);
    let request = unique_id("long-subject");
    submit(
        &stack,
        &alice(),
        &[SUPPORT],
        &mail(
            &alice(),
            SUPPORT,
            &format!("Help {long_word}"),
            &request,
            "",
            "Please.",
        ),
    );
    let ticket = daemon.wait_filed(&request);
    let ack = daemon.wait("the acknowledgement", ARRIVAL, || {
        acks_in(&stack, "alice").into_iter().next()
    });
    // The mailbox may store lines with LF only.
    let text = String::from_utf8_lossy(&ack).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap();
    for line in head.lines() {
        assert!(
            line.len() <= 998,
            "a header line of {} bytes: {}...",
            line.len(),
            line.chars().take(120).collect::<String>()
        );
    }
    // The subject reads back as the desk stored it (cut to a sane length).
    let (subject, _) = subject_and_body(&ack);
    let stored = ticket_json(&daemon, ticket)["subject"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(stored.starts_with("Help xxxx"), "{stored}");
    assert!(subject.ends_with(&stored), "{subject}\n{stored}");

    let ack_id = header(&ack, "Message-ID").unwrap();
    let many: String = (0..149).map(|n| format!("<old{n}@{CUSTOMERS}> ")).collect();
    let reply = unique_id("reply");
    submit(
        &stack,
        &alice(),
        &[SUPPORT],
        &mail(
            &alice(),
            SUPPORT,
            "Another matter entirely",
            &reply,
            &format!("References: {many}{ack_id}\n"),
            "Any news?",
        ),
    );
    assert_eq!(daemon.wait_filed(&reply), ticket);

    let (a, b) = (unique_id("quoted-a"), unique_id("quoted-b"));
    for (id, local) in [(&a, "\"<x>\""), (&b, "\"<y>\"")] {
        stack.dovecot.append(
            "support",
            "INBOX",
            &mail(
                &format!("{local}@{CUSTOMERS}"),
                SUPPORT,
                "Order",
                id,
                "",
                "Hello.",
            ),
        );
    }
    let (ta, tb) = (daemon.wait_filed(&a), daemon.wait_filed(&b));
    assert_ne!(ta, tb, "two quoted local parts are one person");
    for t in [ta, tb] {
        let customer = ticket_json(&daemon, t)["customer"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(customer.len() > CUSTOMERS.len() + 1, "{customer}");
    }

    let password = stack.dovecot.password("support");
    assert!(
        !daemon.log().contains(&password),
        "the IMAP password is in the log"
    );
    for name in ["postdesk.db", "postdesk.db-wal", "postdesk.db-shm"] {
        let path = daemon.path(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{name}");
        } else {
            assert_eq!(name, "postdesk.db-shm", "{name} missing");
        }
    }
}

/// Attack 5: six mails of 6 MB subjects (three quarters of a million distinct words each)
/// in one IMAP catch-up, then an ordinary request. All are filed once, the request too (no
/// batch re-fetched forever), and the daemon's peak memory stays under the unit's
/// `MemoryMax=1G`, where six such mails took 2 GB before.
#[test]
fn a_batch_of_huge_subjects_is_filed_within_the_memory_limit() {
    let stack = Stack::start(&["support", "alice"]);
    let subject: String = (0..750_000).map(|n| format!("w{n} ")).collect();
    let ids: Vec<String> = (0..6).map(|n| unique_id(&format!("huge-{n}"))).collect();
    let raws: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| {
            mail(
                "Mallory <mallory@evil.example>",
                SUPPORT,
                &subject,
                id,
                "",
                "hi",
            )
        })
        .collect();
    stack.dovecot.append_bulk("support", "INBOX", &raws);
    let normal = ordinary_request(&stack);
    let daemon = desk(&stack);
    daemon.wait_filed(&normal);
    for id in &ids {
        daemon.wait_filed(id);
    }
    assert_eq!(
        daemon.count("SELECT count(*) FROM messages"),
        Some(7),
        "each filed once"
    );
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", daemon.pid().unwrap())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc");
    println!("daemon peak RSS: {} MB", peak_kb / 1024);
    assert!(peak_kb < 1024 * 1024, "peak RSS {} MB", peak_kb / 1024);
}
