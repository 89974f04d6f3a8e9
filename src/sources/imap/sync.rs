//! Catching up one folder: where its position stands, which UIDs are new, and the
//! position of a folder with nothing to store.

use tokio::sync::watch;

use super::connect::select;
use super::pipeline::Pipeline;
use super::{ImapError, Session, timed};
use crate::config::Mailbox;
use crate::runtime::Shared;
use crate::store::folders::{self, FolderPosition};

/// Stores every message of the folder above the remembered position, in UID order and in
/// batches; fetching, preparing and writing overlap (see [`Pipeline`]).
pub(super) async fn sync_folder(
    shared: &Shared,
    mailbox: &Mailbox,
    folder: &str,
    sent: bool,
    session: &mut Session,
    shutdown: &watch::Receiver<bool>,
) -> Result<bool, ImapError> {
    let selected = select(session, folder).await?;
    let uidvalidity = selected.uid_validity.unwrap_or(0);
    let stored = shared.read(|conn| folders::folder_position(conn, &mailbox.name, folder))?;
    let last = resume_after(mailbox, folder, stored, uidvalidity);
    if selected.exists == 0 {
        if stored.is_none_or(|p| p.uidvalidity != uidvalidity) {
            save_position(shared, mailbox, folder, uidvalidity, last).await?;
        }
        return Ok(false);
    }
    if selected.uid_next.is_some_and(|next| next <= last + 1) {
        return Ok(false);
    }
    let uids = new_uids(session, last).await?;
    if uids.is_empty() {
        return Ok(false);
    }
    Pipeline::new(shared, mailbox, folder, sent, uidvalidity)
        .store_new(session, &uids, last, shutdown)
        .await?;
    Ok(true)
}

/// The UID after which to read the folder: its stored position, or 0 when there is none
/// or the folder's UIDVALIDITY changed (RFC 3501 §2.3.1.1: the old UIDs mean nothing now).
fn resume_after(
    mailbox: &Mailbox,
    folder: &str,
    stored: Option<FolderPosition>,
    uidvalidity: u32,
) -> u32 {
    match stored {
        Some(position) if position.uidvalidity == uidvalidity => position.last_uid,
        Some(position) => {
            tracing::warn!(
                mailbox = %mailbox.name, folder,
                "UIDVALIDITY changed from {} to {uidvalidity}: reading the folder again (messages already stored are recognised)",
                position.uidvalidity
            );
            0
        }
        None => 0,
    }
}

async fn save_position(
    shared: &Shared,
    mailbox: &Mailbox,
    folder: &str,
    uidvalidity: u32,
    last_uid: u32,
) -> Result<(), ImapError> {
    let now = shared.clock.now().as_second();
    shared.write(|store| {
        folders::save_folder_position(
            store.connection(),
            &mailbox.name,
            folder,
            FolderPosition {
                uidvalidity,
                last_uid,
            },
            now,
        )
    })?;
    Ok(())
}

/// The UIDs above `last`, in order: one SEARCH response, not a FETCH response per message.
/// `N:*` always names the highest message even when its UID is below N (RFC 3501), so
/// those are dropped.
async fn new_uids(session: &mut Session, last: u32) -> Result<Vec<u32>, ImapError> {
    let range = format!("UID {}:*", last + 1);
    let what = format!("UID SEARCH {range}");
    let found = timed(&what, async {
        session
            .uid_search(&range)
            .await
            .map_err(ImapError::protocol(&what))
    })
    .await?;
    let mut uids: Vec<u32> = found.into_iter().filter(|&u| u > last).collect();
    uids.sort_unstable();
    Ok(uids)
}
