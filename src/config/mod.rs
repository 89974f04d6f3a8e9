//! The TOML configuration: read, check every key, and hand the rest of postdesk a validated
//! [`Config`]. Every problem in a file is reported at once, each on one line with its place
//! in the file and its key: `postdesk.toml:12:19: rule[2].subject: ...`.

mod calendar;
mod document;
mod files;
mod raw;
pub mod show;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use calendar::{Calendar, Span, WeekdayKey, WeeklyAt};
pub use validate::web::WebConsole;
pub use values::{
    Field, Imap, IngestLimits, Mailbox, MailboxSource, NoticeMode, Priority, Queue, QueueMode,
    QueuePolicy, ReportSchedule, Retention, RetentionUnit, Rule, Smtp, TicketTag, TlsMode, Vip,
};

use document::Places;
use validate::Problems;

/// Where the database lives when neither the config nor `--db` says.
pub const DEFAULT_DATABASE: &str = "/var/lib/postdesk/postdesk.db";
/// Where `--config` points when it is not given.
pub const DEFAULT_CONFIG: &str = "/etc/postdesk/postdesk.toml";
/// The queue postdesk files into when the config declares none.
pub const DEFAULT_QUEUE: &str = "support";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {} is not valid TOML:\n{}", path.display(), lines(path, problems))]
    Syntax {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("config file {} has {} problem(s):\n{}", path.display(), problems.len(), lines(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One line per problem, in the order of the file.
fn lines(path: &Path, problems: &[Problem]) -> String {
    let mut sorted: Vec<&Problem> = problems.iter().collect();
    sorted.sort_by_key(|p| p.at.map(|at| (at.line, at.column)));
    let lines: Vec<String> = sorted.iter().map(|p| p.line(path)).collect();
    lines.join("\n")
}

/// A place in the config file, both counted from 1 (the column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// One invalid key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path as written, tables of `[[...]]` numbered from 1: `rule[2].subject`.
    /// Empty for a problem of the whole file (a TOML syntax error).
    pub key: String,
    pub message: String,
    /// Where in the file; none for a key the file does not have (nor any table above it).
    pub at: Option<Location>,
}

impl Problem {
    /// `FILE:LINE:COLUMN: key: message`, the way compilers point at a line.
    pub fn line(&self, file: &Path) -> String {
        match self.at {
            Some(at) => format!("{}:{}:{}: {self}", file.display(), at.line, at.column),
            None => format!("{}: {self}", file.display()),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// A config file as `postdesk check-config` sees it: the config (with defaults where a
/// value was refused), every problem, and the warnings (a secret others can read).
#[derive(Debug)]
pub struct Checked {
    pub path: PathBuf,
    pub config: Config,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Checked {
    /// Every problem and warning, one line each in the order of the file; warnings say so.
    pub fn lines(&self) -> Vec<String> {
        let mut all: Vec<(&Problem, bool)> = self
            .problems
            .iter()
            .map(|p| (p, false))
            .chain(self.warnings.iter().map(|w| (w, true)))
            .collect();
        all.sort_by_key(|(p, _)| p.at.map(|at| (at.line, at.column)));
        all.iter()
            .map(|(p, warning)| {
                let mut p = (*p).clone();
                if *warning {
                    p.message = format!("warning: {}", p.message);
                }
                p.line(&self.path)
            })
            .collect()
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
    /// postdesk's log level unless `-v`/`-q` or `POSTDESK_LOG` say otherwise.
    pub log_level: crate::telemetry::LogLevel,
    /// `[web]`: the web console, when the section is there.
    pub web: Option<WebConsole>,
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
            log_level: crate::telemetry::LogLevel::Info,
            web: None,
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::from_toml(&read_text(path)?, path)
    }

    /// Parse and validate; `path` is only used in messages and to resolve relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let (config, problems, _) = assess(text, path)?;
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.into(),
                problems,
            })
        }
    }

    /// [`Config::load`] and more: password, credential and key files must exist (and are
    /// warned about when others can read them). A file that is not even TOML is an `Err`.
    pub fn check(path: &Path) -> Result<Checked, ConfigError> {
        let (config, mut problems, places) = assess(&read_text(path)?, path)?;
        let found = files::check(&config);
        let locate = |mut p: Problem| {
            p.at = places.locate(&p.key);
            p
        };
        problems.extend(found.problems.into_iter().map(locate));
        Ok(Checked {
            path: path.into(),
            config,
            problems,
            warnings: found.warnings.into_iter().map(locate).collect(),
        })
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The first configured queue: where a ticket whose queue is no longer configured is
    /// counted, and the queue of mail when no mailbox names one.
    pub fn default_queue_config(&self) -> &Queue {
        self.queues.first().expect(
            "config validation keeps at least one queue (the built-in one without [[queue]])",
        )
    }

    /// The queue for mail that no mailbox or rule places.
    pub fn default_queue(&self) -> &str {
        self.mailboxes
            .first()
            .map(|m| m.queue.as_str())
            .unwrap_or_else(|| &self.default_queue_config().name)
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

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })
}

/// The config read from `text` with defaults where a value was refused, every problem
/// (located), and where each key is. Only TOML that cannot be parsed is an `Err`.
fn assess(text: &str, path: &Path) -> Result<(Config, Vec<Problem>, Places), ConfigError> {
    let read = document::read(text).map_err(|problems| ConfigError::Syntax {
        path: path.into(),
        problems,
    })?;
    let mut problems = Problems::default();
    let config = read.raw.validate(&mut problems);
    let mut all = read.refused;
    all.extend(problems.into_vec().into_iter().map(|mut p| {
        p.at = read.places.locate(&p.key);
        p
    }));
    Ok((config, all, read.places))
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
