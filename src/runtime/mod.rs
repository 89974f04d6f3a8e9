//! What every task owns a handle to: the config in force, the one store writer (and a
//! read-only connection beside it), the clock, and the wake-ups between tasks. The daemon
//! builds one [`Shared`] and hands each task a clone; sources and the outbox file through
//! it ([`filing`]).

mod backoff;
pub mod filing;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::config::Config;
use crate::store::{Ingester, Store, StoreError};

pub use backoff::Backoff;
pub use filing::{prepare_batch, store_batch, store_prepared};

/// What every task shares: the config in force, the one store writer and the clock.
#[derive(Clone)]
pub struct Shared {
    pub config: Arc<Config>,
    store: Arc<Mutex<Store>>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the outbox worker: new rows may be due earlier than it planned to look.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the deadline scheduler for the same reason.
    pub deadline_wake: Arc<Notify>,
    /// Bumped when IMAP post-actions are queued, so idling mailbox tasks carry them out.
    pub imap_jobs: Arc<watch::Sender<u64>>,
    /// Wakes the checkpointer thread after a write (the daemon's checkpoint thread).
    pub(crate) checkpoint: SyncSender<Checkpoint>,
    /// The read-only connection of [`Shared::read_apart`].
    reader: Arc<Reader>,
}

/// A read-only connection to the store's database file, opened at first use. WAL lets it
/// read while the writer writes, so long reads (the weekly report) hold up no ingest.
struct Reader {
    /// None for an in-memory store, which has no file to open twice.
    path: Option<PathBuf>,
    conn: Mutex<Option<Connection>>,
}

impl Reader {
    fn of(store: &Store) -> Reader {
        Reader {
            path: store
                .connection()
                .path()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            conn: Mutex::new(None),
        }
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.into(),
        source,
    })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

impl Shared {
    /// `checkpoint` wakes whatever copies the store's write-ahead log into the database.
    pub fn new(
        config: Config,
        store: Store,
        clock: Arc<dyn Clock>,
        checkpoint: SyncSender<Checkpoint>,
    ) -> Shared {
        Shared {
            config: Arc::new(config),
            reader: Arc::new(Reader::of(&store)),
            store: Arc::new(Mutex::new(store)),
            clock,
            outbox_wake: Arc::new(Notify::new()),
            deadline_wake: Arc::new(Notify::new()),
            imap_jobs: Arc::new(watch::Sender::new(0)),
            checkpoint,
        }
    }

    /// The same store, clock and wake-ups with a reloaded config (SIGHUP).
    pub fn with_config(self, config: Config) -> Shared {
        Shared {
            config: Arc::new(config),
            ..self
        }
    }

    /// After a write: the checkpointer copies it into the database file, in its own time.
    pub(crate) fn wrote(&self) {
        // Full: a checkpoint is due anyway, which will include this write.
        let _ = self.checkpoint.try_send(Checkpoint::Now);
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A task that panicked while holding the store left no half-written transaction
        // behind (rusqlite rolls back on drop), so the store is still usable.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn ingester(&self) -> Ingester<'_> {
        Ingester {
            config: &self.config,
            clock: self.clock.as_ref(),
        }
    }

    pub fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        Ok(query(self.lock().connection())?)
    }

    /// Like [`Shared::read`], on the read-only connection and without the writer's lock:
    /// for long reads such as composing the weekly report and the other outgoing mail. The
    /// query runs in one read transaction, so it sees one state of the store throughout.
    /// An in-memory store (tests) has no second connection: [`Shared::read`] is used.
    pub fn read_apart<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let Some(path) = &self.reader.path else {
            return self.read(query);
        };
        let mut slot = self.reader.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(open_reader(path)?),
        };
        let snapshot = conn.transaction()?;
        Ok(query(&snapshot)?)
    }

    pub fn write<T>(
        &self,
        change: impl FnOnce(&mut Store) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let changed = change(&mut self.lock());
        self.wrote();
        Ok(changed?)
    }
}

/// What the checkpointer thread is asked to do.
pub enum Checkpoint {
    Now,
    Stop,
}
