//! The checkpoint thread: copies the write-ahead log into the database file so that the
//! store writer never waits for it (nor for its fsync).

use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::runtime::Checkpoint;
use crate::store::Checkpointer;

/// The least time between two checkpoints.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(250);

/// Copies the write-ahead log into the database file on its own thread and connection after
/// each wake-up, so that the store writer never waits for it (nor for its fsync). The thread
/// ends on [`Checkpoint::Stop`] or when the last `Shared` is gone.
pub(super) fn spawn_checkpointer(
    database: &Path,
) -> Result<(SyncSender<Checkpoint>, std::thread::JoinHandle<()>)> {
    let checkpointer = Checkpointer::open(database)
        .context("cannot open a second connection to the database for checkpoints")?;
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || {
            while let Ok(Checkpoint::Now) = woken.recv() {
                if let Err(error) = checkpointer.checkpoint() {
                    tracing::warn!("cannot copy the database log into the database: {error}");
                }
                // Many small writes (the outbox sending a burst of mail) share a checkpoint
                // instead of each paying for one with its fsyncs.
                std::thread::sleep(CHECKPOINT_PAUSE);
            }
        })
        .context("cannot start the checkpoint thread")?;
    Ok((wake, thread))
}
