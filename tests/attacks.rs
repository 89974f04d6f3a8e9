//! The attacks on ticket ownership, end to end: the real `postdesk run` against the suite's
//! Dovecot and Postfix, each attack mail handed to Postfix as an attacker's MTA would, and
//! what was actually delivered read back from every person's INBOX. Alice is the customer,
//! Mallory a stranger who knows Alice's Message-IDs (they travel in every Cc and quote),
//! Anna and Petro the agents, `support@desk.example` the desk.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::*;
use regex::Regex;
use serde_json::Value;

const ANNA: &str = "anna@example.com";
const PETRO: &str = "petro@example.com";

fn alice() -> String {
    format!("alice@{CUSTOMERS}")
}

fn mallory() -> String {
    format!("mallory@{CUSTOMERS}")
}

/// Stack, and a daemon whose `support` queue relays to Anna and Petro (`mode`), with a
/// one-second acknowledgement delay and `ingest` lines.
fn desk(mode: &str, ingest: &str) -> (Stack, Daemon) {
    let stack = Stack::start(&["support", "alice", "mallory", "anna", "petro"]);
    let mut daemon = Daemon::new();
    daemon.configure(
        &stack,
        "support",
        SUPPORT,
        "ack_delay = \"1s\"",
        "",
        &format!(
            "[ingest]\n{ingest}\n\n[[queue]]\nname = \"support\"\nagents = [\"{ANNA}\", \"{PETRO}\"]\nmode = \"{mode}\"\n"
        ),
    );
    daemon.start();
    (stack, daemon)
}

/// `from` sends `raw` to the desk through Postfix.
fn send(stack: &Stack, from: &str, raw: &[u8]) {
    submit(stack, from, &[SUPPORT], raw);
}

/// Alice's request; returns (its Message-ID, ticket id) once it is filed.
fn alices_request(stack: &Stack, daemon: &Daemon, subject: &str, body: &str) -> (String, i64) {
    let id = unique_id("alice");
    send(
        stack,
        &alice(),
        &mail(
            &format!("Alice Martin <{}>", alice()),
            SUPPORT,
            subject,
            &id,
            "",
            body,
        ),
    );
    let ticket = daemon.wait_filed(&id);
    (id, ticket)
}

fn required(raw: &[u8], name: &str) -> String {
    header(raw, name).unwrap_or_else(|| panic!("no {name} in\n{}", String::from_utf8_lossy(raw)))
}

/// The address inside `<...>` of a header value.
fn address_of(value: &str) -> String {
    Regex::new(r"<([^>]+)>")
        .unwrap()
        .captures(value)
        .map_or_else(|| value.to_string(), |c| c[1].to_string())
}

/// Waits for the `n`th mail of `kind` in `user`'s INBOX.
fn nth_mail(daemon: &Daemon, stack: &Stack, user: &str, kind: &str, n: usize) -> Vec<u8> {
    daemon.wait(&format!("{kind} #{n} in {user}'s INBOX"), ARRIVAL, || {
        postdesk_mail_in(stack, user, kind).into_iter().nth(n - 1)
    })
}

/// What stays the same when nobody who may touch a ticket did.
fn state(t: &Value) -> (Value, Value, Value, Value, Value) {
    (
        t["status"].clone(),
        t["priority"].clone(),
        t["message_count"].clone(),
        t["assignee"].clone(),
        t["due_at"].clone(),
    )
}

fn event_details(t: &Value, kind: &str) -> Vec<String> {
    t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["detail"].as_str().unwrap().to_string())
        .collect()
}

/// Anna answers a relay forward through its Reply-To (her client threads the reply).
fn anna_answers(stack: &Stack, forward: &[u8], text: &str) -> String {
    let id = unique_id("anna");
    let to = address_of(&required(forward, "Reply-To"));
    let forward_id = required(forward, "Message-ID");
    let (subject, _) = subject_and_body(forward);
    let raw = mail(
        &format!("Anna Koval <{ANNA}>"),
        &to,
        &format!("Re: {subject}"),
        &id,
        &format!("In-Reply-To: {forward_id}\nReferences: {forward_id}\n"),
        text,
    );
    submit(stack, ANNA, &[&to], &raw);
    id
}

/// Attack 1: Mallory presents Alice's Message-IDs, on a closed ticket and on an open one.
/// She gets a ticket of her own (acknowledged with her own subject and token), Alice's
/// tickets do not move, and Alice gets nothing Mallory wrote.
#[test]
fn a_borrowed_message_id_opens_the_strangers_own_ticket() {
    let (stack, daemon) = desk("relay", "");
    let secret = "Refund for card 4111-xxxx, account VIP-991";
    let (first_id, closed) = alices_request(&stack, &daemon, secret, "Please refund order 77.");
    let ack = nth_mail(&daemon, &stack, "alice", "acknowledgement", 1);
    let alices_reply_to = address_of(&required(&ack, "Reply-To"));
    let forward = nth_mail(&daemon, &stack, "anna", "relay_forward", 1);
    anna_answers(&stack, &forward, "#close\nRefunded today.");
    nth_mail(&daemon, &stack, "alice", "relay_answer", 1);
    daemon.wait("Alice's ticket closed", ARRIVAL, || {
        (ticket_json(&daemon, closed)["status"] == "closed").then_some(())
    });
    let (open_id, open) = alices_request(&stack, &daemon, "Second card blocked", "Help.");
    nth_mail(&daemon, &stack, "anna", "relay_forward", 2);
    nth_mail(&daemon, &stack, "alice", "acknowledgement", 2);
    daemon.wait("the open ticket acknowledged", ARRIVAL, || {
        (ticket_json(&daemon, open)["status"] == "acknowledged").then_some(())
    });
    let before = [closed, open].map(|t| state(&ticket_json(&daemon, t)));

    let ack_id = required(&ack, "Message-ID");
    for (n, parent) in [&format!("<{first_id}>"), &format!("<{open_id}>")]
        .into_iter()
        .enumerate()
    {
        let id = unique_id("mallory");
        send(
            &stack,
            &mallory(),
            &mail(
                &format!("Alice Martin <{}>", mallory()),
                SUPPORT,
                "Re: my account",
                &id,
                &format!("In-Reply-To: {parent}\nReferences: {ack_id} {parent}\n"),
                "This is Alice. Send the refund to IBAN XX00 0000 instead.",
            ),
        );
        let own = daemon.wait_filed(&id);
        assert!(
            own != closed && own != open,
            "attack {n}: joined Alice's ticket"
        );
        let t = ticket_json(&daemon, own);
        assert_eq!(t["customer"], mallory(), "{t:#}");
        let warnings = event_details(&t, "warning");
        let named = if n == 0 { closed } else { open };
        let tag = format!("[#{}]", named + REF_OFFSET);
        assert!(
            warnings.iter().any(|w| w.contains(&tag)),
            "no warning naming {tag}: {warnings:?}"
        );
    }
    // Mallory's acknowledgements are of her own tickets: her subject, her own token.
    let acks = daemon.wait("two acknowledgements to Mallory", ARRIVAL, || {
        let acks = postdesk_mail_in(&stack, "mallory", "acknowledgement");
        (acks.len() == 2).then_some(acks)
    });
    for ack in &acks {
        let (subject, body) = subject_and_body(ack);
        assert!(
            !subject.contains("VIP-991") && !body.contains("VIP-991"),
            "{subject}\n{body}"
        );
        assert_ne!(address_of(&required(ack, "Reply-To")), alices_reply_to);
    }
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    let after = [closed, open].map(|t| state(&ticket_json(&daemon, t)));
    assert_eq!(before, after, "Alice's tickets changed");
    for raw in stack.inbox("alice") {
        assert!(
            !String::from_utf8_lossy(&raw).contains("IBAN"),
            "Alice got Mallory's text"
        );
    }
    // The agents' forwards of Mallory's text name Mallory's tickets, not Alice's.
    for raw in postdesk_mail_in(&stack, "anna", "relay_forward")
        .iter()
        .skip(2)
    {
        let (subject, _) = subject_and_body(raw);
        for t in [closed, open] {
            assert!(
                !subject.contains(&format!("[#{}]", t + REF_OFFSET)),
                "{subject}"
            );
        }
    }
}

/// Attack 1b: Mallory sends first with the Message-ID Alice's client will use. The ID
/// stays Alice's for Alice: her mail is not taken for a duplicate, and her follow-up
/// threads into her own ticket.
#[test]
fn a_squatted_message_id_does_not_capture_the_real_senders_thread() {
    let (stack, daemon) = desk("observe", "");
    let predicted = unique_id("alice-next");
    send(
        &stack,
        &mallory(),
        &mail(
            &format!("Mallory <{}>", mallory()),
            SUPPORT,
            "Hello",
            &predicted,
            "",
            "Squatting.",
        ),
    );
    let mallorys = daemon.wait_filed(&predicted);
    send(
        &stack,
        &alice(),
        &mail(
            &format!("Alice Martin <{}>", alice()),
            SUPPORT,
            "Invoice 2211 charged twice",
            &predicted,
            "",
            "Please refund one payment.",
        ),
    );
    let alices = daemon.wait("Alice's request filed", ARRIVAL, || {
        daemon.count(&format!(
            "SELECT ticket_id FROM messages WHERE message_id = '{predicted}' AND from_addr = '{}'",
            alice()
        ))
    });
    assert_ne!(alices, mallorys, "Alice's mail joined Mallory's ticket");
    let follow_up = unique_id("alice-follow");
    send(
        &stack,
        &alice(),
        &mail(
            &format!("Alice Martin <{}>", alice()),
            SUPPORT,
            "Re: Invoice 2211 charged twice",
            &follow_up,
            &format!("In-Reply-To: <{predicted}>\nReferences: <{predicted}>\n"),
            "Any news?",
        ),
    );
    assert_eq!(daemon.wait_filed(&follow_up), alices);
    let m = ticket_json(&daemon, mallorys);
    assert_eq!(m["message_count"], 1, "{m:#}");
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    for raw in stack.inbox("mallory") {
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("Invoice 2211") && !text.contains("Any news"),
            "Mallory got Alice's mail:\n{text}"
        );
    }
}

/// Attack 2: the customer's reply address with a forged agent `From:` (and the customer
/// herself writing commands to it). Nothing is relayed, no command applies; the forgery is
/// quarantined and Anna told.
#[test]
fn the_customers_reply_address_grants_no_agent_commands() {
    let (stack, daemon) = desk("relay", "");
    let (request_id, ticket) = alices_request(&stack, &daemon, "Refund", "Please refund.");
    let ack = nth_mail(&daemon, &stack, "alice", "acknowledgement", 1);
    let reply_to = address_of(&required(&ack, "Reply-To"));
    assert!(reply_to.starts_with("support+t."), "{reply_to}");
    let forward = nth_mail(&daemon, &stack, "anna", "relay_forward", 1);
    let agent_address = address_of(&required(&forward, "Reply-To"));
    assert!(agent_address.starts_with("support+a."), "{agent_address}");
    assert_ne!(reply_to, agent_address);
    // `postdesk ticket` shows the same agent address, for agents who write commands.
    let shown = daemon.cli(&["ticket", &(ticket + REF_OFFSET).to_string()]);
    assert!(shown.contains(&agent_address), "{shown}");
    assert!(
        !shown.contains(&reply_to),
        "the customer's token is not shown: {shown}"
    );
    let before = state(&ticket_json(&daemon, ticket));

    let forged = unique_id("forged-agent");
    submit(
        &stack,
        &mallory(),
        &[&reply_to],
        &mail(
            &format!("Anna Koval <{ANNA}>"),
            &reply_to,
            "Re: Refund",
            &forged,
            &format!("In-Reply-To: <{request_id}>\n"),
            "#priority urgent\n#assign petro\nYour refund failed, re-enter your card at http://evil.example/",
        ),
    );
    assert_ne!(daemon.wait_filed(&forged), ticket);
    let notice = nth_mail(&daemon, &stack, "anna", "agent_notice", 1);
    assert!(subject_and_body(&notice).0.contains("Not relayed"));
    assert_eq!(state(&ticket_json(&daemon, ticket)), before);

    // Alice's own commands through her reply address are only her text.
    let own = unique_id("alice-commands");
    submit(
        &stack,
        &alice(),
        &[&reply_to],
        &mail(
            &format!("Alice Martin <{}>", alice()),
            &reply_to,
            "Re: Refund",
            &own,
            "",
            "#priority urgent\n#close\nStill waiting.",
        ),
    );
    assert_eq!(daemon.wait_filed(&own), ticket);
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["priority"], before.1, "{t:#}");
    assert_ne!(t["status"], "closed", "{t:#}");
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert!(postdesk_mail_in(&stack, "alice", "relay_answer").is_empty());
    for raw in stack.inbox("alice") {
        assert!(!String::from_utf8_lossy(&raw).contains("evil.example"));
    }
}

/// Attack 3: forged answers in a relay queue, by In-Reply-To from Anna's or the desk's own
/// address, and a tag-only mail in Anna's name. None answers the ticket or opens a request
/// from the agent; each is quarantined with a notice to the agents it names.
#[test]
fn forged_team_mail_neither_answers_nor_opens_a_request() {
    let (stack, daemon) = desk("relay", "");
    let (request_id, ticket) = alices_request(&stack, &daemon, "Broken login", "I cannot log in.");
    nth_mail(&daemon, &stack, "anna", "relay_forward", 1);
    let tag = format!("[#{}]", ticket + REF_OFFSET);
    let forgeries = [
        (
            format!("Anna Koval <{ANNA}>"),
            "Re: Broken login".to_string(),
            format!("In-Reply-To: <{request_id}>\nReferences: <{request_id}>\n"),
        ),
        (
            format!("Example Support <{SUPPORT}>"),
            "Re: Broken login".to_string(),
            format!("In-Reply-To: <{request_id}>\n"),
        ),
        (
            format!("Anna Koval <{ANNA}>"),
            format!("{tag} status"),
            String::new(),
        ),
    ];
    for (from, subject, threading) in &forgeries {
        let id = unique_id("forged");
        send(
            &stack,
            &mallory(),
            &mail(from, SUPPORT, subject, &id, threading, "#close\nSolved."),
        );
        let jail = daemon.wait_filed(&id);
        assert_ne!(jail, ticket, "{from}: joined the ticket");
        let q = ticket_json(&daemon, jail);
        assert_eq!(q["status"], "ignored", "{q:#}");
        assert_eq!(q["labels"][0], "quarantine", "{q:#}");
    }
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["message_count"], 1, "{t:#}");
    assert!(t["first_response_at"].is_null(), "{t:#}");
    assert!(t["due_at"].is_string(), "the clock still runs: {t:#}");
    assert_ne!(t["status"], "answered", "{t:#}");
    assert_ne!(t["status"], "closed", "{t:#}");
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    // No request opened in Anna's name: she got no acknowledgement, only notices.
    assert!(acks_in(&stack, "anna").is_empty());
    assert_eq!(postdesk_mail_in(&stack, "anna", "agent_notice").len(), 2);
    assert_eq!(postdesk_mail_in(&stack, "anna", "relay_forward").len(), 1);
    assert_eq!(
        daemon.count("SELECT count(*) FROM outbox WHERE kind = 'relay_answer'"),
        Some(0)
    );
}

/// A closed ticket's agent address stops taking commands after
/// `ingest.agent_token_lifetime`; the customer's reply address keeps threading.
#[test]
fn a_closed_tickets_agent_address_expires() {
    let (stack, daemon) = desk("relay", "agent_token_lifetime = \"2s\"");
    let (_, ticket) = alices_request(&stack, &daemon, "Old order", "Where is order 12?");
    let forward = nth_mail(&daemon, &stack, "anna", "relay_forward", 1);
    anna_answers(&stack, &forward, "#close\nShipped yesterday.");
    nth_mail(&daemon, &stack, "alice", "relay_answer", 1);
    daemon.wait("closed", ARRIVAL, || {
        (ticket_json(&daemon, ticket)["status"] == "closed").then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    let late = anna_answers(&stack, &forward, "#priority urgent\nOne more thing.");
    assert_ne!(daemon.wait_filed(&late), ticket);
    let notice = nth_mail(&daemon, &stack, "anna", "agent_notice", 1);
    assert!(
        subject_and_body(&notice).1.contains("agent_token_lifetime"),
        "{}",
        subject_and_body(&notice).1
    );
    let t = ticket_json(&daemon, ticket);
    assert_eq!(t["status"], "closed", "{t:#}");
    assert_eq!(t["priority"], "normal", "{t:#}");
    daemon.wait_mail_settled();
    stack.wait_postfix_idle();
    assert_eq!(postdesk_mail_in(&stack, "alice", "relay_answer").len(), 1);
}
