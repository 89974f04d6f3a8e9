//! `postdesk web user add|list|remove` and `web token add`: the web console's accounts.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{
    UsageError, WebAction, WebRole, WebTokenAction, WebUserAction, open_store, print_json,
};
use crate::config::Config;
use crate::web::accounts::{self, AccountError, Role};

impl WebRole {
    fn role(self) -> Role {
        match self {
            WebRole::Agent => Role::Agent,
            WebRole::Lead => Role::Lead,
            WebRole::Admin => Role::Admin,
        }
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A user's mistake (a bad name, a short password) is a usage error: exit 2.
fn usage(error: AccountError) -> anyhow::Error {
    match error {
        AccountError::Sql(_) | AccountError::Hash(_) => error.into(),
        other => UsageError::Invalid(other.to_string()).into(),
    }
}

pub(super) fn command(config: &Config, action: WebAction) -> Result<ExitCode> {
    match action {
        WebAction::User {
            action:
                WebUserAction::Add {
                    name,
                    role,
                    password_file,
                },
        } => {
            let password = read_password(&password_file)?;
            let hash = accounts::hash_password(&password).map_err(usage)?;
            let store = open_store(config)?;
            accounts::add_user(store.connection(), &name, role.role(), &hash, now())
                .map_err(usage)?;
            say!("web user {name} added ({})", role.role().as_str())?;
            if config.web.is_none() {
                say!("note: the console is off; add a [web] section to the config to serve it")?;
            }
        }
        WebAction::User {
            action: WebUserAction::List { json },
        } => list(config, json)?,
        WebAction::User {
            action: WebUserAction::Remove { name },
        } => {
            let store = open_store(config)?;
            if !accounts::remove_user(store.connection(), &name)? {
                bail!("no web user {name} (see `postdesk web user list`)");
            }
            say!("web user {name} removed, their sessions ended")?;
        }
        WebAction::Token {
            action: WebTokenAction::Add { name, role },
        } => {
            let store = open_store(config)?;
            let token = accounts::add_token(store.connection(), &name, role.role(), now())
                .map_err(usage)?;
            let mut out = crate::terminal::stdout();
            writeln!(out, "{token}")?;
            out.flush()?;
            eprintln!(
                "API token {name} ({}): shown this once, stored only as a hash; send it as `Authorization: Bearer TOKEN`",
                role.role().as_str()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of the file, or of stdin for `-`, without its line end.
fn read_password(path: &Path) -> Result<String> {
    let mut line = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
    } else {
        crate::private_files::warn_if_readable_by_others(path);
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?;
        line = text.lines().next().unwrap_or_default().to_string();
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

#[derive(Serialize)]
struct UserShown {
    name: String,
    role: String,
    created_at: String,
    sessions: i64,
}

fn list(config: &Config, json: bool) -> Result<()> {
    let store = open_store(config)?;
    let users: Vec<UserShown> = accounts::list_users(store.connection(), now())?
        .into_iter()
        .map(|(name, role, created, sessions)| UserShown {
            name,
            role,
            created_at: crate::text::time::rfc3339(created),
            sessions,
        })
        .collect();
    if json {
        return print_json(&users);
    }
    let mut out = crate::terminal::stdout();
    for user in &users {
        writeln!(
            out,
            "{}  {}  added {}  {} session(s)",
            crate::terminal::visible_line(&user.name),
            user.role,
            crate::text::time::local(
                user.created_at
                    .parse::<jiff::Timestamp>()
                    .map_or(0, |t| t.as_second()),
                &config.calendar.timezone
            ),
            user.sessions
        )?;
    }
    writeln!(out, "{} user(s)", users.len())?;
    out.flush()?;
    Ok(())
}
