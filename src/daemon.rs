//! `postdesk run`: one task per mailbox over one store writer; SIGTERM/SIGINT stop after the
//! batch in hand, SIGHUP reloads the config (a broken one is refused, the old one keeps
//! running), and systemd hears READY, STATUS and watchdog pings when it asks for them.

use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::Connection;
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, MailboxSource};
use crate::ingest::{Filed, Incoming, Ingester, Prepared, Summary};
use crate::smtp::Mailer;
use crate::store::{Checkpointer, Store, StoreError};
use crate::text::templates::Templates;
use crate::{imap, maildir, outbox, scheduler};

/// The least time between two checkpoints.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(250);
/// Mailbox tasks get this long to finish their batch after a stop request.
const STOP_GRACE: Duration = Duration::from_secs(8);

/// What every task shares: the config in force, the one store writer and the clock.
#[derive(Clone)]
pub struct Shared {
    pub config: Arc<Config>,
    store: Arc<Mutex<Store>>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the outbox worker: new rows may be due earlier than it planned to look.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the deadline scheduler for the same reason.
    pub deadline_wake: Arc<Notify>,
    /// Bumped when IMAP post-actions are queued, so idling mailbox tasks carry them out.
    pub imap_jobs: Arc<watch::Sender<u64>>,
    /// Wakes the checkpointer thread after a write (see [`spawn_checkpointer`]).
    checkpoint: SyncSender<Checkpoint>,
    /// The read-only connection of [`Shared::read_apart`].
    reader: Arc<Reader>,
}

/// A read-only connection to the store's database file, opened at first use. WAL lets it
/// read while the writer writes, so long reads (the weekly report) hold up no ingest.
struct Reader {
    /// None for an in-memory store, which has no file to open twice.
    path: Option<PathBuf>,
    conn: Mutex<Option<Connection>>,
}

impl Reader {
    fn of(store: &Store) -> Reader {
        Reader {
            path: store
                .connection()
                .path()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            conn: Mutex::new(None),
        }
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.into(),
        source,
    })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

impl Shared {
    /// `checkpoint` wakes whatever copies the store's write-ahead log into the database.
    pub fn new(
        config: Config,
        store: Store,
        clock: Arc<dyn Clock>,
        checkpoint: SyncSender<Checkpoint>,
    ) -> Shared {
        Shared {
            config: Arc::new(config),
            reader: Arc::new(Reader::of(&store)),
            store: Arc::new(Mutex::new(store)),
            clock,
            outbox_wake: Arc::new(Notify::new()),
            deadline_wake: Arc::new(Notify::new()),
            imap_jobs: Arc::new(watch::Sender::new(0)),
            checkpoint,
        }
    }

    /// After a write: the checkpointer copies it into the database file, in its own time.
    fn wrote(&self) {
        // Full: a checkpoint is due anyway, which will include this write.
        let _ = self.checkpoint.try_send(Checkpoint::Now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A task that panicked while holding the store left no half-written transaction
        // behind (rusqlite rolls back on drop), so the store is still usable.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ingester(&self) -> Ingester<'_> {
        Ingester {
            config: &self.config,
            clock: self.clock.as_ref(),
        }
    }

    pub fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        Ok(query(self.lock().connection())?)
    }

    /// Like [`Shared::read`], on the read-only connection and without the writer's lock:
    /// for long reads such as composing the weekly report and the other outgoing mail. The
    /// query runs in one read transaction, so it sees one state of the store throughout.
    /// An in-memory store (tests) has no second connection: [`Shared::read`] is used.
    pub fn read_apart<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let Some(path) = &self.reader.path else {
            return self.read(query);
        };
        let mut slot = self.reader.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(open_reader(path)?),
        };
        let snapshot = conn.transaction()?;
        Ok(query(&snapshot)?)
    }

    pub fn write<T>(
        &self,
        change: impl FnOnce(&mut Store) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let changed = change(&mut self.lock());
        self.wrote();
        Ok(changed?)
    }
}

/// Runs the pipeline over a batch in one transaction with `finish` (blocking: call from
/// `spawn_blocking`).
pub fn store_batch(
    shared: &Shared,
    batch: &[Incoming],
    finish: impl FnOnce(&Connection, &[Filed]) -> rusqlite::Result<()>,
) -> Result<Summary, StoreError> {
    let prepared = prepare_batch(shared, batch);
    store_prepared(shared, batch, &prepared, finish)
}

/// The store-free part of the pipeline, on every core and without holding the store
/// (blocking: call from `spawn_blocking`).
pub fn prepare_batch(shared: &Shared, batch: &[Incoming]) -> Vec<Prepared> {
    shared.ingester().prepare_batch(batch)
}

/// Files a batch prepared by [`prepare_batch`] in one transaction with `finish` (blocking:
/// call from `spawn_blocking`).
pub fn store_prepared(
    shared: &Shared,
    batch: &[Incoming],
    prepared: &[Prepared],
    finish: impl FnOnce(&Connection, &[Filed]) -> rusqlite::Result<()>,
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let mut store = shared.lock();
    let filed =
        shared
            .ingester()
            .file_batch_then(&mut store, batch, prepared, &mut summary, finish)?;
    drop(store);
    shared.wrote();
    if summary.ingested + summary.quarantined > 0 {
        shared.outbox_wake.notify_one();
        shared.deadline_wake.notify_one();
    }
    for (incoming, filed) in batch.iter().zip(&filed) {
        if let Filed::Stored {
            ticket,
            new_ticket: true,
            kind,
            unparsed,
        } = filed
        {
            let reference = crate::store::reference(*ticket);
            if *unparsed {
                let reason = shared
                    .read(|conn| parse_error_of(conn, *ticket))
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                tracing::warn!(
                    source = %incoming.origin.location,
                    "#{reference}: stored unparsed ({reason}); not acknowledged, see `postdesk ticket {reference}`"
                );
            } else {
                tracing::info!(source = %incoming.origin.location, "#{reference}: new ticket ({})", kind.as_str());
            }
        }
    }
    Ok(summary)
}

/// Why the (only) message of a quarantined ticket was not parsed.
fn parse_error_of(conn: &Connection, ticket: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT parse_error FROM messages WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1",
        [ticket],
        |r| r.get(0),
    )
}

/// Capped exponential backoff with jitter: 1 s, 2 s, 4 s ... up to 60 s, each ±25%.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    const BASE: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(60);

    pub fn next_delay(&mut self) -> Duration {
        let exponential = Self::BASE.saturating_mul(1 << self.failures.min(10));
        self.failures = self.failures.saturating_add(1);
        let capped = exponential.min(Self::CAP);
        capped.mul_f64(rand::random_range(0.75..1.25))
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Where the config came from, so SIGHUP can read it again.
pub struct ConfigSource {
    pub path: Option<PathBuf>,
    pub database_override: Option<PathBuf>,
}

impl ConfigSource {
    fn reload(&self) -> Result<(Config, Templates)> {
        let mut config = match &self.path {
            Some(path) => Config::load(path)?,
            None => Config::builtin(),
        };
        if let Some(db) = &self.database_override {
            config.database = db.clone();
        }
        let templates = Templates::load(config.templates.as_deref())?;
        Ok((config, templates))
    }
}

pub async fn run(config: Config, source: ConfigSource) -> Result<()> {
    let mut templates = Arc::new(Templates::load(config.templates.as_deref())?);
    let store = Store::open(&config.database, config.token_key_file.as_deref())
        .context("cannot use the database (set `database` in the config or pass --db PATH)")?;
    let (checkpoint, checkpointer) = spawn_checkpointer(&config.database)?;
    store.leave_checkpoints_to_checkpointer()?;
    let mut shared = Shared::new(config, store, Arc::new(SystemClock), checkpoint);
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    notify(&[NotifyState::Ready]);
    let watchdog = spawn_watchdog();
    loop {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = spawn_mailboxes(&shared, &templates, &stopped);
        let status = format!(
            "watching {} mailbox(es), database {}",
            shared.config.mailboxes.len(),
            shared.config.database.display()
        );
        tracing::info!("{status}");
        notify(&[NotifyState::Status(&status)]);
        let reload = loop {
            tokio::select! {
                _ = terminate.recv() => break None,
                _ = interrupt.recv() => break None,
                _ = hangup.recv() => match source.reload() {
                    Ok(reloaded) => break Some(reloaded),
                    Err(error) => {
                        tracing::error!("config not reloaded, the running one stays in force: {error:#}");
                        notify(&[NotifyState::Status("config reload refused; see the log")]);
                    }
                },
                Some(finished) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(error) = finished {
                        tracing::error!("a mailbox task ended unexpectedly: {error}");
                    }
                }
            }
        };
        if reload.is_some() {
            notify(&[NotifyState::Reloading]);
        } else {
            notify(&[NotifyState::Stopping]);
            tracing::info!("stopping");
        }
        stop.send(true).ok();
        if tokio::time::timeout(STOP_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!(
                "mailbox tasks did not stop within {}s; aborting them",
                STOP_GRACE.as_secs()
            );
            tasks.abort_all();
        }
        match reload {
            None => break,
            Some((config, new_templates)) => {
                templates = Arc::new(new_templates);
                if config.database != shared.config.database {
                    tracing::warn!("a new database path takes effect only after a restart");
                }
                shared = Shared {
                    config: Arc::new(config),
                    ..shared
                };
                tracing::info!("config reloaded");
                notify(&[NotifyState::Ready]);
            }
        }
    }
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    // The checkpointer's connection closes first, so that the writer's, the last one, folds
    // the log into the database file as it closes.
    if shared.checkpoint.send(Checkpoint::Stop).is_ok() {
        checkpointer.join().ok();
    }
    Ok(())
}

fn spawn_mailboxes(
    shared: &Shared,
    templates: &Arc<Templates>,
    stopped: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    tasks.spawn(scheduler::run_deadlines(shared.clone(), stopped.clone()));
    match shared.config.smtp.as_ref().map(Mailer::new) {
        Some(Ok(mailer)) => {
            tasks.spawn(outbox::run_outbox(
                shared.clone(),
                mailer,
                templates.clone(),
                stopped.clone(),
            ));
        }
        Some(Err(error)) => tracing::error!("outgoing mail disabled: {error}"),
        None => tracing::info!(
            "no [smtp] section: acknowledgements and notices wait in the outbox (`postdesk outbox`)"
        ),
    }
    for mailbox in &shared.config.mailboxes {
        let shutdown = stopped.clone();
        match &mailbox.source {
            MailboxSource::Imap(account) => {
                tasks.spawn(imap::sync::watch_mailbox(
                    shared.clone(),
                    mailbox.clone(),
                    account.clone(),
                    shutdown,
                ));
            }
            MailboxSource::Maildir(dir) => {
                tasks.spawn(maildir::watch_maildir(
                    shared.clone(),
                    mailbox.clone(),
                    dir.clone(),
                    shutdown,
                ));
            }
        }
    }
    tasks
}

/// What the checkpointer thread is asked to do.
pub enum Checkpoint {
    Now,
    Stop,
}

/// Copies the write-ahead log into the database file on its own thread and connection after
/// each wake-up, so that the store writer never waits for it (nor for its fsync). The thread
/// ends on [`Checkpoint::Stop`] or when the last [`Shared`] is gone.
fn spawn_checkpointer(
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

fn notify(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::debug!("cannot notify systemd: {error}");
    }
}

fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled()? / 2;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            notify(&[NotifyState::Watchdog]);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_over(store: Store) -> Shared {
        let (checkpoint, _) = std::sync::mpsc::sync_channel(1);
        Shared::new(Config::builtin(), store, Arc::new(SystemClock), checkpoint)
    }

    #[test]
    fn long_reads_run_while_the_writer_holds_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let shared = shared_over(Store::open(&path, None).unwrap());
        shared
            .write(|store| {
                store
                    .connection()
                    .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
            })
            .unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let reader = shared.clone();
        let read_while_locked = shared
            .write(|store| {
                // The writer holds the lock and an open write transaction.
                let tx = store.transaction()?;
                tx.execute("INSERT INTO t VALUES (3)", [])?;
                let handle = std::thread::spawn(move || {
                    let count = reader.read_apart(|conn| {
                        conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                    });
                    done.send(count.unwrap()).unwrap();
                });
                let seen = finished.recv_timeout(Duration::from_secs(10));
                tx.commit()?;
                handle.join().unwrap();
                Ok(seen)
            })
            .unwrap();
        // Answered before the writer let go, from the last committed state.
        assert_eq!(read_while_locked, Ok(2));
        let after = shared.read_apart(|conn| {
            conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        });
        assert_eq!(after.unwrap(), 3);
        // The connection is read-only.
        assert!(
            shared
                .read_apart(|conn| conn.execute("INSERT INTO t VALUES (4)", []))
                .is_err()
        );
    }

    #[test]
    fn an_in_memory_store_reads_through_the_writer() {
        let shared = shared_over(Store::open_in_memory().unwrap());
        let tickets = shared.read_apart(|conn| {
            conn.query_row("SELECT count(*) FROM tickets", [], |r| r.get::<_, i64>(0))
        });
        assert_eq!(tickets.unwrap(), 0);
    }

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(
            delays[0] >= Duration::from_millis(750) && delays[0] <= Duration::from_millis(1250)
        );
        assert!(delays[3] >= Duration::from_secs(6) && delays[3] <= Duration::from_secs(10));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(75)));
        assert!(delays[9] >= Duration::from_secs(45));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(1250));
    }
}
