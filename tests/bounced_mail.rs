//! A bounce of mail the desk sent flags the ticket, end to end: the real `postdesk run`
//! against the suite's Dovecot and Postfix; the acknowledgement is delivered to Alice's
//! INBOX, and her provider's MTA then reports it undeliverable (a DSN, RFC 3464, with the
//! returned headers, as a forwarding or over-quota failure after acceptance reports it)
//! from the null sender to the desk.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::*;

fn dsn(returned_id: &str, id: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.{CUSTOMERS}>\n\
         To: {SUPPORT}\nSubject: Undelivered Mail Returned to Sender\nDate: {date}\n\
         Message-ID: <{id}>\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n\
         --b\nContent-Type: message/delivery-status\n\n\
         Reporting-MTA: dns; mx.{CUSTOMERS}\n\n\
         Final-Recipient: rfc822; alice@{CUSTOMERS}\nAction: failed\nStatus: 5.2.2\n\
         Diagnostic-Code: smtp; 552 5.2.2 mailbox full\n\n\
         --b\nContent-Type: text/rfc822-headers\n\n\
         From: Example Support <{SUPPORT}>\nTo: alice@{CUSTOMERS}\n\
         Message-ID: {returned_id}\nSubject: We received your request\n\n--b--\n",
        date = rfc2822_now()
    )
    .into_bytes()
}

/// Waits for the ticket's `delivery_failed` label; returns the ticket and the detail of its
/// `delivery_failed` event.
fn flagged(daemon: &Daemon, ticket: i64) -> (serde_json::Value, String) {
    let t = daemon.wait("the flag", ARRIVAL, || {
        let t = ticket_json(daemon, ticket);
        (t["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "delivery_failed"))
        .then_some(t)
    });
    let detail = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "delivery_failed")
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_else(|| panic!("no delivery_failed event: {t:#}"))
        .to_string();
    (t, detail)
}

/// Hands `raw` to Postfix from the null reverse-path, as an MTA sends a bounce.
fn submit_bounce(stack: &Stack, raw: &[u8]) {
    use lettre::Transport;
    let envelope =
        lettre::address::Envelope::new(None, vec![SUPPORT.parse().unwrap()]).expect("envelope");
    lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(stack.postfix.smtp_port())
        .build()
        .send_raw(&envelope, raw)
        .expect("Postfix takes the bounce");
}

#[test]
fn a_bounced_acknowledgement_flags_its_ticket_for_a_phone_call() {
    let stack = Stack::start(&["support", "alice"]);
    let mut daemon = Daemon::new();
    daemon.configure(&stack, "support", SUPPORT, "ack_delay = \"1s\"", "", "");
    daemon.start();
    let alice = format!("alice@{CUSTOMERS}");
    submit(
        &stack,
        &alice,
        &[SUPPORT],
        &mail(
            &format!("Alice <{alice}>"),
            SUPPORT,
            "Cannot log in",
            &unique_id("req"),
            "",
            "Please help.",
        ),
    );
    let ticket = daemon.wait_ticket(&alice);
    let ack = daemon.wait("the acknowledgement in Alice's INBOX", ARRIVAL, || {
        acks_in(&stack, "alice").into_iter().next()
    });
    let ack_id = header(&ack, "Message-ID").unwrap();
    let before = ticket_json(&daemon, ticket);

    // A bounce naming a Message-ID of ours that we never sent flags nothing.
    let forged = unique_id("forged-dsn");
    submit_bounce(
        &stack,
        &dsn(
            "<postdesk.acknowledgement.1.0badf00d@desk.example>",
            &forged,
        ),
    );
    let id = unique_id("dsn");
    submit_bounce(&stack, &dsn(&ack_id, &id));
    let (t, detail) = flagged(&daemon, ticket);
    assert!(
        detail.contains(&alice) && detail.contains("5.2.2") && detail.contains("phone them"),
        "{detail}"
    );
    let bounce = t["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(bounce["kind"], "bounce", "{t:#}");
    // The waiting period and the status are Alice's, untouched by the bounce.
    assert_eq!(t["status"], before["status"], "{t:#}");
    assert_eq!(t["due_at"], before["due_at"], "{t:#}");
    // The listing shows it too.
    let listed = daemon.json(&["tickets", "--all", "--json"]);
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref"] == ticket + REF_OFFSET)
        .unwrap()
        .clone();
    assert!(
        row["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "delivery_failed"),
        "{row:#}"
    );
    // The forged one made a ticket of its own and flagged nothing else.
    let other = daemon.wait_filed(&forged);
    assert_ne!(other, ticket);
    assert_eq!(
        daemon.count("SELECT count(*) FROM tickets WHERE labels LIKE '%delivery_failed%'"),
        Some(1)
    );
    // Nobody acknowledges a bounce.
    daemon.wait_mail_settled();
    assert_eq!(
        daemon.count("SELECT count(*) FROM outbox WHERE kind = 'acknowledgement'"),
        Some(1)
    );
}

/// An acknowledgement the customer's server refuses outright (Postfix: unknown user, 550
/// at RCPT) is flagged the same way: the customer did not get it.
#[test]
fn a_refused_acknowledgement_flags_its_ticket() {
    let stack = Stack::start(&["support"]);
    let mut daemon = Daemon::new();
    daemon.configure(&stack, "support", SUPPORT, "ack_delay = \"1s\"", "", "");
    daemon.start();
    let ghost = format!("ghost@{CUSTOMERS}");
    stack.dovecot.append(
        "support",
        "INBOX",
        &mail(
            &ghost,
            SUPPORT,
            "Order",
            &unique_id("ghost"),
            "",
            "Where is it?",
        ),
    );
    let ticket = daemon.wait_ticket(&ghost);
    let (_, detail) = flagged(&daemon, ticket);
    assert!(
        detail.contains(&ghost) && detail.contains("phone them"),
        "{detail}"
    );
}
