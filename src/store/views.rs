//! Read-only views of the store, with the stable JSON field names of DESIGN.md "Interfaces".

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{reference, ticket_of_reference};
use crate::ingest::TicketId;

/// Unix seconds → RFC 3339 in UTC.
pub use crate::text::time::rfc3339;

fn time(row: &Row<'_>, column: &str) -> rusqlite::Result<Option<String>> {
    Ok(row.get::<_, Option<i64>>(column)?.map(rfc3339))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TicketView {
    #[serde(rename = "ref")]
    pub reference: i64,
    pub status: String,
    pub queue: String,
    pub category: Option<String>,
    pub priority: String,
    pub labels: Vec<String>,
    pub language: Option<String>,
    pub customer: String,
    pub customer_name: Option<String>,
    pub subject: String,
    pub created_at: Option<String>,
    pub last_message_at: Option<String>,
    pub ack_sent_at: Option<String>,
    pub first_response_at: Option<String>,
    pub due_at: Option<String>,
    pub breached: bool,
    pub unparsed: bool,
    pub message_count: i64,
    /// The agent it is assigned to (`#assign`).
    pub assignee: Option<String>,
}

pub(super) const TICKET_COLUMNS: &str =
    "id, status, queue, category, priority, labels, language, customer,
    customer_name, subject, created_at, last_message_at, ack_sent_at, first_response_at, due_at,
    breached, unparsed, message_count, assignee";

impl TicketView {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<TicketView> {
        let labels: String = row.get("labels")?;
        Ok(TicketView {
            reference: reference(row.get("id")?),
            status: row.get("status")?,
            queue: row.get("queue")?,
            category: row.get("category")?,
            priority: row.get("priority")?,
            labels: serde_json::from_str(&labels).unwrap_or_default(),
            language: row.get("language")?,
            customer: row.get("customer")?,
            customer_name: row.get("customer_name")?,
            subject: row.get("subject")?,
            created_at: time(row, "created_at")?,
            last_message_at: time(row, "last_message_at")?,
            ack_sent_at: time(row, "ack_sent_at")?,
            first_response_at: time(row, "first_response_at")?,
            due_at: time(row, "due_at")?,
            breached: row.get("breached")?,
            unparsed: row.get("unparsed")?,
            message_count: row.get("message_count")?,
            assignee: row.get("assignee")?,
        })
    }
}

/// A customer's tickets, oldest first: the ones they took part in.
fn customer_tickets(conn: &Connection, address: &str) -> rusqlite::Result<Vec<TicketView>> {
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets
         WHERE id IN (SELECT ticket_id FROM participants WHERE address = ?1)
         ORDER BY id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![address], TicketView::from_row)?;
    rows.collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageView {
    pub message_id: Option<String>,
    pub kind: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub date: Option<String>,
    pub received_at: Option<String>,
    pub language: Option<String>,
    pub text: String,
    pub threaded_by: Option<String>,
    pub parse_error: Option<String>,
    pub source: String,
    pub size: i64,
    pub attachments: Vec<AttachmentView>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttachmentView {
    pub name: Option<String>,
    pub content_type: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventView {
    pub at: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketView,
    pub participants: Vec<String>,
    pub messages: Vec<MessageView>,
    pub events: Vec<EventView>,
}

/// A stored message as it arrived.
pub struct Original {
    pub sender: Option<String>,
    pub received_at: i64,
    pub raw: Vec<u8>,
}

/// The rows of a ticket's messages, oldest first, for [`original`] to read one at a time (a
/// ticket may carry large attachments); `None` when there is no such ticket.
pub fn message_rows(conn: &Connection, reference: i64) -> rusqlite::Result<Option<Vec<i64>>> {
    let id = ticket_of_reference(reference);
    let exists = conn
        .query_row("SELECT 1 FROM tickets WHERE id = ?1", [id], |_| Ok(()))
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    conn.prepare("SELECT id FROM messages WHERE ticket_id = ?1 ORDER BY received_at, id")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()
        .map(Some)
}

pub fn original(conn: &Connection, row: i64) -> rusqlite::Result<Original> {
    let (sender, received_at) = conn.query_row(
        "SELECT from_addr, received_at FROM messages WHERE id = ?1",
        [row],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let raw = super::raw::read(conn, row)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok(Original {
        sender,
        received_at,
        raw,
    })
}

pub fn ticket_detail(conn: &Connection, reference: i64) -> rusqlite::Result<Option<TicketDetail>> {
    let id = ticket_of_reference(reference);
    let Some(ticket) = conn
        .query_row(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"),
            [id],
            TicketView::from_row,
        )
        .optional()?
    else {
        return Ok(None);
    };
    let participants = conn
        .prepare("SELECT address FROM participants WHERE ticket_id = ?1 ORDER BY address")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let messages = messages_of(conn, id)?;
    let events = conn
        .prepare("SELECT at, type, detail FROM events WHERE ticket_id = ?1 ORDER BY id")?
        .query_map([id], |r| {
            Ok(EventView {
                at: time(r, "at")?,
                kind: r.get("type")?,
                detail: r.get("detail")?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(TicketDetail {
        ticket,
        participants,
        messages,
        events,
    }))
}

/// A ticket's messages in arrival order, each with its attachments.
fn messages_of(conn: &Connection, id: TicketId) -> rusqlite::Result<Vec<MessageView>> {
    let mut attachments = conn.prepare(
        "SELECT name, content_type, size FROM attachments WHERE message_id = ?1 ORDER BY rowid",
    )?;
    conn.prepare(
        "SELECT id, message_id, kind, from_addr, from_name, to_addrs, cc_addrs, subject, date,
                received_at, language, text, threaded_by, parse_error, source, size
             FROM messages WHERE ticket_id = ?1 ORDER BY received_at, id",
    )?
    .query_map([id], |r| {
        let row_id: i64 = r.get("id")?;
        let to: String = r.get("to_addrs")?;
        let cc: String = r.get("cc_addrs")?;
        Ok((
            row_id,
            MessageView {
                message_id: r.get("message_id")?,
                kind: r.get("kind")?,
                from: r.get("from_addr")?,
                from_name: r.get("from_name")?,
                to: serde_json::from_str(&to).unwrap_or_default(),
                cc: serde_json::from_str(&cc).unwrap_or_default(),
                subject: r.get("subject")?,
                date: time(r, "date")?,
                received_at: time(r, "received_at")?,
                language: r.get("language")?,
                text: r.get("text")?,
                threaded_by: r.get("threaded_by")?,
                parse_error: r.get("parse_error")?,
                source: r.get("source")?,
                size: r.get("size")?,
                attachments: Vec::new(),
            },
        ))
    })?
    .map(|row| {
        let (row_id, mut message) = row?;
        message.attachments = attachments
            .query_map([row_id], |r| {
                Ok(AttachmentView {
                    name: r.get(0)?,
                    content_type: r.get(1)?,
                    size: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(message)
    })
    .collect()
}

/// What a phone agent needs: has this person written, and what happened since.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CustomerView {
    pub address: String,
    pub name: Option<String>,
    pub first_contact_at: Option<String>,
    pub last_contact_at: Option<String>,
    pub message_count: i64,
    pub open_tickets: usize,
    pub tickets: Vec<TicketView>,
}

pub fn customer(conn: &Connection, address: &str) -> rusqlite::Result<CustomerView> {
    let address = address.trim().to_lowercase();
    let tickets = customer_tickets(conn, &address)?;
    let (first, last, count, name): (Option<i64>, Option<i64>, i64, Option<String>) = conn
        .query_row(
            "SELECT min(received_at), max(received_at), count(*),
                (SELECT from_name FROM messages WHERE from_addr = ?1 AND from_name IS NOT NULL
                 ORDER BY received_at DESC LIMIT 1)
             FROM messages WHERE from_addr = ?1",
            [&address],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    Ok(CustomerView {
        open_tickets: tickets
            .iter()
            .filter(|t| matches!(t.status.as_str(), "new" | "acknowledged" | "pending"))
            .count(),
        address,
        name,
        first_contact_at: first.map(rfc3339),
        last_contact_at: last.map(rfc3339),
        message_count: count,
        tickets,
    })
}
