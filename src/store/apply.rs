//! Writes one decided message: the ticket row (new or changed), its participants, the message
//! and its attachments, the thread references, events, and the mail it causes — all on the
//! caller's transaction, so a message and its side effects commit together.

use rusqlite::{Connection, params};

use super::tokens::{agent_token, reply_token};
use super::{Store, views};
use crate::ingest::EventKind;
use crate::ingest::{
    Ack, Decision, MessageRecord, NewTicket, OutboxMail, Placement, QueuedMail, Status, TicketId,
    TicketUpdate, WaitingChange,
};

/// What filing a placement leaves to do for the rest of the message.
struct Placed<'d> {
    ticket: TicketId,
    is_new: bool,
    participants: &'d [String],
    ack: Option<&'d Ack>,
    cancel_pending_ack: bool,
}

impl Store {
    /// Files one decided message. Returns the ticket and whether it is new.
    pub fn apply(
        conn: &Connection,
        decision: &Decision,
        raw: &[u8],
        token_key: &[u8],
    ) -> rusqlite::Result<(TicketId, bool)> {
        let m = &decision.message;
        let now = m.received_at;
        let placed = match &decision.placement {
            Placement::New(new) => insert_ticket(conn, new, now, token_key)?,
            Placement::Existing { ticket, update } => {
                update_ticket(conn, *ticket, update, now, true)?
            }
        };
        let ticket = placed.ticket;
        for address in placed.participants {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO participants (address, ticket_id) VALUES (?1, ?2)",
            )?
            .execute(params![address, ticket])?;
        }
        insert_message(conn, ticket, m, raw)?;
        if let Some(id) = &m.message_id {
            remember_message_id(conn, id, ticket, m.from.unwrap_or(""), None)?;
        }
        for event in &decision.events {
            add_event(conn, ticket, now, event.kind, &event.detail)?;
        }
        if placed.cancel_pending_ack {
            cancel_pending_ack(conn, ticket, now)?;
        }
        if let Some(ack) = placed.ack {
            schedule_ack(conn, ticket, ack, m, now)?;
        }
        for mail in &decision.mails {
            queue_mail(conn, ticket, mail, m.mailbox, now, token_key)?;
        }
        Ok((ticket, placed.is_new))
    }

    /// A change an agent makes without mail (the web console): the same ticket update, events
    /// and withdrawn acknowledgement as the mail command's, without a message.
    pub fn apply_action(
        conn: &Connection,
        ticket: TicketId,
        update: &TicketUpdate<'_>,
        events: &[crate::ingest::Event],
        now: i64,
    ) -> rusqlite::Result<()> {
        update_ticket(conn, ticket, update, now, false)?;
        for event in events {
            add_event(conn, ticket, now, event.kind, &event.detail)?;
        }
        if update.cancel_pending_ack {
            cancel_pending_ack(conn, ticket, now)?;
        }
        Ok(())
    }
}

fn insert_ticket<'d>(
    conn: &Connection,
    new: &'d NewTicket,
    now: i64,
    token_key: &[u8],
) -> rusqlite::Result<Placed<'d>> {
    let id: TicketId = conn
        .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM tickets")?
        .query_row([], |r| r.get(0))?;
    conn.prepare_cached(
            "INSERT INTO tickets (id, token, status, queue, category, priority, labels,
                language, customer, customer_name, subject, normalized_subject, created_at,
                last_message_at, waiting_since, warn_at, due_at, deadline_at, unparsed,
                message_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?15, ?17, 1)",
        )?
        .execute(params![
            id,
            reply_token(token_key, id),
            new.status.as_str(),
            new.queue,
            new.category,
            new.priority,
            serde_json::to_string(&new.labels).unwrap_or_else(|_| "[]".into()),
            new.language,
            new.customer,
            new.customer_name,
            new.subject,
            new.normalized_subject,
            now,
            new.waiting.map(|w| w.since),
            new.waiting.map(|w| w.warn_at),
            new.waiting.map(|w| w.due_at),
            new.unparsed,
        ])?;
    Ok(Placed {
        ticket: id,
        is_new: true,
        participants: new.participants,
        ack: new.ack.as_ref(),
        cancel_pending_ack: false,
    })
}

fn update_ticket<'d>(
    conn: &Connection,
    ticket: TicketId,
    update: &'d TicketUpdate,
    now: i64,
    message: bool,
) -> rusqlite::Result<Placed<'d>> {
    let (mode, since, warn, due) = match update.waiting {
        WaitingChange::Keep => (0, None, None, None),
        WaitingChange::Start(w) => (1, Some(w.since), Some(w.warn_at), Some(w.due_at)),
        WaitingChange::Stop => (2, None, None, None),
    };
    conn.prepare_cached(
        "UPDATE tickets SET
                last_message_at = CASE WHEN ?13 THEN max(last_message_at, ?2) ELSE last_message_at END,
                message_count = message_count + ?13,
                status = coalesce(?3, status),
                waiting_since = CASE ?4 WHEN 0 THEN waiting_since WHEN 1 THEN ?5 ELSE NULL END,
                due_at = CASE ?4 WHEN 0 THEN due_at WHEN 1 THEN ?6 ELSE NULL END,
                warn_at = CASE ?4 WHEN 0 THEN warn_at WHEN 1 THEN ?9 ELSE NULL END,
                warned_at = CASE ?4 WHEN 0 THEN warned_at ELSE NULL END,
                deadline_at = CASE ?4 WHEN 0 THEN deadline_at WHEN 1 THEN ?9 ELSE NULL END,
                first_response_at = coalesce(first_response_at, ?7),
                language = coalesce(language, ?8),
                assignee = coalesce(?10, assignee),
                queue = coalesce(?11, queue),
                priority = coalesce(?12, priority),
                closed_at = CASE WHEN ?3 = 'closed' THEN ?2 ELSE closed_at END
             WHERE id = ?1",
    )?
    .execute(params![
        ticket,
        now,
        update.status.map(Status::as_str),
        mode,
        since,
        due,
        update.answered_at,
        update.language,
        warn,
        update.assignee,
        update.queue,
        update.priority,
        message,
    ])?;
    if let Some(label) = update.label {
        add_label(conn, ticket, label)?;
    }
    Ok(Placed {
        ticket,
        is_new: false,
        participants: update.participants,
        ack: update.ack.as_ref(),
        cancel_pending_ack: update.cancel_pending_ack,
    })
}

fn insert_message(
    conn: &Connection,
    ticket: TicketId,
    m: &MessageRecord,
    raw: &[u8],
) -> rusqlite::Result<()> {
    let now = m.received_at;
    conn.prepare_cached(
        "INSERT INTO messages (ticket_id, dedup_key, message_id, kind, from_addr, from_name,
            to_addrs, cc_addrs, subject, date, received_at, language, text, headers, source,
            threaded_by, parse_error, size, mailbox, imap_folder, imap_uidvalidity, imap_uid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22)",
    )?
    .execute(params![
        ticket,
        m.dedup_key,
        m.message_id,
        m.kind.as_str(),
        m.from,
        m.from_name,
        m.to_json,
        m.cc_json,
        m.subject,
        m.date,
        now,
        m.language,
        m.text,
        m.headers_json,
        m.source,
        m.threaded_by.map(|v| v.as_str()),
        m.parse_error,
        raw.len() as i64,
        m.mailbox,
        m.imap.map(|l| &l.folder),
        m.imap.map(|l| l.uidvalidity),
        m.imap.map(|l| l.uid),
    ])?;
    let message_row = conn.last_insert_rowid();
    super::raw::insert(conn, message_row, raw)?;
    for attachment in m.attachments {
        conn.prepare_cached(
            "INSERT INTO attachments (message_id, name, content_type, size) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            message_row,
            attachment.name,
            attachment.content_type,
            attachment.size as i64
        ])?;
    }
    Ok(())
}

/// An agent answered before the acknowledgement went out: it is not sent.
fn cancel_pending_ack(conn: &Connection, ticket: TicketId, now: i64) -> rusqlite::Result<()> {
    let cancelled = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'cancelled', done_at = ?2,
                result = 'an agent answered first'
             WHERE ticket_id = ?1 AND kind = 'acknowledgement' AND status = 'pending'",
        )?
        .execute(params![ticket, now])?;
    if cancelled > 0 {
        add_event(
            conn,
            ticket,
            now,
            EventKind::AckCancelled,
            "an agent answered first",
        )?;
    }
    Ok(())
}

/// Mail caused by the message, due now, into the outbox in the same transaction.
fn queue_mail(
    conn: &Connection,
    ticket: TicketId,
    mail: &QueuedMail,
    mailbox: Option<&str>,
    now: i64,
    token_key: &[u8],
) -> rusqlite::Result<()> {
    let mail_of_row = match &mail.mail {
        // Only the forward carries the agent address; the outbox has no key.
        OutboxMail::RelayForward { dedup_key, .. } => OutboxMail::RelayForward {
            dedup_key: dedup_key.clone(),
            agent_token: Some(agent_token(token_key, ticket)),
        },
        other => other.clone(),
    };
    conn.prepare_cached(
        "INSERT INTO outbox (ticket_id, kind, recipient, mailbox, payload, created_at, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        ticket,
        mail_of_row.kind(),
        mail.to,
        mailbox,
        mail_of_row.payload().to_string(),
        now
    ])?;
    Ok(())
}

/// The row id of the last stored message (0 when there is none).
pub fn last_message_row(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM messages")?
        .query_row([], |r| r.get(0))
}

/// Messages read for phone numbers per batch filed: the new ones, and a share of those
/// stored before the phone index existed.
const PHONE_ROWS_PER_BATCH: usize = 2000;

/// Adds the messages stored after row `after` to the full-text index, in one statement (one
/// index flush for the whole batch).
pub fn index_messages_after(conn: &Connection, after: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO messages_fts (rowid, subject, text)
         SELECT id, subject, text FROM messages WHERE id > ?1",
    )?
    .execute([after])?;
    super::search::index_phones(conn, PHONE_ROWS_PER_BATCH)?;
    Ok(())
}

/// Gives the ticket `label` unless it has it already.
pub fn add_label(conn: &Connection, ticket: TicketId, label: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET labels = json_insert(labels, '$[#]', ?2)
         WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM json_each(tickets.labels) WHERE value = ?2)",
    )?
    .execute(params![ticket, label])?;
    Ok(())
}

/// Makes replies to this Message-ID thread into the ticket: a message `author` wrote
/// (the desk is ""), or mail the desk sent to `sent_to`. The first ticket an (ID, author)
/// pair went to keeps it.
pub fn remember_message_id(
    conn: &Connection,
    message_id: &str,
    ticket: TicketId,
    author: &str,
    sent_to: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO thread_refs (message_id, author, ticket_id, sent_to)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![message_id, author, ticket, sent_to])?;
    Ok(())
}

pub fn add_event(
    conn: &Connection,
    ticket: TicketId,
    at: i64,
    kind: EventKind,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (ticket_id, at, type, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ticket, at, kind.as_str(), detail])?;
    Ok(())
}

fn schedule_ack(
    conn: &Connection,
    ticket: TicketId,
    ack: &Ack,
    message: &MessageRecord,
    now: i64,
) -> rusqlite::Result<()> {
    let payload = OutboxMail::Acknowledgement {
        dedup_key: message.dedup_key.to_string(),
        in_reply_to: message.message_id.map(str::to_string),
    }
    .payload();
    conn.prepare_cached(
        "INSERT INTO outbox (ticket_id, kind, recipient, mailbox, payload, created_at, due_at)
         VALUES (?1, 'acknowledgement', ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        ticket,
        ack.to,
        ack.mailbox,
        payload.to_string(),
        now,
        ack.due_at
    ])?;
    add_event(
        conn,
        ticket,
        now,
        EventKind::AckScheduled,
        &format!(
            "acknowledgement to {} at {}",
            ack.to,
            views::rfc3339(ack.due_at)
        ),
    )
}
