//! The database opened for reading only, as the commands that only look (`tickets`,
//! `ticket`, `customer`, `search`, `report`) do: they work for a member of the service's
//! group, who may read the database (mode 0640) but not write it or its folder, and they
//! never change its mode or schema.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError, migrations, tokens::stored_token_key};

impl Store {
    /// Opens the database at `path` read-only. A database that does not exist yet, or
    /// whose schema this version would migrate, needs a writer: then it is opened as
    /// [`Store::open`] does (which creates or migrates it, or says why it cannot). One that
    /// cannot even be looked at (a folder the user may not enter) is left to SQLite to
    /// refuse.
    pub fn open_read_only(path: &Path, token_key_file: Option<&Path>) -> Result<Store, StoreError> {
        if matches!(path.try_exists(), Ok(false)) {
            return Store::open(path, token_key_file);
        }
        let open_error = |source| StoreError::Open {
            path: path.into(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "cache_size", -8192)?;
        if migrations::migrations().pending_migrations(&conn)? != 0 {
            drop(conn);
            return Store::open(path, token_key_file);
        }
        let token_key = match token_key_file {
            Some(file) => std::fs::read(file).map_err(|source| StoreError::TokenKey {
                path: file.into(),
                source,
            })?,
            None => stored_token_key(&conn)?,
        };
        Ok(Store { conn, token_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_store_reads_and_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postdesk.db");
        let writer = Store::open(&path, None).unwrap();
        writer
            .connection()
            .execute(
                "INSERT INTO settings (key, value) VALUES ('probe', 'seen')",
                [],
            )
            .unwrap();
        let reader = Store::open_read_only(&path, None).unwrap();
        let seen: String = reader
            .connection()
            .query_row("SELECT value FROM settings WHERE key = 'probe'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(seen, "seen");
        assert_eq!(reader.token_key(), writer.token_key());
        let refused = reader
            .connection()
            .execute("DELETE FROM settings WHERE key = 'probe'", []);
        assert!(refused.is_err(), "a read-only store wrote");
    }

    #[test]
    fn a_missing_database_is_created_as_by_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("postdesk.db");
        let store = Store::open_read_only(&path, None).unwrap();
        assert!(path.is_file());
        assert_eq!(store.token_key().len(), 32);
    }
}
