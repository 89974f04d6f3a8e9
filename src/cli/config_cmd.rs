//! `postdesk check-config` and `postdesk config show`: what is wrong with the config, and
//! what postdesk makes of it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{UsageError, config_path, config_source, print_json, probe};
use crate::config::show::Effective;
use crate::config::{Config, ConfigError};
use crate::terminal::visible_line;

/// `postdesk check-config [--connect]`: every problem of the config file, one line each
/// with its place (`FILE:LINE:COLUMN: key: message`) on stderr, warnings too (a password
/// file others can read); then its templates, and with `--connect` every endpoint.
pub(super) fn check_config(
    given: Option<&Path>,
    db: Option<&Path>,
    connect: bool,
) -> Result<ExitCode> {
    let mut config = match config_path(given) {
        Some(path) => {
            let checked = match Config::check(path) {
                Ok(checked) => checked,
                // The check did its work and found the file wrong: exit 1, as `nginx -t`
                // and `visudo -c` do. A file that cannot be read is a usage error (exit 2).
                Err(syntax @ ConfigError::Syntax { .. }) => {
                    return Ok(found_problems(&syntax.to_string()));
                }
                Err(error) => return Err(UsageError::from(error).into()),
            };
            for line in checked.lines() {
                eprintln!("{}", visible_line(&line));
            }
            if !checked.problems.is_empty() {
                return Ok(found_problems(&format!(
                    "config file {} has {} problem(s): fix each line above and check again",
                    path.display(),
                    checked.problems.len()
                )));
            }
            checked.config
        }
        None => Config::builtin(),
    };
    if let Some(db) = db {
        config.database = db.to_path_buf();
    }
    crate::text::templates::Templates::load(config.templates.as_deref())
        .map_err(|e| UsageError::Invalid(format!("templates: {e}")))?;
    say!(
        "{}: OK — {} mailbox(es), {} queue(s), {} rule(s), database {}",
        config_source(given),
        config.mailboxes.len(),
        config.queues.len(),
        config.rules.len(),
        config.database.display()
    )?;
    if !connect {
        return Ok(ExitCode::SUCCESS);
    }
    check_connect(&config)
}

/// The verdict on a config with problems, said the way every error is (`postdesk: …`,
/// further lines as they are), and exit 1.
fn found_problems(text: &str) -> ExitCode {
    let mut lines = text.lines();
    eprintln!(
        "postdesk: {}",
        visible_line(lines.next().unwrap_or_default())
    );
    for line in lines {
        eprintln!("{}", visible_line(line));
    }
    ExitCode::from(1)
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
        say!("{}", visible_line(&check.to_string()))?;
    }
    let failed = checks.iter().filter(|c| !c.ok()).count();
    if checks.is_empty() {
        say!("nothing to connect to: no IMAP mailbox and no [smtp]")?;
    } else if failed > 0 {
        say!("{failed} of {} endpoint(s) failed", checks.len())?;
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `postdesk config show [--json]`: the effective config, as TOML or JSON.
pub(super) fn show(config: &Config, given: Option<&Path>, json: bool) -> Result<ExitCode> {
    let effective = Effective::of(config);
    if json {
        print_json(&effective)?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = toml::to_string(&effective).context("cannot write the config as TOML")?;
    say!(
        "# The effective configuration of {}: every key with the value postdesk uses, each",
        config_source(given)
    )?;
    say!("# queue's policy and calendar as they apply to it. Passwords are never shown.\n")?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
