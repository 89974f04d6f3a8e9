//! Retention and erasure: removing closed tickets past their queue's retention (`db prune`,
//! the daemon's daily pass) and one person's data on request (`customer --erase`).
//!
//! Both work on a transaction the caller holds: the doomed tickets and messages are marked
//! in temporary tables first, so that the caller can read (export) exactly what goes before
//! the rows are deleted, and the whole change commits or vanishes at once. Rows are found
//! through the schema's foreign keys: every table that references `messages` or `tickets`
//! loses the rows of the doomed ones, tables added later included. The full-text index of
//! `messages` (an FTS5 table with external content) drops its entries through the
//! `messages_fts_delete` trigger, which hands FTS5 the deleted rows' indexed values.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Config;

/// Statuses a ticket must have to be pruned: nobody is waiting on it.
pub const PRUNABLE: &str = "'closed', 'ignored'";

/// Rows removed, by table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed(pub BTreeMap<String, usize>);

impl Removed {
    pub fn of(&self, table: &str) -> usize {
        self.0.get(table).copied().unwrap_or(0)
    }

    fn add(&mut self, table: &str, rows: usize) {
        if rows > 0 {
            *self.0.entry(table.into()).or_default() += rows;
        }
    }
}

/// Which tickets a prune looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queues {
    All,
    /// Only this queue.
    Named(String),
    /// Tickets of queues not named here (`[defaults]` retention for queues no longer
    /// configured).
    Other(Vec<String>),
}

/// One prune: tickets of `queues` last touched before `cutoff` (seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub queues: Queues,
    pub cutoff: i64,
}

/// The prunes the configured `retention`s ask for at `now`: one per queue that keeps its
/// tickets for a limited time, and one by `[defaults]` for tickets of queues no longer
/// configured.
pub fn configured_passes(config: &Config, now: jiff::Timestamp) -> Vec<Pass> {
    let mut passes: Vec<Pass> = config
        .queues
        .iter()
        .filter_map(|q| {
            let cutoff = q.policy.retention.cutoff(now, &q.calendar.timezone)?;
            Some(Pass {
                queues: Queues::Named(q.name.clone()),
                cutoff: cutoff.as_second(),
            })
        })
        .collect();
    if let Some(cutoff) = config
        .defaults
        .retention
        .cutoff(now, &config.calendar.timezone)
    {
        passes.push(Pass {
            queues: Queues::Other(config.queues.iter().map(|q| q.name.clone()).collect()),
            cutoff: cutoff.as_second(),
        });
    }
    passes
}

/// How many tickets and messages are marked for removal.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Marked {
    pub tickets: usize,
    pub messages: usize,
}

/// Forgets what earlier calls marked: the start of every prune.
pub fn clear_marks(conn: &Connection) -> rusqlite::Result<()> {
    reset_marks(conn)
}

fn reset_marks_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS doomed_tickets (id INTEGER PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS doomed_messages (id INTEGER PRIMARY KEY);",
    )
}

fn reset_marks(conn: &Connection) -> rusqlite::Result<()> {
    reset_marks_tables(conn)?;
    conn.execute_batch(
        "DELETE FROM temp.doomed_tickets;
         DELETE FROM temp.doomed_messages;",
    )
}

/// Marks, besides what is marked already ([`clear_marks`]), closed and ignored tickets
/// last touched (their last message, or their closing if later) before the pass's cutoff,
/// at most `limit` of them, oldest first, with all their messages. Returns what it added.
pub fn mark_closed_before(
    conn: &Connection,
    pass: &Pass,
    limit: Option<usize>,
) -> rusqlite::Result<Marked> {
    reset_marks_tables(conn)?;
    let (filter, names) = match &pass.queues {
        Queues::All => ("", None),
        Queues::Named(name) => ("AND queue = ?3", Some(name.clone())),
        Queues::Other(names) => (
            "AND queue NOT IN (SELECT value FROM json_each(?3))",
            Some(serde_json::to_string(names).unwrap_or_else(|_| "[]".into())),
        ),
    };
    let cutoff = pass.cutoff;
    let sql = format!(
        "INSERT OR IGNORE INTO temp.doomed_tickets (id)
         SELECT id FROM tickets
         WHERE status IN ({PRUNABLE})
           AND max(last_message_at, coalesce(closed_at, 0)) < ?1 {filter}
         ORDER BY max(last_message_at, coalesce(closed_at, 0)), id
         LIMIT ?2"
    );
    let limit = limit.map_or(-1, |n| n as i64);
    let tickets = match names {
        Some(name) => conn.execute(&sql, params![cutoff, limit, name])?,
        None => conn.execute(&sql, params![cutoff, limit])?,
    };
    let messages = conn.execute(
        "INSERT OR IGNORE INTO temp.doomed_messages (id)
         SELECT m.id FROM messages m JOIN temp.doomed_tickets d ON m.ticket_id = d.id",
        [],
    )?;
    Ok(Marked { tickets, messages })
}

/// The marked messages' rows in the order an export writes them: ticket by ticket, each
/// ticket's oldest first.
pub fn marked_message_rows(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    conn.prepare(
        "SELECT m.id FROM messages m JOIN temp.doomed_messages d ON m.id = d.id
         ORDER BY m.ticket_id, m.received_at, m.id",
    )?
    .query_map([], |r| r.get(0))?
    .collect()
}

/// A foreign key: `table.column` references `parent`.
struct Reference {
    table: String,
    column: String,
    parent: String,
}

fn references(conn: &Connection) -> rusqlite::Result<Vec<Reference>> {
    conn.prepare(
        "SELECT m.name, f.\"from\", f.\"table\"
         FROM sqlite_master m, pragma_foreign_key_list(m.name) f
         WHERE m.type = 'table' AND f.\"table\" IN ('tickets', 'messages')
         ORDER BY m.name",
    )?
    .query_map([], |r| {
        Ok(Reference {
            table: r.get(0)?,
            column: r.get(1)?,
            parent: r.get(2)?,
        })
    })?
    .collect()
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Deletes the marked messages and tickets and every row referencing them. The event log
/// is append-only by a trigger; it is lifted for these deletes and put back in the same
/// transaction, so that no other writer ever sees the log without it.
pub fn delete_marked(conn: &Connection) -> rusqlite::Result<Removed> {
    let guard = lift_event_guard(conn)?;
    let mut removed = Removed::default();
    let refs = references(conn)?;
    // Children of messages first, then of tickets, then the messages and the tickets.
    for (parent, marks) in [
        ("messages", "temp.doomed_messages"),
        ("tickets", "temp.doomed_tickets"),
    ] {
        for r in refs
            .iter()
            .filter(|r| r.parent == parent && r.table != "messages")
        {
            let rows = conn.execute(
                &format!(
                    "DELETE FROM {} WHERE {} IN (SELECT id FROM {marks})",
                    quoted(&r.table),
                    quoted(&r.column)
                ),
                [],
            )?;
            removed.add(&r.table, rows);
        }
        if parent == "messages" {
            let rows = conn.execute(
                "DELETE FROM messages WHERE id IN (SELECT id FROM temp.doomed_messages)",
                [],
            )?;
            removed.add("messages", rows);
        }
    }
    let rows = conn.execute(
        "DELETE FROM tickets WHERE id IN (SELECT id FROM temp.doomed_tickets)",
        [],
    )?;
    removed.add("tickets", rows);
    restore_event_guard(conn, guard)?;
    reset_marks(conn)?;
    Ok(removed)
}

/// Drops the trigger that keeps the event log append-only; returns its SQL for
/// [`restore_event_guard`], to be called in the same transaction.
fn lift_event_guard(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let guard: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master
             WHERE type = 'trigger' AND name = 'events_append_only_delete'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if guard.is_some() {
        conn.execute_batch("DROP TRIGGER events_append_only_delete")?;
    }
    Ok(guard)
}

fn restore_event_guard(conn: &Connection, guard: Option<String>) -> rusqlite::Result<()> {
    match guard {
        Some(sql) => conn.execute_batch(&sql),
        None => Ok(()),
    }
}

/// The database file's pages: in use, free, and their size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pages {
    pub count: i64,
    pub free: i64,
    pub size: i64,
}

impl Pages {
    pub fn bytes(&self) -> i64 {
        self.count * self.size
    }
}

pub fn pages(conn: &Connection) -> rusqlite::Result<Pages> {
    Ok(Pages {
        count: conn.query_row("PRAGMA page_count", [], |r| r.get(0))?,
        free: conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?,
        size: conn.query_row("PRAGMA page_size", [], |r| r.get(0))?,
    })
}

/// Whether freed pages can be given back to the file system without a full VACUUM
/// (`PRAGMA auto_vacuum = INCREMENTAL`, set on databases created since it was introduced;
/// `postdesk db vacuum` converts an older one).
pub fn shrinks_incrementally(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    Ok(mode == 2)
}

/// Gives the free pages back to the file system (outside any transaction); with
/// `checkpoint`, then copies the write-ahead log into the file so that the file itself
/// shrinks (the daemon leaves that to its checkpointer).
pub fn give_back_free_pages(conn: &Connection, checkpoint: bool) -> rusqlite::Result<()> {
    if shrinks_incrementally(conn)? {
        // Each step of the statement gives back one page.
        let mut vacuum = conn.prepare("PRAGMA incremental_vacuum")?;
        let mut steps = vacuum.query([])?;
        while steps.next()?.is_some() {}
    }
    if checkpoint {
        // A reader in the way (the daemon) is no failure: a later checkpoint does it.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok(())
}

/// When the daemon's retention pass last ran (seconds), kept in `settings`.
pub fn last_retention_run(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let value: Option<String> = conn
        .query_row(
            "SELECT CAST(value AS TEXT) FROM settings WHERE key = 'retention_last_run'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(value.and_then(|v| v.parse().ok()))
}

pub fn set_last_retention_run(conn: &Connection, at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('retention_last_run', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [at.to_string()],
    )?;
    Ok(())
}

#[path = "erasure.rs"]
mod erasure;
pub use erasure::{Erased, erase_person, names_address};

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
