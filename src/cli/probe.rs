//! `postdesk check-config --connect`: log in to every mailbox and the SMTP server, as the
//! daemon would, and say per endpoint what works and what does not. Passwords are read
//! as the daemon reads them and never shown.

use std::fmt;
use std::path::Path;

use futures::future::join_all;

use crate::config::{Config, Imap, Mailbox, MailboxSource, Smtp};
use crate::smtp::Mailer;
use crate::sources::imap::{self, ImapError, timed};

/// What one endpoint answered.
pub struct Check {
    /// E.g. `imap support (imap.example.com:993 tls, user support@example.com)`.
    pub endpoint: String,
    /// What works, or what does not.
    pub outcome: Result<String, String>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Ok(works) => write!(f, "{}: {works}", self.endpoint),
            Err(fails) => write!(f, "{}: {fails}", self.endpoint),
        }
    }
}

/// Checks every mailbox and the SMTP server at once; results in config order, SMTP last.
pub async fn check_all(config: &Config) -> Vec<Check> {
    let mailboxes = join_all(config.mailboxes.iter().map(check_mailbox));
    let smtp = async {
        match &config.smtp {
            Some(smtp) => Some(check_smtp(smtp).await),
            None => None,
        }
    };
    let (mut checks, smtp) = tokio::join!(mailboxes, smtp);
    checks.extend(smtp);
    checks
}

async fn check_mailbox(mailbox: &Mailbox) -> Check {
    match &mailbox.source {
        MailboxSource::Imap(imap) => Check {
            endpoint: format!(
                "imap {} ({}:{} {}, user {})",
                mailbox.name,
                imap.host,
                imap.port,
                imap.tls.as_str(),
                imap.user
            ),
            outcome: check_imap(mailbox, imap).await,
        },
        MailboxSource::Maildir(dir) => Check {
            endpoint: format!("maildir {} ({})", mailbox.name, dir.display()),
            outcome: check_maildir(dir),
        },
    }
}

async fn check_imap(mailbox: &Mailbox, imap: &Imap) -> Result<String, String> {
    let mut session = imap::connect(imap).await.map_err(|error| match error {
        ImapError::Login { user, reason } => format!("cannot log in as {user}: {reason}"),
        other => other.to_string(),
    })?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for folder in mailbox.folders.iter().chain(&mailbox.sent_folders) {
        // EXAMINE is the read-only SELECT: it changes no flag, not even \Recent.
        let examined = timed(&format!("EXAMINE {folder}"), async {
            Ok(session.examine(folder).await)
        })
        .await;
        match examined {
            Ok(Ok(info)) => found.push(format!("{folder} has {} message(s)", info.exists)),
            Ok(Err(error)) => missing.push(format!(
                "cannot open folder {folder}: {}",
                imap::server_reply(&error)
            )),
            Err(error) => missing.push(format!("cannot open folder {folder}: {error}")),
        }
    }
    imap::logout(&mut session).await;
    let mut report = vec!["login OK".to_string()];
    report.extend(found);
    if missing.is_empty() {
        Ok(report.join(", "))
    } else {
        report.extend(missing);
        Err(report.join(", "))
    }
}

fn check_maildir(dir: &Path) -> Result<String, String> {
    if !dir.exists() {
        return Ok("not there yet; `postdesk run` creates it".into());
    }
    let new = dir.join("new");
    match std::fs::read_dir(&new) {
        Ok(entries) => Ok(format!(
            "readable, {} message(s) waiting in new/",
            entries.count()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok("no new/ yet; `postdesk run` creates it".into())
        }
        Err(e) => Err(format!("cannot read {}: {e}", new.display())),
    }
}

async fn check_smtp(smtp: &Smtp) -> Check {
    let user = smtp
        .user
        .as_deref()
        .map(|u| format!(", user {u}"))
        .unwrap_or_else(|| ", no login".into());
    let endpoint = format!(
        "smtp ({}:{} {}{user})",
        smtp.host,
        smtp.port,
        smtp.tls.as_str()
    );
    let outcome = match Mailer::new(smtp) {
        Ok(mailer) => match mailer.test_connection().await {
            Ok(()) if smtp.user.is_some() => Ok("login OK".into()),
            Ok(()) => Ok("connection OK".into()),
            Err(error) => Err(error.to_string()),
        },
        Err(error) => Err(error.to_string()),
    };
    Check { endpoint, outcome }
}
