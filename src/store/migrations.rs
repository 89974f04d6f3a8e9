//! Versioned schema. Each step runs once, in order, tracked by `PRAGMA user_version`.
//! Never edit a released step: add a new one.

use rusqlite_migration::{M, Migrations};

const V1: &str = r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- A conversation with one customer. The public reference is id + 999, so the first is #1000.
CREATE TABLE tickets (
    id                 INTEGER PRIMARY KEY,
    token              TEXT UNIQUE,
    status             TEXT NOT NULL CHECK (status IN ('new','acknowledged','answered','pending','closed','ignored')),
    queue              TEXT NOT NULL,
    category           TEXT,
    priority           TEXT NOT NULL,
    labels             TEXT NOT NULL DEFAULT '[]',
    language           TEXT,
    customer           TEXT NOT NULL,
    customer_name      TEXT,
    subject            TEXT NOT NULL,
    normalized_subject TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    last_message_at    INTEGER NOT NULL,
    ack_sent_at        INTEGER,
    first_response_at  INTEGER,
    waiting_since      INTEGER,
    due_at             INTEGER,
    breached           INTEGER NOT NULL DEFAULT 0,
    unparsed           INTEGER NOT NULL DEFAULT 0,
    message_count      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_queue_status ON tickets (queue, status);
CREATE INDEX tickets_customer ON tickets (customer);
CREATE INDEX tickets_due ON tickets (due_at) WHERE due_at IS NOT NULL AND breached = 0;

-- Everyone who wrote on a ticket or was addressed by its customer: only they may join it
-- through a subject tag or a subject match.
CREATE TABLE participants (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    address   TEXT NOT NULL,
    PRIMARY KEY (address, ticket_id)
) WITHOUT ROWID;

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    dedup_key   TEXT NOT NULL UNIQUE,
    message_id  TEXT,
    kind        TEXT NOT NULL,
    from_addr   TEXT,
    from_name   TEXT,
    to_addrs    TEXT NOT NULL DEFAULT '[]',
    cc_addrs    TEXT NOT NULL DEFAULT '[]',
    subject     TEXT NOT NULL DEFAULT '',
    date        INTEGER,
    received_at INTEGER NOT NULL,
    language    TEXT,
    text        TEXT NOT NULL DEFAULT '',
    headers     TEXT NOT NULL DEFAULT '[]',
    source      TEXT NOT NULL,
    threaded_by TEXT,
    parse_error TEXT,
    size        INTEGER NOT NULL,
    raw         BLOB NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, received_at);
CREATE INDEX messages_from ON messages (from_addr);

-- Every Message-ID that threads into a ticket: the ones we stored and the ones we sent.
CREATE TABLE thread_ids (
    message_id TEXT PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id)
) WITHOUT ROWID;

CREATE TABLE attachments (
    message_id   INTEGER NOT NULL REFERENCES messages (id),
    name         TEXT,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at        INTEGER NOT NULL,
    type      TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_ticket ON events (ticket_id, id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the ticket event log is append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the ticket event log is append-only'); END;

-- Side effects still to do, written in the same transaction as their cause.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER REFERENCES tickets (id),
    kind       TEXT NOT NULL,
    recipient  TEXT,
    payload    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    due_at     INTEGER NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','failed','cancelled')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at    INTEGER,
    result     TEXT
);
CREATE INDEX outbox_pending ON outbox (due_at) WHERE status = 'pending';
CREATE INDEX outbox_ticket ON outbox (ticket_id, kind);
CREATE INDEX outbox_recipient ON outbox (kind, recipient, created_at);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    subject, text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
BEGIN INSERT INTO messages_fts (rowid, subject, text) VALUES (new.id, new.subject, new.text); END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN INSERT INTO messages_fts (messages_fts, rowid, subject, text) VALUES ('delete', old.id, old.subject, old.text); END;
"#;

/// Where each IMAP folder's sync stands: only advanced in the transaction that stored the
/// messages up to `last_uid`.
const V2: &str = r#"
CREATE TABLE folder_state (
    mailbox     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, folder)
) WITHOUT ROWID;
ALTER TABLE outbox ADD COLUMN mailbox TEXT;
CREATE INDEX outbox_mailbox ON outbox (mailbox, kind) WHERE status = 'pending';
"#;

/// Deadlines the scheduler acts on, where each message sits on the server, and the
/// in-flight state of outgoing mail.
const V3: &str = r#"
ALTER TABLE tickets ADD COLUMN warn_at INTEGER;
ALTER TABLE tickets ADD COLUMN warned_at INTEGER;
-- The next moment the scheduler must act on (a warning, then the breach); NULL when none.
ALTER TABLE tickets ADD COLUMN deadline_at INTEGER;
CREATE INDEX tickets_deadline ON tickets (deadline_at) WHERE deadline_at IS NOT NULL;
ALTER TABLE messages ADD COLUMN mailbox TEXT;
ALTER TABLE messages ADD COLUMN imap_folder TEXT;
ALTER TABLE messages ADD COLUMN imap_uidvalidity INTEGER;
ALTER TABLE messages ADD COLUMN imap_uid INTEGER;
-- Set just before the SMTP transaction starts: a row found with it after a crash may have
-- been delivered, and is never sent again automatically.
ALTER TABLE outbox ADD COLUMN sending_since INTEGER;
ALTER TABLE outbox ADD COLUMN message_id TEXT;
"#;

/// The ingest writer adds a whole batch to the full-text index in one statement
/// ([`super::index_messages_after`]) instead of a trigger per message: FTS5 writes its
/// pending index out at every statement journal, which the trigger opened once per message.
/// `tickets_due` is superseded by `tickets_deadline`; no query reads it.
const V4: &str = r#"
DROP TRIGGER messages_fts_insert;
DROP INDEX tickets_due;
"#;

/// Agents: who a ticket is assigned to (`#assign`).
const V5: &str = r#"
ALTER TABLE tickets ADD COLUMN assignee TEXT;
"#;

/// Threading that cannot be borrowed: a Message-ID belongs to the sender who used it
/// first (`author`; the empty string for mail the desk sent), and an ID we sent remembers
/// its recipient, so that only that recipient's reply threads by it without being a
/// participant. A different sender presenting the same ID gets a row of its own and never
/// takes the first one over. `closed_at` bounds how long a closed ticket's agent address
/// still grants commands.
const V6: &str = r#"
CREATE TABLE thread_refs (
    message_id TEXT NOT NULL,
    author     TEXT NOT NULL,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    sent_to    TEXT,
    PRIMARY KEY (message_id, author)
) WITHOUT ROWID;
INSERT OR IGNORE INTO thread_refs (message_id, author, ticket_id, sent_to)
    SELECT o.message_id, '', o.ticket_id, o.recipient FROM outbox o
    WHERE o.message_id IS NOT NULL AND o.ticket_id IS NOT NULL ORDER BY o.id;
INSERT OR IGNORE INTO thread_refs (message_id, author, ticket_id, sent_to)
    SELECT m.message_id, coalesce(m.from_addr, ''), m.ticket_id, NULL FROM messages m
    WHERE m.message_id IS NOT NULL ORDER BY m.id;
DROP TABLE thread_ids;
ALTER TABLE tickets ADD COLUMN closed_at INTEGER;
UPDATE tickets SET closed_at = last_message_at WHERE status = 'closed';
"#;

/// The raw message in its own table, away from the hot message rows, compressed
/// ([`super::raw`]); [`super::raw::move_out_of_messages`] moves the stored mail over and drops
/// `messages.raw`. Removing a message removes its bytes with it.
const V7: &str = r#"
CREATE TABLE message_raw (
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    codec      INTEGER NOT NULL,
    bytes      BLOB NOT NULL
);
"#;

/// The web console: its accounts (argon2id password hashes), their sessions and the API
/// tokens (SHA-256 of the token: only the holder has the token itself), and the phone
/// numbers found in messages, digits only and reversed, so that the last digits of a number
/// — the part every way of writing it shares — are an index prefix.
const WEB_CONSOLE: &str = r#"
CREATE TABLE web_users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('agent','lead','admin')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_name);
CREATE TABLE web_tokens (
    token_hash TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('agent','lead','admin')),
    created_at INTEGER NOT NULL
);
CREATE TABLE message_phones (
    reversed   TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (reversed, message_id)
) WITHOUT ROWID;
"#;

/// Listings most urgent first (`postdesk tickets`): per status, breached first, then the
/// nearest due (undated last), then the oldest. The two computed keys are virtual columns
/// (no storage) rather than index expressions so that [`super::listing`] can start a page
/// with one row-value range of the index per status.
const LISTING_BY_URGENCY: &str = r#"
ALTER TABLE tickets ADD COLUMN listing_unbreached INTEGER
    GENERATED ALWAYS AS (1 - breached) VIRTUAL;
ALTER TABLE tickets ADD COLUMN listing_due INTEGER
    GENERATED ALWAYS AS (coalesce(due_at, 9223372036854775807)) VIRTUAL;
CREATE INDEX tickets_listing ON tickets (
    status, listing_unbreached, listing_due, created_at, id
);
"#;

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V4),
        M::up(V5),
        M::up(V6),
        M::up_with_hook(V7, super::raw::move_out_of_messages),
        M::up(WEB_CONSOLE),
        M::up(LISTING_BY_URGENCY),
    ])
}

/// The schema version (`PRAGMA user_version`) this binary migrates a database to.
pub fn latest_version() -> Result<i64, rusqlite_migration::Error> {
    let mut conn = rusqlite::Connection::open_in_memory()?;
    migrations().to_latest(&mut conn)?;
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    /// A database of the previous version: each Message-ID keeps its ticket, now with its
    /// author (or, for mail we sent, its recipient); closed tickets get a `closed_at`; the
    /// customers' reply tokens stay as they were.
    #[test]
    fn v6_keeps_every_thread_id_with_its_owner() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        let migrations = super::migrations();
        migrations.to_version(&mut conn, 5).unwrap();
        conn.execute_batch(
            "INSERT INTO tickets (id, token, status, queue, priority, customer, subject,
                                  normalized_subject, created_at, last_message_at)
             VALUES (1, 'tok1', 'closed', 'support', 'normal', 'alice@c.example', 's', 's', 10, 20);
             INSERT INTO messages (ticket_id, dedup_key, message_id, kind, from_addr, received_at,
                                   source, size, raw)
             VALUES (1, 'k1', 'm1@c.example', 'request', 'alice@c.example', 10, 'test', 1, x'00');
             INSERT INTO outbox (ticket_id, kind, recipient, created_at, due_at, status, message_id)
             VALUES (1, 'acknowledgement', 'alice@c.example', 11, 11, 'done', 'ack1@desk');
             INSERT INTO thread_ids VALUES ('m1@c.example', 1), ('ack1@desk', 1);",
        )
        .unwrap();
        migrations.to_latest(&mut conn).unwrap();
        let rows: Vec<(String, String, i64, Option<String>)> = conn
            .prepare("SELECT message_id, author, ticket_id, sent_to FROM thread_refs ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "ack1@desk".into(),
                    String::new(),
                    1,
                    Some("alice@c.example".into())
                ),
                ("m1@c.example".into(), "alice@c.example".into(), 1, None),
            ]
        );
        let (token, closed_at): (String, Option<i64>) = conn
            .query_row(
                "SELECT token, closed_at FROM tickets WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((token.as_str(), closed_at), ("tok1", Some(20)));
    }

    /// Tickets of a database made before the listing index get their keys computed: 0
    /// when breached, the due time or the largest integer when there is none.
    #[test]
    fn the_listing_keys_come_to_existing_tickets() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        let migrations = super::migrations();
        migrations.to_version(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO tickets (id, status, queue, priority, customer, subject,
                                  normalized_subject, created_at, last_message_at, due_at, breached)
             VALUES (1, 'new', 'support', 'normal', 'a@c.example', 's', 's', 10, 10, 99, 1),
                    (2, 'pending', 'support', 'normal', 'b@c.example', 's', 's', 20, 20, NULL, 0);",
        )
        .unwrap();
        migrations.to_latest(&mut conn).unwrap();
        let keys: Vec<(i64, i64)> = conn
            .prepare("SELECT listing_unbreached, listing_due FROM tickets ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(keys, [(0, 99), (1, i64::MAX)]);
        let indexed: i64 = conn
            .query_row(
                "SELECT count(*) FROM tickets INDEXED BY tickets_listing WHERE status = 'new'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexed, 1);
    }
}
