//! Agents answer from their own mail client, end to end: the real `postdesk run` against the
//! suite's Dovecot (the support mailbox, its Sent folder, every person's INBOX) and Postfix
//! (what postdesk sends, and what agents' clients send). Agents are `anna` and `petro` in
//! `example.com`; the customer is `alice` in `customer.example`; the desk is
//! `support@desk.example`.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::*;
use regex::Regex;

const ANNA: &str = "anna@example.com";
const PETRO: &str = "petro@example.com";

fn alice() -> String {
    format!("alice@{CUSTOMERS}")
}

/// Stack, and a daemon whose `support` queue relays to Anna and Petro.
fn relay_desk() -> (Stack, Daemon) {
    let stack = Stack::start(&["support", "alice", "anna", "petro"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1h\"",
        "",
        &format!(
            "[[queue]]\nname = \"support\"\nagents = [\"{ANNA}\", \"{PETRO}\"]\nmode = \"relay\"\n"
        ),
    );
    daemon.start();
    (stack, daemon)
}

/// Alice's request, appended to the support INBOX; returns (its Message-ID, ticket id).
fn request(stack: &Stack, daemon: &Daemon, subject: &str, body: &str) -> (String, i64) {
    let id = unique_id("req");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("Alice Martin <{}>", alice()),
            SUPPORT,
            subject,
            &id,
            "",
            body,
        ),
    );
    (id, daemon.wait_ticket(&alice()))
}

/// Waits for the `n`th mail of `kind` in `user`'s INBOX.
fn nth_mail(daemon: &Daemon, stack: &Stack, user: &str, kind: &str, n: usize) -> Vec<u8> {
    daemon.wait(&format!("{kind} #{n} in {user}'s INBOX"), ARRIVAL, || {
        postdesk_mail_in(stack, user, kind).into_iter().nth(n - 1)
    })
}

fn required(raw: &[u8], name: &str) -> String {
    header(raw, name).unwrap_or_else(|| panic!("no {name} in\n{}", String::from_utf8_lossy(raw)))
}

/// What Thunderbird sends when Anna answers `forward`: to its Reply-To, threaded under it,
/// her text, her signature, and the quoted forward.
fn anna_replies(stack: &Stack, forward: &[u8], text: &str) -> String {
    let id = unique_id("anna");
    let forward_id = required(forward, "Message-ID");
    let reply_to = required(forward, "Reply-To");
    let to = Regex::new(r"<([^>]+)>")
        .unwrap()
        .captures(&reply_to)
        .map(|c| c[1].to_string())
        .unwrap_or(reply_to);
    let (subject, body) = subject_and_body(forward);
    let quoted: String = body.lines().map(|l| format!("> {l}\n")).collect();
    let raw = mail(
        &format!("Anna Koval <{ANNA}>"),
        &to,
        &format!("Re: {subject}"),
        &id,
        &format!(
            "In-Reply-To: {forward_id}\nReferences: {forward_id}\nUser-Agent: Mozilla Thunderbird\n"
        ),
        &format!(
            "{text}\n\n-- \nAnna Koval\nBilling, Example Ltd.\n+380 44 000 00 00\n\n\
             On 17.11.2026 10:00, Alice Martin via Example Support wrote:\n{quoted}"
        ),
    );
    submit(stack, ANNA, &[&to], &raw);
    id
}

#[test]
fn relay_round_trip_threads_the_answer_under_the_customers_message() {
    let (stack, daemon) = relay_desk();
    let request_text =
        "Hello,\n\nI was charged twice for invoice 2211. Please refund one payment.\n\nAlice";
    let (request_id, ticket) = request(&stack, &daemon, "Charged twice", request_text);
    let tag = format!("[#{}]", ticket + REF_OFFSET);

    // Each agent gets the forward: facts, the customer's text, the secret Reply-To.
    let forward = nth_mail(&daemon, &stack, "anna", "relay_forward", 1);
    nth_mail(&daemon, &stack, "petro", "relay_forward", 1);
    let reply_to = required(&forward, "Reply-To");
    assert!(
        Regex::new(r"<support\+a\.[0-9]+\.[0-9a-f]{20}@desk\.example>$")
            .unwrap()
            .is_match(&reply_to),
        "Reply-To {reply_to}"
    );
    assert!(required(&forward, "From").contains(SUPPORT));
    let (subject, body) = subject_and_body(&forward);
    assert_eq!(subject, format!("{tag} Charged twice"));
    assert!(
        body.contains(&format!("Ticket {tag} · queue support · priority normal")),
        "{body}"
    );
    assert!(body.contains("answer due"), "{body}");
    assert!(
        body.contains("I was charged twice for invoice 2211."),
        "{body}"
    );

    anna_replies(
        &stack,
        &forward,
        "Hello Alice,\n\nthe second payment is refunded today; you will see it in 3 days.",
    );

    // Alice gets the answer from the desk, threaded under her own message.
    let answer = nth_mail(&daemon, &stack, "alice", "relay_answer", 1);
    assert_eq!(required(&answer, "In-Reply-To"), format!("<{request_id}>"));
    assert!(required(&answer, "References").contains(&format!("<{request_id}>")));
    let from = required(&answer, "From");
    assert!(
        from.contains("Example Support") && from.ends_with(&format!("<{SUPPORT}>")),
        "From {from}"
    );
    assert_eq!(required(&answer, "Return-Path"), format!("<{SUPPORT}>"));
    assert!(
        header(&answer, "Auto-Submitted").is_none(),
        "a person's answer"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        !text.contains("anna@"),
        "the agent's address leaked:\n{text}"
    );
    let (subject, body) = subject_and_body(&answer);
    assert_eq!(subject, format!("Re: Charged twice {tag}"));
    assert_eq!(
        body.trim_end(),
        "Hello Alice,\n\nthe second payment is refunded today; you will see it in 3 days."
    );

    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["status"], "answered", "{t:#}");
    assert!(t["first_response_at"].is_string(), "{t:#}");
    assert!(t["due_at"].is_null(), "{t:#}");

    // Alice's client answers the answer: same ticket, waiting again, forwarded again.
    let answer_id = required(&answer, "Message-ID");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("Alice Martin <{}>", alice()),
            SUPPORT,
            &format!("Re: {subject}"),
            &unique_id("alice-thanks"),
            &format!("In-Reply-To: {answer_id}\nReferences: <{request_id}> {answer_id}\n"),
            "Thank you! One more question: can I get the invoice corrected?",
        ),
    );
    let t = daemon.wait("the follow-up on the ticket", ARRIVAL, || {
        let t = ticket_json(&daemon, ticket);
        (t["message_count"] == 3).then_some(t)
    });
    assert_eq!(t["status"], "new", "{t:#}");
    assert_eq!(t["messages"][2]["threaded_by"], "In-Reply-To", "{t:#}");
    nth_mail(&daemon, &stack, "anna", "relay_forward", 2);
    assert_eq!(
        daemon.count("SELECT count(*) FROM tickets"),
        Some(1),
        "nothing opened a second ticket"
    );
}

#[test]
fn forged_or_untokened_agent_mail_is_quarantined_and_the_agent_told() {
    let (stack, daemon) = relay_desk();
    let (request_id, ticket) = request(&stack, &daemon, "Refund", "Please refund my order 77.");
    let forward = nth_mail(&daemon, &stack, "anna", "relay_forward", 1);
    let forward_id = required(&forward, "Message-ID");

    // Someone forges Anna's address, writing to the plain desk address in the thread.
    let spoofed = mail(
        &format!("Anna Koval <{ANNA}>"),
        SUPPORT,
        "Re: Refund",
        &unique_id("spoof"),
        &format!("In-Reply-To: {forward_id}\nReferences: <{request_id}> {forward_id}\n"),
        "#close\nRefund approved: reply with your card number and CVV.",
    );
    submit(&stack, ANNA, &[SUPPORT], &spoofed);
    let notice = nth_mail(&daemon, &stack, "anna", "agent_notice", 1);
    let (subject, body) = subject_and_body(&notice);
    assert!(subject.contains("Not relayed: Re: Refund"), "{subject}");
    assert!(body.contains("without the agent address"), "{body}");
    assert_eq!(required(&notice, "Auto-Submitted"), "auto-replied");

    // A reply address with a wrong token.
    let wrong = mail(
        &format!("Anna Koval <{ANNA}>"),
        "support+t.0000000000000000@desk.example",
        "Re: Refund",
        &unique_id("wrong-token"),
        "",
        "Refund approved.",
    );
    submit(
        &stack,
        ANNA,
        &["support+t.0000000000000000@desk.example"],
        &wrong,
    );
    let notice = nth_mail(&daemon, &stack, "anna", "agent_notice", 2);
    assert!(subject_and_body(&notice).1.contains("belongs to no ticket"));

    // Both are outside messages on quarantine tickets named in the notices' subjects.
    let quarantined = daemon.json(&["tickets", "--status", "ignored", "--json"]);
    let quarantined = quarantined.as_array().unwrap();
    assert_eq!(quarantined.len(), 2, "{quarantined:#?}");
    for t in quarantined {
        assert_eq!(t["labels"][0], "quarantine", "{t:#}");
        let detail = daemon.json(&["ticket", &t["ref"].to_string(), "--json"]);
        assert_eq!(detail["messages"][0]["kind"], "outside", "{detail:#}");
    }
    // The customer's ticket is untouched and the customer got nothing.
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["status"], "new", "{t:#}");
    assert_eq!(t["message_count"], 1, "{t:#}");
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert!(stack.inbox("alice").is_empty(), "the customer got mail");
    assert_eq!(
        daemon.count("SELECT count(*) FROM outbox WHERE kind = 'relay_answer'"),
        Some(0)
    );
}

#[test]
fn commands_from_the_agents_client_and_a_reopened_ticket() {
    let (stack, daemon) = relay_desk();
    let (_, ticket) = request(
        &stack,
        &daemon,
        "Invoice",
        "My invoice shows the wrong address.",
    );
    let forward = nth_mail(&daemon, &stack, "anna", "relay_forward", 1);

    // An unknown command: nothing applied, Anna is told what was wrong.
    anna_replies(&stack, &forward, "#escalate now\nFixed the address.");
    let notice = nth_mail(&daemon, &stack, "anna", "agent_notice", 1);
    let (subject, body) = subject_and_body(&notice);
    assert!(
        subject.starts_with(&format!("[#{}] Not applied", ticket + REF_OFFSET)),
        "{subject}"
    );
    assert!(body.contains("#escalate"), "{body}");
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["status"], "new", "{t:#}");

    // A note is stored, never sent.
    anna_replies(
        &stack,
        &forward,
        "#note\nThe customer moved last month; CRM is outdated.",
    );
    daemon.wait("the note", ARRIVAL, || {
        let t = ticket_json(&daemon, ticket);
        (t["message_count"] == 3).then_some(())
    });

    // Several commands and an answer.
    anna_replies(
        &stack,
        &forward,
        "#assign petro\n#priority urgent\n#pending\nCould you send us your new address?",
    );
    let answer = nth_mail(&daemon, &stack, "alice", "relay_answer", 1);
    assert_eq!(
        subject_and_body(&answer).1.trim_end(),
        "Could you send us your new address?"
    );
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["status"], "pending", "{t:#}");
    assert_eq!(t["assignee"], PETRO, "{t:#}");
    assert_eq!(t["priority"], "urgent", "{t:#}");
    assert!(t["due_at"].is_null(), "{t:#}");
    let events: Vec<String> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "command_rejected",
        "note",
        "assigned",
        "priority_changed",
        "pending",
        "relayed",
    ] {
        assert!(
            events.contains(&expected.to_string()),
            "{expected} not in {events:?}"
        );
    }

    // Close with a last word.
    anna_replies(&stack, &forward, "#close\nCorrected invoice is on its way.");
    nth_mail(&daemon, &stack, "alice", "relay_answer", 2);
    daemon.wait("the ticket closed", ARRIVAL, || {
        (ticket_json(&daemon, ticket)["status"] == "closed").then_some(())
    });
    // The note was never sent: only the two answers reached Alice.
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(postdesk_mail_in(&stack, "alice", "relay_answer").len(), 2);
    assert_eq!(stack.inbox("alice").len(), 2);

    // Alice writes again: reopened with a new waiting period, forwarded to the assignee only.
    let answer_id = required(&answer, "Message-ID");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &format!("Alice Martin <{}>", alice()),
            SUPPORT,
            "Re: Invoice",
            &unique_id("alice-again"),
            &format!("In-Reply-To: {answer_id}\n"),
            "The corrected invoice still has the old street.",
        ),
    );
    let t = daemon.wait("the ticket reopened", ARRIVAL, || {
        let t = ticket_json(&daemon, ticket);
        (t["status"] == "new").then_some(t)
    });
    assert!(t["due_at"].is_string(), "new waiting period: {t:#}");
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "reopened"),
        "{t:#}"
    );
    nth_mail(&daemon, &stack, "petro", "relay_forward", 2);
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(postdesk_mail_in(&stack, "anna", "relay_forward").len(), 1);
}

#[test]
fn answers_seen_in_the_sent_folder_and_in_copies_stop_the_clock() {
    let stack = Stack::start(&["support", "alice", "bob", "carl", "anna"]);
    stack.dovecot.create_folder("support", "Sent");
    let mut daemon = Daemon::new();
    daemon.configure_mailbox(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"5s\"",
        "",
        "sent_folders = [\"Sent\"]\npoll_interval = \"1s\"",
        &format!("[[queue]]\nname = \"support\"\nagents = [\"{ANNA}\"]\n"),
    );
    daemon.start();
    let (alice_id, alice_ticket) = request(&stack, &daemon, "Password", "I cannot log in.");

    // The team answers from the shared mailbox: the copy lands in its Sent folder.
    stack.dovecot.append(
        "support",
        "Sent",
        &mail(
            &format!("Example Support <{SUPPORT}>"),
            &alice(),
            "Re: Password",
            &unique_id("sent-answer"),
            &format!("In-Reply-To: <{alice_id}>\nReferences: <{alice_id}>\n"),
            "Your password is reset.\n\n> I cannot log in.",
        ),
    );
    // Unrelated mail the team sent, quoting a customer: no ticket.
    stack.dovecot.append(
        "support",
        "Sent",
        &mail(
            SUPPORT,
            "partner@elsewhere.example",
            "Our opening hours",
            &unique_id("sent-other"),
            "",
            "Dear partner,\n\n> I cannot log in.",
        ),
    );
    let t = daemon.wait("the Sent answer", ARRIVAL, || {
        let t = ticket_json(&daemon, alice_ticket);
        (t["status"] == "answered").then_some(t)
    });
    assert_eq!(t["messages"][1]["kind"], "agent_reply", "{t:#}");

    // Anna answers Bob from her own client with the desk in Cc, through Postfix.
    let bob = format!("bob@{CUSTOMERS}");
    let bob_id = unique_id("bob");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &bob,
            SUPPORT,
            "Export fails",
            &bob_id,
            "",
            "The CSV export fails.",
        ),
    );
    let bob_ticket = daemon.wait_ticket(&bob);
    let copy = mail(
        &format!("Anna Koval <{ANNA}>"),
        &bob,
        "Re: Export fails",
        &unique_id("anna-cc"),
        &format!("Cc: {SUPPORT}\nIn-Reply-To: <{bob_id}>\nReferences: <{bob_id}>\n"),
        "Fixed in today's release.",
    );
    submit(&stack, ANNA, &[&bob, SUPPORT], &copy);
    daemon.wait("the Cc answer", ARRIVAL, || {
        (ticket_json(&daemon, bob_ticket)["status"] == "answered").then_some(())
    });

    // Carl, unanswered, is acknowledged after the delay; Alice and Bob never are.
    let carl = format!("carl@{CUSTOMERS}");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &carl,
            SUPPORT,
            "Question",
            &unique_id("carl"),
            "",
            "Do you ship to Norway?",
        ),
    );
    daemon.wait("Carl's acknowledgement", ARRIVAL, || {
        acks_in(&stack, "carl").into_iter().next()
    });
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert!(acks_in(&stack, "alice").is_empty());
    assert!(acks_in(&stack, "bob").is_empty());
    assert_eq!(daemon.count("SELECT count(*) FROM tickets"), Some(3));
}

/// Observe mode: `#close` or `#pending` on the first line of an answer in the shared
/// mailbox's Sent folder applies (only an authenticated user can put mail there); the same
/// mail forged from outside, with an agent's `From:`, answers at most and closes nothing.
#[test]
fn observed_answers_close_only_when_the_sender_is_proven() {
    let stack = Stack::start(&["support", "alice", "bob", "anna"]);
    stack.dovecot.create_folder("support", "Sent");
    let mut daemon = Daemon::new();
    daemon.configure_mailbox(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1h\"",
        "",
        "sent_folders = [\"Sent\"]\npoll_interval = \"1s\"",
        &format!("[[queue]]\nname = \"support\"\nagents = [\"{ANNA}\"]\n"),
    );
    daemon.start();
    let (alice_id, alice_ticket) = request(&stack, &daemon, "Password", "I cannot log in.");
    stack.dovecot.append(
        "support",
        "Sent",
        &mail(
            &format!("Example Support <{SUPPORT}>"),
            &alice(),
            "Re: Password",
            &unique_id("sent-close"),
            &format!("In-Reply-To: <{alice_id}>\n"),
            "#close\nYour password is reset.",
        ),
    );
    let t = daemon.wait("closed from the Sent folder", ARRIVAL, || {
        let t = ticket_json(&daemon, alice_ticket);
        (t["status"] == "closed").then_some(t)
    });
    assert!(t["due_at"].is_null(), "{t:#}");

    let bob = format!("bob@{CUSTOMERS}");
    let bob_id = unique_id("bob");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &bob,
            SUPPORT,
            "Export fails",
            &bob_id,
            "",
            "The export fails.",
        ),
    );
    let bob_ticket = daemon.wait_ticket(&bob);
    let forged_id = unique_id("forged-close");
    let forged = mail(
        &format!("Anna Koval <{ANNA}>"),
        &bob,
        "Re: Export fails",
        &forged_id,
        &format!("Cc: {SUPPORT}\nIn-Reply-To: <{bob_id}>\n"),
        "#close\nFixed.",
    );
    submit(&stack, &bob, &[SUPPORT], &forged);
    daemon.wait_filed(&forged_id);
    let t = ticket_json(&daemon, bob_ticket);
    assert_ne!(t["status"], "closed", "{t:#}");
    let warned = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "warning" && e["detail"].as_str().unwrap().contains("#close"));
    assert!(warned, "the attempt is not logged: {t:#}");
}

/// A customer's thank-you on an answered ticket makes no new deadline (so no warning and no
/// breach), end to end; a thank-you with a question does.
#[test]
fn a_thank_you_after_the_answer_makes_no_deadline() {
    let stack = Stack::start(&["support", "alice"]);
    stack.dovecot.create_folder("support", "Sent");
    let mut daemon = Daemon::new();
    daemon.configure_mailbox(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1h\"",
        "",
        "sent_folders = [\"Sent\"]\npoll_interval = \"1s\"",
        "",
    );
    daemon.start();
    let (alice_id, ticket) = request(&stack, &daemon, "Password", "I cannot log in.");
    let answer_id = unique_id("sent-answer");
    stack.dovecot.append(
        "support",
        "Sent",
        &mail(
            &format!("Example Support <{SUPPORT}>"),
            &alice(),
            "Re: Password",
            &answer_id,
            &format!("In-Reply-To: <{alice_id}>\n"),
            "Your password is reset.",
        ),
    );
    daemon.wait("answered", ARRIVAL, || {
        (ticket_json(&daemon, ticket)["status"] == "answered").then_some(())
    });
    let reply = |text: &str| {
        let id = unique_id("alice-reply");
        let raw = mail(
            &format!("Alice Martin <{}>", alice()),
            SUPPORT,
            "Re: Password",
            &id,
            &format!("In-Reply-To: <{answer_id}>\n"),
            &format!(
                "{text}\n\nOn Tue, 17 Nov 2026 at 10:00, Example Support <{SUPPORT}> wrote:\n> Your password is reset."
            ),
        );
        submit(&stack, &alice(), &[SUPPORT], &raw);
        id
    };
    let thanks = reply("Thanks, that solved it!");
    daemon.wait_filed(&thanks);
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["status"], "answered", "{t:#}");
    assert!(t["due_at"].is_null(), "{t:#}");
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "thanks"),
        "{t:#}"
    );

    reply("Thanks! Can I also change my e-mail address?");
    let t = daemon.wait("the question reopens the wait", ARRIVAL, || {
        let t = ticket_json(&daemon, ticket);
        (t["status"] == "new").then_some(t)
    });
    assert!(t["due_at"].is_string(), "{t:#}");
}
