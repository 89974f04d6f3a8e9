//! Database maintenance for `postdesk db`: an online backup (SQLite's backup API, safe
//! while the daemon writes), a restore from such a backup, and VACUUM.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// How long a backup waits for a moment in which it can read the database.
const BUSY_PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("no database at {0} (set `database` in the config or pass --db PATH)")]
    Missing(PathBuf),
    #[error("{0} is the database itself; back it up to another file")]
    SameFile(PathBuf),
    #[error("{0} exists; pass --force to overwrite it")]
    DestinationExists(PathBuf),
    #[error("cannot write the backup {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the database stayed busy for {}s; try again", BUSY_PATIENCE.as_secs())]
    Busy,
    #[error("the backup {path} failed its integrity check: {report}")]
    Corrupt { path: PathBuf, report: String },
    #[error("{0} is not a postdesk database (it has no tickets table)")]
    NotPostdesk(PathBuf),
    #[error(
        "{path} was made by a newer postdesk (schema {found}, this one knows {known}): restore it with that version"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "{0} exists: pass --force to replace it (it is kept beside it as {0}.replaced-TIME, nothing is deleted)"
    )]
    DatabaseExists(PathBuf),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// What a backup holds.
#[derive(Debug)]
pub struct BackupSummary {
    pub tickets: i64,
    pub messages: i64,
    pub bytes: u64,
}

/// Copies the database at `source` to `destination`. The copy is one read transaction
/// of the source: in WAL mode the daemon keeps writing meanwhile, and the copy holds
/// exactly what was committed when it began. It is written under a temporary name next
/// to `destination`, checked with `PRAGMA quick_check`, switched to a plain rollback
/// journal (one self-contained file) and only then put in place; without `force` an
/// existing `destination` is never replaced.
pub fn backup(
    source: &Path,
    destination: &Path,
    force: bool,
) -> Result<BackupSummary, MaintenanceError> {
    if !source.is_file() {
        return Err(MaintenanceError::Missing(source.into()));
    }
    if let (Ok(a), Ok(b)) = (source.canonicalize(), destination.canonicalize())
        && a == b
    {
        return Err(MaintenanceError::SameFile(destination.into()));
    }
    if !force && destination.exists() {
        return Err(MaintenanceError::DestinationExists(destination.into()));
    }
    let write_error = |source| MaintenanceError::Write {
        path: destination.into(),
        source,
    };
    let partial = partial_path(destination);
    remove_with_journals(&partial);
    let result = (|| {
        let from = open_existing(source)?;
        // Customer mail: readable by the owner only, whatever the umask.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .map_err(write_error)?;
        let mut to = Connection::open(&partial)?;
        copy_all(&from, &mut to)?;
        let report: String = to.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if report != "ok" {
            return Err(MaintenanceError::Corrupt {
                path: destination.into(),
                report,
            });
        }
        // The copy inherits WAL mode from the source's header; a backup is easier to
        // move around as one file.
        to.pragma_update(None, "journal_mode", "DELETE")?;
        let count =
            |table: &str| to.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0));
        let summary = BackupSummary {
            tickets: count("tickets")?,
            messages: count("messages")?,
            bytes: 0,
        };
        to.close().map_err(|(_, e)| e)?;
        Ok(summary)
    })();
    let mut summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            remove_with_journals(&partial);
            return Err(error);
        }
    };
    if let Err(error) = put_in_place(&partial, destination, force) {
        remove_with_journals(&partial);
        return Err(if error.kind() == std::io::ErrorKind::AlreadyExists {
            MaintenanceError::DestinationExists(destination.into())
        } else {
            write_error(error)
        });
    }
    summary.bytes = std::fs::metadata(destination).map_err(write_error)?.len();
    Ok(summary)
}

fn put_in_place(partial: &Path, destination: &Path, force: bool) -> std::io::Result<()> {
    if force {
        return std::fs::rename(partial, destination);
    }
    // A hard link never replaces an existing file, even one created meanwhile.
    match std::fs::hard_link(partial, destination) {
        Ok(()) => std::fs::remove_file(partial),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(error),
        // A file system without hard links: check, then rename.
        Err(_) if destination.exists() => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(partial, destination),
    }
}

/// What a restore put in place, and where the database it replaced went.
#[derive(Debug)]
pub struct RestoreSummary {
    pub tickets: i64,
    pub messages: i64,
    pub replaced: Option<PathBuf>,
}

/// Puts the backup `from` in place of the database at `database`. The caller holds the
/// database's lock exclusively (no daemon runs). The backup is checked first (`PRAGMA
/// quick_check`, a postdesk schema no newer than this binary's) and copied, through
/// SQLite's backup API, under a temporary name beside the database; only then is a
/// present database — with its `-wal` and `-shm` — moved aside to
/// `DATABASE.replaced-UNIXTIME` (never deleted) and the copy renamed into place. An
/// older schema is migrated by the next open of the store.
pub fn restore(
    from: &Path,
    database: &Path,
    force: bool,
    schema: i64,
) -> Result<RestoreSummary, MaintenanceError> {
    if !from.is_file() {
        return Err(MaintenanceError::Missing(from.into()));
    }
    if let (Ok(a), Ok(b)) = (from.canonicalize(), database.canonicalize())
        && a == b
    {
        return Err(MaintenanceError::SameFile(from.into()));
    }
    if !force && database.exists() {
        return Err(MaintenanceError::DatabaseExists(database.into()));
    }
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let summary = examine(&source, from, schema)?;
    let partial = partial_path(database);
    remove_with_journals(&partial);
    let copied = (|| {
        crate::private_files::private_database(&partial).map_err(|source| {
            MaintenanceError::Write {
                path: partial.clone(),
                source,
            }
        })?;
        let mut to = Connection::open(&partial)?;
        copy_all(&source, &mut to)?;
        to.close().map_err(|(_, e)| e)?;
        Ok(())
    })();
    if let Err(error) = copied {
        remove_with_journals(&partial);
        return Err(error);
    }
    let write_error = |source| MaintenanceError::Write {
        path: database.into(),
        source,
    };
    let replaced = move_aside(database).map_err(write_error)?;
    std::fs::rename(&partial, database).map_err(write_error)?;
    Ok(RestoreSummary {
        replaced,
        ..summary
    })
}

/// The backup's integrity and schema, and what it holds.
fn examine(
    conn: &Connection,
    path: &Path,
    schema: i64,
) -> Result<RestoreSummary, MaintenanceError> {
    let report: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if report != "ok" {
        return Err(MaintenanceError::Corrupt {
            path: path.into(),
            report,
        });
    }
    let has_tickets: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'tickets'",
        [],
        |r| r.get(0),
    )?;
    if !has_tickets {
        return Err(MaintenanceError::NotPostdesk(path.into()));
    }
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > schema {
        return Err(MaintenanceError::Newer {
            path: path.into(),
            found,
            known: schema,
        });
    }
    let count =
        |table: &str| conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0));
    Ok(RestoreSummary {
        tickets: count("tickets")?,
        messages: count("messages")?,
        replaced: None,
    })
}

/// Moves a present database and its `-wal` and `-shm` together to
/// `DATABASE.replaced-UNIXTIME…`; `None` when there was none.
fn move_aside(database: &Path) -> std::io::Result<Option<PathBuf>> {
    if !database.exists() {
        remove_with_journals(database);
        return Ok(None);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut aside = database.as_os_str().to_owned();
    aside.push(format!(".replaced-{stamp}"));
    let aside = PathBuf::from(aside);
    for (file, target) in crate::private_files::database_files(database)
        .iter()
        .zip(crate::private_files::database_files(&aside))
    {
        match std::fs::rename(file, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(aside))
}

/// Removes a database file and whatever journal an interrupted run left next to it (a
/// stale journal must never be replayed into a new file of the same name).
fn remove_with_journals(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Rebuilds the database file without free pages and truncates the write-ahead log.
/// Returns the file size before and after. It holds the write lock while it runs, so
/// the daemon's writes wait (at most their 5 s busy timeout): best run while it is
/// stopped.
pub fn vacuum(path: &Path) -> Result<(u64, u64), MaintenanceError> {
    if !path.is_file() {
        return Err(MaintenanceError::Missing(path.into()));
    }
    let size = || std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let before = size();
    let conn = open_existing(path)?;
    // A database made before incremental vacuum was set gets it with this rebuild.
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    Ok((before, size()))
}

/// Opens a database that must already exist (never creates an empty one by mistake).
fn open_existing(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// All pages in one step, so that it is one read transaction: smaller steps would let
/// every commit of the daemon between two of them restart the copy from the beginning.
fn copy_all(from: &Connection, to: &mut Connection) -> Result<(), MaintenanceError> {
    let copy = Backup::new(from, to)?;
    let started = Instant::now();
    loop {
        match copy.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            _ if started.elapsed() > BUSY_PATIENCE => return Err(MaintenanceError::Busy),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// `backup.db` → `backup.db.partial`, in the same folder so that the final rename stays
/// on one file system.
fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}
