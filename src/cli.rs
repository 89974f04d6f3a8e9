//! The command line: argument parsing, config loading and human/JSON output. Exit codes:
//! 0 ok, 1 runtime error, 2 bad usage or config.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::clock::SystemClock;
use crate::config::{self, Config, ConfigError};
use crate::ingest::{Filed, Incoming, Ingester, Origin, Status, Summary};
use crate::report::text::clip;
use crate::source;
use crate::store::Store;
use crate::store::search::search as postdesk_search;
use crate::store::views::{self, TicketFilter, TicketView};
use crate::terminal::{visible, visible_line};

/// Messages filed per transaction by `ingest`.
const BATCH: usize = 256;

#[derive(Parser, Debug)]
#[command(
    name = "postdesk",
    version,
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
        /// Write postdesk.1 and postdesk-COMMAND.1 for every command into this folder
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

fn print_explanation(what: &crate::explain::Explanation) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "outcome: {}", visible_line(&what.outcome))?;
    if let Some(kind) = &what.kind {
        writeln!(
            out,
            "message: {kind}, threaded by {}, language {}",
            what.threaded_by.as_deref().unwrap_or("-"),
            what.language.as_deref().unwrap_or("-")
        )?;
    }
    if let Some(t) = &what.ticket {
        writeln!(
            out,
            "ticket:  #{} {} · queue {} · category {} · priority {} · due {}",
            t.reference,
            t.status,
            t.queue,
            t.category.as_deref().unwrap_or("-"),
            t.priority,
            t.due_at.as_deref().unwrap_or("-")
        )?;
    }
    for (kind, detail) in &what.events {
        writeln!(out, "event:   {kind}: {}", visible_line(detail))?;
    }
    for (kind, to, due) in &what.mails {
        writeln!(out, "mail:    {kind} to {} at {due}", visible_line(to))?;
    }
    writeln!(out, "(nothing was stored or sent)")?;
    Ok(())
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
    match run(cli) {
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

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Doc(doc) = &cli.command {
        print_doc(doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_config(&cli)?;
    match cli.command {
        Command::Doc(_) => Ok(ExitCode::SUCCESS), // printed above, without a config
        Command::Run => {
            let source = crate::daemon::ConfigSource {
                path: cli.config.clone().or_else(|| {
                    Path::new(config::DEFAULT_CONFIG)
                        .exists()
                        .then(|| PathBuf::from(config::DEFAULT_CONFIG))
                }),
                database_override: cli.db.clone(),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(crate::daemon::run(config, source))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { connect } => {
            crate::text::templates::Templates::load(config.templates.as_deref())
                .map_err(|e| UsageError::Invalid(format!("templates: {e}")))?;
            let source = match &cli.config {
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
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let checks = runtime.block_on(crate::probe::check_all(&config));
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
        Command::Db { action } => {
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
                    let (before, after) = backup::vacuum(database).map_err(usage)?;
                    println!(
                        "vacuumed {}: {before} bytes before, {after} bytes after",
                        database.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            paths,
            mailbox,
            json,
        } => {
            if let Some(name) = &mailbox
                && config.mailbox(name).is_none()
            {
                return Err(UsageError::Invalid(format!(
                    "--mailbox {name}: no such mailbox in the config"
                ))
                .into());
            }
            let mut store = open_store(&config)?;
            let summary = ingest_paths(&config, &mut store, &paths, mailbox)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!(
                    "ingested {}, duplicates {}, quarantined {}, failed {}",
                    summary.ingested, summary.duplicates, summary.quarantined, summary.failed
                );
            }
            Ok(if summary.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Tickets {
            queue,
            status,
            breached,
            json,
        } => {
            if let Some(status) = &status
                && Status::parse(status).is_none()
            {
                return Err(UsageError::Invalid(format!(
                    "--status {status}: use new, acknowledged, answered, pending, closed or ignored"
                ))
                .into());
            }
            if let Some(queue) = &queue
                && config.queue(queue).is_none()
            {
                let known: Vec<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
                return Err(UsageError::Invalid(format!(
                    "--queue {queue}: no such queue; the config has {}",
                    known.join(", ")
                ))
                .into());
            }
            let store = open_store(&config)?;
            let tickets = views::list_tickets(
                store.connection(),
                &TicketFilter {
                    queue,
                    status,
                    breached,
                    customer: None,
                },
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tickets)?);
            } else {
                print_ticket_table(&tickets)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ticket {
            reference,
            json,
            mbox,
        } => {
            let number: i64 = reference.trim_start_matches('#').parse().map_err(|_| {
                UsageError::Invalid(format!(
                    "\"{reference}\" is not a ticket reference like 1042"
                ))
            })?;
            let store = open_store(&config)?;
            if mbox {
                write_ticket_mbox(store.connection(), number)?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(detail) = views::ticket_detail(store.connection(), number)? else {
                bail!("no ticket #{number}");
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print_ticket(&detail)?;
                // For agents who prefer to write commands than to reply to a forward.
                if let Some(mailbox) = config.mailboxes.first() {
                    let token = crate::store::agent_token(
                        store.token_key(),
                        crate::store::ticket_of_reference(number),
                    );
                    let address = crate::config::plus_address(&mailbox.address, "a", &token);
                    println!(
                        "\nagent address (commands by mail, from a configured agent): {address}"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox { action, all, json } => {
            let store = open_store(&config)?;
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
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "{:<6} {:<16} {:<7} {:<9} {:<17} {:<30} ERROR",
                    "ID", "KIND", "REF", "STATUS", "DUE", "TO"
                )?;
                for row in &rows {
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
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            since,
            queue,
            json,
            html,
        } => {
            print_report(&config, &since, queue.as_deref(), json, html.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            file,
            mailbox,
            json,
        } => {
            let raw = if file.as_os_str() == "-" {
                let mut raw = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut raw)?;
                raw
            } else {
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?
            };
            if let Some(name) = &mailbox
                && config.mailbox(name).is_none()
            {
                return Err(UsageError::Invalid(format!(
                    "--mailbox {name}: no such mailbox in the config"
                ))
                .into());
            }
            let mut store = open_store(&config)?;
            let what = crate::explain::explain(
                &config,
                &mut store,
                raw,
                mailbox,
                file.display().to_string(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&what)?);
            } else {
                print_explanation(&what)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { query, limit, json } => {
            let store = open_store(&config)?;
            let hits = postdesk_search(store.connection(), &query.join(" "), limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&hits)?);
            } else {
                let mut out = std::io::stdout().lock();
                for hit in &hits {
                    writeln!(
                        out,
                        "#{}  {}  {}  {}  {}\n      {}",
                        hit.reference,
                        hit.status,
                        hit.received_at,
                        visible_line(&hit.customer),
                        visible_line(&hit.subject),
                        visible_line(&hit.snippet)
                    )?;
                }
                writeln!(out, "{} ticket(s)", hits.len())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Customer { address, json } => {
            let store = open_store(&config)?;
            let customer = views::customer(store.connection(), &address)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&customer)?);
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "{}{}: {} message(s), {} ticket(s), {} open",
                    visible_line(&customer.address),
                    customer
                        .name
                        .as_deref()
                        .map(|n| format!(" ({})", visible_line(n)))
                        .unwrap_or_default(),
                    customer.message_count,
                    customer.tickets.len(),
                    customer.open_tickets
                )?;
                if let (Some(first), Some(last)) =
                    (&customer.first_contact_at, &customer.last_contact_at)
                {
                    writeln!(out, "first contact {first}, last contact {last}")?;
                }
                drop(out);
                if !customer.tickets.is_empty() {
                    print_ticket_table(&customer.tickets)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `postdesk report`: computed from the store, printed as text or JSON, optionally written
/// as an HTML page.
fn print_report(
    config: &Config,
    since: &str,
    queue: Option<&str>,
    json: bool,
    html: Option<&Path>,
) -> Result<()> {
    if let Some(queue) = queue
        && config.queue(queue).is_none()
    {
        return Err(
            UsageError::Invalid(format!("--queue {queue}: no such queue in the config")).into(),
        );
    }
    let now = jiff::Timestamp::now();
    let tz = &config.calendar.timezone;
    let since = report_start(since, now, tz).map_err(UsageError::Invalid)?;
    let store = open_store(config)?;
    let params = crate::report::Params {
        since,
        until: now.as_second(),
        now: now.as_second(),
        queue,
    };
    let report = crate::report::compute(store.connection(), config, &params)
        .context("cannot compute the report")?;
    if let Some(path) = html {
        std::fs::write(path, crate::report::html::render(&report, tz))
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::report::text::render(&report, tz));
    }
    Ok(())
}

/// `--since`: a wall-clock duration back from `now`, or a local date.
fn report_start(since: &str, now: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> Result<i64, String> {
    if let Ok(date) = since.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| format!("--since {since}: {e}"));
    }
    match config::Span::parse(since) {
        Ok(span) if !span.business => {
            Ok(now.as_second() - i64::try_from(span.length.as_secs()).unwrap_or(i64::MAX / 2))
        }
        _ => Err(format!(
            "--since {since}: use a duration like 7d, 24h, 4w or a date like 2026-11-01"
        )),
    }
}

fn print_doc(doc: &DocCommand) -> Result<()> {
    // Rendered in memory first: the generators cannot report a failed write.
    let mut text = Vec::new();
    match doc {
        DocCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "postdesk", &mut text);
        }
        DocCommand::Man { dir: None } => write_man_page(&mut text)?,
        DocCommand::Man { dir: Some(dir) } => {
            let written = |e: std::io::Error| {
                anyhow::anyhow!("cannot write man pages into {}: {e}", dir.display())
            };
            clap_mangen::generate_to(Cli::command(), dir).map_err(written)?;
            // The main page again, with the sections clap does not know.
            write_man_page(&mut text)?;
            std::fs::write(dir.join("postdesk.1"), &text).map_err(written)?;
            println!("man pages written to {}", dir.display());
            return Ok(());
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// The man page: clap's sections from the definitions above, plus what an admin looks
/// for in one (exit status, environment, files).
fn write_man_page(out: &mut dyn Write) -> std::io::Result<()> {
    use roff::{Roff, bold, roman};
    let man = clap_mangen::Man::new(Cli::command().long_about(
        "postdesk watches support mailboxes (IMAP or Maildir), files every message into a \
         ticket in SQLite, acknowledges customers with a realistic expected answer time, and \
         flags every request that misses its response target. `postdesk run` is the daemon; \
         the other commands read and maintain its database.",
    ));
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    let mut roff = Roff::new();
    let entry = |roff: &mut Roff, term: &str, text: &str| {
        roff.control("TP", [])
            .text([bold(term)])
            .text([roman(text)]);
    };
    roff.control("SH", ["EXIT STATUS"]);
    entry(&mut roff, "0", "Success.");
    entry(
        &mut roff,
        "1",
        "A runtime error; an ingest run in which some message could not be stored; check-config --connect with an endpoint that failed.",
    );
    entry(&mut roff, "2", "Bad usage or an invalid config.");
    roff.control("SH", ["ENVIRONMENT"]);
    entry(&mut roff, "POSTDESK_CONFIG", "Config file, as --config.");
    entry(&mut roff, "POSTDESK_DB", "Database, as --db.");
    entry(
        &mut roff,
        "POSTDESK_LOG",
        "Log filter, e.g. debug or info,postdesk=debug.",
    );
    entry(
        &mut roff,
        "CREDENTIALS_DIRECTORY",
        "Set by systemd (LoadCredential=): where password_credential names are read.",
    );
    entry(
        &mut roff,
        "NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM",
        "Set by systemd: readiness, watchdog pings and journal-friendly log lines.",
    );
    roff.control("SH", ["FILES"]);
    entry(&mut roff, config::DEFAULT_CONFIG, "The config file.");
    entry(
        &mut roff,
        config::DEFAULT_DATABASE,
        "The SQLite database (the systemd unit's state directory).",
    );
    entry(
        &mut roff,
        "/etc/postdesk/credentials/",
        "Secrets the systemd unit loads as credentials; password_credential = \"FILE\" names one.",
    );
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "systemctl(1), journalctl(1), systemd.exec(5); the README of postdesk for the config reference.",
    )]);
    roff.to_writer(out)?;
    man.render_version_section(out)
}

/// Runs the pipeline over every path, in batches.
pub fn ingest_paths(
    config: &Config,
    store: &mut Store,
    paths: &[PathBuf],
    mailbox: Option<String>,
) -> Result<Summary> {
    let clock = SystemClock;
    let ingester = Ingester {
        config,
        clock: &clock,
    };
    let mut summary = Summary::default();
    let mut batch: Vec<Incoming> = Vec::with_capacity(BATCH);
    let mut failure: Option<anyhow::Error> = None;
    let mut flush = |batch: &mut Vec<Incoming>, summary: &mut Summary| -> Result<()> {
        let filed = ingester.ingest_batch(store, batch, summary)?;
        for (incoming, filed) in batch.iter().zip(&filed) {
            report(incoming, filed);
        }
        batch.clear();
        Ok(())
    };
    for path in paths {
        let result = source::read_path(path, &mut |item| {
            if failure.is_some() {
                return;
            }
            match item.raw {
                Ok(raw) => {
                    batch.push(Incoming {
                        raw,
                        origin: Origin {
                            mailbox: mailbox.clone(),
                            location: item.location,
                            imap: None,
                            sent: false,
                        },
                    });
                    if batch.len() >= BATCH
                        && let Err(e) = flush(&mut batch, &mut summary)
                    {
                        failure = Some(e);
                    }
                }
                Err(reason) => {
                    tracing::error!("{reason}");
                    summary.failed += 1;
                }
            }
        });
        if let Err(error) = result {
            tracing::error!("{error}");
            summary.failed += 1;
        }
        if let Some(error) = failure.take() {
            return Err(error);
        }
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut summary)?;
    }
    Ok(summary)
}

fn report(incoming: &Incoming, filed: &Filed) {
    let location = &incoming.origin.location;
    match filed {
        Filed::Stored {
            ticket,
            new_ticket,
            kind,
            unparsed,
        } => {
            let reference = crate::store::reference(*ticket);
            if *unparsed {
                tracing::warn!(source = %location, ticket = reference, "stored unparsed: see `postdesk ticket {reference}`");
            } else {
                tracing::debug!(source = %location, ticket = reference, new_ticket, kind = kind.as_str(), "filed");
            }
        }
        Filed::Duplicate(ticket) => {
            tracing::debug!(source = %location, ticket = crate::store::reference(*ticket), "already stored");
        }
        Filed::NotATicket(reason) => tracing::debug!(source = %location, "left alone: {reason}"),
        Filed::Failed(_) => {}
    }
}

fn print_ticket_table(tickets: &[TicketView]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<7} {:<12} {:<10} {:<7} {:<17} {:<28} SUBJECT",
        "REF", "STATUS", "QUEUE", "PRIO", "DUE", "CUSTOMER"
    )?;
    for t in tickets {
        let mut flags = String::new();
        if t.breached {
            flags.push_str("[BREACHED] ");
        }
        if t.unparsed {
            flags.push_str("[UNPARSED] ");
        }
        writeln!(
            out,
            "{:<7} {:<12} {:<10} {:<7} {:<17} {:<28} {}{}",
            format!("#{}", t.reference),
            visible_line(&t.status),
            visible_line(&clip(&t.queue, 10)),
            t.priority,
            t.due_at
                .as_deref()
                .map(short_time)
                .unwrap_or_else(|| "-".into()),
            visible_line(&clip(
                if t.customer.is_empty() {
                    "(unknown)"
                } else {
                    &t.customer
                },
                28
            )),
            flags,
            visible_line(&clip(&t.subject, 60))
        )?;
    }
    writeln!(out, "{} ticket(s)", tickets.len())?;
    Ok(())
}

/// `postdesk ticket REF --mbox`: each message as it arrived, read and written one at a time.
fn write_ticket_mbox(conn: &rusqlite::Connection, number: i64) -> Result<()> {
    let Some(rows) = views::message_rows(conn, number)? else {
        bail!("no ticket #{number}");
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for row in rows {
        let message = views::original(conn, row)?;
        let at = jiff::Timestamp::from_second(message.received_at).unwrap_or_default();
        source::write_mbox_message(&mut out, message.sender.as_deref(), at, &message.raw)
            .context("writing the mbox to stdout")?;
    }
    out.flush().context("writing the mbox to stdout")?;
    Ok(())
}

fn print_ticket(detail: &views::TicketDetail) -> Result<()> {
    let mut out = std::io::stdout().lock();
    write_ticket(&mut out, detail)?;
    Ok(())
}

/// `postdesk ticket REF`: every text that came in a mail (or from a rule, or a server's
/// answer) through [`visible_line`], a body's lines through [`visible`] (which keeps tabs).
fn write_ticket(out: &mut impl Write, detail: &views::TicketDetail) -> std::io::Result<()> {
    let t = &detail.ticket;
    let or_dash = |value: Option<&str>| visible_line(value.unwrap_or("-")).into_owned();
    writeln!(out, "#{} {}", t.reference, visible_line(&t.subject))?;
    writeln!(
        out,
        "status {}  queue {}  priority {}  category {}  language {}{}{}",
        visible_line(&t.status),
        visible_line(&t.queue),
        visible_line(&t.priority),
        or_dash(t.category.as_deref()),
        or_dash(t.language.as_deref()),
        if t.breached { "  BREACHED" } else { "" },
        if t.unparsed { "  UNPARSED" } else { "" },
    )?;
    writeln!(
        out,
        "customer {}  created {}  due {}  first response {}",
        if t.customer.is_empty() {
            "(unknown)".into()
        } else {
            visible_line(&t.customer)
        },
        or_dash(t.created_at.as_deref()),
        or_dash(t.due_at.as_deref()),
        or_dash(t.first_response_at.as_deref()),
    )?;
    writeln!(
        out,
        "participants {}",
        visible_line(&detail.participants.join(", "))
    )?;
    for m in &detail.messages {
        writeln!(out)?;
        writeln!(
            out,
            "--- {} from {} at {}{}",
            visible_line(&m.kind),
            visible_line(m.from.as_deref().unwrap_or("(unknown)")),
            or_dash(m.received_at.as_deref()),
            m.threaded_by
                .as_deref()
                .map(|v| format!(" (threaded by {})", visible_line(v)))
                .unwrap_or_default()
        )?;
        writeln!(out, "Subject: {}", visible_line(&m.subject))?;
        if let Some(error) = &m.parse_error {
            writeln!(
                out,
                "(not parsed: {}; {} bytes kept)",
                visible_line(error),
                m.size
            )?;
        }
        for a in &m.attachments {
            writeln!(
                out,
                "[attachment {} {} {} bytes]",
                visible_line(a.name.as_deref().unwrap_or("(unnamed)")),
                visible_line(&a.content_type),
                a.size
            )?;
        }
        for line in m.text.lines().take(20) {
            writeln!(out, "  {}", visible(line))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "events:")?;
    for e in &detail.events {
        writeln!(
            out,
            "  {} {:<14} {}",
            or_dash(e.at.as_deref()),
            visible_line(&e.kind),
            visible_line(&e.detail)
        )?;
    }
    Ok(())
}

fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use views::{AttachmentView, EventView, MessageView, TicketDetail};

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::other("permission denied");
        let store = crate::store::StoreError::CreateDir {
            path: "/x".into(),
            source: io,
        };
        let error = anyhow::Error::new(store).context("opening the store");
        assert_eq!(
            super::error_text(&error),
            "opening the store: cannot create the directory for database /x: permission denied"
        );
    }

    #[test]
    fn a_ticket_prints_no_terminal_control_from_its_mail() {
        let esc = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2A\u{1b}[2K\r\u{9b}31m\u{202e}";
        let hostile = |what: &str| format!("{what}{esc}");
        let ticket = TicketView {
            reference: 1042,
            status: "new".into(),
            queue: hostile("queue"),
            category: Some(hostile("category")),
            priority: "normal".into(),
            labels: Vec::new(),
            language: Some(hostile("language")),
            customer: hostile("customer"),
            customer_name: Some(hostile("name")),
            subject: hostile("subject"),
            created_at: None,
            last_message_at: None,
            ack_sent_at: None,
            first_response_at: None,
            due_at: None,
            breached: false,
            unparsed: false,
            message_count: 1,
            assignee: None,
        };
        let detail = TicketDetail {
            ticket,
            participants: vec![hostile("participant")],
            messages: vec![MessageView {
                message_id: None,
                kind: "request".into(),
                from: Some(hostile("from")),
                from_name: Some(hostile("from name")),
                to: Vec::new(),
                cc: Vec::new(),
                subject: hostile("message subject"),
                date: None,
                received_at: None,
                language: None,
                text: format!("first line{esc}\nsecond\tline\r\nthird\rline"),
                threaded_by: Some(hostile("via")),
                parse_error: Some(hostile("error")),
                source: "test".into(),
                size: 10,
                attachments: vec![AttachmentView {
                    name: Some(hostile("file.txt")),
                    content_type: hostile("text/plain"),
                    size: 3,
                }],
            }],
            events: vec![EventView {
                at: None,
                kind: hostile("event"),
                detail: hostile("detail"),
            }],
        };
        let mut out = Vec::new();
        write_ticket(&mut out, &detail).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            !out.chars()
                .any(|c| (c.is_control() && c != '\n' && c != '\t')
                    || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{out:?}"
        );
        for shown in [
            "#1042 subject\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}[2A\\u{1b}[2K\\u{d}\\u{9b}31m\\u{202e}\n",
            "[attachment file.txt\\u{1b}]52",
            "  third\\u{d}line\n",
        ] {
            assert!(out.contains(shown), "{shown:?} not in {out}");
        }
        assert!(out.contains("  second\tline\n"), "{out}");
    }
}
