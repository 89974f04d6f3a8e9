use rusqlite::{Connection, params};

use super::*;
use crate::store::Store;

/// A ticket of `customer` with one message from each of `senders`, with its participants,
/// thread refs, an event, an outbox row and an attachment; indexed for search.
fn ticket(conn: &Connection, id: i64, status: &str, customer: &str, senders: &[&str], at: i64) {
    conn.execute(
        "INSERT INTO tickets (id, token, status, queue, priority, customer, subject,
                              normalized_subject, created_at, last_message_at, closed_at)
         VALUES (?1, 'tok' || ?1, ?2, 'support', 'normal', ?3, 's', 's', ?4, ?4,
                 CASE WHEN ?2 = 'closed' THEN ?4 END)",
        params![id, status, customer, at],
    )
    .unwrap();
    let before = crate::store::last_message_row(conn).unwrap();
    for (n, sender) in senders.iter().enumerate() {
        conn.execute(
            "INSERT INTO messages (ticket_id, dedup_key, message_id, kind, from_addr, subject,
                                   received_at, text, source, size)
             VALUES (?1, ?1 || '-' || ?2, ?1 || '.' || ?2 || '@m', 'request', ?3, 'subject',
                     ?4, 'zebra' || ?1 || ' words', 'test', 3)",
            params![id, n as i64, sender, at],
        )
        .unwrap();
        let message = conn.last_insert_rowid();
        // Stored as it came (codec 0), so the checks below can read it as text.
        conn.execute(
            "INSERT INTO message_raw (message_id, codec, bytes)
             VALUES (?1, 0, CAST(('From: ' || ?2) AS BLOB))",
            params![message, sender],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO attachments (message_id, content_type, size) VALUES (?1, 'text/plain', 1)",
            [message],
        )
        .unwrap();
        conn.execute(
            "INSERT OR IGNORE INTO participants (ticket_id, address) VALUES (?1, ?2)",
            params![id, sender],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO thread_refs (message_id, author, ticket_id) VALUES (?1 || '.' || ?2 || '@m', ?3, ?1)",
            params![id, n as i64, sender],
        )
        .unwrap();
    }
    crate::store::index_messages_after(conn, before).unwrap();
    conn.execute(
        "INSERT INTO events (ticket_id, at, type, detail) VALUES (?1, ?2, 'created', 'by ' || ?3)",
        params![id, at, customer],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO outbox (ticket_id, kind, recipient, created_at, due_at, status)
         VALUES (?1, 'acknowledgement', ?2, ?3, ?3, 'done')",
        params![id, customer, at],
    )
    .unwrap();
}

fn pass(queues: Queues) -> Pass {
    Pass {
        queues,
        cutoff: 1000,
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn search(conn: &Connection, word: &str) -> i64 {
    conn.query_row(
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1",
        [word],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_prune_removes_old_closed_tickets_with_every_row_of_theirs() {
    let mut store = Store::open_in_memory().unwrap();
    let tx = store.transaction().unwrap();
    ticket(
        &tx,
        1,
        "closed",
        "a@x.example",
        &["a@x.example", "agent@desk"],
        100,
    );
    ticket(&tx, 2, "ignored", "b@x.example", &["b@x.example"], 100);
    ticket(&tx, 3, "new", "c@x.example", &["c@x.example"], 100);
    ticket(&tx, 4, "closed", "d@x.example", &["d@x.example"], 5000);
    let marked = mark_closed_before(&tx, &pass(Queues::All), None).unwrap();
    assert_eq!(
        marked,
        Marked {
            tickets: 2,
            messages: 3
        }
    );
    assert_eq!(marked_message_rows(&tx).unwrap().len(), 3);
    let removed = delete_marked(&tx).unwrap();
    tx.commit().unwrap();
    let conn = store.connection();
    assert_eq!(removed.of("tickets"), 2);
    assert_eq!(removed.of("messages"), 3);
    assert_eq!(removed.of("attachments"), 3);
    assert_eq!(removed.of("participants"), 3);
    assert_eq!(removed.of("thread_refs"), 3);
    assert_eq!(removed.of("events"), 2);
    assert_eq!(removed.of("outbox"), 2);
    let left: String = conn
        .query_row(
            "SELECT group_concat(id) FROM (SELECT id FROM tickets ORDER BY id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, "3,4");
    assert_eq!(search(conn, "zebra1"), 0);
    assert_eq!(search(conn, "zebra3"), 1);
    // the event log is append-only again
    assert!(conn.execute("DELETE FROM events", []).is_err());
    assert_eq!(
        count(conn, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    // the index still agrees with its content
    conn.execute_batch(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
    )
    .unwrap();
}

#[test]
fn a_prune_keeps_to_its_queue_and_limit() {
    let mut store = Store::open_in_memory().unwrap();
    let tx = store.transaction().unwrap();
    for id in 1..=3 {
        ticket(&tx, id, "closed", "a@x.example", &["a@x.example"], 100 + id);
    }
    tx.execute("UPDATE tickets SET queue = 'sales' WHERE id = 3", [])
        .unwrap();
    let marked = mark_closed_before(&tx, &pass(Queues::Named("sales".into())), None).unwrap();
    assert_eq!(marked.tickets, 1);
    clear_marks(&tx).unwrap();
    let other = pass(Queues::Other(vec!["sales".into()]));
    let marked = mark_closed_before(&tx, &other, Some(1)).unwrap();
    assert_eq!(marked.tickets, 1);
    delete_marked(&tx).unwrap();
    // the oldest went first
    assert_eq!(count(&tx, "SELECT min(id) FROM tickets"), 2);
}

#[test]
fn an_erasure_leaves_nothing_of_the_address_and_an_anonymous_event() {
    let mut store = Store::open_in_memory().unwrap();
    let tx = store.transaction().unwrap();
    ticket(&tx, 1, "new", "ann@x.example", &["ann@x.example"], 100);
    ticket(
        &tx,
        2,
        "new",
        "bob@x.example",
        &["bob@x.example", "Ann@X.example"],
        100,
    );
    ticket(&tx, 3, "new", "joann@x.example", &["joann@x.example"], 100);
    let erased = erase_person(&tx, " ANN@x.example ", 200).unwrap();
    tx.commit().unwrap();
    let conn = store.connection();
    assert_eq!(erased.address, "ann@x.example");
    assert_eq!(erased.kept_tickets, [2]);
    assert_eq!(erased.removed.of("tickets"), 1);
    assert_eq!(erased.removed.of("messages"), 2);
    assert_eq!(count(conn, "SELECT count(*) FROM tickets"), 2);
    assert_eq!(
        count(conn, "SELECT message_count FROM tickets WHERE id = 2"),
        1
    );
    let detail: String = conn
        .query_row(
            "SELECT detail FROM events WHERE ticket_id = 2 AND type = 'erased'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!detail.contains('@'), "{detail}");
    for (table, column) in [
        ("tickets", "customer"),
        ("messages", "from_addr"),
        ("message_raw", "bytes"),
        ("participants", "address"),
        ("thread_refs", "author"),
        ("outbox", "recipient"),
        ("events", "detail"),
    ] {
        let sql = format!(
            "SELECT count(*) FROM {table}
             WHERE lower(CAST({column} AS TEXT)) IN ('ann@x.example', 'from: ann@x.example', 'by ann@x.example')"
        );
        assert_eq!(count(conn, &sql), 0, "{table}.{column}");
    }
    // joann is someone else
    assert_eq!(
        count(
            conn,
            "SELECT count(*) FROM messages WHERE from_addr = 'joann@x.example'"
        ),
        1
    );
    conn.execute_batch(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
    )
    .unwrap();
}

#[test]
fn an_address_is_found_whole_only() {
    let ann = "ann@example.com";
    assert!(names_address(b"To: Ann@Example.COM\r\n", ann));
    assert!(names_address(b"<ann@example.com>", ann));
    assert!(names_address(b"ann@example.com. Thanks", ann));
    assert!(!names_address(b"joann@example.com", ann));
    assert!(!names_address(b"ann@example.com.evil", ann));
    assert!(!names_address(b"ann@example.community", ann));
    assert!(!names_address(b"", ann));
}

#[test]
fn a_new_database_gives_freed_pages_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db"), None).unwrap();
    assert!(shrinks_incrementally(store.connection()).unwrap());
}

#[test]
fn the_last_retention_run_is_remembered() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(last_retention_run(store.connection()).unwrap(), None);
    set_last_retention_run(store.connection(), 42).unwrap();
    set_last_retention_run(store.connection(), 43).unwrap();
    assert_eq!(last_retention_run(store.connection()).unwrap(), Some(43));
}

#[test]
fn freed_pages_go_back_to_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = Store::open(&path, None).unwrap();
    let conn = store.connection();
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('big', zeroblob(2000000))",
        [],
    )
    .unwrap();
    let full = pages(conn).unwrap();
    conn.execute("DELETE FROM settings WHERE key = 'big'", [])
        .unwrap();
    assert!(pages(conn).unwrap().free > 100);
    give_back_free_pages(conn, true).unwrap();
    let after = pages(conn).unwrap();
    assert_eq!(after.free, 0);
    assert!(after.count + 100 < full.count, "{full:?} -> {after:?}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len() as i64,
        after.bytes()
    );
}
