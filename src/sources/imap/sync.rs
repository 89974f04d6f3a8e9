//! One task per IMAP mailbox: connect, catch up every folder in UID order, set post-action
//! keywords, then IDLE (or poll) until new mail arrives; on any failure reconnect with capped
//! exponential backoff. The folder position advances only in the transaction that stored
//! the batch, so a crash at any point neither loses nor doubles a message.

use std::collections::HashMap;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use futures::TryStreamExt;
use tokio::sync::watch;

use super::{ImapError, Session, connect, timed};
use crate::config::{Imap, Mailbox};
use crate::ingest::{ImapLocation, Origin, Prepared, TicketId};
use crate::runtime::{Backoff, Shared, prepare_batch, store_prepared};
use crate::store::folders::{self, FlagJob, FolderPosition};
use crate::store::{Filed, Incoming};

/// Messages fetched (and stored) per round trip and per transaction…
const FETCH_BATCH: usize = 500;
/// …and at most this many bytes of them, by the RFC822.SIZE the server gives: a pipeline
/// holds up to three batches (fetching, preparing, writing), so a folder of large mails
/// must not make each 500 × 50 MB. A message larger than this is a batch of its own.
pub const FETCH_BATCH_BYTES: u64 = 64 * 1024 * 1024;
/// UIDs whose sizes one `UID FETCH (RFC822.SIZE)` asks for.
const SIZE_CHUNK: usize = 5_000;
/// IDLE is re-issued well before the 29-minute limit of RFC 2177.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// Fetching a whole batch of large messages takes longer than a single command.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
/// The keyword set on every stored message, so agents see what postdesk has filed.
pub const TICKETED: &str = "$Ticketed";

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
        if can_idle {
            // The last look before IDLE is a SELECT of the idle folder: mail that arrived
            // while we stored and set keywords shows there (a SELECT reports it in its own
            // result, never as an announcement), and later mail is announced from then on.
            if sync_folder(
                shared,
                mailbox,
                &mailbox.folders[0],
                false,
                &mut session,
                shutdown,
            )
            .await?
            {
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

async fn select(
    session: &mut Session,
    folder: &str,
) -> Result<async_imap::types::Mailbox, ImapError> {
    let what = format!("SELECT {folder}");
    let selected = timed(&what, async {
        session
            .select(folder)
            .await
            .map_err(ImapError::protocol(what.as_str()))
    })
    .await?;
    // When the connection ends in the middle of the answer, async-imap returns what it has
    // read so far as a success. Every server sends UIDVALIDITY (RFC 3501 §6.3.1): without
    // it the answer was cut, and taking it for a change of UIDVALIDITY would reset the
    // folder's position and drop its pending keywords.
    if selected.uid_validity.is_none() {
        return Err(ImapError::Closed { what });
    }
    Ok(selected)
}

/// `UID STORE set +FLAGS.SILENT (flags)`, done only when the server said OK. (async-imap's
/// `uid_store` ends its stream at the tagged answer whatever it says, and at a connection
/// that closed before it: a STORE refused, or cut by a crashing server, looked done.)
async fn store_flags(session: &mut Session, set: &str, flags: &str) -> Result<(), ImapError> {
    let command = format!("UID STORE {set} +FLAGS.SILENT ({flags})");
    timed(&command, async {
        session
            .run_command_and_check_ok(&command)
            .await
            .map_err(ImapError::protocol(&command))
    })
    .await
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

/// Stores every message of the folder above the remembered position, in UID order and in
/// batches; fetching, preparing and writing overlap (see [`Pipeline`]).
async fn sync_folder(
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
    let last = match stored {
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
    };
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
    let mut pipeline = Pipeline {
        shared,
        mailbox,
        folder,
        sent,
        uidvalidity,
        preparing: None,
        writing: None,
    };
    let sizes = if uids.len() > 1 {
        fetch_sizes(session, &uids).await?
    } else {
        HashMap::new()
    };
    let size_of = |uid: u32| sizes.get(&uid).copied().unwrap_or(0);
    for chunk in batches(&uids, size_of, FETCH_BATCH, FETCH_BATCH_BYTES) {
        let set = uid_set(chunk);
        let fetched = match fetch_bodies(session, &set, last).await {
            Ok(fetched) => fetched,
            Err(error) => {
                // never leave a batch storing behind a failed session
                pipeline.finish().await.ok();
                return Err(error);
            }
        };
        // A connection lost between two responses ends the stream early without an
        // error: the position may only pass what really arrived.
        if fetched.len() < chunk.len() {
            let batch_end = fetched.last().map_or(last, |(uid, _)| *uid);
            pipeline.push(batch_end, fetched).await?;
            pipeline.finish().await?;
            return Err(ImapError::Closed {
                what: format!("UID FETCH {set}"),
            });
        }
        pipeline
            .push(*chunk.last().unwrap_or(&last), fetched)
            .await?;
        if *shutdown.borrow() {
            break;
        }
    }
    pipeline.finish().await?;
    Ok(true)
}

/// Fetched batches on their way to the store. Each is prepared (parsed, classified: on every
/// core) while the batch before it is written and the next one fetched; a batch is written
/// only after the one before it committed completely, and the folder position advances in
/// the transaction that stored it.
struct Pipeline<'a> {
    shared: &'a Shared,
    mailbox: &'a Mailbox,
    folder: &'a str,
    sent: bool,
    uidvalidity: u32,
    /// The batch being prepared, with the UID its position reaches once stored.
    preparing: Option<(u32, tokio::task::JoinHandle<PreparedBatch>)>,
    /// The batch being written, likewise.
    writing: Option<(u32, tokio::task::JoinHandle<Result<u32, ImapError>>)>,
}

struct PreparedBatch {
    uids: Vec<u32>,
    batch: Vec<Incoming>,
    prepared: Vec<Prepared>,
}

impl Pipeline<'_> {
    /// Starts preparing a fetched batch whose stored position is `batch_end`, after handing
    /// the batch before it to the writer.
    async fn push(
        &mut self,
        batch_end: u32,
        fetched: Vec<(u32, Vec<u8>)>,
    ) -> Result<(), ImapError> {
        self.advance().await?;
        self.preparing = Some((batch_end, self.spawn_prepare(fetched)));
        Ok(())
    }

    /// Writes everything pushed so far.
    async fn finish(&mut self) -> Result<(), ImapError> {
        self.advance().await?;
        if let Some((_, writing)) = self.writing.take() {
            join_store(writing).await?;
        }
        Ok(())
    }

    /// Hands the prepared batch to the writer once the batch before it is stored.
    async fn advance(&mut self) -> Result<(), ImapError> {
        let Some((batch_end, preparing)) = self.preparing.take() else {
            return Ok(());
        };
        let prepared = preparing
            .await
            .map_err(|e| ImapError::Task(format!("preparing a batch failed: {e}")))?;
        if let Some((previous_end, writing)) = self.writing.take() {
            let reached = join_store(writing).await?;
            if reached < previous_end {
                // A message of the previous batch could not be stored: the position stays
                // before it, and storing this batch would move it past; start over from there.
                return Err(ImapError::Task(format!(
                    "some messages up to UID {previous_end} were not stored; retrying from UID {}",
                    reached + 1
                )));
            }
        }
        self.writing = Some((batch_end, self.spawn_write(batch_end, prepared)));
        Ok(())
    }

    fn spawn_prepare(
        &self,
        fetched: Vec<(u32, Vec<u8>)>,
    ) -> tokio::task::JoinHandle<PreparedBatch> {
        let shared = self.shared.clone();
        let name = self.mailbox.name.clone();
        let folder = self.folder.to_string();
        let (sent, uidvalidity) = (self.sent, self.uidvalidity);
        tokio::task::spawn_blocking(move || {
            let uids: Vec<u32> = fetched.iter().map(|(uid, _)| *uid).collect();
            let batch: Vec<Incoming> = fetched
                .into_iter()
                .map(|(uid, raw)| Incoming {
                    raw,
                    origin: Origin {
                        mailbox: Some(name.clone()),
                        location: format!(
                            "imap:{name}/{folder};UIDVALIDITY={uidvalidity}/;UID={uid}"
                        ),
                        imap: Some(ImapLocation {
                            folder: folder.clone(),
                            uidvalidity,
                            uid,
                        }),
                        sent,
                    },
                })
                .collect();
            let prepared = prepare_batch(&shared, &batch);
            PreparedBatch {
                uids,
                batch,
                prepared,
            }
        })
    }

    /// Stores a prepared batch in one transaction together with the folder's new position
    /// and the `$Ticketed` post-action. Returns the position reached.
    fn spawn_write(
        &self,
        batch_end: u32,
        PreparedBatch {
            uids,
            batch,
            prepared,
        }: PreparedBatch,
    ) -> tokio::task::JoinHandle<Result<u32, ImapError>> {
        let shared = self.shared.clone();
        let name = self.mailbox.name.clone();
        let folder = self.folder.to_string();
        let (sent, uidvalidity) = (self.sent, self.uidvalidity);
        tokio::task::spawn_blocking(move || {
            let mut reached = batch_end;
            let now = shared.clock.now().as_second();
            let stored = store_prepared(&shared, &batch, &prepared, |conn, filed: &[Filed]| {
                // A message that could not be stored stays above the position, to be tried again.
                if let Some(first_failed) = uids
                    .iter()
                    .zip(filed)
                    .find(|(_, f)| matches!(f, Filed::Failed(_)))
                    .map(|(uid, _)| *uid)
                {
                    reached = first_failed - 1;
                }
                folders::save_folder_position(
                    conn,
                    &name,
                    &folder,
                    FolderPosition {
                        uidvalidity,
                        last_uid: reached,
                    },
                    now,
                )?;
                let ticketed: Vec<u32> = uids
                    .iter()
                    .zip(filed)
                    .filter(|(_, f)| !matches!(f, Filed::Failed(_) | Filed::NotATicket(_)))
                    .map(|(uid, _)| *uid)
                    .collect();
                folders::queue_flags(
                    conn,
                    &name,
                    &FlagJob {
                        id: 0,
                        folder: folder.clone(),
                        uidvalidity,
                        uids: ticketed,
                        flags: TICKETED.into(),
                        copy_to: None,
                    },
                    now,
                )?;
                if sent {
                    return Ok(());
                }
                let mirrored: Vec<(u32, TicketId)> = uids
                    .iter()
                    .zip(filed)
                    .filter_map(|(uid, f)| match f {
                        Filed::Stored { ticket, .. } => Some((*uid, *ticket)),
                        _ => None,
                    })
                    .collect();
                folders::queue_mirror_copies(
                    conn,
                    &shared.config,
                    &name,
                    &folder,
                    uidvalidity,
                    &mirrored,
                    now,
                )
            });
            match stored {
                Ok(summary) => {
                    tracing::info!(
                        mailbox = %name, folder = %folder,
                        "stored {} new, {} duplicate, {} unparsed, {} failed (up to UID {reached})",
                        summary.ingested, summary.duplicates, summary.quarantined, summary.failed
                    );
                    Ok(reached)
                }
                Err(error) => Err(error.into()),
            }
        })
    }
}

async fn join_store(
    handle: tokio::task::JoinHandle<Result<u32, ImapError>>,
) -> Result<u32, ImapError> {
    handle
        .await
        .unwrap_or_else(|e| Err(ImapError::Task(format!("storing a batch failed: {e}"))))
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

/// `uids` cut, in order, into batches of at most `max_count` messages and `max_bytes` bytes
/// (`size_of` each), each with at least one message.
pub fn batches(
    uids: &[u32],
    size_of: impl Fn(u32) -> u64,
    max_count: usize,
    max_bytes: u64,
) -> Vec<&[u32]> {
    let mut cut = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, &uid) in uids.iter().enumerate() {
        let size = size_of(uid);
        if i > start && (i - start == max_count || bytes.saturating_add(size) > max_bytes) {
            cut.push(&uids[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(size);
    }
    if start < uids.len() {
        cut.push(&uids[start..]);
    }
    cut
}

/// The RFC822.SIZE of each of `uids` (a message expunged meanwhile has none).
async fn fetch_sizes(session: &mut Session, uids: &[u32]) -> Result<HashMap<u32, u64>, ImapError> {
    let mut sizes = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(SIZE_CHUNK) {
        let set = uid_set(chunk);
        let what = format!("UID FETCH {set} RFC822.SIZE");
        let fetches: Vec<_> = timed(&what, async {
            session
                .uid_fetch(&set, "(UID RFC822.SIZE)")
                .await
                .map_err(ImapError::protocol(&what))?
                .try_collect()
                .await
                .map_err(ImapError::protocol(&what))
        })
        .await?;
        sizes.extend(
            fetches
                .iter()
                .filter_map(|f| Some((f.uid?, u64::from(f.size?)))),
        );
    }
    Ok(sizes)
}

async fn fetch_bodies(
    session: &mut Session,
    set: &str,
    last: u32,
) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
    let what = format!("UID FETCH {set} BODY.PEEK[]");
    let step = async {
        let stream = session
            .uid_fetch(set, "(UID BODY.PEEK[])")
            .await
            .map_err(ImapError::protocol(&what))?;
        let fetches: Vec<_> = stream
            .try_collect()
            .await
            .map_err(ImapError::protocol(&what))?;
        let mut messages: Vec<(u32, Vec<u8>)> = fetches
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .filter(|(uid, _)| *uid > last)
            .collect();
        messages.sort_by_key(|(uid, _)| *uid);
        Ok(messages)
    };
    tokio::time::timeout(FETCH_TIMEOUT, step)
        .await
        .unwrap_or_else(|_| Err(ImapError::Timeout { what }))
}

/// Executes the keyword post-actions queued for this mailbox.
async fn set_keywords(
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

/// `[1,2,3,5,7,8]` → `1:3,5,7:8`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

    /// A logged-in session with a scripted server: after LOGIN, each command line it
    /// reads is answered with `answer(tag, command)`, which also says whether the server
    /// lives on.
    async fn scripted(
        answer: impl Fn(&str, &str) -> (String, bool) + Send + 'static,
    ) -> (Session, tokio::task::JoinHandle<()>) {
        let (client_end, server_end) = tokio::io::duplex(4096);
        let server = tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(server_end);
            let mut line = String::new();
            lines.read_line(&mut line).await.unwrap();
            let tag = line.split(' ').next().unwrap().to_string();
            let ok = format!("{tag} OK Logged in\r\n");
            lines.get_mut().write_all(ok.as_bytes()).await.unwrap();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap() == 0 {
                    return;
                }
                let (tag, command) = line.trim_end().split_once(' ').unwrap();
                let (text, lives_on) = answer(tag, command);
                lines.get_mut().write_all(text.as_bytes()).await.unwrap();
                if !lives_on {
                    return;
                }
            }
        });
        let stream: Box<dyn crate::sources::imap::ImapStream> = Box::new(client_end);
        let session = async_imap::Client::new(stream)
            .login("support", "secret")
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        (session, server)
    }

    /// A server that dies in the middle of its SELECT answer (as a crashed Dovecot does).
    #[tokio::test]
    async fn a_select_answer_cut_short_is_a_closed_connection() {
        let (mut session, server) = scripted(|_, command| {
            assert!(command.starts_with("SELECT"), "{command}");
            // the start of the answer, then the server is gone
            let partial = "* FLAGS (\\Seen \\Flagged)\r\n* 600 EXISTS\r\n* 0 RECENT\r\n";
            (partial.to_string(), false)
        })
        .await;
        let result = select(&mut session, "INBOX").await;
        drop(session);
        server.await.unwrap();
        match result {
            Err(ImapError::Closed { what }) => assert_eq!(what, "SELECT INBOX"),
            other => panic!("a cut SELECT answer was taken as {other:?}"),
        }
    }

    /// A STORE the server refuses, or never answers, is not done.
    #[tokio::test]
    async fn a_store_refused_or_cut_short_is_not_done() {
        let (mut session, server) = scripted(|tag, _| {
            (
                format!("{tag} NO [CANNOT] Keywords are not allowed\r\n"),
                true,
            )
        })
        .await;
        let refused = store_flags(&mut session, "1:500", TICKETED).await;
        assert!(
            matches!(
                &refused,
                Err(ImapError::Protocol {
                    source: async_imap::error::Error::No(_),
                    ..
                })
            ),
            "{refused:?}"
        );
        drop(session);
        server.await.unwrap();

        let (mut session, server) = scripted(|_, _| (String::new(), false)).await;
        let cut = store_flags(&mut session, "1:500", TICKETED).await;
        assert!(cut.is_err(), "a STORE without an answer was taken as done");
        drop(session);
        server.await.unwrap();

        let (mut session, server) =
            scripted(|tag, _| (format!("{tag} OK Store completed.\r\n"), true)).await;
        store_flags(&mut session, "1:500", TICKETED).await.unwrap();
        drop(session);
        server.await.unwrap();
    }

    #[test]
    fn batches_are_cut_by_count_and_by_bytes() {
        const MB: u64 = 1024 * 1024;
        let uids: Vec<u32> = (1..=1200).collect();
        let small = batches(&uids, |_| 10_000, FETCH_BATCH, FETCH_BATCH_BYTES);
        let lengths: Vec<usize> = small.iter().map(|b| b.len()).collect();
        assert_eq!(lengths, [500, 500, 200]);
        // 40 MB mails: one a batch, as two would pass 64 MiB.
        let large = batches(&uids[..3], |_| 40 * MB, FETCH_BATCH, FETCH_BATCH_BYTES);
        assert_eq!(large, [&[1][..], &[2], &[3]]);
        // 20 MB each: three fit (60 MB), the fourth starts the next batch.
        let mid = batches(&uids[..7], |_| 20 * MB, FETCH_BATCH, FETCH_BATCH_BYTES);
        assert_eq!(mid, [&[1, 2, 3][..], &[4, 5, 6], &[7]]);
        // A message larger than the bound is still fetched, alone; unknown sizes count 0.
        let mixed = batches(
            &[10, 11, 12, 13],
            |uid| if uid == 11 { 100 * MB } else { 0 },
            FETCH_BATCH,
            FETCH_BATCH_BYTES,
        );
        assert_eq!(mixed, [&[10][..], &[11], &[12, 13]]);
        for batch in small.iter().chain(&large).chain(&mid).chain(&mixed) {
            assert!(!batch.is_empty());
        }
        assert!(batches(&[], |_| 0, FETCH_BATCH, FETCH_BATCH_BYTES).is_empty());
    }

    /// Sizes come from one `UID FETCH (UID RFC822.SIZE)` per few thousand UIDs.
    #[tokio::test]
    async fn sizes_are_read_from_the_fetch_responses() {
        let (mut session, server) = scripted(|tag, command| {
            assert_eq!(command, "UID FETCH 7:8,10 (UID RFC822.SIZE)");
            (
                format!(
                    "* 1 FETCH (UID 7 RFC822.SIZE 1234)\r\n* 2 FETCH (UID 8 RFC822.SIZE 40000000)\r\n{tag} OK Fetch completed.\r\n"
                ),
                true,
            )
        })
        .await;
        let sizes = fetch_sizes(&mut session, &[7, 8, 10]).await.unwrap();
        drop(session);
        server.await.unwrap();
        assert_eq!(sizes, HashMap::from([(7, 1234), (8, 40_000_000)]));
    }

    #[test]
    fn uid_sets_are_compressed() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
    }
}
