//! The read-only connection beside the writer.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::SystemClock;

fn shared_over(store: Store) -> Shared {
    let (checkpoint, _) = std::sync::mpsc::sync_channel(1);
    Shared::new(Config::builtin(), store, Arc::new(SystemClock), checkpoint)
}

#[test]
fn long_reads_run_while_the_writer_holds_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.db");
    let shared = shared_over(Store::open(&path, None).unwrap());
    shared
        .write(|store| {
            store
                .connection()
                .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
        })
        .unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let reader = shared.clone();
    let read_while_locked = shared
        .write(|store| {
            // The writer holds the lock and an open write transaction.
            let tx = store.transaction()?;
            tx.execute("INSERT INTO t VALUES (3)", [])?;
            let handle = std::thread::spawn(move || {
                let count = reader.read_apart(|conn| {
                    conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                });
                done.send(count.unwrap()).unwrap();
            });
            let seen = finished.recv_timeout(Duration::from_secs(10));
            tx.commit()?;
            handle.join().unwrap();
            Ok(seen)
        })
        .unwrap();
    // Answered before the writer let go, from the last committed state.
    assert_eq!(read_while_locked, Ok(2));
    let after = shared
        .read_apart(|conn| conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)));
    assert_eq!(after.unwrap(), 3);
    // The connection is read-only.
    assert!(
        shared
            .read_apart(|conn| conn.execute("INSERT INTO t VALUES (4)", []))
            .is_err()
    );
}

#[test]
fn an_in_memory_store_reads_through_the_writer() {
    let shared = shared_over(Store::open_in_memory().unwrap());
    let tickets = shared.read_apart(|conn| {
        conn.query_row("SELECT count(*) FROM tickets", [], |r| r.get::<_, i64>(0))
    });
    assert_eq!(tickets.unwrap(), 0);
}
