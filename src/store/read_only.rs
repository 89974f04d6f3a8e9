//! The database opened for reading only, as the commands that only look (`tickets`,
//! `ticket`, `customer`, `search`, `report`) do: they work for a member of the service's
//! group, who may read the database (mode 0640) but not write it or its folder, and they
//! never change its mode or schema.
//!
//! SQLite in WAL mode reads through the `-wal` and `-shm` files beside the database, and a
//! reader that may not create them cannot open it. While any connection is open (the
//! daemon runs) they exist, readable by the group, and the reader uses them. When no one
//! has the database open they are gone, and everything is in the database file itself: the
//! reader then reads that file as it is (SQLite's `immutable`), holding the database's
//! lock so that no daemon starts writing under it.

use std::ffi::OsString;
use std::ops::Deref;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::lock::{self, DatabaseLock};
use super::{Store, StoreError, migrations, tokens::stored_token_key};

/// A [`Store`] for reading, with the lock it may hold while it reads.
pub struct ReadOnlyStore {
    store: Store,
    _lock: Option<DatabaseLock>,
}

impl Deref for ReadOnlyStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// `/srv/desk#1/postdesk.db` → `file:/srv/desk%231/postdesk.db?immutable=1`.
fn immutable_uri(path: &Path) -> PathBuf {
    let mut uri = b"file:".to_vec();
    for &byte in path.as_os_str().as_encoded_bytes() {
        if matches!(byte, b'%' | b'?' | b'#') {
            uri.extend(format!("%{byte:02X}").bytes());
        } else {
            uri.push(byte);
        }
    }
    uri.extend(b"?immutable=1");
    PathBuf::from(OsString::from_vec(uri))
}

impl Store {
    /// Opens the database at `path` read-only. A database that does not exist yet, or
    /// whose schema this version would migrate, needs a writer: then it is opened as
    /// [`Store::open`] does (which creates or migrates it, or says why it cannot). One that
    /// cannot even be looked at (a folder the user may not enter) is left to SQLite to
    /// refuse.
    pub fn open_read_only(
        path: &Path,
        token_key_file: Option<&Path>,
    ) -> Result<ReadOnlyStore, StoreError> {
        let writer = || {
            Ok(ReadOnlyStore {
                store: Store::open(path, token_key_file)?,
                _lock: None,
            })
        };
        if matches!(path.try_exists(), Ok(false)) {
            return writer();
        }
        let open_error = |source| StoreError::Open {
            path: path.into(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let [_, wal, shm] = crate::private_files::database_files(path);
        let mut held = None;
        let conn = if !wal.exists() && !shm.exists() {
            // No one has it open. A lock that cannot be had means a daemon is starting:
            // its -wal and -shm are about to be there, so read as while it runs.
            // No lock file that this user could make: no daemon of this version has run on
            // it yet (one that starts now makes it and waits for nothing; a reader takes
            // that chance, for the moment of its read).
            let lock = lock::hold_for_reading(path);
            let alone = lock.is_ok();
            held = lock.ok().flatten();
            if alone && !wal.exists() {
                Connection::open_with_flags(immutable_uri(path), flags | OpenFlags::SQLITE_OPEN_URI)
            } else {
                Connection::open_with_flags(path, flags)
            }
        } else {
            Connection::open_with_flags(path, flags)
        }
        .map_err(open_error)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "cache_size", -8192)?;
        if migrations::migrations().pending_migrations(&conn)? != 0 {
            drop(conn);
            drop(held);
            return writer();
        }
        let token_key = match token_key_file {
            Some(file) => std::fs::read(file).map_err(|source| StoreError::TokenKey {
                path: file.into(),
                source,
            })?,
            None => stored_token_key(&conn)?,
        };
        Ok(ReadOnlyStore {
            store: Store { conn, token_key },
            _lock: held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(store: &Store) -> String {
        store
            .connection()
            .query_row("SELECT value FROM settings WHERE key = 'probe'", [], |r| {
                r.get(0)
            })
            .unwrap()
    }

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
        assert_eq!(probe(&reader), "seen");
        assert_eq!(reader.token_key(), writer.token_key());
        let refused = reader
            .connection()
            .execute("DELETE FROM settings WHERE key = 'probe'", []);
        assert!(refused.is_err(), "a read-only store wrote");
    }

    #[test]
    fn a_closed_database_is_read_from_its_file_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("closed db #%?.db");
        let writer = Store::open(&path, None).unwrap();
        writer
            .connection()
            .execute(
                "INSERT INTO settings (key, value) VALUES ('probe', 'kept')",
                [],
            )
            .unwrap();
        drop(writer);
        let [_, wal, shm] = crate::private_files::database_files(&path);
        assert!(
            !wal.exists() && !shm.exists(),
            "the last close left its log"
        );
        let reader = Store::open_read_only(&path, None).unwrap();
        assert_eq!(probe(&reader), "kept");
        // Nothing was created beside it, and no daemon may start while it reads.
        assert!(lock::lock_path(&path).exists());
        assert!(!wal.exists() && !shm.exists());
        assert!(lock::hold_exclusively(&path).is_err());
        drop(reader);
        lock::hold_exclusively(&path).unwrap();
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
