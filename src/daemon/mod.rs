//! `postdesk run`: one task per mailbox over one store writer; SIGTERM/SIGINT stop after the
//! batch in hand, SIGHUP reloads the config (a broken one is refused, the old one keeps
//! running), and systemd hears READY, STATUS and watchdog pings when it asks for them.

mod checkpoint;
pub mod deadlines;
pub mod outbox;
mod retention;
mod systemd;
pub mod weekly;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::SystemClock;
use crate::config::{Config, MailboxSource};
use crate::runtime::{Checkpoint, Shared};
use crate::smtp::Mailer;
use crate::sources::{imap, maildir};
use crate::store::Store;
use crate::text::templates::Templates;
use checkpoint::spawn_checkpointer;
use systemd::{notify, spawn_watchdog};

/// Mailbox tasks get this long to finish their batch after a stop request.
const STOP_GRACE: Duration = Duration::from_secs(8);

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
    let mut signals = Signals::listen()?;
    let (web_stop, web_stopped) = watch::channel(false);
    let web = shared.config.web.clone().map(|web| {
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(error) = crate::web::serve(shared, web, web_stopped).await {
                tracing::error!("web console: {error:#}");
            }
        })
    });
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
        let reload = wait_for_signal(&mut signals, &mut tasks, &source).await;
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
                crate::telemetry::apply_config_level(config.log_level);
                shared = shared.with_config(config);
                tracing::info!("config reloaded");
                notify(&[NotifyState::Ready]);
            }
        }
    }
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    web_stop.send(true).ok();
    if let Some(web) = web {
        // Open connections get the mailbox tasks' grace to finish.
        tokio::time::timeout(STOP_GRACE, web).await.ok();
    }
    // The checkpointer's connection closes first, so that the writer's, the last one, folds
    // the log into the database file as it closes.
    if shared.checkpoint.send(Checkpoint::Stop).is_ok() {
        checkpointer.join().ok();
    }
    Ok(())
}

/// The signals the daemon acts on.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn listen() -> Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            hangup: signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
        })
    }
}

/// Runs until SIGTERM or SIGINT (None) or a SIGHUP with a config that loads (Some); a
/// config that does not load is refused and the running one stays.
async fn wait_for_signal(
    signals: &mut Signals,
    tasks: &mut JoinSet<()>,
    source: &ConfigSource,
) -> Option<(Config, Templates)> {
    loop {
        tokio::select! {
            _ = signals.terminate.recv() => break None,
            _ = signals.interrupt.recv() => break None,
            _ = signals.hangup.recv() => match source.reload() {
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
    }
}

fn spawn_mailboxes(
    shared: &Shared,
    templates: &Arc<Templates>,
    stopped: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    tasks.spawn(deadlines::run_deadlines(shared.clone(), stopped.clone()));
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
                tasks.spawn(imap::watch_mailbox(
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
