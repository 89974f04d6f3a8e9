//! The per-ticket secrets: the customer's reply token and the agents' command token, both
//! HMACs under the database's token key, so neither can be derived from a public reference.

use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension};
use sha2::Sha256;

use crate::ingest::{TicketId, reference, ticket_of_reference};

/// The customer's per-ticket secret in `support+t.<token>@`: an HMAC of the ticket id, so
/// it cannot be derived from the public reference. It threads the customer's reply and
/// grants nothing else.
pub(crate) fn reply_token(key: &[u8], ticket: TicketId) -> String {
    let mac = ticket_mac(key, b"postdesk reply token v1:", ticket);
    crate::ingest::parse::hex_prefix(&mac, 10)
}

/// HMAC label of agent tokens: different from the reply token's, so that one never
/// validates as the other.
const AGENT_TOKEN_LABEL: &[u8] = b"postdesk agent command token v1:";
const AGENT_MAC_BYTES: usize = 10;

/// The agents' per-ticket secret in `support+a.<ref>.<mac>@`, carried only by relay
/// forwards: it takes commands and answers. Self-checking (the reference and an HMAC of
/// it), so it needs no stored column and every ticket has one.
pub fn agent_token(key: &[u8], ticket: TicketId) -> String {
    let mac = ticket_mac(key, AGENT_TOKEN_LABEL, ticket);
    format!(
        "{}.{}",
        reference(ticket),
        crate::ingest::parse::hex_prefix(&mac, AGENT_MAC_BYTES)
    )
}

/// The ticket of a valid agent token, compared in constant time.
pub(crate) fn agent_token_ticket(key: &[u8], token: &str) -> Option<TicketId> {
    let (reference, mac) = token.split_once('.')?;
    let ticket = ticket_of_reference(reference.parse().ok()?);
    let given = unhex(mac)?;
    if given.len() != AGENT_MAC_BYTES {
        return None;
    }
    ticket_hmac(key, AGENT_TOKEN_LABEL, ticket)
        .verify_truncated_left(&given)
        .ok()?;
    Some(ticket)
}

/// The HMAC of a ticket id under one token's label, not yet finalised.
fn ticket_hmac(key: &[u8], label: &[u8], ticket: TicketId) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(label);
    mac.update(&ticket.to_le_bytes());
    mac
}

fn ticket_mac(key: &[u8], label: &[u8], ticket: TicketId) -> Vec<u8> {
    ticket_hmac(key, label, ticket)
        .finalize()
        .into_bytes()
        .to_vec()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

pub(crate) fn stored_token_key(conn: &Connection) -> rusqlite::Result<Vec<u8>> {
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = 'token_key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(key) = existing {
        return Ok(key);
    }
    let key: [u8; 32] = rand::random();
    conn.execute(
        "INSERT OR IGNORE INTO settings (key, value) VALUES ('token_key', ?1)",
        [&key[..]],
    )?;
    conn.query_row(
        "SELECT value FROM settings WHERE key = 'token_key'",
        [],
        |r| r.get(0),
    )
}
