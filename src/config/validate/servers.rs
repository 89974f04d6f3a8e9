//! Where mail comes from and goes to: `[[mailbox]]` with its `imap` table or Maildir, and
//! `[smtp]`. The two server tables both name a host, a TLS mode, a port and where the
//! password comes from, and are checked by the same helpers.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Problems, check_address, check_queue, required, wall_clock};
use crate::config::raw::{RawImap, RawMailbox, RawSmtp};
use crate::config::values::{Imap, Mailbox, MailboxSource, Queue, Smtp, TlsMode};
use crate::secret::PasswordSource;

/// Default ports for `tls`, `starttls` and `none`: IMAP over implicit TLS on 993 (RFC 8314),
/// otherwise 143 (RFC 9051).
const IMAP_PORTS: [u16; 3] = [993, 143, 143];
/// Submission over implicit TLS on 465 (RFC 8314), with STARTTLS on 587 (RFC 6409), plain
/// SMTP on 25 (RFC 5321).
const SMTP_PORTS: [u16; 3] = [465, 587, 25];

/// `[[mailbox]]`, each filing into a queue of `queues`.
pub(super) fn mailboxes(
    raws: Vec<RawMailbox>,
    queues: &[Queue],
    problems: &mut Problems,
) -> Vec<Mailbox> {
    let mut mailboxes = Vec::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let key = format!("mailbox[{}]", i + 1);
        let mailbox = raw.validate(&key, &mailboxes, queues, problems);
        mailboxes.push(mailbox);
    }
    mailboxes
}

impl RawMailbox {
    fn validate(
        self,
        key: &str,
        declared: &[Mailbox],
        queues: &[Queue],
        problems: &mut Problems,
    ) -> Mailbox {
        let name = required(key, "name", self.name, problems);
        if declared.iter().any(|m| m.name == name) {
            problems.add(
                format!("{key}.name"),
                format!("mailbox \"{name}\" is declared twice"),
            );
        }
        let address = required(key, "address", self.address, problems);
        if !address.is_empty() {
            check_address(&format!("{key}.address"), &address, problems);
        }
        // Without a queue of its own, the first one; were there none, `check_queue` reports
        // the empty name.
        let queue = self
            .queue
            .unwrap_or_else(|| queues.first().map(|q| q.name.clone()).unwrap_or_default());
        check_queue(&format!("{key}.queue"), &queue, queues, problems);
        let source = match (self.imap, self.maildir) {
            (Some(imap), None) => MailboxSource::Imap(imap.validate(key, problems)),
            (None, Some(dir)) => MailboxSource::Maildir(dir),
            (Some(_), Some(_)) => {
                problems.add(key, "set either imap or maildir, not both");
                MailboxSource::Maildir(PathBuf::new())
            }
            (None, None) => {
                problems.add(key, "needs an imap = { ... } table or a maildir path");
                MailboxSource::Maildir(PathBuf::new())
            }
        };
        // A Maildir is a local folder, cheap to look at; an IMAP server is not.
        let poll_default = match source {
            MailboxSource::Imap(_) => Duration::from_secs(60),
            MailboxSource::Maildir(_) => Duration::from_secs(2),
        };
        if self.folders.as_ref().is_some_and(Vec::is_empty) {
            problems.add(
                format!("{key}.folders"),
                "is empty: list the folders to watch, or leave it out for [\"INBOX\"]",
            );
        }
        let poll_interval = wall_clock(
            &format!("{key}.poll_interval"),
            self.poll_interval.as_deref(),
            poll_default,
            problems,
        );
        Mailbox {
            poll_interval,
            display_name: self.display_name,
            reply_token: self.reply_token,
            acknowledge_own_domain: self.acknowledge_own_domain,
            name,
            address: address.to_lowercase(),
            queue,
            folders: self.folders.unwrap_or_else(|| vec!["INBOX".into()]),
            sent_folders: self.sent_folders,
            source,
        }
    }
}

impl RawImap {
    /// A mailbox's `imap` table; `key` is the mailbox's, e.g. `mailbox[0]`.
    fn validate(self, key: &str, problems: &mut Problems) -> Imap {
        let table = format!("{key}.imap");
        let host = required(&table, "host", self.host, problems);
        let user = required(&table, "user", self.user, problems);
        let (tls, port) = connection(
            &table,
            &host,
            self.tls.as_deref(),
            self.port,
            IMAP_PORTS,
            problems,
        );
        // IMAP always logs in.
        let password = match password_source(
            &table,
            self.password_file,
            self.password_env,
            self.password_credential,
            problems,
        ) {
            Ok(Some(source)) => source,
            Ok(None) => {
                problems.add(
                    &table,
                    "needs a password: set password_file, password_env or password_credential",
                );
                PasswordSource::Env(String::new())
            }
            Err(()) => PasswordSource::Env(String::new()),
        };
        Imap {
            host,
            port,
            tls,
            user,
            password,
        }
    }
}

impl RawSmtp {
    pub(super) fn validate(self, problems: &mut Problems) -> Smtp {
        let host = required("smtp", "host", self.host, problems);
        let (tls, port) = connection(
            "smtp",
            &host,
            self.tls.as_deref(),
            self.port,
            SMTP_PORTS,
            problems,
        );
        let retry_delay = wall_clock(
            "smtp.retry_delay",
            self.retry_delay.as_deref(),
            Duration::from_secs(30),
            problems,
        );
        // A relay may take mail without a login, but a user and a password go together.
        let password = match password_source(
            "smtp",
            self.password_file,
            self.password_env,
            self.password_credential,
            problems,
        ) {
            Ok(source) if source.is_some() == self.user.is_some() => source,
            Ok(Some(_)) => {
                problems.add(
                    "smtp.user",
                    "a password is set, so set the user to log in as",
                );
                None
            }
            Ok(None) => {
                problems.add(
                    "smtp.user",
                    "logging in needs a password: set password_file, password_env or password_credential",
                );
                None
            }
            Err(()) => None,
        };
        Smtp {
            retry_delay,
            password,
            port,
            host,
            tls,
            user: self.user,
            max_attempts: self.max_attempts.unwrap_or(10).max(1),
        }
    }
}

/// The TLS mode and port of the server table at `table` (e.g. `smtp`), the port defaulting
/// by mode from `ports`.
fn connection(
    table: &str,
    host: &str,
    tls: Option<&str>,
    port: Option<u16>,
    ports: [u16; 3],
    problems: &mut Problems,
) -> (TlsMode, u16) {
    let tls = parse_tls(&format!("{table}.tls"), tls, host, problems);
    let [implicit, starttls, plain] = ports;
    let port = port.unwrap_or(match tls {
        TlsMode::Tls => implicit,
        TlsMode::StartTls => starttls,
        TlsMode::None => plain,
    });
    (tls, port)
}

fn parse_tls(key: &str, value: Option<&str>, host: &str, problems: &mut Problems) -> TlsMode {
    let mode = match value {
        None | Some("tls") => TlsMode::Tls,
        Some("starttls") => TlsMode::StartTls,
        Some("none") => TlsMode::None,
        Some(other) => {
            problems.add(
                key,
                format!("\"{other}\" is not a TLS mode (use \"tls\", \"starttls\" or \"none\")"),
            );
            TlsMode::Tls
        }
    };
    if mode == TlsMode::None && !is_loopback(host) {
        problems.add(
            key,
            format!(
                "tls = \"none\" would send the password in clear text to {host}; it is only allowed for a loopback address"
            ),
        );
    }
    mode
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The one source named by `password_file`, `password_env` or `password_credential` of the
/// server table at `table`, or none. Naming more than one is recorded at `table` and gives
/// `Err`: the caller has nothing more to say about the password then.
fn password_source(
    table: &str,
    file: Option<PathBuf>,
    env: Option<String>,
    credential: Option<String>,
    problems: &mut Problems,
) -> Result<Option<PasswordSource>, ()> {
    PasswordSource::from_keys(file, env, credential).map_err(|e| problems.add(table, e))
}
