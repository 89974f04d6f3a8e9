//! Relay mode and agents' commands through the pipeline (the decisions and the outbox rows
//! they write; tests/agents.rs sends the mail through the real Postfix and Dovecot).

mod common;

use common::{Desk, fixture_path};
use postdesk::config::Config;
use postdesk::store::Filed;

/// The fixtures config with `from` replaced by `to`.
fn desk_with_config_edit(from: &str, to: &str) -> Desk {
    let text = std::fs::read_to_string(fixture_path("postdesk.toml")).unwrap();
    assert!(text.contains(from), "fixture config changed: no {from:?}");
    let text = text.replace(from, to);
    Desk::with_config(Config::from_toml(&text, &fixture_path("postdesk.toml")).unwrap())
}

/// The fixtures config with the billing queue relaying.
fn relay_desk() -> Desk {
    desk_with_config_edit(
        "mode = \"observe\"                 # agents answer from their own client; postdesk watches",
        "mode = \"relay\"",
    )
}

fn raw(headers: &str, body: &str) -> Vec<u8> {
    format!(
        "{headers}Date: Tue, 17 Nov 2026 10:05:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A customer's billing request; returns its reference.
fn billing_request(desk: &mut Desk) -> i64 {
    let reference = desk.ingest(&raw(
        "From: Alice Martin <alice@customer.example>\r\nTo: support@example.com\r\n\
         Subject: Refund for invoice 2211\r\nMessage-ID: <refund-1@customer.example>\r\n",
        "Hello, I was charged twice for invoice 2211. Please refund one payment.",
    ));
    assert_eq!(desk.ticket(reference).ticket.queue, "billing");
    reference
}

/// Anna's reply to the forward of ticket `reference`, written to `to`.
fn agent_reply(reference: i64, to: &str, id: &str, body: &str) -> Vec<u8> {
    raw(
        &format!(
            "From: Anna Koval <anna@example.com>\r\nTo: {to}\r\n\
             Subject: Re: [#{reference}] Refund for invoice 2211\r\nMessage-ID: <{id}@example.com>\r\n\
             In-Reply-To: <refund-1@customer.example>\r\n"
        ),
        body,
    )
}

fn secret_address(desk: &Desk, reference: i64) -> String {
    format!("support+a.{}@example.com", desk.agent_token(reference))
}

/// (kind, recipient, payload) of a ticket's outbox mail rows other than acknowledgements.
fn agent_rows(desk: &Desk, reference: i64) -> Vec<(String, String, serde_json::Value)> {
    let conn = desk.store.connection();
    let mut stmt = conn
        .prepare(
            "SELECT kind, recipient, payload FROM outbox
             WHERE ticket_id = ?1 AND kind IN ('relay_forward', 'relay_answer', 'agent_notice')
             ORDER BY id",
        )
        .unwrap();
    stmt.query_map([postdesk::store::ticket_of_reference(reference)], |r| {
        let payload: String = r.get(2)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            serde_json::from_str(&payload).unwrap(),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn kinds(rows: &[(String, String, serde_json::Value)]) -> Vec<(&str, &str)> {
    rows.iter()
        .map(|(k, to, _)| (k.as_str(), to.as_str()))
        .collect()
}

#[test]
fn new_ticket_of_a_relay_queue_is_forwarded_to_each_agent() {
    let mut desk = relay_desk();
    let reference = billing_request(&mut desk);
    assert_eq!(
        kinds(&agent_rows(&desk, reference)),
        vec![
            ("relay_forward", "anna@example.com"),
            ("relay_forward", "petro@example.com")
        ]
    );
    // Other queues observe: nothing forwarded.
    let other = desk.ingest_fixture("06-request-en.eml");
    assert_ne!(desk.ticket(other).ticket.queue, "billing");
    assert!(agent_rows(&desk, other).is_empty());
}

#[test]
fn agents_reply_through_the_secret_address_is_relayed_without_quote_or_signature() {
    let mut desk = relay_desk();
    let reference = billing_request(&mut desk);
    let to = secret_address(&desk, reference);
    let reply = agent_reply(
        reference,
        &to,
        "anna-1",
        "Hello Alice,\r\n\r\nthe second payment is refunded today.\r\n\r\n--\r\nAnna Koval\r\nBilling team\r\n\r\n\
         On Tue, 17 Nov 2026 at 10:00, Alice Martin via Support <support@example.com> wrote:\r\n\
         > Hello, I was charged twice for invoice 2211.",
    );
    assert!(matches!(
        desk.ingest_filed(&reply),
        Filed::Stored {
            new_ticket: false,
            ..
        }
    ));
    let ticket = desk.ticket(reference);
    assert_eq!(ticket.ticket.status, "answered");
    assert!(ticket.ticket.first_response_at.is_some());
    assert_eq!(ticket.ticket.due_at, None, "the clock stopped");
    assert_eq!(desk.pending_acks(reference), 0);
    let rows = agent_rows(&desk, reference);
    let (kind, to, payload) = rows.last().unwrap();
    assert_eq!(
        (kind.as_str(), to.as_str()),
        ("relay_answer", "alice@customer.example")
    );
    assert_eq!(
        payload["text"],
        "Hello Alice,\n\nthe second payment is refunded today."
    );
    assert!(
        desk.event_types(reference)
            .contains(&"relay_scheduled".to_string())
    );
}

#[test]
fn commands_apply_together_and_the_rest_is_relayed() {
    let mut desk = relay_desk();
    let reference = billing_request(&mut desk);
    let to = secret_address(&desk, reference);
    desk.ingest(&agent_reply(
        reference,
        &to,
        "anna-2",
        "#assign petro\r\n#priority high\r\n#pending\r\nCould you send us the bank statement?\r\n",
    ));
    let ticket = desk.ticket(reference).ticket;
    assert_eq!(ticket.assignee.as_deref(), Some("petro@example.com"));
    assert_eq!(ticket.priority, "high");
    assert_eq!(ticket.status, "pending");
    assert_eq!(ticket.due_at, None);
    let rows = agent_rows(&desk, reference);
    let (kind, _, payload) = rows.last().unwrap();
    assert_eq!(kind, "relay_answer");
    assert_eq!(payload["text"], "Could you send us the bank statement?");

    // The customer's answer goes to the assignee only, and reopens the waiting period.
    desk.ingest(&raw(
        &format!(
            "From: Alice Martin <alice@customer.example>\r\nTo: {to}\r\n\
             Subject: Re: Refund for invoice 2211\r\nMessage-ID: <refund-2@customer.example>\r\n"
        ),
        "Attached is the statement.",
    ));
    let rows = agent_rows(&desk, reference);
    assert_eq!(
        kinds(&rows[rows.len() - 1..]),
        vec![("relay_forward", "petro@example.com")]
    );
    assert_eq!(desk.ticket(reference).ticket.status, "new");

    // #close with no text: closed, nothing sent.
    let before = agent_rows(&desk, reference).len();
    desk.ingest(&agent_reply(reference, &to, "anna-3", "#close\r\n"));
    assert_eq!(desk.ticket(reference).ticket.status, "closed");
    assert_eq!(agent_rows(&desk, reference).len(), before);
}

/// Moving a waiting ticket to a queue with a shorter target makes the customer's wait due by
/// that queue's target, counted from when they started waiting, not from the move.
#[test]
fn a_queue_move_counts_the_wait_against_the_new_queues_target() {
    let mut desk = desk_with_config_edit(
        "[[queue]]\nname = \"technical\"\n",
        "[[queue]]\nname = \"technical\"\nresponse_target = \"4h\"\n",
    );
    let reference = billing_request(&mut desk);
    let due = |desk: &Desk| -> (i64, i64, i64) {
        desk.store
            .connection()
            .query_row(
                "SELECT waiting_since, warn_at, due_at FROM tickets WHERE id = ?1 - 999",
                [reference],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let (since, _, billing_due) = due(&desk);
    let to = secret_address(&desk, reference);
    desk.ingest(&agent_reply(
        reference,
        &to,
        "anna-move",
        "#queue technical\r\n",
    ));
    let ticket = desk.ticket(reference).ticket;
    assert_eq!(ticket.queue, "technical");
    assert_eq!(ticket.status, "new", "a move alone answers nobody");
    let (moved_since, warn_at, moved_due) = due(&desk);
    assert_eq!(moved_since, since, "the wait keeps its start");
    // Filed Monday 10:00 Kyiv (the test clock), inside working hours: four working hours
    // later is 14:00 the same day, the warning at three (75%).
    assert_eq!(
        moved_due - since,
        4 * 3600,
        "due by the technical queue's 4h target"
    );
    assert_eq!(warn_at - since, 3 * 3600);
    assert!(
        moved_due < billing_due,
        "{moved_due} vs billing's {billing_due}"
    );
    let events = desk.event_types(reference);
    assert!(events.contains(&"queue_changed".to_string()), "{events:?}");
}

#[test]
fn a_note_is_stored_and_never_sent() {
    let mut desk = relay_desk();
    let reference = billing_request(&mut desk);
    let to = secret_address(&desk, reference);
    desk.ingest(&agent_reply(
        reference,
        &to,
        "anna-4",
        "#note\r\nChecked with the bank: both payments arrived.",
    ));
    let detail = desk.ticket(reference);
    assert_eq!(detail.ticket.status, "new", "a note answers nobody");
    assert!(detail.ticket.due_at.is_some());
    assert!(detail.messages[1].text.contains("both payments arrived"));
    assert!(desk.event_types(reference).contains(&"note".to_string()));
    assert!(
        agent_rows(&desk, reference)
            .iter()
            .all(|(kind, _, _)| kind == "relay_forward")
    );
}

#[test]
fn a_bad_command_applies_nothing_and_tells_the_agent() {
    let mut desk = relay_desk();
    let reference = billing_request(&mut desk);
    let to = secret_address(&desk, reference);
    desk.ingest(&agent_reply(
        reference,
        &to,
        "anna-5",
        "#close\r\n#priority whenever\r\nDone, refunded.",
    ));
    let ticket = desk.ticket(reference).ticket;
    assert_eq!(ticket.status, "new");
    assert_eq!(ticket.priority, "normal");
    let rows = agent_rows(&desk, reference);
    let (kind, agent, payload) = rows.last().unwrap();
    assert_eq!(
        (kind.as_str(), agent.as_str()),
        ("agent_notice", "anna@example.com")
    );
    let body = payload["body"].as_str().unwrap();
    assert!(body.contains("#priority whenever"), "{body}");
    assert!(!rows.iter().any(|(kind, _, _)| kind == "relay_answer"));
    assert!(
        desk.event_types(reference)
            .contains(&"command_rejected".to_string())
    );
}

/// The quarantine ticket made by the last message, with its notice row.
fn quarantine(desk: &Desk) -> i64 {
    let id: i64 = desk.count("SELECT max(id) FROM tickets");
    let reference = postdesk::store::reference(id);
    let detail = desk.ticket(reference);
    assert_eq!(detail.ticket.status, "ignored");
    assert_eq!(detail.ticket.labels, vec!["quarantine".to_string()]);
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(detail.messages[0].kind, "outside");
    let rows = agent_rows(desk, reference);
    assert_eq!(kinds(&rows), vec![("agent_notice", "anna@example.com")]);
    reference
}

#[test]
fn a_wrong_token_is_quarantined_and_the_agent_told() {
    let mut desk = relay_desk();
    let reference = billing_request(&mut desk);
    let token = desk.token(reference);
    let wrong: String = token
        .chars()
        .rev()
        .collect::<String>()
        .replace(|c: char| c.is_ascii_digit(), "x");
    let forged = agent_reply(
        reference,
        &format!("support+t.{wrong}@example.com"),
        "forged-1",
        "Refund approved, please send your card number.",
    );
    assert!(matches!(
        desk.ingest_filed(&forged),
        Filed::Stored {
            new_ticket: true,
            ..
        }
    ));
    let jail = quarantine(&desk);
    assert_ne!(jail, reference);
    let original = desk.ticket(reference);
    assert_eq!(original.ticket.status, "new");
    assert_eq!(original.messages.len(), 1);
    assert!(
        agent_rows(&desk, reference)
            .iter()
            .all(|(kind, _, _)| kind == "relay_forward")
    );
}

#[test]
fn a_spoofed_agent_without_the_token_is_an_outside_message() {
    let mut desk = relay_desk();
    let reference = billing_request(&mut desk);
    let forged = agent_reply(
        reference,
        "support@example.com",
        "forged-2",
        "#close\r\nRefund approved.",
    );
    desk.ingest(&forged);
    quarantine(&desk);
    assert_eq!(desk.ticket(reference).ticket.status, "new");
}

/// Relay desk whose mail server (`mx.example.com`) stamps `Authentication-Results`.
fn authenticating_relay_desk() -> Desk {
    let text = std::fs::read_to_string(fixture_path("postdesk.toml"))
        .unwrap()
        .replace(
            "mode = \"observe\"                 # agents answer from their own client; postdesk watches",
            "mode = \"relay\"",
        );
    let text = format!("{text}\n[ingest]\ntrusted_authserv_ids = [\"mx.example.com\"]\n");
    Desk::with_config(Config::from_toml(&text, &fixture_path("postdesk.toml")).unwrap())
}

fn direct_answer(authentication: &str) -> Vec<u8> {
    raw(
        &format!(
            "{authentication}From: Anna Koval <anna@example.com>\r\nTo: alice@customer.example\r\n\
             Cc: support@example.com\r\nSubject: Re: Refund for invoice 2211\r\n\
             Message-ID: <anna-direct@example.com>\r\nIn-Reply-To: <refund-1@customer.example>\r\n"
        ),
        "Refunded today.",
    )
}

#[test]
fn an_authenticated_answer_sent_to_the_customer_with_the_desk_in_copy_is_observed() {
    let mut desk = authenticating_relay_desk();
    let reference = billing_request(&mut desk);
    desk.ingest(&direct_answer(
        "Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n",
    ));
    let ticket = desk.ticket(reference).ticket;
    assert_eq!(ticket.status, "answered");
    assert!(
        !agent_rows(&desk, reference)
            .iter()
            .any(|(kind, _, _)| kind != "relay_forward"),
        "observed, not relayed"
    );
}

#[test]
fn an_unproven_copy_of_an_answer_does_not_answer_a_relay_ticket() {
    // No trusted server configured, or one that vouches for nothing, or a stamp of a
    // server the desk does not trust: all only say the mail is Anna's.
    for (mut desk, authentication) in [
        (relay_desk(), ""),
        (authenticating_relay_desk(), ""),
        (
            authenticating_relay_desk(),
            "Authentication-Results: mx.example.com; dkim=fail header.d=example.com; dmarc=fail header.from=example.com\r\n",
        ),
        (
            authenticating_relay_desk(),
            "Authentication-Results: evil.example; dmarc=pass header.from=example.com\r\n",
        ),
    ] {
        let reference = billing_request(&mut desk);
        assert_ne!(desk.ingest(&direct_answer(authentication)), reference);
        quarantine(&desk);
        let ticket = desk.ticket(reference).ticket;
        assert_eq!(ticket.status, "new", "{authentication}");
        assert!(ticket.due_at.is_some(), "the clock still runs");
    }
}

#[test]
fn desk_mail_on_an_observe_queue_is_kept_as_a_note() {
    let mut desk = Desk::new();
    let reference = billing_request(&mut desk);
    assert!(
        agent_rows(&desk, reference).is_empty(),
        "observe: no forward"
    );
    let to = secret_address(&desk, reference);
    desk.ingest(&agent_reply(
        reference,
        &to,
        "anna-6",
        "#assign anna\r\nRefunded.",
    ));
    let ticket = desk.ticket(reference).ticket;
    assert_eq!(ticket.assignee.as_deref(), Some("anna@example.com"));
    assert_eq!(ticket.status, "new");
    assert!(agent_rows(&desk, reference).is_empty());
    assert!(desk.event_types(reference).contains(&"note".to_string()));
}

#[test]
fn a_vouched_for_copy_may_set_pending_and_an_unproven_one_may_not() {
    let mut desk = authenticating_relay_desk();
    let reference = billing_request(&mut desk);
    let raw = String::from_utf8(direct_answer(
        "Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\r\n",
    ))
    .unwrap()
    .replace(
        "Refunded today.",
        "#pending\r\nPlease send the invoice number.",
    );
    desk.ingest(raw.as_bytes());
    let ticket = desk.ticket(reference).ticket;
    assert_eq!(ticket.status, "pending");
    assert_eq!(ticket.due_at, None);
    assert!(desk.event_types(reference).contains(&"pending".to_string()));
}
