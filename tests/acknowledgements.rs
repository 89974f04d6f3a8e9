//! Acknowledgements, warnings and breaches end to end: the real `postdesk run` binary as a
//! child process against the suite's own Dovecot (the watched support mailbox, and every
//! recipient's INBOX) and Postfix (the outgoing SMTP server). Customers write from
//! `customer.example`, agents and the escalation address are in `example.com`, and the
//! support mailbox's own address is `support@desk.example` (a domain of its own: postdesk
//! never acknowledges mail from its own domain). Mail reaches the support INBOX by direct
//! append (`doveadm save`); whatever postdesk sends goes through Postfix, which delivers
//! `<user>@<any of the three domains>` into Dovecot user `<user>`.
//!
//! Nothing here sleeps for a fixed time as a correctness assumption: every wait polls a
//! condition (the database, a Maildir, the Postfix queue) with a timeout. "Nothing was
//! sent" is proved with a control customer whose acknowledgement falls due at the same
//! time or later: once the control's has arrived, the other row has had its turn.

#[path = "support/e2e.rs"]
mod e2e;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::*;

// ---------------------------------------------------------------- a. acknowledgement

const RU_REQUEST: &str = "Здравствуйте!\n\nНе могу войти в личный кабинет: после ввода пароля \
страница просто обновляется, и ничего не происходит. Пробовала в двух браузерах и с телефона, \
результат одинаковый. Пароль точно правильный, я его недавно поменяла.\n\nПодскажите, \
пожалуйста, что делать?\n\nС уважением,\nАлиса";

const PL_REQUEST: &str = "Dzień dobry,\n\nod wczoraj nie mogę zalogować się do panelu klienta. \
Po wpisaniu hasła strona odświeża się i nic się nie dzieje. Próbowałem w dwóch przeglądarkach \
i na telefonie, zawsze to samo. Hasło jest na pewno poprawne.\n\nProszę o pomoc.\n\n\
Pozdrawiam serdecznie,\nBogdan";

/// Checks the expected time in an acknowledgement body: "<label> N <unit>" is a sane
/// duration (1 minute .. the 1-day target), and "<by label> <weekday>, HH:MM" is that
/// duration after the acknowledgement's Date (UTC calendar), within a minute.
fn check_expected_time(
    raw: &[u8],
    body: &str,
    duration_label: &str,
    by_label: &str,
    units: [(&str, i64); 3],
    weekdays: [&str; 7],
) {
    let line = |label: &str| -> String {
        body.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {label:?} line in\n{body}"))
    };
    let duration = line(duration_label);
    let mut seconds = 0i64;
    let words: Vec<&str> = duration.split_whitespace().collect();
    assert!(
        !words.is_empty() && words.len().is_multiple_of(2),
        "duration {duration:?}"
    );
    for pair in words.chunks(2) {
        let n: i64 = pair[0]
            .parse()
            .unwrap_or_else(|_| panic!("duration {duration:?}"));
        let unit = units
            .iter()
            .find(|(stem, _)| pair[1].starts_with(stem))
            .unwrap_or_else(|| panic!("unit in duration {duration:?}"))
            .1;
        seconds += n * unit;
    }
    assert!(
        (60..=86_400).contains(&seconds),
        "expected duration {duration:?} is not between a minute and the 1-day target"
    );
    let by = line(by_label);
    let (weekday, time) = by
        .rsplit_once(", ")
        .unwrap_or_else(|| panic!("expected-by {by:?}"));
    let sent = header(raw, "Date").expect("Date header");
    let sent = jiff::fmt::rfc2822::parse(&sent)
        .unwrap_or_else(|e| panic!("Date {sent:?}: {e}"))
        .timestamp();
    let due = sent
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC);
    let weekday_index = due.weekday().to_monday_zero_offset() as usize;
    let candidates: Vec<String> = [-60i64, 0, 60]
        .iter()
        .map(|d| {
            due.checked_add(jiff::SignedDuration::from_secs(*d))
                .unwrap()
                .strftime("%H:%M")
                .to_string()
        })
        .collect();
    assert!(
        candidates.iter().any(|c| c == time),
        "expected-by time {time:?} is not {duration:?} after {sent} (one of {candidates:?})"
    );
    assert!(
        weekday.ends_with(weekdays[weekday_index]),
        "expected-by weekday {weekday:?}, due {due}"
    );
}

/// A Russian and a Polish request: each customer gets one acknowledgement in their
/// language with every header the design asks for and a realistic expected time; the
/// Russian customer's reply to the acknowledgement threads into the same ticket and
/// does not cause a second acknowledgement.
#[test]
fn acknowledgement_in_the_customers_language_with_threading_headers() {
    let stack = Stack::start(&["support", "alice", "bogdan", "agent", "lead"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"2s\"",
        "",
        "[[queue]]\nname = \"support\"\nagents = [\"agent@example.com\"]\nescalation = \"lead@example.com\"\n",
    );
    daemon.start();

    let alice = format!("alice@{CUSTOMERS}");
    let bogdan = format!("bogdan@{CUSTOMERS}");
    let ru_id = unique_id("ru");
    let pl_id = unique_id("pl");
    let ru_subject = "Не могу войти в личный кабинет";
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("Алиса Петрова <{alice}>"),
            SUPPORT,
            ru_subject,
            &ru_id,
            "",
            RU_REQUEST,
        ),
    );
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("Bogdan Nowak <{bogdan}>"),
            SUPPORT,
            "Problem z logowaniem",
            &pl_id,
            "",
            PL_REQUEST,
        ),
    );
    let ru_ticket = daemon.wait_ticket(&alice);
    let pl_ticket = daemon.wait_ticket(&bogdan);
    let ru_tag = format!("[#{}]", ru_ticket + REF_OFFSET);
    let pl_tag = format!("[#{}]", pl_ticket + REF_OFFSET);

    // Russian
    let ack = daemon.wait("the acknowledgement in alice's INBOX", ARRIVAL, || {
        acks_in(&stack, "alice").into_iter().next()
    });
    let h = |name: &str| {
        header(&ack, name)
            .unwrap_or_else(|| panic!("no {name} header in\n{}", String::from_utf8_lossy(&ack)))
    };
    assert_eq!(h("Auto-Submitted"), "auto-replied");
    assert_eq!(h("X-Auto-Response-Suppress"), "All");
    assert_eq!(h("X-Postdesk-Loop"), SUPPORT);
    assert_eq!(h("In-Reply-To"), format!("<{ru_id}>"));
    assert!(
        h("References").contains(&format!("<{ru_id}>")),
        "{}",
        h("References")
    );
    // the null envelope sender, as Dovecot's LMTP recorded it
    assert_eq!(h("Return-Path"), "<>");
    assert!(h("From").contains(&format!("<{SUPPORT}>")), "{}", h("From"));
    assert!(h("From").contains("Example Support"), "{}", h("From"));
    assert!(h("To").contains(&alice), "{}", h("To"));
    let ack_id = h("Message-ID");
    let id_pattern =
        regex::Regex::new(r"^<postdesk\.acknowledgement\.\d+\.[0-9a-f]{8}@desk\.example>$")
            .unwrap();
    assert!(id_pattern.is_match(&ack_id), "Message-ID {ack_id}");
    let reply_to = h("Reply-To");
    let token_pattern = regex::Regex::new(r"<support\+t\.([A-Za-z0-9_-]+)@desk\.example>").unwrap();
    assert!(token_pattern.is_match(&reply_to), "Reply-To {reply_to}");
    let (subject, body) = subject_and_body(&ack);
    assert!(
        subject.contains(&ru_tag),
        "subject {subject:?} without {ru_tag}"
    );
    assert!(subject.contains("Ваше обращение получено"), "{subject:?}");
    assert!(subject.contains(ru_subject), "{subject:?}");
    assert!(body.contains("Спасибо, что написали нам"), "{body}");
    check_expected_time(
        &ack,
        &body,
        "Ориентировочное время ответа:",
        "Ожидаемый срок ответа:",
        [("мин", 60), ("час", 3600), ("д", 86_400)],
        [
            "понедельник",
            "вторник",
            "среда",
            "четверг",
            "пятница",
            "суббота",
            "воскресенье",
        ],
    );
    // the stored Message-ID is the one that went out
    let (status, _, _, stored_id) = daemon.ack_row(ru_ticket).expect("ack row");
    assert_eq!(status, "done");
    assert_eq!(format!("<{}>", stored_id.unwrap()), ack_id);

    // Polish
    let ack_pl = daemon.wait("the acknowledgement in bogdan's INBOX", ARRIVAL, || {
        acks_in(&stack, "bogdan").into_iter().next()
    });
    assert_eq!(
        header(&ack_pl, "In-Reply-To").unwrap(),
        format!("<{pl_id}>")
    );
    let (subject, body) = subject_and_body(&ack_pl);
    assert!(subject.contains(&pl_tag), "{subject:?}");
    assert!(
        subject.contains("Potwierdzenie przyjęcia zgłoszenia"),
        "{subject:?}"
    );
    check_expected_time(
        &ack_pl,
        &body,
        "Przewidywany czas odpowiedzi:",
        "Planowany termin odpowiedzi:",
        [("minut", 60), ("godzin", 3600), ("d", 86_400)],
        [
            "poniedziałek",
            "wtorek",
            "środa",
            "czwartek",
            "piątek",
            "sobota",
            "niedziela",
        ],
    );

    let t = ticket_json(&daemon, ru_ticket);
    assert_eq!(t["status"], "acknowledged", "{t:#}");
    assert_eq!(t["language"], "ru", "{t:#}");
    assert!(t["ack_sent_at"].is_string(), "{t:#}");
    assert_eq!(ticket_json(&daemon, pl_ticket)["language"], "pl");

    // The customer answers the acknowledgement (to the plain address, so it threads by
    // In-Reply-To and not by the token or the tag).
    let reply_id = unique_id("ru-reply");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("Алиса Петрова <{alice}>"),
            SUPPORT,
            &format!("Re: {subject}", subject = subject_and_body(&ack).0),
            &reply_id,
            &format!("In-Reply-To: {ack_id}\nReferences: <{ru_id}> {ack_id}\n"),
            "Добавлю: ошибка появляется и в приложении.\n\n> Спасибо, что написали нам.",
        ),
    );
    let t = daemon.wait("the reply in the same ticket", ARRIVAL, || {
        let t = ticket_json(&daemon, ru_ticket);
        (t["message_count"] == 2).then_some(t)
    });
    let reply = &t["messages"][1];
    assert_eq!(reply["message_id"], reply_id.as_str(), "{t:#}");
    assert_eq!(reply["kind"], "follow_up", "{t:#}");
    assert_eq!(reply["threaded_by"], "In-Reply-To", "{t:#}");
    let tickets = daemon.json(&["tickets", "--all", "--json"]);
    let of_alice = tickets
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["customer"] == alice.as_str())
        .count();
    assert_eq!(of_alice, 1, "{tickets:#}");
    // No second acknowledgement was even planned; and only the one arrived.
    assert_eq!(
        daemon.count(&format!(
            "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' AND ticket_id = {ru_ticket}"
        )),
        Some(1)
    );
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(acks_in(&stack, "alice").len(), 1);
    assert_eq!(acks_in(&stack, "bogdan").len(), 1);
}

// ---------------------------------------------------------------- b. agent answers first

/// An agent's answer that threads before `ack_delay` cancels the acknowledgement: it never
/// arrives (proved by a control customer's acknowledgement, due later, that does), and the
/// outbox row is cancelled.
#[test]
fn agent_answer_before_the_delay_cancels_the_acknowledgement() {
    let stack = Stack::start(&["support", "alice", "carl", "agent"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"3s\"",
        "",
        "[[queue]]\nname = \"support\"\nagents = [\"agent@example.com\"]\n",
    );
    daemon.start();
    let alice = format!("alice@{CUSTOMERS}");
    let carl = format!("carl@{CUSTOMERS}");
    let request_id = unique_id("req");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &alice,
            SUPPORT,
            "Invoice question",
            &request_id,
            "",
            "Hello, why was I charged twice this month? Thanks, Alice",
        ),
    );
    let ticket = daemon.wait_ticket(&alice);
    // the agent answers right away, from their own client, copying the support address
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("Agent <agent@{STAFF}>"),
            &alice,
            "Re: Invoice question",
            &unique_id("answer"),
            &format!("Cc: {SUPPORT}\nIn-Reply-To: <{request_id}>\nReferences: <{request_id}>\n"),
            "Hi Alice, the second charge is a pre-authorisation and will be released.",
        ),
    );
    // the control customer writes after the answer: due later than alice's row
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &carl,
            SUPPORT,
            "Delivery address",
            &unique_id("control"),
            "",
            "Hello, please change my delivery address. Carl",
        ),
    );
    let (status, _, _, _) = daemon.wait("alice's acknowledgement cancelled", ARRIVAL, || {
        daemon.ack_row(ticket).filter(|r| r.0 != "pending")
    });
    assert_eq!(status, "cancelled");
    daemon.wait("the control acknowledgement", ARRIVAL, || {
        acks_in(&stack, "carl").into_iter().next()
    });
    stack.wait_postfix_idle();
    assert_eq!(stack.inbox("alice").len(), 0, "alice got mail");
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["status"], "answered", "{t:#}");
    assert!(t["ack_sent_at"].is_null(), "{t:#}");
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "ack_cancelled"),
        "{t:#}"
    );
    let rows = daemon.json(&["outbox", "--all", "--json"]);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "acknowledgement" && r["ref"] == ticket + REF_OFFSET)
        .unwrap_or_else(|| panic!("{rows:#}"));
    assert_eq!(row["status"], "cancelled", "{rows:#}");
}

// ---------------------------------------------------------------- c. automatic mail

/// A fixture with its top-level header block rewritten: a recent Date, `from` as the
/// sender, the support address as recipient, a fresh Message-ID, and no trace or
/// Return-Path headers (so only the message's own markers can stop the acknowledgement).
fn rewritten_fixture(name: &str, from: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mail")
        .join(name);
    let text = fs::read_to_string(&path).unwrap();
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if !skipping {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        skipping = true;
        match name.as_str() {
            "return-path" | "delivered-to" | "received" => {}
            "date" => out.push_str(&format!("Date: {}\n", rfc2822_now())),
            "from" => out.push_str(&format!("From: {from}\n")),
            "to" => out.push_str(&format!("To: {SUPPORT}\n")),
            "message-id" => out.push_str(&format!("Message-ID: <{}>\n", unique_id("fixture"))),
            _ => {
                skipping = false;
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    format!("{out}\n{body}").into_bytes()
}

/// An RFC 3834 automatic reply, a DSN bounce and list mail, all from the customers'
/// domain, get no acknowledgement (a control request at the same time does).
#[test]
fn no_acknowledgement_to_automatic_replies_bounces_or_lists() {
    let stack = Stack::start(&["support", "carol", "mailer-daemon", "news", "dana"]);
    let mut daemon = Daemon::new();
    daemon.configure(&stack, "support", SUPPORT, "ack_delay = \"1s\"", "", "");
    daemon.start();
    let cases = [
        (
            "08-autoreply-rfc3834.eml",
            "carol",
            "Carol Nguyen <carol@customer.example>",
            "auto_reply",
        ),
        (
            "12-bounce-dsn.eml",
            "mailer-daemon",
            "MAILER-DAEMON@customer.example (Mail Delivery System)",
            "bounce",
        ),
        (
            "13-list.eml",
            "news",
            "Vendor News <news@customer.example>",
            "list",
        ),
    ];
    for (fixture, _, from, _) in &cases {
        stack
            .dovecot
            .append("support", "INBOX", &rewritten_fixture(fixture, from));
    }
    let dana = format!("dana@{CUSTOMERS}");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &dana,
            SUPPORT,
            "Where is my order?",
            &unique_id("control"),
            "",
            "Hello, my order 5521 has not arrived yet. Dana",
        ),
    );
    daemon.wait("the control acknowledgement", ARRIVAL, || {
        acks_in(&stack, "dana").into_iter().next()
    });
    daemon.wait("all four messages filed", ARRIVAL, || {
        (daemon.count("SELECT count(*) FROM messages")? == 4).then_some(())
    });
    stack.wait_postfix_idle();
    for (fixture, user, _, kind) in &cases {
        assert_eq!(stack.inbox(user).len(), 0, "{fixture}: {user} got mail");
        let address = format!("{user}@{CUSTOMERS}");
        let ticket = daemon.wait_ticket(&address.to_ascii_lowercase());
        let t = ticket_json(&daemon, ticket);
        assert_eq!(t["status"], "ignored", "{fixture}: {t:#}");
        assert_eq!(t["messages"][0]["kind"], *kind, "{fixture}: {t:#}");
        assert_eq!(
            daemon.count(&format!(
                "SELECT count(*) FROM outbox WHERE ticket_id = {ticket} AND kind = 'acknowledgement'"
            )),
            Some(0),
            "{fixture}"
        );
    }
}

// ---------------------------------------------------------------- d. two desks

/// Two postdesk instances whose support addresses write to each other: each
/// acknowledges the other's mail once, recognises the other's acknowledgement as
/// automatic, and there it ends — at most one automatic mail each way.
#[test]
fn two_instances_acknowledging_each_other_do_not_loop() {
    let stack = Stack::start_with_domains(&["supa", "supb"], &["a.example", "b.example"]);
    let (addr_a, addr_b) = ("supa@a.example", "supb@b.example");
    let mut a = Daemon::new();
    let mut b = Daemon::new();
    a.configure(&stack, "supa", addr_a, "ack_delay = \"1s\"", "", "");
    b.configure(&stack, "supb", addr_b, "ack_delay = \"1s\"", "", "");
    a.start();
    b.start();
    // A writes to B, and B to A (people at each desk, from the shared address)
    stack.dovecot.append(
        "supb",
        "INBOX",
        &mail(
            addr_a,
            addr_b,
            "Partner API keys",
            &unique_id("a2b"),
            "",
            "Hello B, please send the new API keys. Desk A",
        ),
    );
    stack.dovecot.append(
        "supa",
        "INBOX",
        &mail(
            addr_b,
            addr_a,
            "Invoice 2026-11",
            &unique_id("b2a"),
            "",
            "Hello A, November's invoice is attached. Desk B",
        ),
    );
    for (daemon, user, other) in [(&a, "supa", addr_b), (&b, "supb", addr_a)] {
        daemon.wait(
            &format!("{user} has the other desk's acknowledgement"),
            ARRIVAL,
            || acks_in(&stack, user).into_iter().next(),
        );
        // ... and has filed it as an automatic reply
        daemon.wait(&format!("{user} filed the acknowledgement"), ARRIVAL, || {
            daemon
                .count(&format!(
                    "SELECT count(*) FROM messages WHERE from_addr = '{other}' AND kind IN ('auto_reply', 'loop')"
                ))
                .filter(|n| *n >= 1)
        });
    }
    stack.wait_postfix_idle();
    for (daemon, user) in [(&a, "supa"), (&b, "supb")] {
        daemon.wait_mail_settled();
        assert_eq!(
            daemon.count("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"),
            Some(1),
            "{user} planned more than one acknowledgement"
        );
    }
    // a generous look for anything late: the counts stay put
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        for user in ["supa", "supb"] {
            let inbox = stack.inbox(user);
            assert!(inbox.len() <= 2, "{user}: {} messages", inbox.len());
            assert!(
                acks_in(&stack, user).len() <= 1,
                "{user}: more than one acknowledgement"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for user in ["supa", "supb"] {
        assert_eq!(
            stack.inbox(user).len(),
            2,
            "{user}: one request and one acknowledgement"
        );
        assert_eq!(acks_in(&stack, user).len(), 1);
    }
}

// ---------------------------------------------------------------- e. SMTP outage

/// SMTP down when the acknowledgement falls due: the row is retried (with `[smtp]
/// retry_delay = "1s"`), and once Postfix is back the acknowledgement goes out exactly once.
#[test]
fn acknowledgement_is_sent_once_after_an_smtp_outage() {
    let mut stack = Stack::start(&["support", "alice"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1s\"",
        "retry_delay = \"1s\"\nmax_attempts = 20",
        "",
    );
    daemon.start();
    stack.postfix.stop();
    let alice = format!("alice@{CUSTOMERS}");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &alice,
            SUPPORT,
            "Refund",
            &unique_id("req"),
            "",
            "Hello, I would like a refund. Alice",
        ),
    );
    let ticket = daemon.wait_ticket(&alice);
    let stopped_at = Instant::now();
    let (_, attempts, error, _) = daemon.wait("two failed attempts", ARRIVAL, || {
        daemon
            .ack_row(ticket)
            .filter(|r| r.0 == "pending" && r.1 >= 2)
    });
    assert!(error.is_some(), "attempts {attempts} without an error");
    // down for about 5 s in all
    while stopped_at.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(POLL);
    }
    stack.postfix.start_again();
    let (status, attempts, _, _) =
        daemon.wait("the acknowledgement sent", Duration::from_secs(60), || {
            daemon.ack_row(ticket).filter(|r| r.0 != "pending")
        });
    assert_eq!(status, "done");
    assert!(attempts >= 3, "attempts {attempts}");
    daemon.wait("the acknowledgement in alice's INBOX", ARRIVAL, || {
        acks_in(&stack, "alice").into_iter().next()
    });
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(stack.inbox("alice").len(), 1);
}

// ---------------------------------------------------------------- f. kill -9

/// kill -9 while 200 acknowledgements are going out; after a restart no customer ever
/// has two, every row ends done (exactly one arrived) or parked as failed "delivery
/// uncertain" (at most one arrived), and nothing stays pending.
#[test]
fn kill_9_while_sending_never_sends_an_acknowledgement_twice() {
    const N: usize = 200;
    let customers: Vec<String> = (0..N).map(|i| format!("c{i:03}")).collect();
    let mut users: Vec<&str> = vec!["support"];
    users.extend(customers.iter().map(String::as_str));
    let stack = Stack::start(&users);
    let mut daemon = Daemon::new();
    daemon.configure(&stack, "support", SUPPORT, "ack_delay = \"1s\"", "", "");
    let raws: Vec<Vec<u8>> = customers
        .iter()
        .map(|c| {
            mail(
                &format!("{c}@{CUSTOMERS}"),
                SUPPORT,
                &format!("Question {c}"),
                &unique_id(c),
                "",
                "Hello, how do I change my tariff? Thank you.",
            )
        })
        .collect();
    stack.dovecot.append_bulk("support", "INBOX", &raws);
    daemon.start();
    daemon.wait("all requests filed", Duration::from_secs(60), || {
        (daemon.count("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'")? == N as i64)
            .then_some(())
    });
    daemon.wait(
        "the first acknowledgement done",
        Duration::from_secs(60),
        || {
            (daemon.count(
                "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' AND status = 'done'",
            )? >= 1)
                .then_some(())
        },
    );
    daemon.kill9();
    let done_at_kill = daemon
        .count("SELECT count(*) FROM outbox WHERE status = 'done'")
        .unwrap();
    let claimed_at_kill = daemon
        .count("SELECT count(*) FROM outbox WHERE status = 'pending' AND sending_since IS NOT NULL")
        .unwrap();
    daemon.start();
    // Every row, also those not yet due at the restart (ack_delay runs from each filing).
    daemon.wait(
        "no acknowledgement pending",
        Duration::from_secs(90),
        || {
            (daemon.count(
                "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' AND status = 'pending'",
            )? == 0)
                .then_some(())
        },
    );
    stack.wait_postfix_idle();
    let db = daemon.db().unwrap();
    let mut stmt = db
        .prepare("SELECT recipient, status, coalesce(last_error, '') FROM outbox WHERE kind = 'acknowledgement'")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), N);
    let (mut parked, mut parked_arrived) = (0, 0);
    for (recipient, status, error) in &rows {
        let user = recipient.split('@').next().unwrap();
        let got = acks_in(&stack, user).len();
        assert!(got <= 1, "{recipient} got {got} acknowledgements");
        match status.as_str() {
            "done" => assert_eq!(got, 1, "{recipient}: row done but nothing arrived"),
            "failed" => {
                assert!(
                    error.starts_with("delivery uncertain"),
                    "{recipient}: {error}"
                );
                parked += 1;
                parked_arrived += got;
            }
            other => panic!("{recipient}: row {other}"),
        }
    }
    assert_eq!(
        parked, claimed_at_kill,
        "parked rows are the ones in flight at the kill"
    );
    eprintln!(
        "kill -9 after {done_at_kill} of {N} sent: {claimed_at_kill} rows in flight, parked as \
         'delivery uncertain'; {parked_arrived} of them had reached the customer"
    );
}

// ---------------------------------------------------------------- g. deadlines

/// No answer within `response_target = "4s"`: a warning to the agent at 75%, then the
/// ticket is breached — `$SLABreached` and `\Flagged` on its message in the support
/// mailbox, exactly one notice to the escalation address, and `tickets --breached` lists it.
#[test]
fn missed_deadline_flags_the_ticket_and_notifies_once() {
    let stack = Stack::start(&["support", "alice", "agent", "lead"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1h\"\nresponse_target = \"4s\"",
        "",
        "[[queue]]\nname = \"support\"\nagents = [\"agent@example.com\"]\nescalation = \"lead@example.com\"\n",
    );
    daemon.start();
    let alice = format!("alice@{CUSTOMERS}");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &alice,
            SUPPORT,
            "Account locked",
            &unique_id("req"),
            "",
            "Hello, my account is locked. Alice",
        ),
    );
    let ticket = daemon.wait_ticket(&alice);
    let tag = format!("[#{}]", ticket + REF_OFFSET);
    let warning = daemon.wait("the warning to the agent", ARRIVAL, || {
        stack.inbox("agent").into_iter().next()
    });
    let (subject, body) = subject_and_body(&warning);
    assert!(
        subject.contains(&tag) && subject.contains("Reply due"),
        "{subject:?}"
    );
    assert!(body.contains(&alice), "{body}");
    assert_eq!(
        header(&warning, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let notice = daemon.wait("the breach notice", ARRIVAL, || {
        stack.inbox("lead").into_iter().next()
    });
    let (subject, _) = subject_and_body(&notice);
    assert!(
        subject.contains(&tag) && subject.contains("Response target missed"),
        "{subject:?}"
    );
    daemon.wait("$SLABreached and \\Flagged on the request", ARRIVAL, || {
        let flags = stack.dovecot.imap_fetch_flags("support", "INBOX");
        (flags.len() == 1
            && flags[0].1.iter().any(|f| f == "$SLABreached")
            && flags[0].1.iter().any(|f| f == "\\Flagged"))
        .then_some(())
    });
    let breached = daemon.json(&["tickets", "--breached", "--json"]);
    let list = breached.as_array().unwrap();
    assert_eq!(list.len(), 1, "{breached:#}");
    assert_eq!(list[0]["ref"], ticket + REF_OFFSET);
    assert_eq!(list[0]["breached"], true);
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(stack.inbox("lead").len(), 1, "exactly one breach notice");
    assert_eq!(stack.inbox("agent").len(), 1, "one warning");
    let t = ticket_json(&daemon, ticket);
    let breaches = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "breached")
        .count();
    assert_eq!(breaches, 1, "{t:#}");
}

/// A deadline that passed while postdesk was stopped is handled right after the start.
#[test]
fn deadline_passed_while_stopped_is_handled_at_start() {
    let stack = Stack::start(&["support", "bob", "lead"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1h\"\nresponse_target = \"6s\"",
        "",
        "[[queue]]\nname = \"support\"\nescalation = \"lead@example.com\"\n",
    );
    daemon.start();
    let bob = format!("bob@{CUSTOMERS}");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &bob,
            SUPPORT,
            "Card blocked",
            &unique_id("req"),
            "",
            "Hello, my card is blocked. Bob",
        ),
    );
    let ticket = daemon.wait_ticket(&bob);
    daemon.stop();
    let (due_at, breached): (i64, i64) = daemon
        .db()
        .unwrap()
        .query_row(
            "SELECT due_at, breached FROM tickets WHERE id = ?1",
            [ticket],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        breached, 0,
        "breached before the stop: the test needs a longer target"
    );
    // wait (the daemon stopped) until the deadline is behind us
    daemon.wait("the deadline to pass", Duration::from_secs(30), || {
        (jiff::Timestamp::now().as_second() > due_at + 1).then_some(())
    });
    let started = Instant::now();
    daemon.start();
    daemon.wait("the breach recorded", Duration::from_secs(10), || {
        (daemon.count(&format!("SELECT breached FROM tickets WHERE id = {ticket}"))? == 1)
            .then_some(())
    });
    let handled_in = started.elapsed();
    daemon.wait("the breach notice", ARRIVAL, || {
        stack.inbox("lead").into_iter().next()
    });
    daemon.wait("$SLABreached on the request", ARRIVAL, || {
        let flags = stack.dovecot.imap_fetch_flags("support", "INBOX");
        flags
            .iter()
            .all(|(_, f)| f.iter().any(|f| f == "$SLABreached"))
            .then_some(())
    });
    assert!(handled_in < Duration::from_secs(10), "{handled_in:?}");
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(stack.inbox("lead").len(), 1);
}

// ---------------------------------------------------------------- CLI

/// `postdesk outbox --json` shows a failed row with its reason; `postdesk outbox retry ID`
/// puts it back, and the restarted daemon sends it.
#[test]
fn outbox_shows_failed_rows_and_retry_sends_them() {
    let mut stack = Stack::start(&["support", "alice"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1s\"",
        "max_attempts = 1",
        "",
    );
    stack.postfix.stop();
    daemon.start();
    let alice = format!("alice@{CUSTOMERS}");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &alice,
            SUPPORT,
            "Password reset",
            &unique_id("req"),
            "",
            "Hello, the reset link does not work. Alice",
        ),
    );
    let ticket = daemon.wait_ticket(&alice);
    daemon.wait("the row failed", ARRIVAL, || {
        daemon.ack_row(ticket).filter(|r| r.0 == "failed")
    });
    let rows = daemon.json(&["outbox", "--json"]);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "acknowledgement")
        .unwrap_or_else(|| panic!("{rows:#}"))
        .clone();
    assert_eq!(row["status"], "failed", "{row:#}");
    assert_eq!(row["ref"], ticket + REF_OFFSET);
    assert_eq!(row["recipient"], alice.as_str());
    let reason = row["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("SMTP delivery failed for now") && reason.contains("attempt 1"),
        "{row:#}"
    );
    let text = daemon.cli(&["outbox"]);
    assert!(text.contains("failed") && text.contains(&alice), "{text}");

    daemon.stop();
    stack.postfix.start_again();
    let id = row["id"].as_i64().unwrap().to_string();
    let out = daemon.cli(&["outbox", "retry", &id]);
    assert!(out.contains("pending again"), "{out}");
    let rows = daemon.json(&["outbox", "--json"]);
    let again = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == row["id"])
        .unwrap_or_else(|| panic!("{rows:#}"));
    assert_eq!(again["status"], "pending", "{again:#}");
    assert_eq!(again["attempts"], 0, "{again:#}");
    // a second retry of a row that is not failed is refused
    let refused = daemon.cli_output(&["outbox", "retry", &id]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no failed outbox row"));

    daemon.start();
    daemon.wait("the acknowledgement after the retry", ARRIVAL, || {
        acks_in(&stack, "alice").into_iter().next()
    });
    let (status, _, _, _) = daemon.wait("the row done", ARRIVAL, || {
        daemon.ack_row(ticket).filter(|r| r.0 == "done")
    });
    assert_eq!(status, "done");
    assert_eq!(
        daemon.json(&["outbox", "--json"]).as_array().unwrap().len(),
        0
    );
}

/// The sender's clock does not decide: a request whose `Date:` is three days old but that
/// reached the desk's server now (its topmost `Received:`) is acknowledged; the same mail
/// that never passed a server is taken for backlog.
#[test]
fn a_wrong_date_header_does_not_cost_the_acknowledgement() {
    let stack = Stack::start(&["support", "alice"]);
    let mut daemon = Daemon::new();
    daemon.configure(&stack, "support", SUPPORT, "ack_delay = \"1s\"", "", "");
    daemon.start();
    let alice = format!("alice@{CUSTOMERS}");
    let three_days_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(72))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    let old = |id: &str, subject: &str| {
        let raw =
            String::from_utf8(mail(&alice, SUPPORT, subject, id, "", "Please refund.")).unwrap();
        let date = raw
            .lines()
            .find(|l| l.starts_with("Date: "))
            .unwrap()
            .to_string();
        raw.replacen(&date, &format!("Date: {three_days_ago}"), 1)
            .into_bytes()
    };
    let through_postfix = unique_id("clock-off");
    submit(&stack, &alice, &[SUPPORT], &old(&through_postfix, "Refund"));
    let ticket = daemon.wait_ticket(&alice);
    daemon.wait("the acknowledgement", ARRIVAL, || {
        acks_in(&stack, "alice").into_iter().next()
    });
    let local = unique_id("local-copy");
    stack
        .dovecot
        .append("support", "INBOX", &old(&local, "Another matter"));
    let copy = daemon.wait_filed(&local);
    assert_ne!(copy, ticket);
    let t = ticket_json(&daemon, copy);
    let suppressed = t["events"].as_array().unwrap().iter().any(|e| {
        e["type"] == "ack_suppressed" && e["detail"].as_str().unwrap().contains("written")
    });
    assert!(suppressed, "{t:#}");
}
