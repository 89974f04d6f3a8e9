//! The SQLite store: one writer connection in WAL mode (readers never block it), versioned
//! migrations on open, and the writes the ingest pipeline decides on.

mod apply;
pub mod backup;
pub mod deadlines;
pub mod file;
pub mod folders;
pub mod listing;
pub mod lock;
mod lookup;
mod migrations;
pub use migrations::latest_version as latest_schema_version;
pub mod outbox;
pub mod raw;
pub mod read_only;
pub mod reports;
pub mod retention;
pub mod search;
mod tokens;
pub mod views;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction};

use crate::ingest::TicketId;
use tokens::stored_token_key;

pub use crate::ingest::{reference, ticket_of_reference};
pub use apply::{
    add_event, add_label, index_messages_after, last_message_row, remember_message_id,
};
pub use file::{Filed, Incoming, Ingester, Summary};
pub use lookup::Db;
pub use tokens::agent_token;

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
        // Pages freed by `db prune` and `customer --erase` go back to the file system at
        // their end (`PRAGMA incremental_vacuum`). Also only on creation: an older database
        // is converted by `postdesk db vacuum`.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
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
