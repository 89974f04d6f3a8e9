//! The command line: argument parsing, config loading and human/JSON output. Exit codes:
//! 0 ok, 1 runtime error, 2 bad usage or config.
//!
//! This file holds the clap definitions and what every command shares; `dispatch` sends
//! each command to its own function, one file per concern.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum, ValueHint};
use serde::Serialize;

use crate::config::{self, Config, ConfigError};
use crate::store::Store;
use crate::terminal::{closed_pipe, visible_line};

/// `println!` that hands a write error back (a closed pipe, for `main` to end quietly)
/// instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = $crate::terminal::stdout();
        writeln!(out, $($arg)*).and_then(|()| out.flush())
    }};
}

mod admin;
mod config_cmd;
mod dispatch;
mod docs;
pub mod explain;
mod ingest;
mod listing;
pub mod probe;
mod reports;
mod retention;
mod tickets;
mod web;

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
    #[arg(
        long,
        global = true,
        env = "POSTDESK_CONFIG",
        value_name = "FILE",
        value_hint = ValueHint::FilePath
    )]
    config: Option<PathBuf>,
    /// SQLite database, overriding the config's `database`
    #[arg(
        long,
        global = true,
        env = "POSTDESK_DB",
        value_name = "PATH",
        value_hint = ValueHint::FilePath
    )]
    db: Option<PathBuf>,
    /// Log format on stderr (under systemd, text goes to the journal with its priority and fields)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Show times in UTC instead of the desk's time zone ([calendar] timezone)
    #[arg(long, global = true)]
    utc: bool,
    /// More detail in the log: -v postdesk's debug lines, -vv its trace lines (over
    /// POSTDESK_LOG and the config's log_level; dependencies stay at info)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Less in the log: -q warnings and errors only, -qq errors only
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    quiet: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One line per event, for people (and the journal)
    Text,
    /// One JSON object per event, for a log collector
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The daemon: watch every configured mailbox (IMAP IDLE or polling, or a local Maildir)
    Run {
        /// Start even though no [[mailbox]] is configured: only send the outbox, watch
        /// deadlines and mail reports
        #[arg(long)]
        no_mailboxes: bool,
    },
    /// File messages from .eml files, Maildir folders, mbox files or stdin (`-`)
    Ingest {
        /// Files or folders to read; `-` reads one message from stdin
        #[arg(required = true, value_name = "PATH", value_hint = ValueHint::AnyPath)]
        paths: Vec<PathBuf>,
        /// Treat the messages as arriving in this configured mailbox (its default queue)
        #[arg(long, value_name = "NAME", value_hint = ValueHint::Other)]
        mailbox: Option<String>,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// List tickets: the open ones most urgent first (breached, then nearest due, then
    /// oldest), 50 at a time; --all for every ticket, oldest first
    Tickets(listing::TicketsArgs),
    /// Show one ticket with its messages and events
    Ticket {
        /// Ticket reference, e.g. 1042 or #1042
        #[arg(value_name = "REF", value_hint = ValueHint::Other)]
        reference: String,
        /// Print the ticket, its messages and events as one JSON document
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
        #[arg(value_hint = ValueHint::FilePath)]
        file: PathBuf,
        /// As if it arrived in this configured mailbox [default: the first]
        #[arg(long, value_name = "NAME", value_hint = ValueHint::Other)]
        mailbox: Option<String>,
        /// Print what would happen as one JSON document
        #[arg(long)]
        json: bool,
    },
    /// Find tickets by words of their mail, a ticket reference or a sender address
    Search {
        /// Words (all must match), `#1042`, or an address
        #[arg(required = true, value_name = "QUERY", value_hint = ValueHint::Other)]
        query: Vec<String>,
        /// At most this many tickets (up to 50)
        #[arg(long, default_value_t = 20, value_name = "N", value_hint = ValueHint::Other)]
        limit: usize,
        /// Print the hits as one JSON array
        #[arg(long)]
        json: bool,
    },
    /// Everything a customer wrote and what happened since
    Customer {
        /// The customer's mail address (any case)
        #[arg(value_hint = ValueHint::EmailAddress)]
        address: String,
        /// Print the customer and their tickets as one JSON document
        #[arg(long)]
        json: bool,
        /// Remove the person's data (a data-protection request): their tickets, their
        /// messages and every message naming them on other tickets, their participant,
        /// threading and outbox rows; remaining tickets get an anonymous `erased` event
        #[arg(long)]
        erase: bool,
    },
    /// Side effects still to do (mail to send, IMAP keywords to set) and those that failed
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxAction>,
        /// Also list rows that are done or cancelled
        #[arg(long)]
        all: bool,
        /// Print the rows as one JSON array
        #[arg(long)]
        json: bool,
    },
    /// The configuration as postdesk uses it
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Validate the config and say what is wrong, one line per problem with its place, and
    /// that the password and credential files it names exist
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
        #[arg(long, default_value = "7d", value_name = "WHEN", value_hint = ValueHint::Other)]
        since: String,
        /// Only this queue
        #[arg(long, value_name = "QUEUE", value_hint = ValueHint::Other)]
        queue: Option<String>,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
        /// Also write the report as one self-contained HTML page with charts
        #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
        html: Option<PathBuf>,
    },
    /// Database maintenance: online backup, restore, vacuum, pruning old tickets
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// The web console's users and API tokens ([web] in the config serves it)
    Web {
        #[command(subcommand)]
        action: WebAction,
    },
    #[command(flatten)]
    Doc(DocCommand),
}

#[derive(Subcommand, Debug)]
enum WebAction {
    /// Console users: add, list, remove
    User {
        #[command(subcommand)]
        action: WebUserAction,
    },
    /// API tokens for `Authorization: Bearer TOKEN`
    Token {
        #[command(subcommand)]
        action: WebTokenAction,
    },
}

/// A console user's role: agents search, read, note and close; leads and admins too.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum WebRole {
    /// Search, read, note and close tickets
    Agent,
    /// An agent who leads the desk
    Lead,
    /// A lead who runs the console
    Admin,
}

#[derive(Subcommand, Debug)]
enum WebUserAction {
    /// Add a user; the password is read from a file (or `-`, stdin), never from the command line
    Add {
        /// Letters, digits, '.', '_', '-' or '@'
        #[arg(value_hint = ValueHint::Other)]
        name: String,
        /// What the user may do
        #[arg(long, value_enum)]
        role: WebRole,
        /// File whose first line is the password (at least 10 characters); `-` reads stdin
        #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
        password_file: PathBuf,
    },
    /// List the users, their roles and open sessions
    List {
        /// Print the users as one JSON array
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and end their sessions
    Remove {
        /// The user's name, as `web user list` shows it
        #[arg(value_hint = ValueHint::Other)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum WebTokenAction {
    /// Make an API token; it is printed once and stored only as a hash
    Add {
        /// What the token is for, e.g. "phone-system"
        #[arg(value_hint = ValueHint::Other)]
        name: String,
        /// What the token's holder may do
        #[arg(long, value_enum)]
        role: WebRole,
    },
}

#[derive(Subcommand, Debug)]
enum DbAction {
    /// Copy the database to FILE, also while the daemon runs (SQLite online backup)
    Backup {
        /// Where to write the copy (a single SQLite file, readable by its owner only)
        #[arg(value_hint = ValueHint::FilePath)]
        file: PathBuf,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Rebuild the database file to reclaim free space (best while the daemon is stopped)
    Vacuum,
    /// Put a backup (from `postdesk db backup`) in place of the database; refuses while the
    /// daemon runs. The database it replaces is kept beside it as DATABASE.replaced-TIME
    Restore {
        /// The backup to restore (checked before anything is replaced)
        #[arg(value_hint = ValueHint::FilePath)]
        file: PathBuf,
        /// Replace the database if there is one
        #[arg(long)]
        force: bool,
    },
    /// Remove closed and ignored tickets last touched before a date (or past their queue's
    /// `retention`) with their messages, events, outbox rows and index entries, in one
    /// transaction; optionally exporting their mail to an mbox first
    Prune(retention::PruneArgs),
}

/// Commands that only print documentation; they read no config.
#[derive(Subcommand, Debug)]
enum DocCommand {
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a folder
    Man {
        /// Write postdesk.1, postdesk-COMMAND.1 for every command, and postdesk.toml.5 (the
        /// config file) into this folder
        #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigAction {
    /// Print the effective config as TOML: defaults filled in, each queue's policy and
    /// calendar as it applies; passwords are never shown, only where they are kept
    Show {
        /// Print JSON instead of TOML
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum OutboxAction {
    /// Put a failed row back in line, due now
    Retry {
        /// The row's number, as `postdesk outbox` lists it
        #[arg(value_hint = ValueHint::Other)]
        id: i64,
    },
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
    init_logging(&cli);
    // The daemon writes to no pipe of its own: a broken pipe there is a socket's failure.
    let reads_out = !matches!(cli.command, Command::Run { .. });
    match dispatch::run(cli) {
        Ok(code) => code,
        // `postdesk tickets | head -1`: the reader has what it wanted.
        Err(error) if reads_out && closed_pipe(error.as_ref()) => ExitCode::SUCCESS,
        Err(error) => {
            // A config's problems come one per line after the first.
            let text = error_text(&error);
            let mut lines = text.lines();
            eprintln!(
                "postdesk: {}",
                visible_line(lines.next().unwrap_or_default())
            );
            for line in lines {
                eprintln!("{}", visible_line(line));
            }
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Logging by `-v`/`-q`, else `POSTDESK_LOG`, else (once the config is read) its
/// `log_level`; see [`crate::telemetry`].
fn init_logging(cli: &Cli) {
    crate::telemetry::init(crate::telemetry::Settings {
        flags: crate::telemetry::LogLevel::from_flags(cli.verbose, cli.quiet),
        spec: std::env::var("POSTDESK_LOG").ok(),
        format: match cli.log_format {
            LogFormat::Text => crate::telemetry::LogFormat::Text,
            LogFormat::Json => crate::telemetry::LogFormat::Json,
        },
    });
}

/// The config file in use: `--config`, else the default one if it exists.
fn config_path(given: Option<&Path>) -> Option<&Path> {
    given.or_else(|| {
        let default = Path::new(config::DEFAULT_CONFIG);
        default.exists().then_some(default)
    })
}

/// The config file in use, or that there is none, for messages.
fn config_source(given: Option<&Path>) -> String {
    config_path(given).map_or_else(
        || "built-in defaults (no config file)".into(),
        |path| path.display().to_string(),
    )
}

fn load_config(cli: &Cli) -> Result<Config, UsageError> {
    let mut config = match config_path(cli.config.as_deref()) {
        Some(path) => Config::load(path)?,
        None => Config::builtin(),
    };
    if let Some(db) = &cli.db {
        config.database = db.clone();
    }
    crate::telemetry::apply_config_level(config.log_level);
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
    // Rendered first: serde_json's error would hide a closed pipe's io::Error.
    let text = serde_json::to_string_pretty(value)?;
    let mut out = crate::terminal::stdout();
    writeln!(out, "{text}")?;
    out.flush()?;
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
