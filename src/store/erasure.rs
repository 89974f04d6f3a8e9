//! `postdesk customer ADDRESS --erase`: one person's data out of the store. Their tickets
//! (where they are the customer) go whole; on other tickets, every message they sent or that
//! names them (recipients, headers, text, raw mail), the participant and threading rows of
//! their address, outbox rows to or about them and events naming them. Each ticket that
//! remains gets an `erased` event that says how much went, without the address.

use rusqlite::{Connection, params};

use super::{Removed, delete_marked, lift_event_guard, reset_marks, restore_event_guard};

/// What an erasure removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    /// The address as searched for (trimmed, lower case).
    pub address: String,
    pub removed: Removed,
    /// Tickets that remain, each with an `erased` event (their ids).
    pub kept_tickets: Vec<i64>,
}

/// Whether `haystack` holds `address` (lower case) as a whole address, in any case:
/// `ann@example.com` is not found in `joann@example.com` nor in `ann@example.com.evil`.
pub fn names_address(haystack: &[u8], address: &str) -> bool {
    let needle = address.as_bytes();
    if needle.is_empty() || haystack.len() < needle.len() {
        return false;
    }
    let local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-'".contains(&b);
    (0..=haystack.len() - needle.len()).any(|at| {
        let end = at + needle.len();
        haystack
            .get(at..end)
            .is_some_and(|found| found.eq_ignore_ascii_case(needle))
            && !at
                .checked_sub(1)
                .and_then(|before| haystack.get(before))
                .is_some_and(|&b| local(b))
            && match haystack.get(end) {
                None => true,
                Some(b'.') => !haystack.get(end + 1).is_some_and(u8::is_ascii_alphanumeric),
                Some(&b) => !(b.is_ascii_alphanumeric() || b == b'-'),
            }
    })
}

/// Ids of the rows of `sql` (selecting an id and one text or blob) whose text names the
/// address; `sql` narrows by a case-insensitive substring search on `?1`.
fn naming(conn: &Connection, sql: &str, address: &str) -> rusqlite::Result<Vec<i64>> {
    let mut ids = Vec::new();
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query([address])?;
    while let Some(row) = rows.next()? {
        let text: Vec<u8> = match row.get_ref(1)? {
            rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => t.to_vec(),
            _ => Vec::new(),
        };
        if names_address(&text, address) {
            ids.push(row.get(0)?);
        }
    }
    Ok(ids)
}

/// The messages whose original bytes name the address: each stored message decompressed
/// once (`store::raw`), as an erasure must find the address wherever the mail carried it.
fn naming_in_raw(conn: &Connection, address: &str) -> rusqlite::Result<Vec<i64>> {
    let mut ids = Vec::new();
    let mut statement = conn.prepare("SELECT message_id, codec, bytes FROM message_raw")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let raw = crate::store::raw::decode(row.get(1)?, row.get(2)?)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        if names_address(&raw, address) {
            ids.push(row.get(0)?);
        }
    }
    Ok(ids)
}

fn mark_messages(conn: &Connection, ids: &[i64]) -> rusqlite::Result<()> {
    let mut insert = conn.prepare("INSERT OR IGNORE INTO temp.doomed_messages (id) VALUES (?1)")?;
    for id in ids {
        insert.execute([id])?;
    }
    Ok(())
}

/// Marks the person's tickets and the messages they sent or that name them.
fn mark_person(conn: &Connection, address: &str) -> rusqlite::Result<()> {
    reset_marks(conn)?;
    conn.execute(
        "INSERT INTO temp.doomed_tickets (id) SELECT id FROM tickets WHERE lower(customer) = ?1",
        [address],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO temp.doomed_messages (id)
         SELECT id FROM messages
         WHERE ticket_id IN (SELECT id FROM temp.doomed_tickets) OR lower(from_addr) = ?1",
        [address],
    )?;
    // Every column that may carry the address, read as one text per message.
    let mut named = naming(
        conn,
        "SELECT id, coalesce(from_addr, '') || ' ' || coalesce(from_name, '') || ' '
                || to_addrs || ' ' || cc_addrs || ' ' || subject || ' ' || headers || ' ' || text
         FROM messages
         WHERE instr(lower(to_addrs || cc_addrs || subject || headers || text
                           || coalesce(from_name, '')), ?1) > 0",
        address,
    )?;
    named.extend(naming_in_raw(conn, address)?);
    mark_messages(conn, &named)
}

/// The rows outside messages and tickets that carry the address.
fn delete_mentions(
    conn: &Connection,
    address: &str,
    removed: &mut Removed,
) -> rusqlite::Result<()> {
    let rows = conn.execute(
        "DELETE FROM participants WHERE lower(address) = ?1",
        [address],
    )?;
    removed.add("participants", rows);
    let rows = conn.execute(
        "DELETE FROM thread_refs WHERE lower(author) = ?1 OR lower(sent_to) = ?1",
        [address],
    )?;
    removed.add("thread_refs", rows);
    let outbox = naming(
        conn,
        "SELECT id, coalesce(recipient, '') || ' ' || payload || ' ' || coalesce(result, '')
                || ' ' || coalesce(last_error, '') || ' ' || coalesce(message_id, '')
         FROM outbox
         WHERE instr(lower(coalesce(recipient, '') || payload || coalesce(result, '')
                           || coalesce(last_error, '') || coalesce(message_id, '')), ?1) > 0",
        address,
    )?;
    for id in &outbox {
        conn.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
    }
    removed.add("outbox", outbox.len());
    let events = naming(
        conn,
        "SELECT id, detail || ' ' || type FROM events WHERE instr(lower(detail || type), ?1) > 0",
        address,
    )?;
    let guard = lift_event_guard(conn)?;
    for id in &events {
        conn.execute("DELETE FROM events WHERE id = ?1", [id])?;
    }
    restore_event_guard(conn, guard)?;
    removed.add("events", events.len());
    let rows = conn.execute(
        "UPDATE tickets SET assignee = NULL WHERE lower(assignee) = ?1",
        [address],
    )?;
    removed.add("assignments", rows);
    Ok(())
}

/// Removes the person's data in the caller's transaction; `now` dates the `erased` events.
pub fn erase_person(conn: &Connection, address: &str, now: i64) -> rusqlite::Result<Erased> {
    let address = address.trim().to_lowercase();
    mark_person(conn, &address)?;
    let kept_tickets: Vec<(i64, i64)> = conn
        .prepare(
            "SELECT m.ticket_id, count(*) FROM messages m
             WHERE m.id IN (SELECT id FROM temp.doomed_messages)
               AND m.ticket_id NOT IN (SELECT id FROM temp.doomed_tickets)
             GROUP BY m.ticket_id ORDER BY m.ticket_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut removed = Removed::default();
    delete_mentions(conn, &address, &mut removed)?;
    let fts = has_table(conn, "messages_fts")?;
    if fts {
        // Deleted entries leave the index itself, not only a tombstone over them.
        conn.execute_batch(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1)",
        )?;
    }
    for (table, rows) in delete_marked(conn)?.0 {
        removed.add(&table, rows);
    }
    if fts {
        conn.execute_batch(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 0)",
        )?;
    }
    for (ticket, messages) in &kept_tickets {
        conn.execute(
            "UPDATE tickets SET message_count =
                 (SELECT count(*) FROM messages WHERE ticket_id = ?1) WHERE id = ?1",
            [ticket],
        )?;
        conn.execute(
            "INSERT INTO events (ticket_id, at, type, detail) VALUES (?1, ?2, 'erased', ?3)",
            params![
                ticket,
                now,
                format!("one person's data erased on request: {messages} message(s) removed")
            ],
        )?;
    }
    Ok(Erased {
        address,
        removed,
        kept_tickets: kept_tickets.into_iter().map(|(t, _)| t).collect(),
    })
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}
