//! The daemon and the administrator's commands: `run`, `db`, `outbox`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{
    DbAction, OutboxAction, UsageError, config_source, open_store, print_json, short_time,
};
use crate::config::{self, Config};
use crate::report::text::clip;
use crate::store::outbox::OutboxView;
use crate::terminal::visible_line;

/// `postdesk run`: the daemon, which re-reads the same config file (and keeps `--db`) when
/// asked to reload. Without a mailbox it would watch nothing, so it refuses to start unless
/// told `--no-mailboxes` (then it only sends the outbox, watches deadlines and reports).
pub(super) fn run_daemon(
    config: Config,
    config_path: Option<PathBuf>,
    db: Option<PathBuf>,
    no_mailboxes: bool,
) -> Result<ExitCode> {
    if config.mailboxes.is_empty() && !no_mailboxes {
        return Err(UsageError::Invalid(format!(
            "{}: no [[mailbox]] is configured, so the daemon would watch nothing; add a [[mailbox]] section (see the README's Configuration), or start it with `postdesk run --no-mailboxes` to only send the outbox, watch deadlines and mail reports",
            config_source(config_path.as_deref())
        ))
        .into());
    }
    let source = crate::daemon::ConfigSource {
        path: config_path.or_else(|| {
            Path::new(config::DEFAULT_CONFIG)
                .exists()
                .then(|| PathBuf::from(config::DEFAULT_CONFIG))
        }),
        database_override: db,
    };
    // Held until the daemon ends: `db vacuum` and restores refuse to run meanwhile.
    let _lock = crate::store::lock::hold_for_daemon(&config.database)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::daemon::run(config, source))?;
    Ok(ExitCode::SUCCESS)
}

/// `postdesk db backup|restore|vacuum|prune`.
pub(super) fn db(config: &Config, action: DbAction) -> Result<ExitCode> {
    use crate::store::backup::{self, MaintenanceError};
    let usage = |error: MaintenanceError| -> anyhow::Error {
        match error {
            MaintenanceError::DestinationExists(_)
            | MaintenanceError::DatabaseExists(_)
            | MaintenanceError::SameFile(_) => UsageError::Invalid(error.to_string()).into(),
            other => other.into(),
        }
    };
    let database = &config.database;
    match action {
        DbAction::Backup { file, force } => {
            let summary = backup::backup(database, &file, force).map_err(usage)?;
            say!(
                "backed up {} to {}: {} ticket(s), {} message(s), {} bytes",
                database.display(),
                file.display(),
                summary.tickets,
                summary.messages,
                summary.bytes
            )?;
        }
        DbAction::Prune(prune) => return super::retention::prune(config, prune),
        DbAction::Restore { file, force } => {
            let _lock = crate::store::lock::hold_exclusively(database)?;
            let schema = crate::store::latest_schema_version()?;
            let summary = backup::restore(&file, database, force, schema).map_err(usage)?;
            // Opening the store migrates a backup made by an older postdesk.
            open_store(config)?;
            say!(
                "restored {} from {}: {} ticket(s), {} message(s){}",
                database.display(),
                file.display(),
                summary.tickets,
                summary.messages,
                summary
                    .replaced
                    .map(|p| format!("; the database it replaced is kept as {}", p.display()))
                    .unwrap_or_default()
            )?;
        }
        DbAction::Vacuum => {
            if !database.is_file() {
                return Err(usage(MaintenanceError::Missing(database.clone())));
            }
            let _lock = crate::store::lock::hold_exclusively(database)?;
            let (before, after) = backup::vacuum(database).map_err(usage)?;
            say!(
                "vacuumed {}: {before} bytes before, {after} bytes after",
                database.display()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `postdesk outbox [retry ID]`.
pub(super) fn outbox(
    config: &Config,
    action: Option<OutboxAction>,
    all: bool,
    json: bool,
) -> Result<ExitCode> {
    let store = open_store(config)?;
    let conn = store.connection();
    if let Some(OutboxAction::Retry { id }) = action {
        let now = jiff::Timestamp::now().as_second();
        if !crate::store::outbox::retry(conn, id, now)? {
            bail!("no failed outbox row {id} (see `postdesk outbox`)");
        }
        say!("outbox row {id} is pending again; a running daemon sends it within 30 s")?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows = crate::store::outbox::list(conn, all)?;
    if json {
        print_json(&rows)?;
    } else {
        print_outbox_table(&rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_outbox_table(rows: &[OutboxView]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<6} {:<16} {:<7} {:<9} {:<17} {:<30} ERROR",
        "ID", "KIND", "REF", "STATUS", "DUE", "TO"
    )?;
    for row in rows {
        writeln!(
            out,
            "{:<6} {:<16} {:<7} {:<9} {:<17} {:<30} {}",
            row.id,
            row.kind,
            row.reference
                .map(|r| format!("#{r}"))
                .unwrap_or_else(|| "-".into()),
            row.status,
            row.due_at
                .as_deref()
                .map(short_time)
                .unwrap_or_else(|| "-".into()),
            visible_line(&clip(
                row.recipient
                    .as_deref()
                    .or(row.mailbox.as_deref())
                    .unwrap_or("-"),
                30
            )),
            visible_line(row.last_error.as_deref().unwrap_or(""))
        )?;
    }
    writeln!(out, "{} row(s)", rows.len())?;
    Ok(())
}
