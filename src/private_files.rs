//! Files that hold customer mail or secrets are kept from other users, whatever the umask:
//! the database and its `-wal` and `-shm` files are made mode 0640 (the service user
//! writes, members of its group may read, as the read-only commands do, and no one else),
//! and a password or key file that others can read is reported to the admin.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Mode bits that let anyone but the owner read a file.
const OTHERS_READ: u32 = 0o044;

/// The mode of the database and its `-wal` and `-shm` files where its directory lets its
/// group in (the package's `/var/lib/postdesk`, 0750 `postdesk:postdesk`): read and write for
/// the owner, read for the group (a reader in WAL mode needs all three), nothing for others.
pub const DATABASE_MODE: u32 = 0o640;
/// … and where the directory is the owner's alone: the owner's only.
pub const PRIVATE_DATABASE_MODE: u32 = 0o600;

/// The database's mode: group-readable only when the directory grants its group read and
/// search (0o050) and others nothing (a 0750 or 0770 directory, as the package's
/// `StateDirectoryMode=0750`), so an admin opens the data to one group by the directory's
/// mode; anywhere else (a 0700 or a world-open directory) the owner's only.
pub fn database_mode(path: &Path) -> u32 {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match fs::metadata(parent) {
        Ok(meta) if meta.permissions().mode() & 0o057 == 0o050 => DATABASE_MODE,
        _ => PRIVATE_DATABASE_MODE,
    }
}

/// Makes the database at `path` private before SQLite opens it: created empty with mode
/// [`DATABASE_MODE`] when it does not exist yet, else its mode (and that of any `-wal` and
/// `-shm` file beside it) set to it. SQLite gives the `-wal` and `-shm` files it creates
/// later the mode of the database file, so they get the same.
pub fn private_database(path: &Path) -> io::Result<()> {
    let mode = database_mode(path);
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
    {
        Ok(file) => {
            // The umask may have taken the group's read bit.
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for file in database_files(path) {
        match fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o777 != mode => {
                fs::set_permissions(&file, fs::Permissions::from_mode(mode))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// [`private_database`], a failure logged (the database may still open: SQLite says why
/// not if it does not).
pub fn make_database_private(path: &Path) {
    if let Err(error) = private_database(path) {
        tracing::warn!(
            "cannot set the mode of the database {} to 0640 (owner writes, group reads): {error}; run `chmod 640` on it and its -wal and -shm files",
            path.display()
        );
    }
}

/// The database file and the write-ahead log and shared-memory files SQLite keeps beside it.
pub fn database_files(path: &Path) -> [PathBuf; 3] {
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), beside("-wal"), beside("-shm")]
}

/// What to tell the admin when a secret file can be read by others than its owner; `None`
/// when it cannot (or cannot be examined: reading it reports that).
pub fn readable_by_others(path: &Path) -> Option<String> {
    let mode = fs::metadata(path).ok()?.permissions().mode();
    (mode & OTHERS_READ != 0).then(|| {
        format!(
            "{} holds a secret but is readable by {} (mode {:03o}): run `chmod 600 {}`",
            path.display(),
            match (mode & 0o040 != 0, mode & 0o004 != 0) {
                (true, true) => "its group and everyone",
                (true, false) => "its group",
                _ => "everyone",
            },
            mode & 0o777,
            path.display()
        )
    })
}

/// Logs [`readable_by_others`] as a warning, once per file while the process runs (secrets
/// are read at each use).
pub fn warn_if_readable_by_others(path: &Path) {
    static WARNED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let Some(message) = readable_by_others(path) else {
        return;
    };
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned
        .get_or_insert_with(HashSet::new)
        .insert(path.to_path_buf())
    {
        tracing::warn!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_database_and_its_wal_and_shm_are_0600() {
        let dir = tempfile::tempdir().unwrap();
        // Whatever the umask lets through, as wide as it can be.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let path = dir.path().join("new.db");
        let store = crate::store::Store::open(&path, None).unwrap();
        store
            .connection()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        for file in database_files(&path) {
            assert!(file.exists(), "{}", file.display());
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[test]
    fn an_existing_world_readable_database_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
                .unwrap();
            for file in database_files(&path) {
                fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
            }
            // Still open: its -wal and -shm are there to be fixed as well.
            private_database(&path).unwrap();
            for file in database_files(&path) {
                assert_eq!(mode(&file), 0o600, "{}", file.display());
            }
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let _store = crate::store::Store::open(&path, None).unwrap();
        for file in database_files(&path) {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[test]
    fn in_a_group_directory_a_new_database_and_its_wal_and_shm_are_0640() {
        let dir = tempfile::tempdir().unwrap();
        // The package's state directory: the group may look in, others may not.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        let path = dir.path().join("new.db");
        let store = crate::store::Store::open(&path, None).unwrap();
        store
            .connection()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        for file in database_files(&path) {
            assert!(file.exists(), "{}", file.display());
            assert_eq!(mode(&file), 0o640, "{}", file.display());
        }
    }

    #[test]
    fn in_a_group_directory_an_existing_database_is_made_group_readable() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
                .unwrap();
            for file in database_files(&path) {
                fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
            }
            // Still open: its -wal and -shm are there to be fixed as well.
            private_database(&path).unwrap();
            for file in database_files(&path) {
                assert_eq!(mode(&file), 0o640, "{}", file.display());
            }
        }
        // A database of an older version (0600) becomes readable by the group.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let _store = crate::store::Store::open(&path, None).unwrap();
        for file in database_files(&path) {
            assert_eq!(mode(&file), 0o640, "{}", file.display());
        }
    }

    #[test]
    fn secret_files_readable_by_others_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imap.pass");
        fs::write(&path, "s3cret").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(readable_by_others(&path), None);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(readable_by_others(&path), None);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let message = readable_by_others(&path).unwrap();
        assert!(message.contains("its group (mode 640)"), "{message}");
        assert!(
            message.contains(&format!("chmod 600 {}", path.display())),
            "{message}"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let message = readable_by_others(&path).unwrap();
        assert!(
            message.contains("its group and everyone (mode 644)"),
            "{message}"
        );
        assert_eq!(readable_by_others(&dir.path().join("missing")), None);
    }
}
