//! Commands that only print documentation: shell completions and man pages.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use super::{Cli, DocCommand};
use crate::config;

mod config_page;

/// `postdesk --version`: the version and the commit it was built from (build.rs).
pub(super) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("POSTDESK_COMMIT"),
    ")"
);

/// The version as man pages show it in their footer.
fn version_line() -> String {
    format!("postdesk {}", env!("CARGO_PKG_VERSION"))
}

pub(super) fn print_doc(doc: &DocCommand) -> Result<()> {
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
            clap_mangen::generate_to(man_command(), dir).map_err(written)?;
            // The main page again, with the sections clap does not know.
            write_man_page(&mut text)?;
            std::fs::write(dir.join("postdesk.1"), &text).map_err(written)?;
            std::fs::write(dir.join("postdesk.toml.5"), config_page::render()).map_err(written)?;
            text = format!("man pages written to {}\n", dir.display()).into_bytes();
        }
    }
    let mut out = crate::terminal::stdout();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// The command line as the man pages describe it: without the `help` subcommand, which
/// has no page of its own (`postdesk help COMMAND` is `man postdesk-COMMAND`).
fn man_command() -> clap::Command {
    Cli::command().disable_help_subcommand(true)
}

/// The man page: clap's sections from the definitions above, plus what an admin looks
/// for in one (exit status, environment, files).
fn write_man_page(out: &mut dyn Write) -> std::io::Result<()> {
    use roff::{Roff, bold, roman};
    let man = clap_mangen::Man::new(man_command().long_about(
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
        "postdesk.toml(5) (the config file), systemctl(1), journalctl(1), systemd.exec(5).",
    )]);
    roff.to_writer(out)?;
    man.render_version_section(out)
}
