//! `postdesk db prune` and `postdesk customer ADDRESS --erase`: each one transaction, then
//! the freed pages go back to the file system and the file's size is shown before and after.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::ValueHint;
use serde::Serialize;

use super::{UsageError, open_store, print_json};
use crate::config::Config;
use crate::sources::files as source;
use crate::store::retention::{self, Pages, Pass, Queues, Removed};
use crate::store::{Store, views};

#[derive(clap::Args, Debug)]
pub(super) struct PruneArgs {
    /// Remove closed and ignored tickets last touched before this date (local midnight in
    /// the [calendar] time zone, e.g. 2023-01-01) [default: each queue's `retention`]
    #[arg(long, value_name = "DATE", value_hint = ValueHint::Other)]
    before: Option<String>,
    /// First write their messages, exactly as they arrived, to this new mbox file; the
    /// tickets are removed only once it is safely on disk
    #[arg(long, value_name = "FILE.mbox", value_hint = ValueHint::FilePath)]
    export: Option<PathBuf>,
    /// Only count what would be removed
    #[arg(long)]
    dry_run: bool,
}

/// The database file's size, and its pages, at one moment.
struct Size {
    file: u64,
    pages: Pages,
}

fn size(store: &Store, path: &Path) -> Result<Size> {
    Ok(Size {
        file: std::fs::metadata(path).map_or(0, |m| m.len()),
        pages: retention::pages(store.connection())?,
    })
}

/// Gives the freed pages back and says how the file changed.
fn shrink_and_report(store: &Store, path: &Path, before: &Size) -> Result<()> {
    retention::give_back_free_pages(store.connection(), true)
        .context("the change is committed, but giving the free space back failed")?;
    let after = size(store, path)?;
    eprintln!(
        "database {}: {} before, {} after ({} pages of {} bytes given back)",
        path.display(),
        megabytes(before.file),
        megabytes(after.file),
        (before.pages.count - after.pages.count).max(0),
        after.pages.size,
    );
    if !retention::shrinks_incrementally(store.connection())? {
        eprintln!(
            "note: this database was created before postdesk gave free pages back by itself: \
             new mail reuses them, but the file does not shrink; run `postdesk db vacuum` once \
             (best with the daemon stopped) to shrink it and to have later prunes shrink it too"
        );
    }
    Ok(())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `--before DATE`: local midnight, not after today.
fn cutoff_of(date: &str, config: &Config) -> Result<i64, UsageError> {
    let tz = &config.calendar.timezone;
    let day: jiff::civil::Date = date
        .parse()
        .map_err(|_| UsageError::Invalid(format!("--before {date}: use a date like 2023-01-01")))?;
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    if day > today {
        return Err(UsageError::Invalid(format!(
            "--before {date} is in the future: use a date up to today ({today})"
        )));
    }
    day.to_zoned(tz.clone())
        .map(|z| z.timestamp().as_second())
        .map_err(|e| UsageError::Invalid(format!("--before {date}: {e}")))
}

fn passes(config: &Config, before: Option<&str>) -> Result<Vec<Pass>, UsageError> {
    if let Some(date) = before {
        return Ok(vec![Pass {
            queues: Queues::All,
            cutoff: cutoff_of(date, config)?,
        }]);
    }
    let passes = retention::configured_passes(config, jiff::Timestamp::now());
    if passes.is_empty() {
        return Err(UsageError::Invalid(
            "no queue has a `retention` (every ticket is kept forever): pass --before DATE, \
             or set `retention = \"3y\"` in [defaults] or a [[queue]]"
                .into(),
        ));
    }
    Ok(passes)
}

/// `postdesk db prune [--before DATE] [--export FILE.mbox] [--dry-run]`.
pub(super) fn prune(config: &Config, args: PruneArgs) -> Result<ExitCode> {
    let passes = passes(config, args.before.as_deref())?;
    if let Some(file) = &args.export
        && file.exists()
    {
        return Err(UsageError::Invalid(format!(
            "--export {}: the file exists; name a new file",
            file.display()
        ))
        .into());
    }
    let mut store = open_store(config)?;
    let before = size(&store, &config.database)?;
    let tx = store.transaction().context("cannot start the prune")?;
    retention::clear_marks(&tx)?;
    let (mut tickets, mut messages) = (0, 0);
    for pass in &passes {
        let marked = retention::mark_closed_before(&tx, pass, None)?;
        tickets += marked.tickets;
        messages += marked.messages;
    }
    if args.dry_run {
        say!("would remove {tickets} closed ticket(s) with {messages} message(s)")?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("removing {tickets} closed ticket(s) with {messages} message(s)...");
    if let Some(file) = &args.export {
        export(&tx, file).inspect_err(|_| {
            let _ = std::fs::remove_file(file);
        })?;
        eprintln!("wrote {messages} message(s) to {}", file.display());
    }
    let removed = retention::delete_marked(&tx)?;
    tx.commit()
        .context("cannot commit the prune; nothing was removed")?;
    print_removed(&removed)?;
    shrink_and_report(&store, &config.database, &before)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the marked messages to a new mbox and makes it durable (file and folder).
fn export(conn: &rusqlite::Connection, file: &Path) -> Result<()> {
    let context = || {
        format!(
            "cannot write the export {}; nothing was removed",
            file.display()
        )
    };
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(context)?;
    let mut writer = std::io::BufWriter::new(out);
    for row in retention::marked_message_rows(conn)? {
        let message = views::original(conn, row)?;
        let at = jiff::Timestamp::from_second(message.received_at).unwrap_or_default();
        source::write_mbox_message(&mut writer, message.sender.as_deref(), at, &message.raw)
            .with_context(context)?;
    }
    let out = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(context)?;
    out.sync_all().with_context(context)?;
    let folder = file.parent().filter(|d| !d.as_os_str().is_empty());
    std::fs::File::open(folder.unwrap_or(Path::new(".")))
        .and_then(|d| d.sync_all())
        .with_context(context)?;
    Ok(())
}

fn print_removed(removed: &Removed) -> std::io::Result<()> {
    let rows: Vec<String> = removed
        .0
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    if rows.is_empty() {
        say!("removed nothing")
    } else {
        say!("removed rows: {}", rows.join(", "))
    }
}

#[derive(Serialize)]
struct ErasedJson<'a> {
    address: &'a str,
    removed: &'a std::collections::BTreeMap<String, usize>,
    kept_tickets: Vec<String>,
}

/// `postdesk customer ADDRESS --erase`.
pub(super) fn erase(config: &Config, address: &str, json: bool) -> Result<ExitCode> {
    if !address.contains('@') {
        return Err(UsageError::Invalid(format!(
            "{address}: give the person's whole mail address to erase"
        ))
        .into());
    }
    let mut store = open_store(config)?;
    // Deleted content is overwritten, not only unlinked.
    store
        .connection()
        .pragma_update(None, "secure_delete", "ON")?;
    let before = size(&store, &config.database)?;
    let tx = store.transaction().context("cannot start the erasure")?;
    let now = jiff::Timestamp::now().as_second();
    let erased = retention::erase_person(&tx, address, now)?;
    tx.commit()
        .context("cannot commit the erasure; nothing was removed")?;
    let kept: Vec<String> = erased
        .kept_tickets
        .iter()
        .map(|&id| format!("#{}", crate::store::reference(id)))
        .collect();
    if json {
        print_json(&ErasedJson {
            address: &erased.address,
            removed: &erased.removed.0,
            kept_tickets: kept,
        })?;
    } else if erased.removed.0.is_empty() {
        say!("nothing stored for {}", erased.address)?;
    } else {
        let mut out = crate::terminal::stdout();
        writeln!(out, "erased {}:", erased.address)?;
        for (table, n) in &erased.removed.0 {
            writeln!(out, "  {table}: {n} row(s)")?;
        }
        if !kept.is_empty() {
            writeln!(
                out,
                "tickets of others that remain, with an `erased` event: {}",
                kept.join(", ")
            )?;
        }
        out.flush()?;
    }
    shrink_and_report(&store, &config.database, &before)?;
    Ok(ExitCode::SUCCESS)
}
