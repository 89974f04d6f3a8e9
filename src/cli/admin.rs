//! The daemon and the administrator's commands: `run`, `check-config`, `db`, `outbox`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{DbAction, OutboxAction, UsageError, open_store, print_json, probe, short_time};
use crate::config::{self, Config};
use crate::report::text::clip;
use crate::store::outbox::OutboxView;
use crate::terminal::visible_line;

/// `postdesk run`: the daemon, which re-reads the same config file (and keeps `--db`) when
/// asked to reload.
pub(super) fn run_daemon(
    config: Config,
    config_path: Option<PathBuf>,
    db: Option<PathBuf>,
) -> Result<ExitCode> {
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

/// `postdesk check-config [--connect]`: the config (already loaded and valid), its
/// templates, and with `--connect` every endpoint.
pub(super) fn check_config(
    config: &Config,
    config_path: Option<&Path>,
    connect: bool,
) -> Result<ExitCode> {
    crate::text::templates::Templates::load(config.templates.as_deref())
        .map_err(|e| UsageError::Invalid(format!("templates: {e}")))?;
    let source = match config_path {
        Some(path) => path.display().to_string(),
        None if Path::new(config::DEFAULT_CONFIG).exists() => config::DEFAULT_CONFIG.into(),
        None => "built-in defaults".into(),
    };
    println!(
        "{source}: OK — {} mailbox(es), {} queue(s), {} rule(s), database {}",
        config.mailboxes.len(),
        config.queues.len(),
        config.rules.len(),
        config.database.display()
    );
    if !connect {
        return Ok(ExitCode::SUCCESS);
    }
    check_connect(config)
}

/// `--connect`: one line per endpoint; exit 1 if one failed.
fn check_connect(config: &Config) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let checks = runtime.block_on(probe::check_all(config));
    for check in &checks {
        // A server's greeting or error text is shown as it answered.
        println!("{}", visible_line(&check.to_string()));
    }
    let failed = checks.iter().filter(|c| !c.ok()).count();
    if checks.is_empty() {
        println!("nothing to connect to: no IMAP mailbox and no [smtp]");
    } else if failed > 0 {
        println!("{failed} of {} endpoint(s) failed", checks.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `postdesk db backup|vacuum`.
pub(super) fn db(config: &Config, action: DbAction) -> Result<ExitCode> {
    use crate::store::backup::{self, MaintenanceError};
    let usage = |error: MaintenanceError| -> anyhow::Error {
        match error {
            MaintenanceError::DestinationExists(_) | MaintenanceError::SameFile(_) => {
                UsageError::Invalid(error.to_string()).into()
            }
            other => other.into(),
        }
    };
    let database = &config.database;
    match action {
        DbAction::Backup { file, force } => {
            let summary = backup::backup(database, &file, force).map_err(usage)?;
            println!(
                "backed up {} to {}: {} ticket(s), {} message(s), {} bytes",
                database.display(),
                file.display(),
                summary.tickets,
                summary.messages,
                summary.bytes
            );
        }
        DbAction::Vacuum => {
            if !database.is_file() {
                return Err(usage(MaintenanceError::Missing(database.clone())));
            }
            let _lock = crate::store::lock::hold_exclusively(database)?;
            let (before, after) = backup::vacuum(database).map_err(usage)?;
            println!(
                "vacuumed {}: {before} bytes before, {after} bytes after",
                database.display()
            );
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
        println!("outbox row {id} is pending again; a running daemon sends it within 30 s");
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
