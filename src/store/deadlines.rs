//! Response deadlines the scheduler acts on: the warning at `warn_at`, then the breach at
//! `due_at`. `tickets.deadline_at` holds the next of the two (indexed), so finding what is
//! due never scans the table.

use rusqlite::{Connection, params};

use super::folders::{self, FlagJob};
use super::{TicketId, add_event, views::rfc3339};
use crate::ingest::{EventKind, OutboxMail};

/// Keywords that mark a breached ticket's messages in the agents' mail clients.
pub const BREACH_FLAGS: &str = "$SLABreached \\Flagged";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTicket {
    pub id: TicketId,
    pub queue: String,
    pub warn_at: Option<i64>,
    pub warned_at: Option<i64>,
    pub due_at: Option<i64>,
    /// The mailbox its first message arrived in, for the sender address of notices.
    pub mailbox: Option<String>,
}

pub fn due_deadlines(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<DueTicket>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.queue, t.warn_at, t.warned_at, t.due_at,
            (SELECT m.mailbox FROM messages m WHERE m.ticket_id = t.id AND m.mailbox IS NOT NULL
             ORDER BY m.id LIMIT 1)
         FROM tickets t WHERE t.deadline_at <= ?1 ORDER BY t.deadline_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit as i64], |r| {
        Ok(DueTicket {
            id: r.get(0)?,
            queue: r.get(1)?,
            warn_at: r.get(2)?,
            warned_at: r.get(3)?,
            due_at: r.get(4)?,
            mailbox: r.get(5)?,
        })
    })?;
    rows.collect()
}

pub fn next_deadline(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT min(deadline_at) FROM tickets WHERE deadline_at IS NOT NULL")?
        .query_row([], |r| r.get(0))
}

/// The warning is recorded and one mail per agent queued; the next deadline is the breach.
pub fn record_warning(
    conn: &Connection,
    ticket: &DueTicket,
    now: i64,
    agents: &[String],
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE tickets SET warned_at = ?2, deadline_at = due_at WHERE id = ?1")?
        .execute(params![ticket.id, now])?;
    let due = ticket.due_at.map(rfc3339).unwrap_or_default();
    if agents.is_empty() {
        return add_event(
            conn,
            ticket.id,
            now,
            EventKind::Warning,
            &format!("due {due}; queue {} has no agents to warn", ticket.queue),
        );
    }
    for agent in agents {
        queue_mail(conn, ticket, &OutboxMail::Warning, agent, now)?;
    }
    add_event(
        conn,
        ticket.id,
        now,
        EventKind::Warning,
        &format!("due {due}; warning queued to {}", agents.join(", ")),
    )
}

/// The target is missed: flagged, one notice to the escalation address, and the keywords
/// on every message of the ticket that sits on an IMAP server.
pub fn record_breach(
    conn: &Connection,
    ticket: &DueTicket,
    now: i64,
    escalation: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE tickets SET breached = 1, deadline_at = NULL WHERE id = ?1")?
        .execute(params![ticket.id])?;
    let due = ticket.due_at.map(rfc3339).unwrap_or_default();
    let notice = match escalation {
        Some(address) => {
            queue_mail(conn, ticket, &OutboxMail::BreachNotice, address, now)?;
            format!("notice queued to {address}")
        }
        None => format!("queue {} has no escalation address", ticket.queue),
    };
    add_event(
        conn,
        ticket.id,
        now,
        EventKind::Breached,
        &format!("response target missed (due {due}); {notice}"),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT mailbox, imap_folder, imap_uidvalidity, imap_uid FROM messages
         WHERE ticket_id = ?1 AND imap_uid IS NOT NULL ORDER BY mailbox, imap_folder, imap_uidvalidity, imap_uid",
    )?;
    let located: Vec<(String, String, u32, u32)> = stmt
        .query_map([ticket.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut jobs: Vec<(String, FlagJob)> = Vec::new();
    for (mailbox, folder, uidvalidity, uid) in located {
        match jobs.last_mut() {
            Some((m, job))
                if *m == mailbox && job.folder == folder && job.uidvalidity == uidvalidity =>
            {
                job.uids.push(uid)
            }
            _ => jobs.push((
                mailbox,
                FlagJob {
                    id: 0,
                    folder,
                    uidvalidity,
                    uids: vec![uid],
                    flags: BREACH_FLAGS.into(),
                    copy_to: None,
                },
            )),
        }
    }
    for (mailbox, job) in &jobs {
        folders::queue_flags(conn, mailbox, job, now)?;
    }
    Ok(())
}

fn queue_mail(
    conn: &Connection,
    ticket: &DueTicket,
    mail: &OutboxMail,
    recipient: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (ticket_id, kind, recipient, mailbox, payload, created_at, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        ticket.id,
        mail.kind(),
        recipient,
        ticket.mailbox,
        mail.payload().to_string(),
        now
    ])?;
    Ok(())
}
