//! One task per IMAP mailbox: connect, catch up every folder in UID order, set post-action
//! keywords, then IDLE (or poll) until new mail arrives; on any failure reconnect with capped
//! exponential backoff. The folder position advances only in the transaction that stored
//! the batch, so a crash at any point neither loses nor doubles a message.

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use tokio::sync::watch;

use super::post_actions::set_keywords;
use super::sync::sync_folder;
use super::{ImapError, Session, connect, timed};
use crate::config::{Imap, Mailbox};
use crate::runtime::{Backoff, Shared};

/// IDLE is re-issued well before the 29-minute limit of RFC 2177.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

pub async fn watch_mailbox(
    shared: Shared,
    mailbox: Mailbox,
    imap: Imap,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    let mut failing: Option<String> = None;
    let mut jobs = shared.imap_jobs.subscribe();
    loop {
        let result = session_loop(&shared, &mailbox, &imap, &mut shutdown, &mut jobs, &mut || {
            backoff.reset();
            if let Some(reason) = failing.take() {
                tracing::info!(mailbox = %mailbox.name, "IMAP connection works again (was: {reason})");
            }
        })
        .await;
        match result {
            Ok(()) => return,
            Err(error) => {
                let reason = error.to_string();
                // Logged once per distinct reason, not on every retry.
                if failing.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(mailbox = %mailbox.name, "IMAP: {reason}; retrying with backoff");
                    failing = Some(reason);
                }
                let delay = backoff.next_delay();
                tracing::debug!(mailbox = %mailbox.name, "reconnecting in {:.1}s", delay.as_secs_f64());
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

async fn session_loop(
    shared: &Shared,
    mailbox: &Mailbox,
    imap: &Imap,
    shutdown: &mut watch::Receiver<bool>,
    jobs: &mut watch::Receiver<u64>,
    on_connected: &mut (dyn FnMut() + Send),
) -> Result<(), ImapError> {
    let mut session = connect(imap).await?;
    let capabilities = timed("CAPABILITY", async {
        session
            .capabilities()
            .await
            .map_err(ImapError::protocol("CAPABILITY"))
    })
    .await?;
    let can_idle = capabilities.has_str("IDLE");
    tracing::info!(mailbox = %mailbox.name, host = %imap.host, idle = can_idle, "connected");
    on_connected();
    while !*shutdown.borrow() {
        let watched = mailbox.folders.iter().map(|f| (f, false));
        for (folder, sent) in watched.chain(mailbox.sent_folders.iter().map(|f| (f, true))) {
            sync_folder(shared, mailbox, folder, sent, &mut session, shutdown).await?;
            if *shutdown.borrow() {
                break;
            }
        }
        set_keywords(shared, mailbox, &mut session).await?;
        if *shutdown.borrow() {
            break;
        }
        // IDLE watches the first folder; a mailbox without folders (config validation
        // refuses one) would only poll.
        if can_idle && let Some(idle_folder) = mailbox.folders.first() {
            // The last look before IDLE is a SELECT of the idle folder: mail that arrived
            // while we stored and set keywords shows there (a SELECT reports it in its own
            // result, never as an announcement), and later mail is announced from then on.
            if sync_folder(shared, mailbox, idle_folder, false, &mut session, shutdown).await? {
                continue;
            }
            if !new_mail_announced(&session) {
                // IDLE watches one folder: with others to watch, come out of it every
                // poll interval to look at them.
                let others = mailbox.folders.len() > 1 || !mailbox.sent_folders.is_empty();
                let renew = if others {
                    mailbox.poll_interval.min(IDLE_RENEW)
                } else {
                    IDLE_RENEW
                };
                session = idle(session, shutdown, jobs, &mailbox.name, renew).await?;
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(mailbox.poll_interval) => {}
                _ = shutdown.changed() => {}
                _ = jobs.changed() => {}
            }
        }
    }
    super::logout(&mut session).await;
    Ok(())
}

/// Mail that arrived while we were busy is announced as untagged EXISTS; then skip IDLE.
fn new_mail_announced(session: &Session) -> bool {
    announced_in(&session.unsolicited_responses)
}

fn announced_in(unsolicited: &async_channel::Receiver<UnsolicitedResponse>) -> bool {
    let mut announced = false;
    while let Ok(response) = unsolicited.try_recv() {
        if matches!(
            response,
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
        ) {
            announced = true;
        }
    }
    announced
}

/// Waits in IDLE for new mail, a stop request, or new post-actions to carry out.
async fn idle(
    session: Session,
    shutdown: &mut watch::Receiver<bool>,
    jobs: &mut watch::Receiver<u64>,
    mailbox_name: &str,
    renew: Duration,
) -> Result<Session, ImapError> {
    // Mail that arrived between the last fetch and the start of IDLE is announced while
    // IDLE starts, before the server's "+ idling": it lands here, not in the wait below.
    let unsolicited = session.unsolicited_responses.clone();
    let mut handle = session.idle();
    timed("IDLE", async {
        handle.init().await.map_err(ImapError::protocol("IDLE"))
    })
    .await?;
    if !announced_in(&unsolicited) {
        let (wait, _interrupt) = handle.wait_with_timeout(renew);
        tokio::select! {
            response = wait => {
                match response.map_err(ImapError::protocol("IDLE"))? {
                    IdleResponse::NewData(_) => tracing::debug!(mailbox = %mailbox_name, "IDLE: new data"),
                    IdleResponse::Timeout => tracing::debug!(mailbox = %mailbox_name, "IDLE renewed"),
                    IdleResponse::ManualInterrupt => {}
                }
            }
            _ = shutdown.changed() => {}
            _ = jobs.changed() => {}
        }
    }
    timed("DONE", async {
        handle.done().await.map_err(ImapError::protocol("DONE"))
    })
    .await
}
