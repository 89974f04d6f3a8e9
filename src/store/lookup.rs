//! The pipeline's view of the store ([`Lookup`]) over a connection, usually the batch's
//! live transaction, so messages earlier in the same batch are seen.

use rusqlite::{Connection, OptionalExtension, params};

use super::tokens::agent_token_ticket;
use crate::ingest::thread::ThreadRef;
use crate::ingest::{Lookup, Status, TicketId, TicketState, ticket_of_reference};

/// [`Lookup`] over a connection.
pub struct Db<'c> {
    pub(super) conn: &'c Connection,
    pub(super) token_key: &'c [u8],
}

impl Lookup for Db<'_> {
    type Error = rusqlite::Error;

    fn ticket_by_dedup_key(&self, key: &str) -> rusqlite::Result<Option<TicketId>> {
        self.conn
            .prepare_cached("SELECT ticket_id FROM messages WHERE dedup_key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()
    }

    fn ticket_by_token(&self, token: &str) -> rusqlite::Result<Option<TicketId>> {
        self.conn
            .prepare_cached("SELECT id FROM tickets WHERE token = ?1")?
            .query_row([token.to_ascii_lowercase()], |r| r.get(0))
            .optional()
    }

    fn ticket_by_agent_token(&self, token: &str) -> rusqlite::Result<Option<TicketId>> {
        let Some(ticket) = agent_token_ticket(self.token_key, &token.to_ascii_lowercase()) else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("SELECT id FROM tickets WHERE id = ?1")?
            .query_row([ticket], |r| r.get(0))
            .optional()
    }

    fn thread_refs(&self, message_id: &str) -> rusqlite::Result<Vec<ThreadRef>> {
        // Bounded: however many senders reuse one ID, a few rows decide.
        self.conn
            .prepare_cached(
                "SELECT ticket_id, author, sent_to FROM thread_refs WHERE message_id = ?1 LIMIT 16",
            )?
            .query_map([message_id], |r| {
                Ok(ThreadRef {
                    ticket: r.get(0)?,
                    author: r.get(1)?,
                    sent_to: r.get(2)?,
                })
            })?
            .collect()
    }

    fn ticket_by_ref(&self, reference: i64) -> rusqlite::Result<Option<TicketId>> {
        self.conn
            .prepare_cached("SELECT id FROM tickets WHERE id = ?1")?
            .query_row([ticket_of_reference(reference)], |r| r.get(0))
            .optional()
    }

    fn is_participant(&self, ticket: TicketId, address: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM participants WHERE address = ?1 AND ticket_id = ?2")?
            .exists(params![address, ticket])
    }

    fn recent_ticket_by_subject(
        &self,
        address: &str,
        normalized_subject: &str,
        since: i64,
    ) -> rusqlite::Result<Option<TicketId>> {
        self.conn
            .prepare_cached(
                "SELECT t.id FROM participants p JOIN tickets t ON t.id = p.ticket_id
                 WHERE p.address = ?1 AND t.normalized_subject = ?2 AND t.last_message_at >= ?3
                 ORDER BY t.last_message_at DESC LIMIT 1",
            )?
            .query_row(params![address, normalized_subject, since], |r| r.get(0))
            .optional()
    }

    fn ticket_state(&self, ticket: TicketId) -> rusqlite::Result<TicketState> {
        self.conn
            .prepare_cached(
                "SELECT status, queue, waiting_since, customer, assignee, closed_at
                 FROM tickets WHERE id = ?1",
            )?
            .query_row([ticket], |r| {
                let status: String = r.get(0)?;
                Ok(TicketState {
                    status: Status::parse(&status).unwrap_or(Status::New),
                    queue: r.get(1)?,
                    waiting_since: r.get(2)?,
                    customer: r.get(3)?,
                    assignee: r.get(4)?,
                    closed_at: r.get(5)?,
                })
            })
    }

    fn acks_to_since(&self, address: &str, since: i64) -> rusqlite::Result<u32> {
        self.conn
            .prepare_cached(
                "SELECT count(*) FROM outbox
                 WHERE kind = 'acknowledgement' AND recipient = ?1 AND created_at >= ?2
                   AND status IN ('pending', 'done')",
            )?
            .query_row(params![address, since], |r| r.get(0))
    }
}
