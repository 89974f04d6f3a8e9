//! Post-actions carried out on the server: keywords set by `UID STORE`, and copies into
//! queue folders by `UID COPY`.

use super::connect::select;
use super::{ImapError, Session, timed};
use crate::config::Mailbox;
use crate::runtime::Shared;
use crate::store::folders;

/// The keyword set on every stored message, so agents see what postdesk has filed.
pub const TICKETED: &str = "$Ticketed";

/// Executes the keyword post-actions queued for this mailbox.
pub(super) async fn set_keywords(
    shared: &Shared,
    mailbox: &Mailbox,
    session: &mut Session,
) -> Result<(), ImapError> {
    let jobs = shared.read(|conn| folders::pending_flag_jobs(conn, &mailbox.name))?;
    let mut selected: Option<(String, u32)> = None;
    for job in jobs {
        if selected.as_ref().map(|(f, _)| f.as_str()) != Some(job.folder.as_str()) {
            let mailbox_info = select(session, &job.folder).await?;
            selected = Some((job.folder.clone(), mailbox_info.uid_validity.unwrap_or(0)));
        }
        let now = shared.clock.now().as_second();
        let current_validity = selected.as_ref().map(|(_, v)| *v).unwrap_or(0);
        let outcome: Result<String, String> = if current_validity != job.uidvalidity {
            Ok("skipped: the folder's UIDVALIDITY changed".into())
        } else if let Some(target) = &job.copy_to {
            match copy_into(session, &job.uids, target).await {
                Ok(()) => Ok(format!("{} message(s) copied to {target}", job.uids.len())),
                Err(ImapError::Protocol {
                    source: async_imap::error::Error::No(reason),
                    ..
                }) => Err(reason),
                Err(other) => return Err(other),
            }
        } else {
            match store_flags(session, &uid_set(&job.uids), &job.flags).await {
                Ok(()) => Ok(format!(
                    "{} set on {} message(s)",
                    job.flags,
                    job.uids.len()
                )),
                // The server said NO (keywords not allowed, folder read-only): a lasting
                // failure, recorded; a broken connection is retried after reconnecting.
                Err(ImapError::Protocol {
                    source: async_imap::error::Error::No(reason),
                    ..
                }) => Err(reason),
                Err(other) => return Err(other),
            }
        };
        if let Err(reason) = &outcome {
            match &job.copy_to {
                Some(target) => {
                    tracing::warn!(mailbox = %mailbox.name, folder = %job.folder, "cannot copy to {target}: {reason}")
                }
                None => {
                    tracing::warn!(mailbox = %mailbox.name, folder = %job.folder, "cannot set {}: {reason}", job.flags)
                }
            }
        }
        shared.write(|store| {
            folders::finish_outbox(
                store.connection(),
                job.id,
                now,
                outcome.as_deref().map_err(|e| e.as_str()),
            )
        })?;
    }
    Ok(())
}

/// `UID COPY` into a queue's folder, creating it when the server says it does not exist
/// (`[TRYCREATE]`, RFC 3501 §6.4.7).
async fn copy_into(session: &mut Session, uids: &[u32], target: &str) -> Result<(), ImapError> {
    let set = uid_set(uids);
    let what = format!("UID COPY {set} {target}");
    let copied = timed(&what, async {
        session
            .uid_copy(&set, target)
            .await
            .map_err(ImapError::protocol(&what))
    })
    .await;
    match copied {
        Err(ImapError::Protocol {
            source: async_imap::error::Error::No(reason),
            ..
        }) if reason.to_ascii_uppercase().contains("TRYCREATE") => {
            let create = format!("CREATE {target}");
            timed(&create, async {
                session
                    .create(target)
                    .await
                    .map_err(ImapError::protocol(&create))
            })
            .await?;
            timed(&what, async {
                session
                    .uid_copy(&set, target)
                    .await
                    .map_err(ImapError::protocol(&what))
            })
            .await
        }
        other => other,
    }
}

/// `UID STORE set +FLAGS.SILENT (flags)`, done only when the server said OK. (async-imap's
/// `uid_store` ends its stream at the tagged answer whatever it says, and at a connection
/// that closed before it: a STORE refused, or cut by a crashing server, looked done.)
pub(super) async fn store_flags(
    session: &mut Session,
    set: &str,
    flags: &str,
) -> Result<(), ImapError> {
    let command = format!("UID STORE {set} +FLAGS.SILENT ({flags})");
    timed(&command, async {
        session
            .run_command_and_check_ok(&command)
            .await
            .map_err(ImapError::protocol(&command))
    })
    .await
}

/// `[1,2,3,5,7,8]` → `1:3,5,7:8`.
pub fn uid_set(uids: &[u32]) -> String {
    // Runs of consecutive UIDs, in the order given.
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &uid in uids {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
            _ => runs.push((uid, uid)),
        }
    }
    let mut out = String::new();
    for (start, end) in runs {
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
    }
    out
}
