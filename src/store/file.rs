//! The one filing edge: every source hands its batches here. Each batch is prepared on every
//! core ([`prepare`]), decided message by message against the live transaction
//! ([`decide`]), and applied ([`Store::apply`]) in one transaction with what follows from it.

use super::{Store, StoreError};
use crate::clock::Clock;
use crate::config::Config;
use crate::ingest::{Kind, Origin, Outcome, Prepared, TicketId, decide, prepare};

/// Counts of one ingest run, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub ingested: u64,
    pub duplicates: u64,
    /// Stored as unparsed tickets.
    pub quarantined: u64,
    /// Could not be stored at all.
    pub failed: u64,
    /// Sent mail that answers no ticket, left alone.
    pub not_tickets: u64,
}

/// What happened to one message of a batch.
#[derive(Debug)]
pub enum Filed {
    Stored {
        ticket: TicketId,
        new_ticket: bool,
        kind: Kind,
        unparsed: bool,
    },
    Duplicate(TicketId),
    NotATicket(&'static str),
    Failed(StoreError),
}

/// A message waiting to go through the pipeline.
pub struct Incoming {
    pub raw: Vec<u8>,
    pub origin: Origin,
}

/// Applies the pipeline's decisions to the store, one transaction per batch.
pub struct Ingester<'a> {
    pub config: &'a Config,
    pub clock: &'a dyn Clock,
}

/// Below this many messages per thread a batch is prepared on the calling thread alone.
const MIN_PREPARE_CHUNK: usize = 16;

impl Ingester<'_> {
    /// Files every message of the batch in one transaction; one bad message cannot take
    /// the others with it.
    pub fn ingest_batch(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        summary: &mut Summary,
    ) -> Result<Vec<Filed>, StoreError> {
        self.ingest_batch_then(store, batch, summary, |_, _| Ok(()))
    }

    /// Like [`Ingester::ingest_batch`], and `finish` writes in the same transaction what
    /// follows from the batch (the source's new position, post-actions), so both commit or
    /// neither does.
    pub fn ingest_batch_then(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        summary: &mut Summary,
        finish: impl FnOnce(&rusqlite::Connection, &[Filed]) -> rusqlite::Result<()>,
    ) -> Result<Vec<Filed>, StoreError> {
        let prepared = self.prepare_batch(batch);
        self.file_batch_then(store, batch, &prepared, summary, finish)
    }

    /// [`prepare`] on every message of the batch, spread over the machine's cores.
    pub fn prepare_batch(&self, batch: &[Incoming]) -> Vec<Prepared> {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(batch.len() / MIN_PREPARE_CHUNK)
            .max(1);
        let prepare_all = |part: &[Incoming]| -> Vec<Prepared> {
            part.iter().map(|m| prepare(&m.raw, self.config)).collect()
        };
        if threads == 1 {
            return prepare_all(batch);
        }
        let chunk = batch.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = batch
                .chunks(chunk)
                .map(|part| scope.spawn(move || prepare_all(part)))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    // prepare never panics (the parser runs under catch_unwind)
                    worker
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p))
                })
                .collect()
        })
    }

    /// Files prepared messages (`prepared[i]` is [`prepare`] of `batch[i]`) in one
    /// transaction, with `finish` as in [`Ingester::ingest_batch_then`].
    pub fn file_batch_then(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        prepared: &[Prepared],
        summary: &mut Summary,
        finish: impl FnOnce(&rusqlite::Connection, &[Filed]) -> rusqlite::Result<()>,
    ) -> Result<Vec<Filed>, StoreError> {
        let token_key = store.token_key().to_vec();
        // First without a savepoint per message: each would make SQLite copy every page it
        // touches to the statement journal and FTS5 flush its index, for every message.
        // Should any message fail, nothing of this attempt stays and the batch is filed
        // again with one savepoint per message.
        let tx = store.transaction()?;
        let indexed = super::last_message_row(&tx)?;
        let mut results = Vec::with_capacity(batch.len());
        let mut all_stored = true;
        for (incoming, prepared) in batch.iter().zip(prepared) {
            match self.file_one(&tx, incoming, prepared, &token_key) {
                Ok(filed) => results.push(filed),
                Err(_) => {
                    all_stored = false;
                    break;
                }
            }
        }
        let tx = if all_stored {
            tx
        } else {
            tx.rollback()?;
            let mut tx = store.transaction()?;
            results = self.file_each_in_savepoint(&mut tx, batch, prepared, &token_key)?;
            tx
        };
        super::index_messages_after(&tx, indexed)?;
        for (incoming, filed) in batch.iter().zip(&results) {
            match filed {
                Filed::Stored { unparsed: true, .. } => summary.quarantined += 1,
                Filed::Stored { .. } => summary.ingested += 1,
                Filed::Duplicate(_) => summary.duplicates += 1,
                Filed::NotATicket(_) => summary.not_tickets += 1,
                Filed::Failed(error) => {
                    tracing::error!(source = %incoming.origin.location, "cannot store message: {error}");
                    summary.failed += 1
                }
            }
        }
        finish(&tx, &results)?;
        tx.commit()?;
        Ok(results)
    }

    fn file_each_in_savepoint(
        &self,
        tx: &mut rusqlite::Transaction<'_>,
        batch: &[Incoming],
        prepared: &[Prepared],
        token_key: &[u8],
    ) -> rusqlite::Result<Vec<Filed>> {
        let mut results = Vec::with_capacity(batch.len());
        for (incoming, prepared) in batch.iter().zip(prepared) {
            let mut savepoint = tx.savepoint()?;
            let filed = match self.file_one(&savepoint, incoming, prepared, token_key) {
                Ok(filed) => {
                    savepoint.commit()?;
                    filed
                }
                Err(error) => {
                    savepoint.rollback()?;
                    drop(savepoint);
                    Filed::Failed(StoreError::from(error))
                }
            };
            results.push(filed);
        }
        Ok(results)
    }

    fn file_one(
        &self,
        conn: &rusqlite::Connection,
        incoming: &Incoming,
        prepared: &Prepared,
        token_key: &[u8],
    ) -> rusqlite::Result<Filed> {
        let lookup = Store::lookup(conn, token_key);
        let now = self.clock.now();
        match decide(prepared, &incoming.origin, self.config, &lookup, now)? {
            Outcome::Duplicate(ticket) => Ok(Filed::Duplicate(ticket)),
            Outcome::NotATicket(reason) => Ok(Filed::NotATicket(reason)),
            Outcome::Store(decision) => {
                let unparsed = decision.message.parse_error.is_some();
                let kind = decision.message.kind;
                let (ticket, new_ticket) = Store::apply(conn, &decision, &incoming.raw, token_key)?;
                Ok(Filed::Stored {
                    ticket,
                    new_ticket,
                    kind,
                    unparsed,
                })
            }
        }
    }
}

/// Whether each new ticket gets an info line (the daemon, whose journal an operator
/// watches) or only a debug line (`postdesk ingest`, which prints a summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    NewTickets,
    Quietly,
}

/// The one log line of a filed message. `parse_error` says why an unparsed ticket's message
/// was not parsed (asked only for those).
pub fn log_filed(
    incoming: &Incoming,
    filed: &Filed,
    announce: Announce,
    parse_error: impl FnOnce(TicketId) -> Option<String>,
) {
    let location = &incoming.origin.location;
    match filed {
        Filed::Stored {
            ticket,
            unparsed: true,
            ..
        } => {
            let reference = crate::ingest::reference(*ticket);
            let reason = parse_error(*ticket).unwrap_or_default();
            tracing::warn!(
                source = %location,
                ticket = reference,
                "#{reference}: stored unparsed ({reason}); not acknowledged, see `postdesk ticket {reference}`"
            );
        }
        Filed::Stored {
            ticket,
            new_ticket,
            kind,
            ..
        } => {
            let reference = crate::ingest::reference(*ticket);
            if *new_ticket && announce == Announce::NewTickets {
                tracing::info!(source = %location, "#{reference}: new ticket ({})", kind.as_str());
            } else {
                tracing::debug!(source = %location, ticket = reference, new_ticket, kind = kind.as_str(), "filed");
            }
        }
        Filed::Duplicate(ticket) => {
            tracing::debug!(source = %location, ticket = crate::ingest::reference(*ticket), "already stored");
        }
        Filed::NotATicket(reason) => tracing::debug!(source = %location, "left alone: {reason}"),
        // Logged with its cause where it failed (`file_batch_then`).
        Filed::Failed(_) => {}
    }
}

/// Why the (only) message of a quarantined ticket was not parsed.
pub fn parse_error_of(
    conn: &rusqlite::Connection,
    ticket: TicketId,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT parse_error FROM messages WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1",
        [ticket],
        |r| r.get(0),
    )
}
