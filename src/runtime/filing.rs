//! Batches from any source into the store through the one writer: prepared on every core
//! without the store, filed in one transaction, then the tasks that act on new rows woken.

use rusqlite::Connection;

use super::Shared;
use crate::ingest::Prepared;
use crate::store::{Filed, Incoming, StoreError, Summary};

/// Runs the pipeline over a batch in one transaction with `finish` (blocking: call from
/// `spawn_blocking`).
pub fn store_batch(
    shared: &Shared,
    batch: &[Incoming],
    finish: impl FnOnce(&Connection, &[Filed]) -> rusqlite::Result<()>,
) -> Result<Summary, StoreError> {
    let prepared = prepare_batch(shared, batch);
    store_prepared(shared, batch, &prepared, finish)
}

/// The store-free part of the pipeline, on every core and without holding the store
/// (blocking: call from `spawn_blocking`).
pub fn prepare_batch(shared: &Shared, batch: &[Incoming]) -> Vec<Prepared> {
    shared.ingester().prepare_batch(batch)
}

/// Files a batch prepared by [`prepare_batch`] in one transaction with `finish` (blocking:
/// call from `spawn_blocking`).
pub fn store_prepared(
    shared: &Shared,
    batch: &[Incoming],
    prepared: &[Prepared],
    finish: impl FnOnce(&Connection, &[Filed]) -> rusqlite::Result<()>,
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let mut store = shared.lock();
    let filed =
        shared
            .ingester()
            .file_batch_then(&mut store, batch, prepared, &mut summary, finish)?;
    drop(store);
    shared.wrote();
    if summary.ingested + summary.quarantined > 0 {
        shared.outbox_wake.notify_one();
        shared.deadline_wake.notify_one();
    }
    for (incoming, filed) in batch.iter().zip(&filed) {
        if let Filed::Stored {
            ticket,
            new_ticket: true,
            kind,
            unparsed,
        } = filed
        {
            let reference = crate::store::reference(*ticket);
            if *unparsed {
                let reason = shared
                    .read(|conn| parse_error_of(conn, *ticket))
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                tracing::warn!(
                    source = %incoming.origin.location,
                    "#{reference}: stored unparsed ({reason}); not acknowledged, see `postdesk ticket {reference}`"
                );
            } else {
                tracing::info!(source = %incoming.origin.location, "#{reference}: new ticket ({})", kind.as_str());
            }
        }
    }
    Ok(summary)
}

/// Why the (only) message of a quarantined ticket was not parsed.
fn parse_error_of(conn: &Connection, ticket: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT parse_error FROM messages WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1",
        [ticket],
        |r| r.get(0),
    )
}
