//! Sync positions of IMAP folders and the IMAP post-actions queued in the outbox.

use rusqlite::{Connection, OptionalExtension, params};

/// Everything up to `last_uid` under `uidvalidity` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderPosition {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

pub fn folder_position(
    conn: &Connection,
    mailbox: &str,
    folder: &str,
) -> rusqlite::Result<Option<FolderPosition>> {
    conn.prepare_cached(
        "SELECT uidvalidity, last_uid FROM folder_state WHERE mailbox = ?1 AND folder = ?2",
    )?
    .query_row(params![mailbox, folder], |r| {
        Ok(FolderPosition {
            uidvalidity: r.get(0)?,
            last_uid: r.get(1)?,
        })
    })
    .optional()
}

pub fn save_folder_position(
    conn: &Connection,
    mailbox: &str,
    folder: &str,
    position: FolderPosition,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO folder_state (mailbox, folder, uidvalidity, last_uid, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (mailbox, folder) DO UPDATE SET uidvalidity = ?3, last_uid = ?4, updated_at = ?5",
    )?
    .execute(params![mailbox, folder, position.uidvalidity, position.last_uid, now])?;
    Ok(())
}

/// A keyword (or flag) to set on messages of one folder, waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlagJob {
    #[serde(skip)]
    pub id: i64,
    pub folder: String,
    pub uidvalidity: u32,
    pub uids: Vec<u32>,
    pub flags: String,
}

pub fn queue_flags(
    conn: &Connection,
    mailbox: &str,
    job: &FlagJob,
    now: i64,
) -> rusqlite::Result<()> {
    if job.uids.is_empty() {
        return Ok(());
    }
    let payload = serde_json::to_string(job).unwrap_or_else(|_| "{}".into());
    conn.prepare_cached(
        "INSERT INTO outbox (kind, mailbox, payload, created_at, due_at) VALUES ('imap_flags', ?1, ?2, ?3, ?3)",
    )?
    .execute(params![mailbox, payload, now])?;
    Ok(())
}

pub fn pending_flag_jobs(conn: &Connection, mailbox: &str) -> rusqlite::Result<Vec<FlagJob>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, payload FROM outbox
         WHERE mailbox = ?1 AND kind = 'imap_flags' AND status = 'pending' ORDER BY id LIMIT 100",
    )?;
    let rows = stmt.query_map([mailbox], |r| {
        let id: i64 = r.get(0)?;
        let payload: String = r.get(1)?;
        Ok((id, payload))
    })?;
    let mut jobs = Vec::new();
    for row in rows {
        let (id, payload) = row?;
        match serde_json::from_str::<FlagJob>(&payload) {
            Ok(job) => jobs.push(FlagJob { id, ..job }),
            Err(e) => finish_outbox(conn, id, 0, Err(&format!("unreadable payload: {e}")))?,
        }
    }
    Ok(jobs)
}

/// Marks an outbox row done, or failed with the reason.
pub fn finish_outbox(
    conn: &Connection,
    id: i64,
    now: i64,
    outcome: Result<&str, &str>,
) -> rusqlite::Result<()> {
    let (status, result, error) = match outcome {
        Ok(result) => ("done", Some(result), None),
        Err(error) => ("failed", None, Some(error)),
    };
    conn.prepare_cached(
        "UPDATE outbox SET status = ?2, result = ?3, last_error = ?4, done_at = ?5,
            attempts = attempts + 1 WHERE id = ?1",
    )?
    .execute(params![id, status, result, error, now])?;
    Ok(())
}
