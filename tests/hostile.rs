//! Hostile input: header injection through every header postdesk reuses in the mail it
//! sends (Subject, the sender's display name, Message-ID, References, In-Reply-To), template
//! and SQL text in subjects, a 50 MB attachment, 100,000 recipients, 10,000 levels of MIME
//! nesting, charsets that do not exist. Each message gets a ticket (parsed, or quarantined
//! as unparsed with the reason), a log line, and never a crash or an injected header.
//!
//! The header and template cases go end to end — the real daemon, its outbox, Postfix,
//! Dovecot — and the delivered mail's header block is read back. The others go through
//! the pipeline under the checks of tests/support/checked_pipeline.rs (filed, readable,
//! one-line header values, and no injected header in the acknowledgement or relay mail
//! each one causes). Bad input already covered by tests/pipeline.rs (NUL bytes in headers,
//! header floods, oversized raw mail, no header at all) is not repeated here.

#[path = "support/checked_pipeline.rs"]
mod checked_pipeline;
#[path = "support/e2e.rs"]
mod e2e;

use checked_pipeline::{CheckedDesks, Filing, OUTGOING_HEADERS};
use e2e::*;
use postdesk::store::Filed;

const ANNA: &str = "anna@example.com";

/// Headers the MTA and the mailbox add on the way in, in front of what postdesk wrote.
const TRACE_HEADERS: &[&str] = &["return-path", "delivered-to", "received", "x-original-to"];

/// The header block of a delivered mail holds only the headers postdesk writes (each once)
/// after the trace headers of the delivery.
fn assert_no_injected_header(what: &str, raw: &[u8]) {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let name = line
            .split_once(':')
            .map(|(n, _)| n.trim().to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{what}: header line without a name: {line:?}\n{head}"));
        if TRACE_HEADERS.contains(&name.as_str()) {
            continue;
        }
        assert!(
            OUTGOING_HEADERS.contains(&name.as_str()),
            "{what}: injected header {line:?}\n{head}"
        );
        assert!(!seen.contains(&name), "{what}: {name} twice\n{head}");
        seen.push(name);
    }
}

fn crlf(text: &str) -> Vec<u8> {
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

/// Eve's request: encoded CR, LF and NUL in her display name and subject, and
/// Message-ID, In-Reply-To and References that run into folded `Bcc:` lines.
fn eve_request(nonce: &str) -> Vec<u8> {
    crlf(&format!(
        "From: =?utf-8?Q?Eve=0D=0ABcc:_victim@customer.example=00?= <eve@customer.example>\n\
         To: {SUPPORT}\n\
         Subject: =?utf-8?Q?Refund_please=0D=0ABcc:_victim@customer.example=0D=0A=0D=0Ainjected_body=00?=\n\
         Date: {date}\n\
         Message-ID: <eve.{nonce}\n\tBcc: victim@customer.example>\n\
         In-Reply-To: <p.{nonce}@customer.example>\n Bcc: victim@customer.example\n\
         References: <r1.{nonce}@customer.example>\n\tX-Injected: yes\n <r2.{nonce}@customer.example>\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         Hello,\n\nI was charged twice. Please refund one payment.\n\nEve\n",
        date = rfc2822_now()
    ))
}

const TEMPLATE_AND_SQL: &str = "{{#each tickets}}{{this}}{{/each}} {{> partial}} {{{raw}}} \
                                '; DROP TABLE tickets; --";

/// Through the real outbox, Postfix and Dovecot: the acknowledgement and the relayed mail
/// built from Eve's hostile headers arrive with no header of hers (nothing reaches the
/// `victim`), her words stay in the Subject; a subject of handlebars and SQL comes back
/// literally in its acknowledgement and leaves the database alone.
#[test]
fn hostile_headers_and_subjects_never_escape_their_header() {
    let stack = Stack::start(&["support", "eve", "bobby", "anna", "victim"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1s\"",
        "",
        &format!("[[queue]]\nname = \"support\"\nagents = [\"{ANNA}\"]\nmode = \"relay\"\n"),
    );
    daemon.start();
    let nonce = unique_id("n").replace('@', ".");
    stack
        .dovecot
        .append("support", "INBOX", &eve_request(&nonce));
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("\"Robert'); DROP TABLE tickets;--\" <bobby@{CUSTOMERS}>"),
            SUPPORT,
            TEMPLATE_AND_SQL,
            &unique_id("bobby"),
            "",
            "{{#if admin}}secret{{/if}} \\{{escaped}} '; DELETE FROM messages; --",
        ),
    );
    let eve = format!("eve@{CUSTOMERS}");
    let bobby = format!("bobby@{CUSTOMERS}");
    let eve_ticket = daemon.wait_ticket(&eve);
    let bobby_ticket = daemon.wait_ticket(&bobby);

    // Eve's acknowledgement and the forward to Anna.
    let ack = daemon.wait("Eve's acknowledgement", ARRIVAL, || {
        acks_in(&stack, "eve").into_iter().next()
    });
    assert_no_injected_header("acknowledgement", &ack);
    let (subject, _) = subject_and_body(&ack);
    assert!(
        subject.contains("Refund please Bcc: victim@customer.example injected body"),
        "{subject:?}"
    );
    let in_reply_to = header(&ack, "In-Reply-To").unwrap();
    assert_eq!(
        in_reply_to,
        format!("<eve.{nonce}Bcc:victim@customer.example>"),
        "In-Reply-To of the acknowledgement"
    );
    let forward = daemon.wait("the forward to Anna", ARRIVAL, || {
        postdesk_mail_in(&stack, "anna", "relay_forward")
            .into_iter()
            .find(|m| subject_and_body(m).0.contains("Refund please"))
    });
    assert_no_injected_header("relay forward", &forward);
    let parsed = mail_parser::MessageParser::default()
        .parse(&forward)
        .unwrap();
    let from_name = parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        from_name, "Eve Bcc: victim@customer.example via Example Support",
        "the forward's From"
    );

    // Anna answers through the secret Reply-To: the relayed answer threads under Eve's
    // hostile Message-IDs and carries none of her lines.
    let reply_to = header(&forward, "Reply-To").unwrap();
    let token_address = reply_to
        .rsplit_once('<')
        .map(|(_, a)| a.trim_end_matches('>').to_string())
        .unwrap_or(reply_to);
    let forward_id = header(&forward, "Message-ID").unwrap();
    submit(
        &stack,
        ANNA,
        &[&token_address],
        &mail(
            &format!("Anna Koval <{ANNA}>"),
            &token_address,
            &format!("Re: {}", subject_and_body(&forward).0),
            &unique_id("anna"),
            &format!("In-Reply-To: {forward_id}\nReferences: {forward_id}\n"),
            "Hello Eve,\n\nthe second payment is refunded.\n\nAnna",
        ),
    );
    let answer = daemon.wait("the relayed answer to Eve", ARRIVAL, || {
        postdesk_mail_in(&stack, "eve", "relay_answer")
            .into_iter()
            .next()
    });
    assert_no_injected_header("relayed answer", &answer);
    let references = header(&answer, "References").unwrap();
    assert!(
        !references.contains("X-Injected") && references.contains(&format!("r2.{nonce}")),
        "References of the relayed answer: {references}"
    );

    // Bobby's subject came back as he wrote it.
    let bobby_ack = daemon.wait("Bobby's acknowledgement", ARRIVAL, || {
        acks_in(&stack, "bobby").into_iter().next()
    });
    assert_no_injected_header("acknowledgement", &bobby_ack);
    let (subject, body) = subject_and_body(&bobby_ack);
    assert!(subject.contains(TEMPLATE_AND_SQL), "{subject:?}");
    assert!(!body.contains("secret"), "{body}");
    let t = ticket_json(&daemon, bobby_ticket);
    assert_eq!(t["subject"], TEMPLATE_AND_SQL, "{t:#}");
    assert_eq!(
        t["customer_name"], "Robert'); DROP TABLE tickets;--",
        "{t:#}"
    );

    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(stack.inbox("victim").len(), 0, "the victim got mail");
    assert_eq!(
        daemon.count("SELECT count(*) FROM tickets"),
        Some(2),
        "Eve's and Bobby's tickets, nothing else, nothing dropped"
    );
    assert_eq!(acks_in(&stack, "eve").len(), 1);
    assert_eq!(acks_in(&stack, "bobby").len(), 1);
    let log = std::fs::read_to_string(daemon.path("postdesk.log")).unwrap();
    for ticket in [eve_ticket, bobby_ticket] {
        let line = format!("#{}: new ticket (request)", ticket + REF_OFFSET);
        assert!(log.contains(&line), "no {line:?} in the log");
    }
    assert!(!log.contains("panicked"), "{log}");
}

/// Bytes that look random and do not compress (deterministic).
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38);
    for (i, chunk) in data.chunks(3).enumerate() {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

/// Peak resident memory of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

/// A request with a 50 MB attachment (67 MB of base64: over `max_message_bytes`) comes in
/// through IMAP: stored whole as an unparsed ticket, a log line with the reason, no
/// acknowledgement, and the daemon goes on (the next customer is acknowledged) with its
/// memory bounded by a few copies of that one message.
#[test]
fn a_50_mb_attachment_is_quarantined_with_its_reason() {
    let stack = Stack::start(&["support", "big", "carol"]);
    let mut daemon = Daemon::new();
    daemon.configure(&stack, "support", SUPPORT, "ack_delay = \"1s\"", "", "");
    daemon.start();
    daemon.wait("the daemon connected", ARRIVAL, || {
        daemon.log().contains("connected").then_some(())
    });
    let idle_rss = peak_rss(daemon.pid().unwrap());
    let attachment = base64_lines(&noise(50 * 1024 * 1024));
    let big = crlf(&format!(
        "From: Big Sender <big@{CUSTOMERS}>\nTo: {SUPPORT}\nSubject: The log files you asked for\n\
         Date: {date}\nMessage-ID: <{id}>\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n\
         Content-Type: text/plain; charset=utf-8\n\nHere are the logs.\n--b1\n\
         Content-Type: application/octet-stream; name=\"logs.tar\"\n\
         Content-Transfer-Encoding: base64\n\
         Content-Disposition: attachment; filename=\"logs.tar\"\n\n",
        date = rfc2822_now(),
        id = unique_id("big")
    ));
    let mut big = big;
    big.extend_from_slice(attachment.as_bytes());
    big.extend_from_slice(b"\r\n--b1--\r\n");
    let size = big.len();
    assert!(
        size > 52_428_800,
        "{size} bytes: not over the default limit"
    );
    stack.dovecot.append_bulk("support", "INBOX", &[big]);
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("carol@{CUSTOMERS}"),
            SUPPORT,
            "Where is my parcel?",
            &unique_id("carol"),
            "",
            "Hello, parcel 77 has not arrived. Carol",
        ),
    );
    daemon.wait("Carol's acknowledgement", ARRIVAL, || {
        acks_in(&stack, "carol").into_iter().next()
    });
    let big_ticket = daemon
        .count("SELECT id FROM tickets WHERE unparsed = 1")
        .expect("the quarantined ticket");
    let t = ticket_json(&daemon, big_ticket);
    assert_eq!(t["unparsed"], true, "{t:#}");
    assert_eq!(t["status"], "new", "{t:#}");
    let message = &t["messages"][0];
    assert_eq!(
        message["size"], size as i64,
        "the raw message is kept whole"
    );
    let reason = message["parse_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "message is {size} bytes, over the limit of 52428800"
        )),
        "{reason}"
    );
    let log = std::fs::read_to_string(daemon.path("postdesk.log")).unwrap();
    let line = format!(
        "#{}: stored unparsed (message is {size} bytes, over the limit of 52428800 \
         (ingest.max_message_bytes)); not acknowledged",
        big_ticket + REF_OFFSET
    );
    assert!(
        log.contains(&line),
        "no {line:?} in the log:\n{}",
        daemon.log()
    );
    assert_eq!(
        daemon.count(&format!(
            "SELECT count(*) FROM outbox WHERE ticket_id = {big_ticket} AND kind = 'acknowledgement'"
        )),
        Some(0)
    );
    let peak = peak_rss(daemon.pid().unwrap());
    eprintln!(
        "{size}-byte message: daemon peak RSS {} MB (idle before: {} MB)",
        peak / 1_000_000,
        idle_rss / 1_000_000
    );
    // The message passes through the IMAP reader, the pipeline and SQLite: a few copies of
    // it at most, never something growing with what the attachment decodes to.
    assert!(
        peak < idle_rss + 6 * size as u64,
        "peak RSS {peak} for a {size}-byte message"
    );
    assert!(!log.contains("panicked"));
}

fn filed_ok(filings: &[Filing; 2], what: &str) {
    for filing in filings {
        assert!(
            matches!(filing.filed, Filed::Stored { .. }),
            "{what} [{}]: {:?}",
            filing.desk,
            filing.filed
        );
    }
}

/// 100,000 recipients on one To and one Cc line: parsed, only the first 200 of each kept,
/// the one acknowledgement goes to the sender; folded one per line, they are over
/// `max_header_lines` and quarantined.
#[test]
fn a_hundred_thousand_recipients() {
    let mut desks = CheckedDesks::new();
    let list = |prefix: &str, n: usize| {
        (0..n)
            .map(|i| format!("{prefix}{i}@customer.example"))
            .collect::<Vec<_>>()
    };
    let to = list("to", 50_000);
    let cc = list("cc", 50_000);
    let one_line = crlf(&format!(
        "From: Mass Mailer <mass@customer.example>\nTo: {}\nCc: {}\nSubject: Hello all\n\
         Message-ID: <mass.1@customer.example>\n\nHello everybody.\n",
        to.join(", "),
        cc.join(", ")
    ));
    let filings = desks.file(&one_line);
    filed_ok(&filings, "one line");
    for filing in &filings {
        let t = filing.ticket.as_ref().unwrap();
        assert!(!t.ticket.unparsed);
        let m = &t.messages[0];
        assert_eq!((m.to.len(), m.cc.len()), (200, 200), "[{}]", filing.desk);
        assert!(t.participants.len() <= 401, "{}", t.participants.len());
        let recipients: Vec<&str> = filing
            .mails
            .iter()
            .filter(|(kind, _)| kind == "acknowledgement")
            .map(|(_, mail)| mail.as_ref().expect("rendered"))
            .map(|raw| std::str::from_utf8(raw).unwrap())
            .filter_map(|text| text.lines().find(|l| l.starts_with("To: ")))
            .collect();
        assert_eq!(
            recipients,
            ["To: mass@customer.example"],
            "[{}]",
            filing.desk
        );
    }
    let folded = crlf(&format!(
        "From: mass@customer.example\nTo: {}\nSubject: Hello all\n\
         Message-ID: <mass.2@customer.example>\n\nHello everybody.\n",
        to.join(",\n ")
    ));
    for filing in desks.file(&folded) {
        let t = filing.ticket.unwrap();
        assert!(t.ticket.unparsed, "[{}]", filing.desk);
        let reason = t.messages[0].parse_error.clone().unwrap();
        assert!(reason.contains("more than 2000 header lines"), "{reason}");
    }
}

/// 10,000 levels of nested multiparts, and 10,000 levels of attached messages: no stack
/// overflow, no hang; each is filed with the text at its core.
#[test]
fn ten_thousand_levels_of_mime_nesting() {
    let mut desks = CheckedDesks::new();
    const DEPTH: usize = 10_000;
    let mut nested = String::from(
        "From: Deep <deep@customer.example>\nTo: support@example.com\nSubject: Deep multipart\n\
         Message-ID: <deep.1@customer.example>\nMIME-Version: 1.0\n",
    );
    for level in 0..DEPTH {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"level{level}\"\n\n--level{level}\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\n\nThe core of the onion.\n");
    for level in (0..DEPTH).rev() {
        nested.push_str(&format!("--level{level}--\n"));
    }
    filed_ok(&desks.file(&crlf(&nested)), "nested multiparts");

    let mut attached = String::new();
    for level in 0..DEPTH {
        attached.push_str(&format!(
            "From: Deep <deep@customer.example>\nSubject: level {level}\n\
             Message-ID: <deep.2.{level}@customer.example>\nMIME-Version: 1.0\n\
             Content-Type: message/rfc822\n\n"
        ));
    }
    attached.push_str("From: core@customer.example\nSubject: core\n\nThe core.\n");
    filed_ok(&desks.file(&crlf(&attached)), "nested messages");
}

/// Charsets nobody knows, invalid bytes for the charset named, broken encodings: stored
/// and readable (valid UTF-8, lossy where it must be), acknowledged like any request.
#[test]
fn invalid_charsets_and_encodings() {
    let mut desks = CheckedDesks::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "an unknown charset",
            b"From: a@customer.example\r\nSubject: =?x-no-such-charset?Q?Hallo_Welt?=\r\n\
              Message-ID: <cs1@customer.example>\r\nContent-Type: text/plain; charset=\"x-no-such-charset\"\r\n\
              Content-Transfer-Encoding: 8bit\r\n\r\nHallo \xe4\xf6\xfc Welt\r\n"
                .to_vec(),
        ),
        (
            "invalid UTF-8",
            b"From: =?utf-8?B?/w==?= <b@customer.example>\r\nSubject: =?utf-8?Q?caf=C3=28?=\r\n\
              Message-ID: <cs2@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\
              \r\nbroken \xc3\x28 \xff\xfe bytes\r\n"
                .to_vec(),
        ),
        (
            "broken base64 and quoted-printable",
            b"From: c@customer.example\r\nSubject: =?utf-8?B?!!notbase64*?= =?utf-8?Q?=ZZ=?=\r\n\
              Message-ID: <cs3@customer.example>\r\nMIME-Version: 1.0\r\n\
              Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n\
              Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
              %%%%====****\r\n--x\r\nContent-Type: text/html; charset=koi8-r\r\n\
              Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>=E9=Z=\r\n--x--\r\n"
                .to_vec(),
        ),
        (
            "UTF-7 and UTF-16 without a BOM",
            b"From: d@customer.example\r\nSubject: =?utf-7?Q?+AGEAYgBj-+?=\r\n\
              Message-ID: <cs4@customer.example>\r\nContent-Type: text/plain; charset=utf-16\r\n\
              Content-Transfer-Encoding: 8bit\r\n\r\nH\x00i\x00\xd8\x00\r\n"
                .to_vec(),
        ),
    ];
    for (what, raw) in cases {
        let filings = desks.file(&raw);
        filed_ok(&filings, what);
        for filing in &filings {
            let t = filing.ticket.as_ref().unwrap();
            assert!(!t.ticket.unparsed, "{what} [{}]", filing.desk);
            assert!(
                filing
                    .mails
                    .iter()
                    .any(|(kind, mail)| kind == "acknowledgement" && mail.is_ok()),
                "{what} [{}]: no acknowledgement rendered: {:?}",
                filing.desk,
                filing.mails.iter().map(|m| &m.0).collect::<Vec<_>>()
            );
        }
    }
}
