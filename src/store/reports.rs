//! What `postdesk report` reads from the store, and the weekly report's place in the outbox.
//!
//! Waiting periods are not a table of their own: the messages of a ticket tell them (a
//! customer message opens one when none is open, an agent reply closes it), and the ticket
//! row holds the deadline of the period still open. [`ticket_histories`] returns exactly
//! what that reconstruction needs.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::ingest::parse::MAX_SUBJECT_CHARS;
use crate::ingest::{OutboxMail, TicketId};

/// The outbox kind of the weekly report mail.
pub const REPORT_KIND: &str = "report";
/// Settings key: the last weekly slot (unix seconds) a report was queued for.
const LAST_WEEKLY_SLOT: &str = "report.weekly.last_slot";

/// One ticket's messages that open or close waiting periods, and its current deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketHistory {
    pub id: TicketId,
    pub queue: String,
    /// At most [`MAX_SUBJECT_CHARS`] characters, whatever an older version stored.
    pub subject: String,
    pub customer: String,
    /// Start and deadline of the waiting period open now, if any.
    pub waiting_since: Option<i64>,
    pub due_at: Option<i64>,
    /// The ticket was filed as ignored by a rule: its first request opened no period.
    pub created_ignored: bool,
    /// `(kind, received_at)` of its requests, follow-ups and agent replies, in order.
    pub messages: Vec<(String, i64)>,
}

/// Every ticket that can have a waiting period decided in `since..until` (answered in
/// it, or due in it): its last message or its current deadline is at or after `since`.
pub fn ticket_histories(
    conn: &Connection,
    since: i64,
    until: i64,
    queue: Option<&str>,
) -> rusqlite::Result<Vec<TicketHistory>> {
    let mut tickets: Vec<TicketHistory> = conn
        .prepare(&format!(
            "SELECT t.id, t.queue, substr(t.subject, 1, {MAX_SUBJECT_CHARS}), t.customer,
                t.waiting_since, t.due_at,
                EXISTS (SELECT 1 FROM events e WHERE e.ticket_id = t.id AND e.type = 'created'
                        AND e.detail LIKE 'ignored by rule%')
             FROM tickets t
             WHERE (t.last_message_at >= ?1 OR t.due_at >= ?1) AND t.created_at < ?2
               AND (?3 IS NULL OR t.queue = ?3)
             ORDER BY t.id"
        ))?
        .query_map(params![since, until, queue], |r| {
            Ok(TicketHistory {
                id: r.get(0)?,
                queue: r.get(1)?,
                subject: r.get(2)?,
                customer: r.get(3)?,
                waiting_since: r.get(4)?,
                due_at: r.get(5)?,
                created_ignored: r.get(6)?,
                messages: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let index: HashMap<TicketId, usize> =
        tickets.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let mut stmt = conn.prepare(
        "SELECT m.ticket_id, m.kind, m.received_at FROM messages m JOIN tickets t ON t.id = m.ticket_id
         WHERE (t.last_message_at >= ?1 OR t.due_at >= ?1) AND t.created_at < ?2
           AND (?3 IS NULL OR t.queue = ?3)
           AND m.received_at < ?2 AND m.kind IN ('request', 'follow_up', 'agent_reply')
         ORDER BY m.ticket_id, m.received_at, m.id",
    )?;
    let mut rows = stmt.query(params![since, until, queue])?;
    while let Some(row) = rows.next()? {
        let ticket: TicketId = row.get(0)?;
        if let Some(listed) = index.get(&ticket).and_then(|&i| tickets.get_mut(i)) {
            listed.messages.push((row.get(1)?, row.get(2)?));
        }
    }
    Ok(tickets)
}

/// `(queue, created_at, first_response_at)` of tickets first answered in `since..until`.
pub fn first_responses(
    conn: &Connection,
    since: i64,
    until: i64,
    queue: Option<&str>,
) -> rusqlite::Result<Vec<(String, i64, i64)>> {
    conn.prepare(
        "SELECT queue, created_at, first_response_at FROM tickets
         WHERE first_response_at >= ?1 AND first_response_at < ?2 AND (?3 IS NULL OR queue = ?3)",
    )?
    .query_map(params![since, until, queue], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?
    .collect()
}

/// `(queue, waiting_since)` of every ticket awaiting an agent now.
pub fn waiting_tickets(
    conn: &Connection,
    queue: Option<&str>,
) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.prepare(
        "SELECT queue, waiting_since FROM tickets
         WHERE status IN ('new', 'acknowledged') AND waiting_since IS NOT NULL
           AND (?1 IS NULL OR queue = ?1)",
    )?
    .query_map(params![queue], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// Acknowledgements the SMTP server accepted in `since..until`.
pub fn acknowledgements_sent(
    conn: &Connection,
    since: i64,
    until: i64,
    queue: Option<&str>,
) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id
         WHERE o.kind = 'acknowledgement' AND o.status = 'done'
           AND o.done_at >= ?1 AND o.done_at < ?2 AND (?3 IS NULL OR t.queue = ?3)",
        params![since, until, queue],
        |r| r.get(0),
    )
}

/// A ticket opened in the window, for the topics: `(category, subject, unparsed)`, the
/// subject cut at [`MAX_SUBJECT_CHARS`] characters as new ones are stored.
pub fn opened_tickets(
    conn: &Connection,
    since: i64,
    until: i64,
    queue: Option<&str>,
) -> rusqlite::Result<Vec<(Option<String>, String, bool)>> {
    conn.prepare(&format!(
        "SELECT category, substr(subject, 1, {MAX_SUBJECT_CHARS}), unparsed FROM tickets
         WHERE created_at >= ?1 AND created_at < ?2 AND status != 'ignored'
           AND (?3 IS NULL OR queue = ?3)"
    ))?
    .query_map(params![since, until, queue], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?
    .collect()
}

/// What [`queue_weekly_report`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeeklyQueued {
    /// First run with reports configured: the slot is remembered, nothing is sent for it
    /// (the first report goes out at the next slot).
    Baseline,
    /// One mail row per recipient.
    Queued(usize),
    /// This slot's report was queued before.
    AlreadyQueued,
}

/// Queues the report of `since..slot` to every recipient, unless this slot (or a later
/// one) already had its report. Call inside a transaction: the rows and the remembered
/// slot are written together, so a slot is reported at most once.
pub fn queue_weekly_report(
    conn: &Connection,
    slot: i64,
    since: i64,
    recipients: &[String],
    mailbox: Option<&str>,
    now: i64,
) -> rusqlite::Result<WeeklyQueued> {
    let last: Option<i64> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [LAST_WEEKLY_SLOT],
            |r| r.get(0),
        )
        .optional()?;
    let outcome = match last {
        None => WeeklyQueued::Baseline,
        Some(last) if last >= slot => return Ok(WeeklyQueued::AlreadyQueued),
        Some(_) => {
            let payload = OutboxMail::Report { since, until: slot }
                .payload()
                .to_string();
            let mut insert = conn.prepare_cached(
                "INSERT INTO outbox (kind, recipient, mailbox, payload, created_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for recipient in recipients {
                insert.execute(params![REPORT_KIND, recipient, mailbox, payload, now])?;
            }
            WeeklyQueued::Queued(recipients.len())
        }
    };
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![LAST_WEEKLY_SLOT, slot],
    )?;
    Ok(outcome)
}
