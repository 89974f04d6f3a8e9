//! The files a config names for secrets, looked at without reading them: each must exist
//! (a missing password file would only show when the daemon first logs in), and one that
//! its group or everyone can read is warned about.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::values::MailboxSource;
use super::{Config, Problem};
use crate::private_files::readable_by_others;
use crate::secret::{PasswordSource, UNIT_CREDENTIAL_PREFIX};

/// Where the shipped systemd unit loads credentials from (`LoadCredential=`).
const UNIT_CREDENTIALS: &str = "/etc/postdesk/credentials";

/// Problems (a file that is not there) and warnings, each at its key, not yet located.
#[derive(Default)]
pub(super) struct Found {
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
}

pub(super) fn check(config: &Config) -> Found {
    let mut found = Found::default();
    if let Some(password) = config.smtp.as_ref().and_then(|s| s.password.as_ref()) {
        found.password("smtp", password);
    }
    for (i, mailbox) in config.mailboxes.iter().enumerate() {
        if let MailboxSource::Imap(imap) = &mailbox.source {
            found.password(&format!("mailbox[{}].imap", i + 1), &imap.password);
        }
    }
    if let Some(path) = &config.token_key_file {
        found.secret_file("token_key_file", path);
    }
    found
}

impl Found {
    fn problem(&mut self, key: String, message: String) {
        self.problems.push(problem(key, message));
    }

    fn warning(&mut self, key: String, message: String) {
        self.warnings.push(problem(key, message));
    }

    /// The password source of the server table at `table`.
    fn password(&mut self, table: &str, source: &PasswordSource) {
        match source {
            PasswordSource::File(path) => self.secret_file(&format!("{table}.password_file"), path),
            PasswordSource::Env(name) => {
                if std::env::var_os(name).is_none() {
                    self.warning(
                        format!("{table}.password_env"),
                        format!("environment variable {name} is not set here; the daemon needs it in its environment (Environment= in the unit)"),
                    );
                }
            }
            PasswordSource::Credential(name) => {
                self.credential(&format!("{table}.password_credential"), name)
            }
        }
    }

    fn secret_file(&mut self, key: &str, path: &Path) {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {
                if let Some(message) = readable_by_others(path) {
                    self.warning(key.into(), message);
                }
            }
            Ok(_) => self.problem(
                key.into(),
                format!("{} is not a file", path.display()),
            ),
            Err(e) if e.kind() == ErrorKind::NotFound => self.problem(
                key.into(),
                format!(
                    "{} does not exist: create it (mode 0600, owned by the user postdesk runs as) or fix the path",
                    path.display()
                ),
            ),
            Err(e) => self.warning(
                key.into(),
                format!("cannot look at {}: {e} (run the check as the user postdesk runs as)", path.display()),
            ),
        }
    }

    /// A credential is in `$CREDENTIALS_DIRECTORY` under the service; in an admin's shell,
    /// in the folder the shipped unit loads.
    fn credential(&mut self, key: &str, name: &str) {
        let (dir, given) = match std::env::var_os("CREDENTIALS_DIRECTORY") {
            Some(dir) => (PathBuf::from(dir), true),
            None => (PathBuf::from(UNIT_CREDENTIALS), false),
        };
        let candidates = [
            dir.join(name),
            dir.join(format!("{UNIT_CREDENTIAL_PREFIX}{name}")),
        ];
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            if let Some(message) = readable_by_others(found) {
                self.warning(key.into(), message);
            }
            return;
        }
        match std::fs::read_dir(&dir) {
            Ok(_) => self.problem(
                key.into(),
                format!(
                    "credential {name} is not in {}: put the password in {}",
                    dir.display(),
                    dir.join(name).display()
                ),
            ),
            Err(_) if given => self.problem(
                key.into(),
                format!("credential {name}: $CREDENTIALS_DIRECTORY {} cannot be read", dir.display()),
            ),
            Err(e) => self.warning(
                key.into(),
                format!(
                    "credential {name}: $CREDENTIALS_DIRECTORY is not set and {} cannot be read ({e}); check again with CREDENTIALS_DIRECTORY set to where the unit loads credentials from",
                    dir.display()
                ),
            ),
        }
    }
}

fn problem(key: String, message: String) -> Problem {
    Problem {
        key,
        message,
        at: None,
    }
}
