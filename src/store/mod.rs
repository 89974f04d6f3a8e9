//! The SQLite store: one writer connection in WAL mode (readers never block it), versioned
//! migrations on open, and the writes the ingest pipeline decides on.

pub mod backup;
pub mod deadlines;
pub mod file;
pub mod folders;
mod migrations;
pub mod outbox;
pub mod reports;
pub mod search;
pub mod views;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::Sha256;

use crate::ingest::thread::ThreadRef;
use crate::ingest::{
    Decision, Lookup, MailKind, Placement, Status, TicketId, TicketState, WaitingChange,
};

pub use crate::ingest::{reference, ticket_of_reference};
pub use file::{Filed, Incoming, Ingester, Summary};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the directory for database {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] rusqlite_migration::Error),
    #[error("cannot read the reply-token key from {path}: {source}")]
    TokenKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub struct Store {
    conn: Connection,
    token_key: Vec<u8>,
}

impl Store {
    /// Opens (creating if needed) the database and runs pending migrations.
    /// `token_key_file` overrides the reply-token key kept in the database.
    pub fn open(path: &Path, token_key_file: Option<&Path>) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.into(),
                source,
            })?;
        }
        crate::private_files::make_database_private(path);
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.into(),
            source,
        })?;
        Store::setup(conn, token_key_file)
    }

    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?, None)
    }

    fn setup(mut conn: Connection, token_key_file: Option<&Path>) -> Result<Store, StoreError> {
        // Whole messages are stored: with 16 KiB pages most fit in their row instead of a
        // chain of overflow pages, and filing a batch writes a quarter as many pages. Takes
        // effect only when the database is created.
        conn.pragma_update(None, "page_size", 16384)?;
        // As many pages cached as SQLite's default of 2 MB held when pages were 4 KiB: scans
        // like the deadline query touch one page per ticket.
        conn.pragma_update(None, "cache_size", -8192)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Filing one batch runs some 25 distinct statements; rusqlite's default cache of 16
        // would keep preparing them again.
        conn.set_prepared_statement_cache_capacity(64);
        migrations::migrations().to_latest(&mut conn)?;
        let token_key = match token_key_file {
            Some(path) => {
                // Every reply and agent token derives from it.
                crate::private_files::warn_if_readable_by_others(path);
                std::fs::read(path).map_err(|source| StoreError::TokenKey {
                    path: path.into(),
                    source,
                })?
            }
            None => stored_token_key(&conn)?,
        };
        Ok(Store { conn, token_key })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Stops this connection from copying the write-ahead log into the database file after
    /// its commits; a [`Checkpointer`] on another thread must do it instead.
    pub fn leave_checkpoints_to_checkpointer(&self) -> rusqlite::Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // The log may grow long during a catch-up; once it starts over, its file shrinks back.
        self.conn
            .pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)
    }

    pub fn transaction(&mut self) -> rusqlite::Result<Transaction<'_>> {
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    pub fn token_key(&self) -> &[u8] {
        &self.token_key
    }

    /// The pipeline's view of the store through a connection (usually a transaction).
    /// [`Lookup`] on `conn`; `token_key` checks agent tokens.
    pub fn lookup<'c>(conn: &'c Connection, token_key: &'c [u8]) -> Db<'c> {
        Db { conn, token_key }
    }

    /// Files one decided message. Returns the ticket and whether it is new.
    pub fn apply(
        conn: &Connection,
        decision: &Decision,
        raw: &[u8],
        token_key: &[u8],
    ) -> rusqlite::Result<(TicketId, bool)> {
        let m = &decision.message;
        let now = m.received_at;
        let (ticket, is_new, participants, ack, cancel_pending_ack) = match &decision.placement {
            Placement::New(new) => {
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
                (id, true, &new.participants, new.ack.as_ref(), false)
            }
            Placement::Existing { ticket, update } => {
                let (mode, since, warn, due) = match update.waiting {
                    WaitingChange::Keep => (0, None, None, None),
                    WaitingChange::Start(w) => (1, Some(w.since), Some(w.warn_at), Some(w.due_at)),
                    WaitingChange::Stop => (2, None, None, None),
                };
                conn.prepare_cached(
                    "UPDATE tickets SET
                        last_message_at = max(last_message_at, ?2),
                        message_count = message_count + 1,
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
                ])?;
                if let Some(label) = update.label {
                    add_label(conn, *ticket, label)?;
                }
                (
                    *ticket,
                    false,
                    &update.participants,
                    update.ack.as_ref(),
                    update.cancel_pending_ack,
                )
            }
        };

        for address in *participants {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO participants (address, ticket_id) VALUES (?1, ?2)",
            )?
            .execute(params![address, ticket])?;
        }
        conn.prepare_cached(
            "INSERT INTO messages (ticket_id, dedup_key, message_id, kind, from_addr, from_name,
                to_addrs, cc_addrs, subject, date, received_at, language, text, headers, source,
                threaded_by, parse_error, size, raw, mailbox, imap_folder, imap_uidvalidity, imap_uid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                ?20, ?21, ?22, ?23)",
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
            raw,
            m.mailbox,
            m.imap.map(|l| &l.folder),
            m.imap.map(|l| l.uidvalidity),
            m.imap.map(|l| l.uid),
        ])?;
        let message_row = conn.last_insert_rowid();
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
        if let Some(id) = &m.message_id {
            remember_message_id(conn, id, ticket, m.from.unwrap_or(""), None)?;
        }
        for (kind, detail) in &decision.events {
            add_event(conn, ticket, now, kind, detail)?;
        }
        if cancel_pending_ack {
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
                    "ack_cancelled",
                    "an agent answered first",
                )?;
            }
        }
        if let Some(ack) = ack {
            schedule_ack(conn, ticket, ack, m, now)?;
        }
        for mail in &decision.mails {
            let mut payload = mail.payload.clone();
            if mail.kind == MailKind::RelayForward {
                // Only the forward carries the agent address; the outbox has no key.
                payload["agent_token"] = agent_token(token_key, ticket).into();
            }
            conn.prepare_cached(
                "INSERT INTO outbox (ticket_id, kind, recipient, mailbox, payload, created_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?
            .execute(params![
                ticket,
                mail.kind.as_str(),
                mail.to,
                m.mailbox,
                payload.to_string(),
                now
            ])?;
        }
        Ok((ticket, is_new))
    }
}

/// Log frames past which a checkpoint also waits for the writer, so that the log starts over
/// from its beginning instead of growing through a long catch-up (64 MiB of 16 KiB pages).
const WAL_RESTART_FRAMES: i64 = 4096;

/// Its own connection to the database that copies the write-ahead log into the database file
/// (a checkpoint), so that the writer never waits for that copy and its fsync.
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    pub fn open(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.into(),
            source,
        })?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(Checkpointer { conn })
    }

    /// Copies what the log holds without holding up the writer; once the log has grown long,
    /// waits for the writer's transaction to end so that the log can start over.
    pub fn checkpoint(&self) -> rusqlite::Result<()> {
        let log_frames = self.run("PASSIVE")?;
        if log_frames > WAL_RESTART_FRAMES {
            self.run("RESTART")?;
        }
        Ok(())
    }

    /// Runs one checkpoint; returns the frames in the log.
    fn run(&self, mode: &str) -> rusqlite::Result<i64> {
        self.conn
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
    }
}

/// The row id of the last stored message (0 when there is none).
pub fn last_message_row(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM messages")?
        .query_row([], |r| r.get(0))
}

/// Adds the messages stored after row `after` to the full-text index, in one statement (one
/// index flush for the whole batch).
pub fn index_messages_after(conn: &Connection, after: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO messages_fts (rowid, subject, text)
         SELECT id, subject, text FROM messages WHERE id > ?1",
    )?
    .execute([after])?;
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
    kind: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (ticket_id, at, type, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ticket, at, kind, detail])?;
    Ok(())
}

fn schedule_ack(
    conn: &Connection,
    ticket: TicketId,
    ack: &crate::ingest::Ack,
    message: &crate::ingest::MessageRecord,
    now: i64,
) -> rusqlite::Result<()> {
    let payload =
        serde_json::json!({ "in_reply_to": message.message_id, "dedup_key": message.dedup_key });
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
        "ack_scheduled",
        &format!(
            "acknowledgement to {} at {}",
            ack.to,
            views::rfc3339(ack.due_at)
        ),
    )
}

/// The customer's per-ticket secret in `support+t.<token>@`: an HMAC of the ticket id, so
/// it cannot be derived from the public reference. It threads the customer's reply and
/// grants nothing else.
fn reply_token(key: &[u8], ticket: TicketId) -> String {
    crate::ingest::parse::hex(&ticket_mac(key, b"postdesk reply token v1:", ticket)[..10])
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
        crate::ingest::parse::hex(&mac[..AGENT_MAC_BYTES])
    )
}

/// The ticket of a valid agent token, compared in constant time.
fn agent_token_ticket(key: &[u8], token: &str) -> Option<TicketId> {
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

fn stored_token_key(conn: &Connection) -> rusqlite::Result<Vec<u8>> {
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

/// [`Lookup`] over a connection.
pub struct Db<'c> {
    conn: &'c Connection,
    token_key: &'c [u8],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpointer_copies_the_log_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postdesk.db");
        let wal = dir.path().join("postdesk.db-wal");
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let store = Store::open(&path, None).unwrap();
        store.leave_checkpoints_to_checkpointer().unwrap();
        // 40 transactions of 500 kB: past the 1,000 pages after which SQLite would copy the
        // log into the database by itself
        let write = |from: usize| {
            for n in from..from + 40 {
                store
                    .connection()
                    .execute(
                        "INSERT INTO settings (key, value) VALUES (?1, zeroblob(500000))",
                        [format!("k{n}")],
                    )
                    .unwrap();
            }
        };
        write(0);
        assert!(size(&wal) > 16_000_000, "the writer checkpointed by itself");
        let database = size(&path);
        Checkpointer::open(&path).unwrap().checkpoint().unwrap();
        assert!(
            size(&path) > database + 16_000_000,
            "the log was not copied into the database"
        );
        // the log starts over: the next writes reuse it instead of growing it
        let log = size(&wal);
        write(40);
        assert!(
            size(&wal) <= log,
            "the log kept growing: {log} -> {}",
            size(&wal)
        );
    }
}
