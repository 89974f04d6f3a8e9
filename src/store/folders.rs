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

/// A keyword (or flag) to set on messages of one folder, or (with `copy_to`) a copy of
/// them into a queue's folder, waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlagJob {
    #[serde(skip)]
    pub id: i64,
    pub folder: String,
    pub uidvalidity: u32,
    pub uids: Vec<u32>,
    #[serde(default)]
    pub flags: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_to: Option<String>,
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
    let kind = if job.copy_to.is_some() {
        "imap_copy"
    } else {
        "imap_flags"
    };
    conn.prepare_cached(
        "INSERT INTO outbox (kind, mailbox, payload, created_at, due_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![kind, mailbox, payload, now])?;
    Ok(())
}

/// Copies of newly stored messages into the IMAP folders that mirror their tickets' queues
/// (`[[queue]] imap_folder`), one job per target folder.
pub fn queue_mirror_copies(
    conn: &Connection,
    config: &crate::config::Config,
    mailbox: &str,
    folder: &str,
    uidvalidity: u32,
    stored: &[(u32, crate::ingest::TicketId)],
    now: i64,
) -> rusqlite::Result<()> {
    if config.queues.iter().all(|q| q.imap_folder.is_none()) {
        return Ok(());
    }
    let mut by_target: Vec<(String, Vec<u32>)> = Vec::new();
    for (uid, ticket) in stored {
        let queue: String = conn
            .prepare_cached("SELECT queue FROM tickets WHERE id = ?1")?
            .query_row([ticket], |r| r.get(0))?;
        let Some(target) = config.queue(&queue).and_then(|q| q.imap_folder.clone()) else {
            continue;
        };
        match by_target.iter_mut().find(|(t, _)| *t == target) {
            Some((_, uids)) => uids.push(*uid),
            None => by_target.push((target, vec![*uid])),
        }
    }
    for (target, uids) in by_target {
        let job = FlagJob {
            id: 0,
            folder: folder.to_string(),
            uidvalidity,
            uids,
            flags: String::new(),
            copy_to: Some(target),
        };
        queue_flags(conn, mailbox, &job, now)?;
    }
    Ok(())
}

pub fn pending_flag_jobs(conn: &Connection, mailbox: &str) -> rusqlite::Result<Vec<FlagJob>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, payload FROM outbox
         WHERE mailbox = ?1 AND kind IN ('imap_flags', 'imap_copy') AND status = 'pending'
         ORDER BY id LIMIT 100",
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
