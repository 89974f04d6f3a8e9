//! Every step of the ingest pipeline on real-looking mail: charsets, deduplication, kinds,
//! routing, language, threading (each path) and the participant check.

mod common;

use common::{Desk, fixture, fixture_path, mail};
use postdesk::config::Config;
use postdesk::store::Filed;

#[test]
fn charsets_decode_to_the_customers_words() {
    let cases = [
        (
            "01-charset-koi8r.eml",
            "Не проходит оплата счёта",
            "Здравствуйте! Не могу оплатить счёт за ноябрь, карта отклоняется.",
            "ru",
        ),
        (
            "02-charset-cp1251.eml",
            "Питання щодо рахунку",
            "Добрий день! Прошу надіслати рахунок за листопад.",
            "uk",
        ),
        (
            "03-charset-iso8859-2.eml",
            "Zamówienie nie dotarło",
            "Dzień dobry, moje zamówienie nr 4471 nie dotarło. Proszę o pomoc.",
            "pl",
        ),
        (
            "04-charset-iso2022jp.eml",
            "注文について",
            "お世話になっております。注文の状況を教えてください。",
            "ja",
        ),
        (
            "05-encoded-words.eml",
            "Frage zur Lieferung – dringend",
            "Guten Tag, wann wird meine Bestellung geliefert? Vielen Dank.",
            "de",
        ),
    ];
    let mut desk = Desk::new();
    for (file, subject, sentence, language) in cases {
        let reference = desk.ingest_fixture(file);
        let ticket = desk.ticket(reference);
        assert_eq!(ticket.ticket.subject, subject, "{file}");
        let message = &ticket.messages[0];
        assert!(
            message.text.contains(sentence),
            "{file}: {:?}",
            message.text
        );
        assert_eq!(message.language.as_deref(), Some(language), "{file}");
        assert_eq!(ticket.ticket.language.as_deref(), Some(language), "{file}");
        assert_eq!(message.kind, "request");
    }
    let koi8 = desk.ticket(1000);
    assert_eq!(koi8.messages[0].from_name.as_deref(), Some("Иван Петров"));
    // The Russian and Ukrainian billing words route by the fixtures' rule.
    assert_eq!(koi8.ticket.queue, "billing");
    assert_eq!(desk.ticket(1001).ticket.queue, "billing");
}

#[test]
fn same_message_twice_is_one_message_one_ticket_one_ack() {
    let mut desk = Desk::new();
    let raw = fixture("06-request-en.eml");
    let first = desk.ingest(&raw);
    let again = desk.ingest_filed(&raw);
    assert!(matches!(again, Filed::Duplicate(t) if postdesk::store::reference(t) == first));
    // The same message copied into another folder gains trace headers; still the same.
    let mut copy =
        b"Received: from relay.example.net by mx.example.com; Tue, 17 Nov 2026 10:00:00 +0000\n"
            .to_vec();
    copy.extend_from_slice(&raw);
    assert!(matches!(desk.ingest_filed(&copy), Filed::Duplicate(_)));
    assert_eq!(desk.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(desk.count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(
        desk.count("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"),
        1
    );
    assert_eq!((desk.summary.ingested, desk.summary.duplicates), (1, 2));
}

#[test]
fn each_automatic_kind_is_recognised_and_never_acknowledged() {
    let cases = [
        ("08-autoreply-rfc3834.eml", "auto_reply"),
        ("09-autoreply-ooo-subject.eml", "auto_reply"),
        ("10-autoreply-ooo-ru.eml", "auto_reply"),
        ("11-autoreply-xautoreply.eml", "auto_reply"),
        ("12-bounce-dsn.eml", "bounce"),
        ("13-list.eml", "list"),
        ("14-spam.eml", "spam"),
        ("15-loop.eml", "loop"),
    ];
    let mut desk = Desk::new();
    for (file, kind) in cases {
        let reference = desk.ingest_fixture(file);
        let ticket = desk.ticket(reference);
        assert_eq!(ticket.messages[0].kind, kind, "{file}");
        assert_eq!(ticket.ticket.status, "ignored", "{file}");
        assert_eq!(ticket.ticket.due_at, None, "{file}: no waiting period");
        assert_eq!(desk.pending_acks(reference), 0, "{file}");
    }
    assert_eq!(desk.count("SELECT count(*) FROM outbox"), 0);
}

#[test]
fn requests_follow_ups_and_agent_replies() {
    let mut desk = Desk::new();
    let request = desk.ingest_fixture("06-request-en.eml");
    let ticket = desk.ticket(request);
    assert_eq!(ticket.messages[0].kind, "request");
    assert_eq!(ticket.ticket.status, "new");
    assert_eq!(ticket.ticket.queue, "technical");
    assert_eq!(ticket.ticket.category.as_deref(), Some("technical"));
    assert!(ticket.ticket.due_at.is_some());
    assert_eq!(desk.pending_acks(request), 1);

    let follow_up = desk.ingest_fixture("07-followup-en.eml");
    assert_eq!(follow_up, request);
    let ticket = desk.ticket(request);
    assert_eq!(ticket.messages[1].kind, "follow_up");
    assert_eq!(
        ticket.messages[1].threaded_by.as_deref(),
        Some("In-Reply-To")
    );
    assert_eq!(ticket.ticket.message_count, 2);
    assert_eq!(
        desk.pending_acks(request),
        1,
        "one acknowledgement per ticket"
    );

    // Mail in Anna's name that Alice never got is no answer to Alice: it is quarantined
    // and her clock keeps running.
    let not_to_alice = mail(
        "Anna <anna@example.com>",
        "Re: Cannot log in to my account",
        "In-Reply-To: <req-alice-1@customer.example>\r\n",
        "Solved, closing.",
    );
    assert_ne!(desk.ingest(&not_to_alice), request);
    assert_eq!(desk.ticket(request).ticket.status, "new");
    assert_eq!(desk.pending_acks(request), 1);

    // Anna (an agent) answers from her own client, replying to Alice's message, the desk
    // in copy.
    let answer = mail(
        "Anna <anna@example.com>",
        "Re: Cannot log in to my account",
        "Cc: alice@customer.example\r\nIn-Reply-To: <req-alice-1@customer.example>\r\n",
        "Hi Alice, we reset your password.",
    );
    assert_eq!(desk.ingest(&answer), request);
    let ticket = desk.ticket(request);
    assert_eq!(ticket.messages.len(), 3);
    assert_eq!(ticket.messages[2].kind, "agent_reply");
    assert_eq!(ticket.ticket.status, "answered");
    assert!(ticket.ticket.first_response_at.is_some());
    assert_eq!(ticket.ticket.due_at, None, "the clock stops on an answer");
    assert_eq!(
        desk.pending_acks(request),
        0,
        "the pending acknowledgement is cancelled"
    );
    assert!(
        desk.event_types(request)
            .contains(&"ack_cancelled".to_string())
    );

    // Alice writes again: a new waiting period, but no second acknowledgement.
    let again = mail(
        "alice@customer.example",
        "Re: Cannot log in to my account",
        "In-Reply-To: <req-alice-1@customer.example>\r\n",
        "Still broken.",
    );
    assert_eq!(desk.ingest(&again), request);
    let ticket = desk.ticket(request);
    assert_eq!(ticket.ticket.status, "new");
    assert!(ticket.ticket.due_at.is_some());
    assert_eq!(desk.pending_acks(request), 0);
}

#[test]
fn a_closed_ticket_reopens_with_a_new_waiting_period() {
    let mut desk = Desk::new();
    let reference = desk.ingest_fixture("20-thread-root.eml");
    desk.store
        .connection()
        .execute(
            "UPDATE tickets SET status = 'closed', waiting_since = NULL, due_at = NULL",
            [],
        )
        .unwrap();
    desk.clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(
        desk.ingest_fixture("21-thread-reply-inreplyto.eml"),
        reference
    );
    let ticket = desk.ticket(reference);
    assert_eq!(ticket.ticket.status, "new");
    assert!(ticket.ticket.due_at.is_some());
    assert!(
        desk.event_types(reference)
            .contains(&"reopened".to_string())
    );
    assert_eq!(
        desk.pending_acks(reference),
        2,
        "a reopened ticket may get a new acknowledgement"
    );
}

#[test]
fn threading_by_in_reply_to_references_and_subject() {
    let mut desk = Desk::new();
    let root = desk.ingest_fixture("20-thread-root.eml");
    assert_eq!(desk.ingest_fixture("21-thread-reply-inreplyto.eml"), root);
    assert_eq!(desk.ingest_fixture("22-thread-reply-references.eml"), root);
    desk.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));
    assert_eq!(desk.ingest_fixture("23-thread-subject-only.eml"), root);
    let vias: Vec<_> = desk
        .ticket(root)
        .messages
        .iter()
        .map(|m| m.threaded_by.clone())
        .collect();
    assert_eq!(
        vias,
        [
            None,
            Some("In-Reply-To".into()),
            Some("References".into()),
            Some("sender and subject".into())
        ]
    );
    // Mallory copies the subject but never took part: her own ticket.
    let stranger = desk.ingest_fixture("24-thread-stranger-subject.eml");
    assert_ne!(stranger, root);
    assert_eq!(desk.ticket(root).ticket.message_count, 4);
}

#[test]
fn subject_match_only_within_the_window() {
    let mut desk = Desk::new();
    let root = desk.ingest_fixture("20-thread-root.eml");
    desk.clock
        .advance(std::time::Duration::from_secs(30 * 86_400));
    let late = desk.ingest_fixture("23-thread-subject-only.eml");
    assert_ne!(
        late, root,
        "a month later the same subject is a new request"
    );
}

#[test]
fn subject_tag_joins_participants_only() {
    let mut desk = Desk::new();
    let root = desk.ingest_fixture("20-thread-root.eml");
    let tag = format!("[#{root}]");

    let from_bob = mail(
        "Bob Stone <bob@client.example>",
        &format!("Something else {tag}"),
        "",
        "More details.",
    );
    assert_eq!(desk.ingest(&from_bob), root);
    assert_eq!(
        desk.ticket(root).messages[1].threaded_by.as_deref(),
        Some("subject tag")
    );

    // A stranger who guessed the number gets a ticket of her own, and the guess is logged.
    let guessed = mail(
        "mallory@evil.example",
        &format!("Re: {tag} Printer driver crashes on startup"),
        "",
        "Send me the files.",
    );
    let stranger = desk.ingest(&guessed);
    assert_ne!(stranger, root);
    assert_eq!(desk.ticket(root).ticket.message_count, 2);
    let warning = desk
        .ticket(stranger)
        .events
        .into_iter()
        .find(|e| e.kind == "warning")
        .expect("a warning event on the stranger's ticket");
    assert!(
        warning.detail.contains("not one of its participants"),
        "{}",
        warning.detail
    );
}

#[test]
fn reply_token_threads_the_tickets_people_only() {
    let mut desk = Desk::new();
    let root = desk.ingest_fixture("20-thread-root.eml");
    let token = desk.token(root);
    assert_eq!(token.len(), 20);
    assert!(!token.contains(&root.to_string()));
    let reply = format!(
        "From: bob@client.example\r\nTo: support+t.{token}@example.com\r\nSubject: unrelated words\r\nMessage-ID: <tok@client.example>\r\n\r\nhello\r\n"
    );
    assert_eq!(desk.ingest(reply.as_bytes()), root);
    assert_eq!(
        desk.ticket(root).messages[1].threaded_by.as_deref(),
        Some("reply token")
    );

    // Anyone Bob passed the address on to (in a quote, a forward) is not Bob: a ticket of
    // their own, with a warning naming Bob's.
    let passed_on = format!(
        "From: colleague@client.example\r\nTo: support+t.{token}@example.com\r\nSubject: unrelated words 3\r\nMessage-ID: <tok3@client.example>\r\n\r\nhello\r\n"
    );
    let own = desk.ingest(passed_on.as_bytes());
    assert_ne!(own, root);
    assert_eq!(desk.ticket(root).ticket.message_count, 2);
    let warning = desk
        .ticket(own)
        .events
        .into_iter()
        .find(|e| e.kind == "warning")
        .expect("a warning naming Bob's ticket");
    assert!(
        warning.detail.contains(&format!("[#{root}]")),
        "{}",
        warning.detail
    );

    let bad = "From: bob@client.example\r\nTo: support+t.0000000000deadbeef00@example.com\r\nSubject: unrelated words 2\r\nMessage-ID: <tok2@client.example>\r\n\r\nhello\r\n";
    assert_ne!(
        desk.ingest(bad.as_bytes()),
        root,
        "a wrong token threads nowhere"
    );
}

#[test]
fn replies_to_our_own_sent_mail_thread() {
    let mut desk = Desk::new();
    let root = desk.ingest_fixture("20-thread-root.eml");
    postdesk::store::remember_message_id(
        desk.store.connection(),
        "ack-1@postdesk.example.com",
        postdesk::store::ticket_of_reference(root),
        "",
        Some("bob@client.example"),
    )
    .unwrap();
    let reply = mail(
        "bob@client.example",
        "Re: We received your request",
        "In-Reply-To: <ack-1@postdesk.example.com>\r\n",
        "Thanks",
    );
    assert_eq!(desk.ingest(&reply), root);

    // The acknowledgement went to Bob: someone who only saw its Message-ID gets a ticket
    // of their own.
    let borrowed = mail(
        "someone.else@elsewhere.example",
        "Re: We received your request (2)",
        "In-Reply-To: <ack-1@postdesk.example.com>\r\n",
        "Thanks",
    );
    assert_ne!(desk.ingest(&borrowed), root);
}

#[test]
fn rules_vip_and_attachments() {
    let mut desk = Desk::new();
    let invoice = desk.ingest_fixture("19-request-invoice.eml");
    let t = desk.ticket(invoice).ticket;
    assert_eq!(
        (t.queue.as_str(), t.category.as_deref()),
        ("billing", Some("billing"))
    );

    let vip = desk.ingest_fixture("18-request-vip.eml");
    let t = desk.ticket(vip).ticket;
    assert_eq!(t.priority, "high");
    assert!(t.labels.contains(&"vip".to_string()));

    let attached = desk.ingest_fixture("16-request-attachment.eml");
    let message = &desk.ticket(attached).messages[0];
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(
        message.attachments[0].name.as_deref(),
        Some("checkout-error.png")
    );
    assert_eq!(message.attachments[0].content_type, "image/png");
    assert!(
        message
            .text
            .contains("The checkout page shows the attached error.")
    );

    let html = desk.ingest_fixture("17-request-html-only.eml");
    assert!(
        desk.ticket(html).messages[0]
            .text
            .contains("The parcel for order 5531 arrived damaged.")
    );
}

#[test]
fn acknowledgement_guards() {
    let mut desk = Desk::new();
    // Unattended senders and our own domain never get one.
    let noreply = desk.ingest(&mail(
        "noreply@shop.example",
        "Your order",
        "",
        "Order confirmed.",
    ));
    assert_eq!(desk.pending_acks(noreply), 0);
    assert!(
        desk.event_types(noreply)
            .contains(&"ack_suppressed".to_string())
    );
    let colleague = desk.ingest(&mail(
        "petra@example.com",
        "Printer on floor 3",
        "",
        "Broken again.",
    ));
    assert_eq!(desk.pending_acks(colleague), 0);

    // An internal help desk acknowledges its colleagues; the desk's own address and the
    // loop guards still get nothing.
    let text = std::fs::read_to_string(fixture_path("postdesk.toml")).unwrap();
    let text = text.replacen(
        "address = \"support@example.com\"\n",
        "address = \"support@example.com\"\nacknowledge_own_domain = true\n",
        1,
    );
    let mut internal =
        Desk::with_config(Config::from_toml(&text, &fixture_path("postdesk.toml")).unwrap());
    let colleague = internal.ingest(&mail(
        "petra@example.com",
        "Printer on floor 3",
        "",
        "Broken again.",
    ));
    assert_eq!(internal.pending_acks(colleague), 1);
    let automatic = internal.ingest(&mail(
        "petra@example.com",
        "Out of office",
        "Auto-Submitted: auto-replied\r\n",
        "Back Monday.",
    ));
    assert_eq!(internal.pending_acks(automatic), 0);

    // At most three a day to one sender (ack_daily_cap).
    let mut acked = 0;
    for i in 0..5 {
        let reference = desk.ingest(&mail(
            "loopy@partner.example",
            &format!("Question number {i}"),
            "",
            "Hello?",
        ));
        acked += desk.pending_acks(reference);
    }
    assert_eq!(acked, 3);
    desk.clock
        .advance(std::time::Duration::from_secs(86_400 + 1));
    let next_day = desk.ingest(&mail(
        "loopy@partner.example",
        "Question next day",
        "",
        "Hello?",
    ));
    assert_eq!(desk.pending_acks(next_day), 1);
}

#[test]
fn ack_is_due_after_the_delay() {
    let mut desk = Desk::new();
    let reference = desk.ingest_fixture("06-request-en.eml");
    let due: i64 = desk.count("SELECT due_at - created_at FROM outbox");
    assert_eq!(due, 15 * 60);
    assert_eq!(desk.pending_acks(reference), 1);
}

#[test]
fn bad_input_is_stored_as_unparsed_tickets() {
    let mut desk = Desk::new();
    let mut flood = String::from("From: a@b.example\r\n");
    for i in 0..10_000 {
        flood.push_str(&format!("X-Filler-{i}: x\r\n"));
    }
    flood.push_str("\r\nbody\r\n");
    let mut huge = b"From: big@b.example\r\nSubject: big\r\n\r\n".to_vec();
    huge.resize(desk.config.ingest.max_message_bytes + 1, b'a');
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        (
            "NUL",
            b"From: a@b.example\r\nSubject: hi\0there\r\n\r\nbody".to_vec(),
        ),
        ("header lines", flood.into_bytes()),
        ("over the limit", huge),
        (
            "not an email",
            b"\xff\xfe binary garbage without any header".to_vec(),
        ),
    ];
    for (reason, raw) in inputs {
        let reference = desk.ingest(&raw);
        let ticket = desk.ticket(reference);
        assert!(ticket.ticket.unparsed, "{reason}");
        assert_eq!(
            ticket.ticket.status, "new",
            "{reason}: an admin must look at it"
        );
        let message = &ticket.messages[0];
        assert!(
            message.parse_error.as_deref().unwrap().contains(reason),
            "{reason}: {:?}",
            message.parse_error
        );
        assert_eq!(message.size as usize, raw.len(), "{reason}: raw bytes kept");
        assert!(
            ticket.events.iter().any(|e| e.kind == "warning"),
            "{reason}"
        );
        assert_eq!(desk.pending_acks(reference), 0, "{reason}");
    }
    assert_eq!(desk.summary.quarantined, 4);
    assert_eq!(desk.summary.failed, 0);
}

#[test]
fn event_log_is_append_only() {
    let mut desk = Desk::new();
    desk.ingest_fixture("06-request-en.eml");
    let conn = desk.store.connection();
    let update = conn.execute("UPDATE events SET detail = 'rewritten'", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = conn.execute("DELETE FROM events", []);
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn full_text_search_finds_messages() {
    let mut desk = Desk::new();
    desk.ingest_fixture("06-request-en.eml");
    desk.ingest_fixture("01-charset-koi8r.eml");
    assert_eq!(
        desk.count("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '403'"),
        1
    );
    assert_eq!(
        desk.count("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'оплатить'"),
        1
    );
}

#[test]
fn a_message_the_store_refuses_leaves_the_rest_of_its_batch_stored() {
    let mut desk = Desk::new();
    desk.store
        .connection()
        .execute_batch(
            "CREATE TEMP TRIGGER refuse_poison BEFORE INSERT ON messages WHEN new.subject = 'poison'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    let filed = desk.ingest_batch(&[
        mail(
            "first@customer.example",
            "Printer offline",
            "",
            "The printer is offline.",
        ),
        mail(
            "second@customer.example",
            "poison",
            "",
            "The printer is offline.",
        ),
        mail(
            "third@customer.example",
            "Scanner offline",
            "",
            "The scanner is offline.",
        ),
    ]);
    assert!(
        matches!(
            filed[0],
            Filed::Stored {
                new_ticket: true,
                ..
            }
        ),
        "{:?}",
        filed[0]
    );
    assert!(
        matches!(&filed[1], Filed::Failed(e) if e.to_string().contains("refused by the test")),
        "{:?}",
        filed[1]
    );
    assert!(
        matches!(
            filed[2],
            Filed::Stored {
                new_ticket: true,
                ..
            }
        ),
        "{:?}",
        filed[2]
    );
    assert_eq!((desk.summary.ingested, desk.summary.failed), (2, 1));
    // nothing of the refused message stays: no ticket, no event, no outbox row
    assert_eq!(desk.count("SELECT count(*) FROM messages"), 2);
    assert_eq!(desk.count("SELECT count(*) FROM tickets"), 2);
    assert_eq!(
        desk.count("SELECT count(*) FROM participants WHERE address = 'second@customer.example'"),
        0
    );
    assert_eq!(
        desk.count("SELECT count(*) FROM outbox WHERE recipient = 'second@customer.example'"),
        0
    );
    assert_eq!(
        desk.count("SELECT count(DISTINCT ticket_id) FROM events"),
        2
    );
    assert_eq!(
        desk.count("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'offline'"),
        2
    );
    assert_eq!(desk.ticket(1001).ticket.customer, "third@customer.example");
}

#[test]
fn old_mail_is_filed_but_not_acknowledged() {
    let mut desk = Desk::new();
    // The fixture was written on 16 November; a first sync a week later is backlog.
    desk.clock
        .advance(std::time::Duration::from_secs(7 * 86_400));
    let reference = desk.ingest_fixture("06-request-en.eml");
    assert_eq!(desk.ticket(reference).ticket.status, "new");
    assert_eq!(desk.pending_acks(reference), 0);
    let suppressed = desk
        .ticket(reference)
        .events
        .into_iter()
        .find(|e| e.kind == "ack_suppressed")
        .unwrap();
    assert!(
        suppressed.detail.contains("too long ago"),
        "{}",
        suppressed.detail
    );
}

#[test]
fn sent_folder_mail_answers_tickets_and_never_opens_one() {
    let mut desk = Desk::new();
    let request = desk.ingest_fixture("06-request-en.eml");
    assert_eq!(desk.pending_acks(request), 1);
    // The team answers from the shared mailbox (From: the support address) in its Sent folder.
    let answer = mail(
        "Example Support <support@example.com>",
        "Re: Cannot log in to my account",
        "In-Reply-To: <req-alice-1@customer.example>\r\nReferences: <req-alice-1@customer.example>\r\n",
        "Hello Alice, your account is unlocked.\r\n\r\nOn Mon, 16 Nov 2026, Alice Martin wrote:\r\n> I cannot log in.",
    );
    assert!(matches!(
        desk.ingest_sent(&answer),
        Filed::Stored {
            new_ticket: false,
            ..
        }
    ));
    let ticket = desk.ticket(request);
    assert_eq!(ticket.ticket.status, "answered");
    assert_eq!(ticket.messages[1].kind, "agent_reply");
    assert!(ticket.ticket.first_response_at.is_some());
    assert_eq!(desk.pending_acks(request), 0);

    // Mail the team sent to anyone else, quoting whatever, is no ticket at all.
    let outbound = mail(
        "Example Support <support@example.com>",
        "Our new opening hours",
        "",
        "Dear partner,\r\n\r\n> I cannot log in.",
    );
    assert!(matches!(desk.ingest_sent(&outbound), Filed::NotATicket(_)));
    assert_eq!(desk.count("SELECT count(*) FROM tickets"), 1);
    assert_eq!(desk.summary.not_tickets, 1);
}

/// Mail from the support address to `to`, without any thread header.
fn sent_to(to: &str, subject: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Example Support <support@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Date: Tue, 17 Nov 2026 10:30:00 +0000\r\nMessage-ID: <{id}@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn the_teams_answer_without_thread_headers_finds_the_customers_ticket_by_subject() {
    let mut desk = Desk::new();
    let request = desk.ingest_fixture("06-request-en.eml");
    // A mobile client that drops In-Reply-To/References: only the subject and the customer.
    let answer = sent_to(
        "Alice Martin <alice@customer.example>",
        "RE: Cannot log in to my account",
        "answer-1",
        "Hello Alice, your account is unlocked.",
    );
    assert!(matches!(
        desk.ingest_sent(&answer),
        Filed::Stored {
            new_ticket: false,
            ..
        }
    ));
    let ticket = desk.ticket(request);
    assert_eq!(ticket.ticket.status, "answered");
    assert_eq!(
        ticket.messages[1].threaded_by.as_deref(),
        Some("sender and subject")
    );
    // Someone else's mail with that subject is still no answer to Alice.
    let unrelated = sent_to(
        "bob@elsewhere.example",
        "Cannot log in to my account",
        "other-1",
        "Dear Bob, ...",
    );
    assert!(matches!(desk.ingest_sent(&unrelated), Filed::NotATicket(_)));
}

#[test]
fn a_thank_you_on_an_answered_ticket_keeps_it_answered() {
    let mut desk = Desk::new();
    let request = desk.ingest_fixture("06-request-en.eml");
    let answer = mail(
        "Anna <anna@example.com>",
        "Re: Cannot log in to my account",
        "Cc: alice@customer.example\r\nIn-Reply-To: <req-alice-1@customer.example>\r\n",
        "We reset your password.",
    );
    assert_eq!(desk.ingest(&answer), request);
    let thanks = mail(
        "alice@customer.example",
        "Re: Cannot log in to my account",
        "In-Reply-To: <req-alice-1@customer.example>\r\n",
        "Thanks, that solved it!\r\n\r\nOn Tue, 17 Nov 2026 at 10:00, Anna <anna@example.com> wrote:\r\n> We reset your password.",
    );
    assert_eq!(desk.ingest(&thanks), request);
    let ticket = desk.ticket(request).ticket;
    assert_eq!(ticket.status, "answered");
    assert_eq!(ticket.due_at, None, "no new deadline");
    assert!(desk.event_types(request).contains(&"thanks".to_string()));

    // Thanks with a question, or with a "but", is a follow-up.
    let more = mail(
        "alice@customer.example",
        "Re: Cannot log in to my account",
        "In-Reply-To: <req-alice-1@customer.example>\r\n",
        "Thanks, but the app still asks for the old password.",
    );
    desk.ingest(&more);
    let ticket = desk.ticket(request).ticket;
    assert_eq!(ticket.status, "new");
    assert!(ticket.due_at.is_some());
}

#[test]
fn thanks_closes_false_makes_every_message_a_follow_up() {
    let text = std::fs::read_to_string(fixture_path("postdesk.toml")).unwrap();
    let text = text.replacen(
        "[[queue]]\nname = \"technical\"\n",
        "[[queue]]\nname = \"technical\"\nthanks_closes = false\n",
        1,
    );
    assert!(text.contains("thanks_closes = false"));
    let mut desk =
        Desk::with_config(Config::from_toml(&text, &fixture_path("postdesk.toml")).unwrap());
    let request = desk.ingest_fixture("06-request-en.eml");
    desk.ingest(&mail(
        "Anna <anna@example.com>",
        "Re: Cannot log in to my account",
        "Cc: alice@customer.example\r\nIn-Reply-To: <req-alice-1@customer.example>\r\n",
        "We reset your password.",
    ));
    desk.ingest(&mail(
        "alice@customer.example",
        "Re: Cannot log in to my account",
        "In-Reply-To: <req-alice-1@customer.example>\r\n",
        "Thanks!",
    ));
    assert_eq!(desk.ticket(request).ticket.status, "new");
}
