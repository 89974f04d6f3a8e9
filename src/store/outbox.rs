//! Outgoing-mail rows of the outbox: claiming, finishing, retrying and the operator's view.
//!
//! A row is claimed (`sending_since`, `message_id` set and committed) right before its SMTP
//! transaction and marked done right after the server accepts it. A crash between those two
//! commits leaves a claimed row: on start it is parked as failed ("delivery uncertain")
//! rather than sent again, so a customer never gets the same mail twice.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{TicketId, add_event, reference, views::rfc3339};
use crate::ingest::{Digest, EventKind, OutboxMail};

/// Kinds of outbox rows that are mail (the rest are IMAP post-actions).
pub const MAIL_KINDS: &str = "('acknowledgement', 'warning', 'breach_notice', 'relay_forward', 'relay_answer', 'agent_notice', 'report', 'breach_digest', 'warning_digest')";

#[derive(Debug, Clone)]
pub struct MailJob {
    pub id: i64,
    pub ticket: Option<TicketId>,
    pub kind: String,
    pub recipient: String,
    pub mailbox: Option<String>,
    /// The row's mail, typed; or why the row cannot be read as one.
    pub mail: Result<OutboxMail, String>,
    pub attempts: u32,
}

pub fn due_mail(conn: &Connection, now: i64, limit: usize) -> rusqlite::Result<Vec<MailJob>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, ticket_id, kind, recipient, mailbox, payload, attempts FROM outbox
         WHERE status = 'pending' AND sending_since IS NULL AND due_at <= ?1 AND kind IN {MAIL_KINDS}
         ORDER BY due_at, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit as i64], |r| {
        let payload: String = r.get(5)?;
        let kind: String = r.get(2)?;
        let payload = serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null);
        Ok(MailJob {
            id: r.get(0)?,
            ticket: r.get(1)?,
            mail: OutboxMail::from_row(&kind, &payload),
            kind,
            recipient: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            mailbox: r.get(4)?,
            attempts: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// When the next mail row falls due.
pub fn next_mail_due(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(&format!(
        "SELECT min(due_at) FROM outbox
         WHERE status = 'pending' AND sending_since IS NULL AND kind IN {MAIL_KINDS}"
    ))?
    .query_row([], |r| r.get(0))
}

pub fn mark_sending(
    conn: &Connection,
    id: i64,
    now: i64,
    message_id: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE outbox SET sending_since = ?2, message_id = ?3 WHERE id = ?1")?
        .execute(params![id, now, message_id])?;
    Ok(())
}

/// The server accepted the mail: done, and the ticket learns of it.
pub fn mark_sent(conn: &Connection, job: &MailJob, now: i64) -> rusqlite::Result<()> {
    let message_id: Option<String> = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'done', done_at = ?2, attempts = attempts + 1,
                result = 'sent as <' || coalesce(message_id, '?') || '>'
             WHERE id = ?1 RETURNING message_id",
        )?
        .query_row(params![job.id, now], |r| r.get(0))
        .optional()?
        .flatten();
    let detail = format!(
        "to {} as <{}>",
        job.recipient,
        message_id.as_deref().unwrap_or("?")
    );
    // A digest tells each of its tickets that their notice went out.
    if let Ok(OutboxMail::BreachDigest(digest) | OutboxMail::WarningDigest(digest)) = &job.mail {
        let kind = match job.mail {
            Ok(OutboxMail::WarningDigest(_)) => EventKind::WarningSent,
            _ => EventKind::BreachNoticeSent,
        };
        let detail = format!("in the digest {detail}");
        for ticket in digest_tickets(digest) {
            add_event(conn, ticket, now, kind, &detail)?;
        }
        return Ok(());
    }
    let Some(ticket) = job.ticket else {
        return Ok(());
    };
    match job.kind.as_str() {
        "acknowledgement" => {
            conn.prepare_cached(
                "UPDATE tickets SET ack_sent_at = ?2,
                    status = CASE status WHEN 'new' THEN 'acknowledged' ELSE status END
                 WHERE id = ?1",
            )?
            .execute(params![ticket, now])?;
            add_event(conn, ticket, now, EventKind::Acknowledged, &detail)
        }
        "warning" => add_event(conn, ticket, now, EventKind::WarningSent, &detail),
        "relay_forward" => add_event(conn, ticket, now, EventKind::Forwarded, &detail),
        "relay_answer" => add_event(conn, ticket, now, EventKind::Relayed, &detail),
        "agent_notice" => add_event(conn, ticket, now, EventKind::AgentNotified, &detail),
        _ => add_event(conn, ticket, now, EventKind::BreachNoticeSent, &detail),
    }
}

pub fn mark_retry(conn: &Connection, id: i64, next_due: i64, error: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET sending_since = NULL, message_id = NULL, attempts = attempts + 1,
            due_at = ?2, last_error = ?3 WHERE id = ?1",
    )?
    .execute(params![id, next_due, error])?;
    Ok(())
}

/// Gives up on a row, with the reason on the row and on its ticket.
pub fn mark_failed(
    conn: &Connection,
    job: &MailJob,
    now: i64,
    reason: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'failed', done_at = ?2, attempts = attempts + 1, last_error = ?3
         WHERE id = ?1",
    )?
    .execute(params![job.id, now, reason])?;
    if let Ok(OutboxMail::BreachDigest(digest) | OutboxMail::WarningDigest(digest)) = &job.mail {
        for ticket in digest_tickets(digest) {
            add_event(
                conn,
                ticket,
                now,
                EventKind::OutboxFailed,
                &format!("{} to {} not sent: {reason}", job.kind, job.recipient),
            )?;
        }
    }
    if let Some(ticket) = job.ticket {
        add_event(
            conn,
            ticket,
            now,
            EventKind::OutboxFailed,
            &format!("{} to {} not sent: {reason}", job.kind, job.recipient),
        )?;
        // The customer did not get what the desk sent them: the same flag a bounce sets.
        if matches!(job.kind.as_str(), "acknowledgement" | "relay_answer") {
            add_event(
                conn,
                ticket,
                now,
                EventKind::DeliveryFailed,
                &format!(
                    "our {} to {} was refused ({reason}): they did not get it, phone them or check the address",
                    job.kind, job.recipient
                ),
            )?;
            super::add_label(conn, ticket, "delivery_failed")?;
        }
    }
    Ok(())
}

/// The tickets a digest lists, each once.
fn digest_tickets(digest: &Digest) -> Vec<TicketId> {
    let mut ids: Vec<TicketId> = digest.tickets.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub fn cancel(conn: &Connection, job: &MailJob, now: i64, reason: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'cancelled', done_at = ?2, result = ?3 WHERE id = ?1",
    )?
    .execute(params![job.id, now, reason])?;
    if let (Some(ticket), "acknowledgement") = (job.ticket, job.kind.as_str()) {
        add_event(conn, ticket, now, EventKind::AckCancelled, reason)?;
    }
    Ok(())
}

/// Rows claimed by a run that died mid-send: delivery is uncertain, so they are parked
/// for an operator rather than sent twice. Returns how many.
pub fn park_interrupted(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'failed', done_at = ?1, last_error =
            'delivery uncertain: postdesk stopped during the SMTP transaction of <'
            || coalesce(message_id, '?') || '>; not resent to avoid a duplicate. '
            || 'Check the recipient''s mailbox, then `postdesk outbox retry ' || id || '` if it never arrived'
         WHERE status = 'pending' AND sending_since IS NOT NULL",
    )?
    .execute([now])
}

/// A row as `postdesk outbox` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutboxView {
    pub id: i64,
    #[serde(rename = "ref")]
    pub reference: Option<i64>,
    pub kind: String,
    pub recipient: Option<String>,
    pub mailbox: Option<String>,
    pub status: String,
    pub due_at: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
}

/// Pending and failed rows (everything with `all`), oldest first.
pub fn list(conn: &Connection, all: bool) -> rusqlite::Result<Vec<OutboxView>> {
    let mut stmt = conn.prepare(
        "SELECT id, ticket_id, kind, recipient, mailbox, status, due_at, attempts, last_error, message_id
         FROM outbox WHERE ?1 OR status IN ('pending', 'failed') ORDER BY id",
    )?;
    let rows = stmt.query_map([all], |r| {
        Ok(OutboxView {
            id: r.get(0)?,
            reference: r.get::<_, Option<i64>>(1)?.map(reference),
            kind: r.get(2)?,
            recipient: r.get(3)?,
            mailbox: r.get(4)?,
            status: r.get(5)?,
            due_at: r.get::<_, Option<i64>>(6)?.map(rfc3339),
            attempts: r.get(7)?,
            last_error: r.get(8)?,
            message_id: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// Puts a failed row back in line, due now. Returns false when there is no such failed row.
pub fn retry(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE outbox SET status = 'pending', sending_since = NULL, message_id = NULL,
            due_at = ?2, done_at = NULL, attempts = 0 WHERE id = ?1 AND status = 'failed'",
        params![id, now],
    )?;
    Ok(changed == 1)
}

/// What outgoing mail says about its ticket.
#[derive(Debug, Clone)]
pub struct TicketFacts {
    pub id: TicketId,
    pub status: String,
    pub subject: String,
    pub customer: String,
    pub language: Option<String>,
    pub queue: String,
    pub category: Option<String>,
    pub priority: String,
    pub created_at: i64,
    pub due_at: Option<i64>,
    pub token: Option<String>,
}

pub fn ticket_facts(conn: &Connection, ticket: TicketId) -> rusqlite::Result<Option<TicketFacts>> {
    conn.prepare_cached(
        "SELECT id, status, subject, customer, language, queue, category, priority, created_at,
            due_at, token FROM tickets WHERE id = ?1",
    )?
    .query_row([ticket], |r| {
        Ok(TicketFacts {
            id: r.get(0)?,
            status: r.get(1)?,
            subject: r.get(2)?,
            customer: r.get(3)?,
            language: r.get(4)?,
            queue: r.get(5)?,
            category: r.get(6)?,
            priority: r.get(7)?,
            created_at: r.get(8)?,
            due_at: r.get(9)?,
            token: r.get(10)?,
        })
    })
    .optional()
}

/// (arrival, first response) of the queue's tickets answered since `since`; with a
/// category, only that category's.
pub fn first_responses(
    conn: &Connection,
    queue: &str,
    category: Option<&str>,
    since: i64,
) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT created_at, first_response_at FROM tickets
         WHERE queue = ?1 AND first_response_at >= ?2 AND (?3 IS NULL OR category = ?3)",
    )?;
    let rows = stmt.query_map(params![queue, since, category], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    rows.collect()
}

/// The Message-IDs an acknowledgement answers: the customer's message and what it referenced.
pub fn thread_of(conn: &Connection, dedup_key: &str) -> rusqlite::Result<Vec<String>> {
    let found: Option<(Option<String>, String)> = conn
        .prepare_cached("SELECT message_id, headers FROM messages WHERE dedup_key = ?1")?
        .query_row([dedup_key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((Some(id), headers)) = found else {
        return Ok(Vec::new());
    };
    let headers: Vec<(String, String)> = serde_json::from_str(&headers).unwrap_or_default();
    let mut chain: Vec<String> = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("references"))
        .map(|(_, value)| {
            value
                .split(|c: char| c.is_whitespace() || c == ',')
                .map(|s| s.trim_matches(['<', '>']).to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    chain.retain(|r| *r != id);
    chain.truncate(20);
    chain.push(id);
    Ok(chain)
}

/// A stored message as a relay forward shows it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub received_at: i64,
}

pub fn message_by_dedup_key(
    conn: &Connection,
    dedup_key: &str,
) -> rusqlite::Result<Option<StoredMessage>> {
    conn.prepare_cached(
        "SELECT from_addr, from_name, subject, text, received_at FROM messages WHERE dedup_key = ?1",
    )?
    .query_row([dedup_key], |r| {
        Ok(StoredMessage {
            from: r.get(0)?,
            from_name: r.get(1)?,
            subject: r.get(2)?,
            text: r.get(3)?,
            received_at: r.get(4)?,
        })
    })
    .optional()
}

/// The deduplication key of the customer's latest message on a ticket: what an answer to
/// the customer replies to.
pub fn last_customer_message(
    conn: &Connection,
    ticket: TicketId,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT dedup_key FROM messages WHERE ticket_id = ?1 AND kind IN ('request', 'follow_up')
         ORDER BY received_at DESC, id DESC LIMIT 1",
    )?
    .query_row([ticket], |r| r.get(0))
    .optional()
}
