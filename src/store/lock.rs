//! Who may use the database at once: a running daemon holds a shared advisory lock
//! (`flock`) on `DATABASE.lock` beside it for as long as it runs, and maintenance that
//! needs the database to itself (`db vacuum`, a restore) takes the lock exclusively, so
//! that it refuses to run under a live daemon instead of holding up its writes. The
//! kernel drops the lock with the process, however it ends: no stale lock outlives a
//! crash.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `postdesk.db` → `postdesk.db.lock`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "a postdesk daemon{} is running on {}: stop it first (`systemctl stop postdesk`), then run this again",
        pid.as_ref().map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        database.display()
    )]
    DaemonRunning {
        database: PathBuf,
        pid: Option<String>,
    },
    #[error(
        "{} is in use by other maintenance (`postdesk db vacuum` or a restore{}); try again when it is done",
        database.display(),
        pid.as_ref().map(|pid| format!(", pid {pid}")).unwrap_or_default()
    )]
    Maintenance {
        database: PathBuf,
        pid: Option<String>,
    },
    #[error("cannot use the lock file {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// A held lock; dropping it lets go.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
}

/// Opens (creating if needed, with the database's owner and mode 0640) the lock file.
fn open_lock_file(database: &Path) -> Result<File, LockError> {
    let path = lock_path(database);
    let io_error = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::private_files::database_mode(database))
        .open(&path)
    {
        Ok(file) => file,
        // Not ours to write (root made it, or a reader): a lock needs only a read handle.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            File::open(&path).map_err(io_error)?
        }
        Err(e) => return Err(io_error(e)),
    };
    // Made by root (maintenance run before the daemon's first start): hand it to the
    // database's owner, as SQLite does with its -wal and -shm files.
    if let (Ok(db), Ok(lock)) = (std::fs::metadata(database), file.metadata())
        && (lock.uid(), lock.gid()) != (db.uid(), db.gid())
    {
        let _ = std::os::unix::fs::fchown(&file, Some(db.uid()), Some(db.gid()));
    }
    Ok(file)
}

/// The daemon's lock, shared (several readers of the lock never exclude one another); it
/// waits while maintenance holds the database, saying so once. The daemon's pid is
/// written into the file for the maintenance command's message.
pub fn hold_for_daemon(database: &Path) -> Result<DatabaseLock, LockError> {
    let mut file = open_lock_file(database)?;
    let io_error = |source| LockError::Io {
        path: lock_path(database),
        source,
    };
    match file.try_lock_shared() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::warn!(
                "{} is held by maintenance (`postdesk db vacuum`, a restore) or a reader of the stopped database: waiting for it to finish",
                database.display()
            );
            file.lock_shared().map_err(io_error)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
    }
    note_holder(&mut file, "daemon");
    Ok(DatabaseLock { _file: file })
}

/// Writes who holds the lock into its file (best effort: it only makes the refusal more
/// helpful): `daemon 1234` or `maintenance 1234`.
fn note_holder(file: &mut File, role: &str) {
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{role} {}", std::process::id()));
}

/// Who [`note_holder`] says holds the lock: its role and pid.
fn holder(file: &mut File) -> (String, Option<String>) {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    let mut words = text.split_whitespace();
    let role = words.next().unwrap_or("daemon").to_string();
    let pid = words
        .next()
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string);
    (role, pid)
}

/// A reader's lock on a database that no one has open (no `-wal` beside it): exclusive, for
/// the few milliseconds of a read, so that no daemon starts writing under a reader that
/// reads the database file directly (a daemon that starts meanwhile waits for it).
/// `Ok(None)`: there is no lock file and this user may not make one, so no daemon of this
/// version has ever run on the database. `Err` when a daemon or maintenance holds it.
pub fn hold_for_reading(database: &Path) -> Result<Option<DatabaseLock>, LockError> {
    let mut file = match open_lock_file(database) {
        Ok(file) => file,
        Err(LockError::Io { source, .. })
            if matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(DatabaseLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(busy(database, &mut file)),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io {
            path: lock_path(database),
            source: e,
        }),
    }
}

/// Why the lock is taken: who holds it, as its file says.
fn busy(database: &Path, file: &mut File) -> LockError {
    let database = database.into();
    match holder(file) {
        (role, pid) if role == "maintenance" => LockError::Maintenance { database, pid },
        (_, pid) => LockError::DaemonRunning { database, pid },
    }
}

/// Maintenance's lock, exclusive; refused at once while a daemon (or other maintenance)
/// holds the database.
pub fn hold_exclusively(database: &Path) -> Result<DatabaseLock, LockError> {
    let mut file = open_lock_file(database)?;
    match file.try_lock() {
        Ok(()) => {
            note_holder(&mut file, "maintenance");
            Ok(DatabaseLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(busy(database, &mut file)),
        Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io {
            path: lock_path(database),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_is_refused_while_a_daemon_holds_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("postdesk.db");
        let daemon = hold_for_daemon(&database).unwrap();
        // A second daemon's lock is shared; maintenance is refused, naming the holder.
        let second = hold_for_daemon(&database).unwrap();
        let refused = hold_exclusively(&database).unwrap_err();
        let message = refused.to_string();
        assert!(
            message.contains(&format!("(pid {})", std::process::id())),
            "{message}"
        );
        assert!(message.contains("systemctl stop postdesk"), "{message}");
        drop(second);
        assert!(hold_exclusively(&database).is_err());
        drop(daemon);
        let maintenance = hold_exclusively(&database).unwrap();
        let refused = hold_exclusively(&database).unwrap_err();
        assert!(
            matches!(refused, LockError::Maintenance { .. }),
            "{refused}"
        );
        drop(maintenance);
        hold_exclusively(&database).unwrap();
    }
}
