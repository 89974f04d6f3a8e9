//! The TOML configuration: read, check every key, and hand the rest of postdesk a validated
//! [`Config`]. Every problem in a file is reported at once, each naming its key.

mod calendar;
mod raw;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use calendar::{Calendar, Span, WeekdayKey, WeeklyAt};
pub use values::{
    Field, Imap, IngestLimits, Mailbox, MailboxSource, NoticeMode, Priority, Queue, QueueMode,
    QueuePolicy, ReportSchedule, Rule, Smtp, TicketTag, TlsMode, Vip,
};

use raw::RawConfig;
use validate::Problems;

/// Where the database lives when neither the config nor `--db` says.
pub const DEFAULT_DATABASE: &str = "/var/lib/postdesk/postdesk.db";
/// Where `--config` points when it is not given.
pub const DEFAULT_CONFIG: &str = "/etc/postdesk/postdesk.toml";
/// The queue postdesk files into when the config declares none.
pub const DEFAULT_QUEUE: &str = "support";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config file {path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One invalid key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: PathBuf,
    pub defaults: QueuePolicy,
    pub calendar: Calendar,
    pub smtp: Option<Smtp>,
    pub mailboxes: Vec<Mailbox>,
    pub queues: Vec<Queue>,
    pub rules: Vec<Rule>,
    pub vip: Vip,
    pub ingest: IngestLimits,
    pub ticket_tag: TicketTag,
    /// File holding the key for reply tokens; without it a key is generated and kept in the database.
    pub token_key_file: Option<PathBuf>,
    /// Folder of `KIND.LANGUAGE.hbs` files overriding or adding to the built-in templates.
    pub templates: Option<PathBuf>,
    /// `[report]`: who gets the weekly report mail, and when.
    pub report: ReportSchedule,
}

impl Config {
    /// Built-in defaults: one queue `support`, no mailbox.
    pub fn builtin() -> Config {
        Config {
            database: PathBuf::from(DEFAULT_DATABASE),
            defaults: QueuePolicy::default(),
            calendar: Calendar::default(),
            smtp: None,
            mailboxes: Vec::new(),
            queues: vec![Queue {
                name: DEFAULT_QUEUE.into(),
                agents: Vec::new(),
                escalation: None,
                mode: QueueMode::Observe,
                imap_folder: None,
                policy: QueuePolicy::default(),
                calendar: Calendar::default(),
                thanks_closes: true,
            }],
            rules: Vec::new(),
            vip: Vip::default(),
            ingest: IngestLimits::default(),
            ticket_tag: TicketTag::parse("[#{ref}]").expect("built-in tag format is valid"),
            token_key_file: None,
            templates: None,
            report: ReportSchedule::default(),
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Parse and validate; `path` is only used in messages and to resolve relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.into(),
            message: e.to_string(),
        })?;
        let mut problems = Problems::default();
        let config = raw.validate(&mut problems);
        let problems = problems.into_vec();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.into(),
                problems,
            })
        }
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The queue for mail that no mailbox or rule places.
    pub fn default_queue(&self) -> &str {
        self.mailboxes
            .first()
            .map(|m| m.queue.as_str())
            .unwrap_or(&self.queues[0].name)
    }

    pub fn mailbox(&self, name: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| m.name == name)
    }

    /// Is this one of our own addresses (a mailbox, its plus-addresses)?
    pub fn is_own_address(&self, address: &str) -> bool {
        let base = strip_plus(address);
        self.mailboxes
            .iter()
            .any(|m| m.address.eq_ignore_ascii_case(&base))
    }

    pub fn is_agent(&self, address: &str) -> bool {
        self.queues
            .iter()
            .any(|q| q.agents.iter().any(|a| a.eq_ignore_ascii_case(address)))
    }

    pub fn own_domains(&self) -> impl Iterator<Item = &str> {
        self.mailboxes
            .iter()
            .filter_map(|m| m.address.rsplit_once('@').map(|(_, d)| d))
    }
}

/// `support@example.com` → `support+<marker>.<token>@example.com`: the inverse of
/// [`strip_plus`].
pub fn plus_address(address: &str, marker: &str, token: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{local}+{marker}.{token}@{domain}"),
        None => address.to_string(),
    }
}

/// `support+t.abc@example.com` → `support@example.com`.
pub fn strip_plus(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map(|(l, _)| l).unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => address.to_string(),
    }
}
