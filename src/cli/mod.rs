//! The command line: argument parsing, config loading and human/JSON output. Exit codes:
//! 0 ok, 1 runtime error, 2 bad usage or config.
//!
//! This file holds the clap definitions and what every command shares; `dispatch` sends
//! each command to its own function, one file per concern.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::config::{self, Config, ConfigError};
use crate::store::Store;
use crate::terminal::visible_line;

mod admin;
mod dispatch;
mod docs;
pub mod explain;
mod ingest;
pub mod probe;
mod reports;
mod tickets;

#[cfg(test)]
mod tests;

#[derive(Parser, Debug)]
#[command(
    name = "postdesk",
    version = docs::VERSION,
    about = "Turns support mailboxes into a well-run email channel"
)]
pub struct Cli {
    /// Config file [default: /etc/postdesk/postdesk.toml if it exists, else built-in defaults]
    #[arg(long, global = true, env = "POSTDESK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// SQLite database, overriding the config's `database`
    #[arg(long, global = true, env = "POSTDESK_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The daemon: watch every configured mailbox (IMAP IDLE or polling, or a local Maildir)
    Run,
    /// File messages from .eml files, Maildir folders, mbox files or stdin (`-`)
    Ingest {
        /// Files or folders to read; `-` reads one message from stdin
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Treat the messages as arriving in this configured mailbox (its default queue)
        #[arg(long)]
        mailbox: Option<String>,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// List tickets
    Tickets {
        #[arg(long)]
        queue: Option<String>,
        /// new, acknowledged, answered, pending, closed or ignored
        #[arg(long)]
        status: Option<String>,
        /// Only tickets that missed their response target
        #[arg(long)]
        breached: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket with its messages and events
    Ticket {
        /// Ticket reference, e.g. 1042 or #1042
        reference: String,
        #[arg(long)]
        json: bool,
        /// Write the ticket's messages as they arrived, oldest first, as an mbox (mboxrd) to
        /// stdout: for a mail client, an archive or a colleague
        #[arg(long, conflicts_with = "json")]
        mbox: bool,
    },
    /// What would happen to a message (kind, queue, thread, acknowledgement, deadline),
    /// without storing or sending anything
    Explain {
        /// An .eml file, or `-` for stdin
        file: PathBuf,
        /// As if it arrived in this configured mailbox [default: the first]
        #[arg(long)]
        mailbox: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Find tickets by words of their mail, a ticket reference or a sender address
    Search {
        /// Words (all must match), `#1042`, or an address
        #[arg(required = true, value_name = "QUERY")]
        query: Vec<String>,
        /// At most this many tickets (up to 50)
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Everything a customer wrote and what happened since
    Customer {
        address: String,
        #[arg(long)]
        json: bool,
    },
    /// Side effects still to do (mail to send, IMAP keywords to set) and those that failed
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxAction>,
        /// Also list rows that are done or cancelled
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Validate the config and say what is wrong, key by key
    CheckConfig {
        /// Also log in to every IMAP mailbox and the SMTP server (exit 1 if one fails)
        #[arg(long)]
        connect: bool,
    },
    /// Is the one-day promise kept? Answered within target, first-response times, breaches,
    /// backlog by age, acknowledgements and hot topics
    Report {
        /// How far back: a duration ("7d", "24h", "4w") or a date ("2026-11-01", local
        /// midnight in the [calendar] time zone)
        #[arg(long, default_value = "7d")]
        since: String,
        /// Only this queue
        #[arg(long)]
        queue: Option<String>,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
        /// Also write the report as one self-contained HTML page with charts
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Database maintenance: online backup, vacuum
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    #[command(flatten)]
    Doc(DocCommand),
}

#[derive(Subcommand, Debug)]
enum DbAction {
    /// Copy the database to FILE, also while the daemon runs (SQLite online backup)
    Backup {
        /// Where to write the copy (a single SQLite file, readable by its owner only)
        file: PathBuf,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Rebuild the database file to reclaim free space (best while the daemon is stopped)
    Vacuum,
}

/// Commands that only print documentation; they read no config.
#[derive(Subcommand, Debug)]
enum DocCommand {
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), or write one page per command into a folder
    Man {
        /// Write postdesk.1, postdesk-COMMAND.1 for every command, and postdesk.toml.5 (the
        /// config file) into this folder
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum OutboxAction {
    /// Put a failed row back in line, due now
    Retry { id: i64 },
}

/// Errors that mean "fix your command line or config" (exit 2) rather than a runtime failure.
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
}

/// The error and its causes, each said once: a cause whose words the message above it
/// already carries (`"cannot open database x: {source}"`) is not repeated.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match dispatch::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("postdesk: {}", visible_line(&error_text(&error)));
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let spec = std::env::var("POSTDESK_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(crate::telemetry::env_filter(spec.as_deref()))
        .with_writer(std::io::stderr);
    // Under systemd the journal stamps each line itself.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    // Whatever POSTDESK_LOG asks, dependencies that log secrets stay at their cap.
    let caps = crate::telemetry::caps();
    match (format, journal) {
        (LogFormat::Json, _) => builder.json().finish().with(caps).init(),
        (LogFormat::Text, true) => builder
            .with_ansi(false)
            .without_time()
            .finish()
            .with(caps)
            .init(),
        (LogFormat::Text, false) => builder.finish().with(caps).init(),
    }
}

fn load_config(cli: &Cli) -> Result<Config, UsageError> {
    let mut config = match &cli.config {
        Some(path) => Config::load(path)?,
        None if Path::new(config::DEFAULT_CONFIG).exists() => {
            Config::load(Path::new(config::DEFAULT_CONFIG))?
        }
        None => Config::builtin(),
    };
    if let Some(db) = &cli.db {
        config.database = db.clone();
    }
    Ok(config)
}

fn open_store(config: &Config) -> Result<Store> {
    Store::open(&config.database, config.token_key_file.as_deref())
        .context("cannot use the database (set `database` in the config or pass --db PATH)")
}

/// [`open_store`] for the commands that only read: read-only, so that members of the
/// service's group can run them (README, "Running under systemd").
fn open_reader(config: &Config) -> Result<crate::store::read_only::ReadOnlyStore> {
    Store::open_read_only(&config.database, config.token_key_file.as_deref())
        .context("cannot read the database (set `database` in the config or pass --db PATH; members of the group `postdesk` may read /var/lib/postdesk)")
}

/// Every `--json`: one pretty-printed document on stdout.
fn print_json(value: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `--mailbox NAME` must name a configured mailbox.
fn check_mailbox(config: &Config, mailbox: Option<&str>) -> Result<(), UsageError> {
    match mailbox {
        Some(name) if config.mailbox(name).is_none() => Err(UsageError::Invalid(format!(
            "--mailbox {name}: no such mailbox in the config"
        ))),
        _ => Ok(()),
    }
}

/// An RFC 3339 time cut to the minute, `T` as a space: for a table column.
fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}
