//! Batches from any source into the store through the one writer: prepared on every core
//! without the store, filed in one transaction, then the tasks that act on new rows woken.

use rusqlite::Connection;

use super::Shared;
use crate::ingest::Prepared;
use crate::store::file::{Announce, log_filed, parse_error_of};
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
        log_filed(incoming, filed, Announce::NewTickets, |ticket| {
            shared
                .read(|conn| parse_error_of(conn, ticket))
                .ok()
                .flatten()
        });
    }
    Ok(summary)
}
