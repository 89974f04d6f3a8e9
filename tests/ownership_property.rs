//! A property of the whole pipeline, over seeded random mail: mail from someone who is not a
//! participant of a ticket, carrying any mix of that ticket's Message-IDs (the customer's,
//! the desk's acknowledgements, the agents' answers), subject tags, customer and agent
//! tokens of other tickets (valid, altered, swapped), agent and desk `From:` lines, Cc'd
//! customers and agent commands, changes no ticket but the sender's own and sends nothing
//! to anyone but the sender and the agents. (Never a valid agent address with an agent's
//! `From:`: that pair is the proof of agency, which only the relay forward to that agent
//! carries.)
//!
//! Run on the fixtures config twice: with billing relaying, and with billing observed; the
//! observed queues trust the desk's mail server for `Authentication-Results` (without a
//! trusted server an observed queue cannot tell a forged agent `From:` that names the
//! customer from a real copy; README, Security). The seeds are fixed so a failure reproduces; set
//! `POSTDESK_PROPERTY_SEED` to explore others.

mod common;

use common::{Desk, fixture_path};
use postdesk::config::Config;
use postdesk::store;

/// splitmix64: enough randomness for choosing among cases, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const CUSTOMERS: [&str; 4] = [
    "alice@customer.example",
    "bob@client.example",
    "carol@customer.example",
    "dave@bigclient.example",
];
const AGENTS: [&str; 2] = ["anna@example.com", "petro@example.com"];
const DESK: &str = "support@example.com";
const SUBJECTS: [&str; 4] = [
    "Refund for invoice 2211",
    "Cannot log in to my account",
    "Question about my order",
    "Invoice 88 is wrong",
];

/// What the victims' side of the store looks like: every ticket's state, and who mail is
/// queued for.
#[derive(Debug, PartialEq)]
struct TicketRow {
    id: i64,
    customer: String,
    state: String,
}

fn tickets(desk: &Desk) -> Vec<TicketRow> {
    let conn = desk.store.connection();
    let mut stmt = conn
        .prepare(
            "SELECT id, customer, status || '|' || priority || '|' || queue || '|' || labels
                    || '|' || message_count || '|' || coalesce(due_at, '-') || '|'
                    || coalesce(first_response_at, '-') || '|' || coalesce(waiting_since, '-')
                    || '|' || (SELECT group_concat(address) FROM participants p
                               WHERE p.ticket_id = tickets.id)
             FROM tickets ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(TicketRow {
            id: r.get(0)?,
            customer: r.get(1)?,
            state: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn outbox_after(desk: &Desk, last: i64) -> Vec<(i64, String, String, Option<i64>)> {
    let conn = desk.store.connection();
    let mut stmt = conn
        .prepare("SELECT id, kind, recipient, ticket_id FROM outbox WHERE id > ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([last], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn last_outbox(desk: &Desk) -> i64 {
    desk.count("SELECT coalesce(max(id), 0) FROM outbox")
}

/// What an attacker can know: Message-IDs, references, and tokens of the tickets.
struct Known {
    message_ids: Vec<String>,
    references: Vec<i64>,
    customer_tokens: Vec<String>,
    agent_tokens: Vec<String>,
}

/// The victims' desk: requests from every customer, acknowledgements "sent", answers by
/// the agents (through the agent address in relay mode, from the Sent folder otherwise),
/// a follow-up and a closed ticket.
fn seeded_desk(relay: bool) -> (Desk, Known) {
    let text = std::fs::read_to_string(fixture_path("postdesk.toml")).unwrap();
    let text = if relay {
        text.replace(
            "mode = \"observe\"                 # agents answer from their own client; postdesk watches",
            "mode = \"relay\"",
        )
    } else {
        text
    };
    // The other queues observe in both desks.
    let text = format!("{text}\n[ingest]\ntrusted_authserv_ids = [\"mx.example.com\"]\n");
    let mut desk =
        Desk::with_config(Config::from_toml(&text, &fixture_path("postdesk.toml")).unwrap());
    let mut known = Known {
        message_ids: Vec::new(),
        references: Vec::new(),
        customer_tokens: Vec::new(),
        agent_tokens: Vec::new(),
    };
    for (n, (customer, subject)) in CUSTOMERS.iter().zip(SUBJECTS).enumerate() {
        let id = format!("req-{n}@{}", customer.split('@').nth(1).unwrap());
        let reference = desk.ingest(
            format!(
                "From: {customer}\r\nTo: {DESK}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
                 Date: Mon, 16 Nov 2026 08:00:00 +0000\r\n\r\nPlease help with this.\r\n"
            )
            .as_bytes(),
        );
        let ticket = store::ticket_of_reference(reference);
        let ack = format!("postdesk.acknowledgement.{n}@example.com");
        store::remember_message_id(desk.store.connection(), &ack, ticket, "", Some(customer))
            .unwrap();
        known.message_ids.extend([id.clone(), ack]);
        known.references.push(reference);
        known.customer_tokens.push(desk.token(reference));
        known.agent_tokens.push(desk.agent_token(reference));
        if n % 2 == 0 {
            // An agent answers, the way the desk's mode has agents answer.
            let answer = format!("answer-{n}@example.com");
            let to = if relay && (subject.contains("nvoice") || subject.contains("Refund")) {
                format!("support+a.{}@example.com", desk.agent_token(reference))
            } else {
                customer.to_string()
            };
            let raw = format!(
                "From: Anna <{}>\r\nTo: {to}\r\nSubject: Re: {subject}\r\nMessage-ID: <{answer}>\r\n\
                 In-Reply-To: <{id}>\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\n\r\n{}Done.\r\n",
                AGENTS[0],
                if n == 0 { "#close\r\n" } else { "" }
            );
            if to.starts_with("support+a.") {
                desk.ingest(raw.as_bytes());
            } else {
                desk.ingest_sent(raw.replacen(AGENTS[0], DESK, 1).as_bytes());
            }
            known.message_ids.push(answer);
        }
    }
    (desk, known)
}

/// One attack mail: from `sender` (a stranger), maybe with an agent's or the desk's name
/// in `From:`; returns (the mail, the address in its `From:`).
fn attack(rng: &mut Rng, known: &Known, n: usize) -> (Vec<u8>, String) {
    let stranger = format!("stranger{}@evil.example", rng.below(5));
    let from = match rng.below(4) {
        0 => rng.pick(&AGENTS).to_string(),
        1 => DESK.to_string(),
        _ => stranger,
    };
    let mut to = vec![DESK.to_string()];
    let mut headers = String::new();
    let mut subject = rng.pick(&SUBJECTS).to_string();
    if rng.chance(50) {
        let ids: Vec<String> = (0..1 + rng.below(3))
            .map(|_| format!("<{}>", rng.pick(&known.message_ids)))
            .collect();
        headers.push_str(&format!("In-Reply-To: {}\r\n", ids.last().unwrap()));
        headers.push_str(&format!("References: {}\r\n", ids.join(" ")));
        subject = format!("Re: {subject}");
    }
    if rng.chance(40) {
        subject = format!("{subject} [#{}]", rng.pick(&known.references));
    }
    if rng.chance(40) {
        let token = match rng.below(4) {
            0 => format!("t.{}", rng.pick(&known.customer_tokens)),
            1 => format!("a.{}", rng.pick(&known.agent_tokens)),
            // The other secret in the other kind of address.
            2 => format!("t.{}", rng.pick(&known.agent_tokens)),
            _ => format!("a.{}", rng.pick(&known.customer_tokens)),
        };
        let mut token = token;
        // A valid agent address with an agent's From: is the proof of agency (what only
        // the forward to that agent carries); the attacker has it only altered.
        let agency = token.starts_with("a.") && AGENTS.contains(&from.as_str());
        if agency || rng.chance(30) {
            let last = token.pop();
            token.push(if last == Some('0') { '1' } else { '0' });
        }
        to.push(format!("support+{token}@example.com"));
    }
    if rng.chance(40) {
        headers.push_str(&format!("Cc: {}\r\n", rng.pick(&CUSTOMERS)));
    }
    if rng.chance(20) {
        // A stamp of a server the desk does not trust, or a failing one of its own.
        headers.push_str(if rng.chance(50) {
            "Authentication-Results: evil.example; dmarc=pass header.from=example.com\r\n"
        } else {
            "Authentication-Results: mx.example.com; dmarc=fail header.from=example.com\r\n"
        });
    }
    let body = [
        "#close",
        "#priority urgent",
        "#assign petro",
        "#queue support",
        "#pending",
        "#note internal",
        "Re-enter your card at http://evil.example/",
    ];
    let mut text = String::new();
    for _ in 0..rng.below(4) {
        let line = *rng.pick(&body);
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Thanks.\r\n");
    let raw = format!(
        "From: Someone <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <attack-{n}@evil.example>\r\n\
         Date: Tue, 17 Nov 2026 10:00:00 +0000\r\n{headers}\r\n{text}",
        to.join(", ")
    );
    (raw.into_bytes(), from)
}

fn check(relay: bool, seed: u64, mails: usize) {
    let (mut desk, known) = seeded_desk(relay);
    let mut rng = Rng(seed);
    for n in 0..mails {
        let (raw, from) = attack(&mut rng, &known, n);
        let before = tickets(&desk);
        let last = last_outbox(&desk);
        desk.ingest_filed(&raw);
        let after = tickets(&desk);
        let what = || {
            format!(
                "relay={relay} seed={seed} mail {n}:\n{}",
                String::from_utf8_lossy(&raw)
            )
        };
        for old in &before {
            if old.customer == from {
                continue;
            }
            let now = after.iter().find(|t| t.id == old.id).unwrap();
            assert_eq!(old, now, "{} changed by {}", old.id, what());
        }
        for (_, kind, recipient, ticket) in outbox_after(&desk, last) {
            // The sender's own ticket: one this mail opened, or one the sender is the
            // customer of.
            let own = ticket.is_some_and(|t| {
                before
                    .iter()
                    .find(|old| old.id == t)
                    .is_none_or(|old| old.customer == from)
            });
            assert!(
                recipient == from || AGENTS.contains(&recipient.as_str()),
                "{kind} to {recipient} (ticket {ticket:?}, new: {own}) caused by {}",
                what()
            );
            assert!(
                own || kind == "agent_notice",
                "{kind} for an old ticket {ticket:?} caused by {}",
                what()
            );
        }
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("POSTDESK_PROPERTY_SEED") {
        Ok(seed) => vec![seed.parse().expect("POSTDESK_PROPERTY_SEED is a number")],
        Err(_) => vec![1, 2, 3, 0x5EED],
    }
}

#[test]
fn strangers_change_only_their_own_tickets_in_a_relay_desk() {
    for seed in seeds() {
        check(true, seed, 150);
    }
}

#[test]
fn strangers_change_only_their_own_tickets_in_an_observing_desk() {
    for seed in seeds() {
        check(false, seed, 150);
    }
}
