//! Fetched batches on their way to the store: sizes, bodies, and the fetch/prepare/store
//! [`Pipeline`].

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt;
use tokio::sync::watch;

use super::post_actions::{TICKETED, uid_set};
use super::{ImapError, Session, timed};
use crate::config::{Config, Mailbox};
use crate::ingest::{ImapLocation, Origin, Prepared, TicketId};
use crate::runtime::{Shared, prepare_batch, store_prepared};
use crate::store::folders::{self, FlagJob, FolderPosition};
use crate::store::{Filed, Incoming};
use rusqlite::Connection;

/// Messages fetched (and stored) per round trip and per transaction…
pub(super) const FETCH_BATCH: usize = 500;
/// …and at most this many bytes of them, by the RFC822.SIZE the server gives: a pipeline
/// holds up to three batches (fetching, preparing, writing), so a folder of large mails
/// must not make each 500 × 50 MB. A message larger than this is a batch of its own.
pub const FETCH_BATCH_BYTES: u64 = 64 * 1024 * 1024;
/// UIDs whose sizes one `UID FETCH (RFC822.SIZE)` asks for.
const SIZE_CHUNK: usize = 5_000;
/// Fetching a whole batch of large messages takes longer than a single command.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Fetched batches on their way to the store. Each is prepared (parsed, classified: on every
/// core) while the batch before it is written and the next one fetched; a batch is written
/// only after the one before it committed completely, and the folder position advances in
/// the transaction that stored it.
pub(super) struct Pipeline<'a> {
    shared: &'a Shared,
    source: Source,
    /// The batch being prepared, with the UID its position reaches once stored.
    preparing: Option<(u32, tokio::task::JoinHandle<PreparedBatch>)>,
    /// The batch being written, likewise.
    writing: Option<(u32, tokio::task::JoinHandle<Result<u32, ImapError>>)>,
}

/// Where the messages of a batch come from; each blocking task takes its own copy.
#[derive(Clone)]
struct Source {
    mailbox: String,
    folder: String,
    sent: bool,
    uidvalidity: u32,
}

struct PreparedBatch {
    uids: Vec<u32>,
    batch: Vec<Incoming>,
    prepared: Vec<Prepared>,
}

impl<'a> Pipeline<'a> {
    pub(super) fn new(
        shared: &'a Shared,
        mailbox: &Mailbox,
        folder: &str,
        sent: bool,
        uidvalidity: u32,
    ) -> Self {
        let source = Source {
            mailbox: mailbox.name.clone(),
            folder: folder.to_string(),
            sent,
            uidvalidity,
        };
        Pipeline {
            shared,
            source,
            preparing: None,
            writing: None,
        }
    }

    /// Fetches and stores `uids` (all above `last`, in order) batch by batch, until done
    /// or asked to stop.
    pub(super) async fn store_new(
        mut self,
        session: &mut Session,
        uids: &[u32],
        last: u32,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), ImapError> {
        let sizes = if uids.len() > 1 {
            fetch_sizes(session, uids).await?
        } else {
            HashMap::new()
        };
        let size_of = |uid: u32| sizes.get(&uid).copied().unwrap_or(0);
        for chunk in batches(uids, size_of, FETCH_BATCH, FETCH_BATCH_BYTES) {
            let set = uid_set(chunk);
            let fetched = match fetch_bodies(session, &set, last).await {
                Ok(fetched) => fetched,
                Err(error) => {
                    // never leave a batch storing behind a failed session
                    self.finish().await.ok();
                    return Err(error);
                }
            };
            // A connection lost between two responses ends the stream early without an
            // error: the position may only pass what really arrived.
            if fetched.len() < chunk.len() {
                let batch_end = fetched.last().map_or(last, |(uid, _)| *uid);
                self.push(batch_end, fetched).await?;
                self.finish().await?;
                return Err(ImapError::Closed {
                    what: format!("UID FETCH {set}"),
                });
            }
            self.push(*chunk.last().unwrap_or(&last), fetched).await?;
            if *shutdown.borrow() {
                break;
            }
        }
        self.finish().await
    }

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
        let prepared = preparing.await.map_err(|source| ImapError::Task {
            what: "preparing a batch",
            source,
        })?;
        if let Some((previous_end, writing)) = self.writing.take() {
            let reached = join_store(writing).await?;
            if reached < previous_end {
                // A message of the previous batch could not be stored: the position stays
                // before it, and storing this batch would move it past; start over from there.
                return Err(ImapError::NotStored {
                    up_to: previous_end,
                    reached,
                });
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
        let source = self.source.clone();
        tokio::task::spawn_blocking(move || {
            let uids: Vec<u32> = fetched.iter().map(|(uid, _)| *uid).collect();
            let batch: Vec<Incoming> = fetched
                .into_iter()
                .map(|(uid, raw)| Incoming {
                    raw,
                    origin: source.origin(uid),
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
        let source = self.source.clone();
        tokio::task::spawn_blocking(move || {
            let mut reached = batch_end;
            let now = shared.clock.now().as_second();
            let stored = store_prepared(&shared, &batch, &prepared, |conn, filed: &[Filed]| {
                reached = source.record(conn, &shared.config, &uids, filed, batch_end, now)?;
                Ok(())
            });
            match stored {
                Ok(summary) => {
                    tracing::info!(
                        mailbox = %source.mailbox, folder = %source.folder,
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

impl Source {
    fn origin(&self, uid: u32) -> Origin {
        let Source {
            mailbox: name,
            folder,
            sent,
            uidvalidity,
        } = self;
        let at = ImapLocation {
            folder: folder.clone(),
            uidvalidity: *uidvalidity,
            uid,
        };
        Origin::imap(name, at, *sent)
    }

    /// What is written in the transaction that stores a batch (`uids`, `filed` as each was
    /// filed): the folder's new position, the `$Ticketed` post-action and, for a watched
    /// folder, the copies into queue folders. Returns the position reached.
    fn record(
        &self,
        conn: &Connection,
        config: &Config,
        uids: &[u32],
        filed: &[Filed],
        batch_end: u32,
        now: i64,
    ) -> rusqlite::Result<u32> {
        // A message that could not be stored stays above the position, to be tried again.
        let reached = uids
            .iter()
            .zip(filed)
            .find(|(_, f)| matches!(f, Filed::Failed(_)))
            .map_or(batch_end, |(uid, _)| *uid - 1);
        let (name, folder, uidvalidity) = (&self.mailbox, &self.folder, self.uidvalidity);
        let position = FolderPosition {
            uidvalidity,
            last_uid: reached,
        };
        folders::save_folder_position(conn, name, folder, position, now)?;
        let ticketed: Vec<u32> = uids
            .iter()
            .zip(filed)
            .filter(|(_, f)| !matches!(f, Filed::Failed(_) | Filed::NotATicket(_)))
            .map(|(uid, _)| *uid)
            .collect();
        let job = FlagJob {
            id: 0,
            folder: folder.clone(),
            uidvalidity,
            uids: ticketed,
            flags: TICKETED.into(),
            copy_to: None,
        };
        folders::queue_flags(conn, name, &job, now)?;
        if self.sent {
            return Ok(reached);
        }
        let mirrored: Vec<(u32, TicketId)> = uids
            .iter()
            .zip(filed)
            .filter_map(|(uid, f)| match f {
                Filed::Stored { ticket, .. } => Some((*uid, *ticket)),
                _ => None,
            })
            .collect();
        folders::queue_mirror_copies(conn, config, name, folder, uidvalidity, &mirrored, now)?;
        Ok(reached)
    }
}

async fn join_store(
    handle: tokio::task::JoinHandle<Result<u32, ImapError>>,
) -> Result<u32, ImapError> {
    handle.await.unwrap_or_else(|source| {
        Err(ImapError::Task {
            what: "storing a batch",
            source,
        })
    })
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
    // `rest` starts with the `taken` UIDs of the batch being filled.
    let mut rest = uids;
    let (mut taken, mut bytes) = (0, 0u64);
    for &uid in uids {
        let size = size_of(uid);
        if taken > 0
            && (taken == max_count || bytes.saturating_add(size) > max_bytes)
            && let Some((batch, after)) = rest.split_at_checked(taken)
        {
            cut.push(batch);
            (rest, taken, bytes) = (after, 0, 0);
        }
        taken += 1;
        bytes = bytes.saturating_add(size);
    }
    if !rest.is_empty() {
        cut.push(rest);
    }
    cut
}

/// The RFC822.SIZE of each of `uids` (a message expunged meanwhile has none).
pub(super) async fn fetch_sizes(
    session: &mut Session,
    uids: &[u32],
) -> Result<HashMap<u32, u64>, ImapError> {
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
