//! The TOML configuration: read, check every key, and hand the rest of postdesk a validated
//! [`Config`]. Every problem in a file is reported at once, each naming its key.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use regex::Regex;
use serde::Deserialize;

use crate::secret::PasswordSource;

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

/// `[report]`: the weekly report mail. No recipients, no mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSchedule {
    pub recipients: Vec<String>,
    /// When it goes out, in the `[calendar]` time zone.
    pub weekly: WeeklyAt,
}

/// A moment of the week, written `"mon 08:00"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyAt {
    pub weekday: Weekday,
    pub time: Time,
}

impl WeeklyAt {
    pub fn parse(text: &str) -> Result<WeeklyAt, String> {
        let invalid = || format!("\"{text}\" is not a weekday and a time like \"mon 08:00\"");
        let (day, time) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(invalid)?;
        let weekday = parse_weekday(day).ok_or_else(invalid)?;
        let time = time.trim().parse::<Time>().map_err(|_| invalid())?;
        Ok(WeeklyAt { weekday, time })
    }
}

impl Default for ReportSchedule {
    fn default() -> Self {
        ReportSchedule {
            recipients: Vec::new(),
            weekly: WeeklyAt {
                weekday: Weekday::Monday,
                time: Time::constant(8, 0, 0, 0),
            },
        }
    }
}

fn parse_weekday(day: &str) -> Option<Weekday> {
    Some(match day.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// Response-time settings; `[defaults]` and each `[[queue]]` may set them.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePolicy {
    pub ack_delay: Span,
    pub response_target: Span,
    pub warn_at: f64,
    pub estimate_quantile: f64,
    /// Promised answer time while a queue has too little history. Only its length is used:
    /// it is counted in the same kind of time as `response_target` (business or wall-clock).
    pub estimate_default: Span,
    /// At least this many recent first responses are needed before the quantile of them is
    /// promised instead of `estimate_default`.
    pub estimate_min_samples: u32,
    /// At most this many acknowledgements to one sender per day (mail-loop guard).
    pub ack_daily_cap: u32,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy {
            ack_delay: Span::calendar(Duration::from_secs(15 * 60)),
            response_target: Span::calendar(Duration::from_secs(24 * 3600)),
            warn_at: 0.75,
            estimate_quantile: 0.8,
            estimate_default: Span::calendar(Duration::from_secs(4 * 3600)),
            estimate_min_samples: 20,
            ack_daily_cap: 3,
        }
    }
}

/// A duration as written in the config: "2s", "15m", "8h", "1d", optionally "business".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub length: Duration,
    /// Counted in working hours of the calendar rather than wall-clock time.
    pub business: bool,
}

impl Span {
    pub fn calendar(length: Duration) -> Span {
        Span {
            length,
            business: false,
        }
    }

    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let (amount, business) = match text.strip_suffix("business") {
            Some(rest) => (rest.trim_end(), true),
            None => (text, false),
        };
        let mut total = 0u64;
        let mut digits = String::new();
        let mut any = false;
        for c in amount.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                ' ' if digits.is_empty() => continue,
                _ => {
                    return Err(format!(
                        "\"{text}\" is not a duration (use e.g. \"2s\", \"15m\", \"8h\", \"1d\", \"8h business\")"
                    ));
                }
            };
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("\"{text}\" needs a number before '{c}'"))?;
            total = total.saturating_add(n.saturating_mul(unit));
            digits.clear();
            any = true;
        }
        if !digits.is_empty() || !any {
            return Err(format!(
                "\"{text}\" is not a duration (use e.g. \"2s\", \"15m\", \"8h\", \"1d\", \"8h business\"; a unit is required)"
            ));
        }
        Ok(Span {
            length: Duration::from_secs(total),
            business,
        })
    }
}

/// Working hours and holidays that business-time spans are counted in.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub timezone: TimeZone,
    pub timezone_name: String,
    /// Working hours per weekday; a weekday missing here is a day off.
    pub hours: BTreeMap<WeekdayKey, (Time, Time)>,
    pub holidays: Vec<Date>,
}

/// Weekday as an ordered key (Monday first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WeekdayKey(pub i8);

impl From<Weekday> for WeekdayKey {
    fn from(day: Weekday) -> Self {
        WeekdayKey(day.to_monday_one_offset())
    }
}

impl Default for Calendar {
    fn default() -> Self {
        let nine = Time::constant(9, 0, 0, 0);
        let six = Time::constant(18, 0, 0, 0);
        Calendar {
            timezone: TimeZone::UTC,
            timezone_name: "UTC".into(),
            hours: (1..=5).map(|d| (WeekdayKey(d), (nine, six))).collect(),
            holidays: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Tls,
    StartTls,
    /// Plain text: allowed only towards a loopback address.
    None,
}

impl TlsMode {
    /// As written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Tls => "tls",
            TlsMode::StartTls => "starttls",
            TlsMode::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    /// Set exactly when `user` is.
    pub password: Option<PasswordSource>,
    /// A mail still failing after this many tries is parked as failed.
    pub max_attempts: u32,
    /// Wait before the first retry of a temporarily failed mail; doubled at each further
    /// try, capped at one hour.
    pub retry_delay: Duration,
}

#[derive(Debug, Clone)]
pub struct Mailbox {
    pub name: String,
    pub address: String,
    /// Shown with the address on outgoing mail, e.g. "Example Support".
    pub display_name: Option<String>,
    /// Acknowledgements carry `Reply-To: <local>+t.<token>@<domain>`.
    pub reply_token: bool,
    /// Senders in the mailbox's own domain are customers to acknowledge (an internal help
    /// desk), not colleagues of the desk; the loop guards still hold.
    pub acknowledge_own_domain: bool,
    pub queue: String,
    pub folders: Vec<String>,
    pub sent_folders: Vec<String>,
    pub source: MailboxSource,
    /// How often to look for new mail when the server cannot IDLE (or for a Maildir), and
    /// at the folders other than the first one (IDLE watches only that one).
    pub poll_interval: Duration,
}

#[derive(Debug, Clone)]
pub enum MailboxSource {
    Imap(Imap),
    Maildir(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    pub password: PasswordSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMode {
    Observe,
    Relay,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub agents: Vec<String>,
    pub escalation: Option<String>,
    pub mode: QueueMode,
    pub imap_folder: Option<String>,
    pub policy: QueuePolicy,
    /// Working hours its business-time spans count in: its own, else `[calendar]`.
    pub calendar: Calendar,
    /// A customer's thank-you on an answered ticket keeps it answered (no new deadline).
    pub thanks_closes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(text: &str) -> Option<Priority> {
        match text.to_ascii_lowercase().as_str() {
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }
}

/// Which part of a message a rule condition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    From,
    To,
    Cc,
    Subject,
    Body,
    Header(String),
}

/// An ordered routing rule: all its conditions must match; the first matching rule wins.
#[derive(Debug, Clone)]
pub struct Rule {
    pub conditions: Vec<(Field, Regex)>,
    pub queue: Option<String>,
    pub category: Option<String>,
    pub priority: Option<Priority>,
    pub labels: Vec<String>,
    pub ignore: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Vip {
    pub domains: Vec<String>,
    pub senders: Vec<String>,
}

impl Vip {
    pub fn contains(&self, address: &str) -> bool {
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        self.senders.iter().any(|s| s == address) || self.domains.iter().any(|d| d == domain)
    }
}

#[derive(Debug, Clone)]
pub struct IngestLimits {
    /// Larger messages are stored but not parsed.
    pub max_message_bytes: usize,
    /// Messages with more header lines are stored but not parsed.
    pub max_header_lines: usize,
    /// How far back a same-sender, same-subject message may join a ticket.
    pub thread_window: Duration,
    /// How long after a ticket was closed its agent address still takes commands.
    pub agent_token_lifetime: Duration,
    /// RFC 8601 authserv-ids of the desk's own mail servers, whose `Authentication-Results`
    /// prove an agent's `From:` in observe queues.
    pub trusted_authserv_ids: Vec<String>,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_message_bytes: 50 * 1024 * 1024,
            max_header_lines: 2000,
            thread_window: Duration::from_secs(14 * 86_400),
            agent_token_lifetime: Duration::from_secs(30 * 86_400),
            trusted_authserv_ids: Vec::new(),
        }
    }
}

/// How a ticket reference appears in subjects, e.g. "[#{ref}]" → "[#1042]".
#[derive(Debug, Clone)]
pub struct TicketTag {
    prefix: String,
    suffix: String,
    pattern: Regex,
}

impl TicketTag {
    pub fn parse(format: &str) -> Result<TicketTag, String> {
        let Some((prefix, suffix)) = format.split_once("{ref}") else {
            return Err(format!("\"{format}\" must contain {{ref}}"));
        };
        if prefix.trim().is_empty() && suffix.trim().is_empty() {
            return Err(format!(
                "\"{format}\" needs some text around {{ref}} so that numbers in subjects are not mistaken for tags"
            ));
        }
        let pattern = Regex::new(&format!(
            "{}([0-9]{{1,12}}){}",
            regex::escape(prefix),
            regex::escape(suffix)
        ))
        .map_err(|e| e.to_string())?;
        Ok(TicketTag {
            prefix: prefix.into(),
            suffix: suffix.into(),
            pattern,
        })
    }

    pub fn format(&self, reference: i64) -> String {
        format!("{}{}{}", self.prefix, reference, self.suffix)
    }

    /// The ticket references tagged in a subject, in order of appearance.
    pub fn find_all<'a>(&'a self, subject: &'a str) -> impl Iterator<Item = i64> + 'a {
        self.pattern
            .captures_iter(subject)
            .filter_map(|c| c.get(1)?.as_str().parse().ok())
    }

    /// The subject without any tags.
    pub fn strip<'a>(&self, subject: &'a str) -> std::borrow::Cow<'a, str> {
        self.pattern.replace_all(subject, "")
    }
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
        if problems.0.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.into(),
                problems: problems.0,
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

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database: Option<PathBuf>,
    ticket_tag: Option<String>,
    token_key_file: Option<PathBuf>,
    templates: Option<PathBuf>,
    #[serde(default)]
    defaults: RawPolicy,
    calendar: Option<RawCalendar>,
    smtp: Option<RawSmtp>,
    #[serde(default)]
    mailbox: Vec<RawMailbox>,
    #[serde(default)]
    queue: Vec<RawQueue>,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    vip: RawVip,
    #[serde(default)]
    ingest: RawIngest,
    report: Option<RawReport>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    #[serde(default)]
    recipients: Vec<String>,
    weekly: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    ack_delay: Option<String>,
    response_target: Option<String>,
    warn_at: Option<f64>,
    estimate_quantile: Option<f64>,
    estimate_default: Option<String>,
    estimate_min_samples: Option<u32>,
    ack_daily_cap: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    timezone: Option<String>,
    hours: Option<BTreeMap<String, String>>,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    tls: Option<String>,
    user: Option<String>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    password_credential: Option<String>,
    max_attempts: Option<u32>,
    retry_delay: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    name: String,
    address: String,
    display_name: Option<String>,
    #[serde(default)]
    reply_token: bool,
    #[serde(default)]
    acknowledge_own_domain: bool,
    queue: Option<String>,
    folders: Option<Vec<String>>,
    #[serde(default)]
    sent_folders: Vec<String>,
    imap: Option<RawImap>,
    maildir: Option<PathBuf>,
    poll_interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImap {
    host: String,
    port: Option<u16>,
    tls: Option<String>,
    user: String,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    password_credential: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    name: String,
    #[serde(default)]
    agents: Vec<String>,
    escalation: Option<String>,
    mode: Option<String>,
    imap_folder: Option<String>,
    calendar: Option<RawCalendar>,
    thanks_closes: Option<bool>,
    #[serde(flatten)]
    policy: RawPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    from: Option<String>,
    to: Option<String>,
    cc: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    #[serde(default)]
    header: BTreeMap<String, String>,
    queue: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    ignore: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVip {
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    senders: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIngest {
    max_message_bytes: Option<usize>,
    max_header_lines: Option<usize>,
    thread_window: Option<String>,
    agent_token_lifetime: Option<String>,
    #[serde(default)]
    trusted_authserv_ids: Vec<String>,
}

impl RawConfig {
    fn validate(self, problems: &mut Problems) -> Config {
        let builtin = Config::builtin();
        let defaults = self
            .defaults
            .validate("defaults", &QueuePolicy::default(), problems);

        let calendar = match self.calendar {
            Some(raw) => raw.validate("calendar", problems),
            None => Calendar::default(),
        };
        let mut queues = Vec::new();
        for (i, raw) in self.queue.into_iter().enumerate() {
            let key = format!("queue[{i}]");
            if raw.name.trim().is_empty() {
                problems.add(format!("{key}.name"), "must not be empty");
            }
            if queues.iter().any(|q: &Queue| q.name == raw.name) {
                problems.add(
                    format!("{key}.name"),
                    format!("queue \"{}\" is declared twice", raw.name),
                );
            }
            let mode = match raw.mode.as_deref() {
                None | Some("observe") => QueueMode::Observe,
                Some("relay") => QueueMode::Relay,
                Some(other) => {
                    problems.add(
                        format!("{key}.mode"),
                        format!("\"{other}\" is not a mode (use \"observe\" or \"relay\")"),
                    );
                    QueueMode::Observe
                }
            };
            for (j, agent) in raw.agents.iter().enumerate() {
                check_address(&format!("{key}.agents[{j}]"), agent, problems);
            }
            if let Some(escalation) = &raw.escalation {
                check_address(&format!("{key}.escalation"), escalation, problems);
            }
            queues.push(Queue {
                calendar: match raw.calendar {
                    Some(own) => own.validate(&format!("{key}.calendar"), problems),
                    None => calendar.clone(),
                },
                policy: raw.policy.validate(&key, &defaults, problems),
                name: raw.name,
                agents: raw.agents.iter().map(|a| a.to_lowercase()).collect(),
                escalation: raw.escalation,
                mode,
                imap_folder: raw.imap_folder,
                thanks_closes: raw.thanks_closes.unwrap_or(true),
            });
        }
        if queues.is_empty() {
            queues = builtin.queues.clone();
            queues[0].policy = defaults.clone();
            queues[0].calendar = calendar.clone();
        }
        let known_queue = |name: &str| queues.iter().any(|q| q.name == name);

        let mut mailboxes = Vec::new();
        for (i, raw) in self.mailbox.into_iter().enumerate() {
            let key = format!("mailbox[{i}]");
            if mailboxes.iter().any(|m: &Mailbox| m.name == raw.name) {
                problems.add(
                    format!("{key}.name"),
                    format!("mailbox \"{}\" is declared twice", raw.name),
                );
            }
            check_address(&format!("{key}.address"), &raw.address, problems);
            let queue = raw.queue.unwrap_or_else(|| queues[0].name.clone());
            if !known_queue(&queue) {
                problems.add(
                    format!("{key}.queue"),
                    format!("unknown queue \"{queue}\" (declare it in a [[queue]] section)"),
                );
            }
            let source = match (raw.imap, raw.maildir) {
                (Some(imap), None) => MailboxSource::Imap(imap.validate(&key, problems)),
                (None, Some(dir)) => MailboxSource::Maildir(dir),
                (Some(_), Some(_)) => {
                    problems.add(&key, "set either imap or maildir, not both");
                    MailboxSource::Maildir(PathBuf::new())
                }
                (None, None) => {
                    problems.add(&key, "needs an imap = { ... } table or a maildir path");
                    MailboxSource::Maildir(PathBuf::new())
                }
            };
            let poll_default = match source {
                MailboxSource::Imap(_) => Duration::from_secs(60),
                MailboxSource::Maildir(_) => Duration::from_secs(2),
            };
            if raw.folders.as_ref().is_some_and(Vec::is_empty) {
                problems.add(
                    format!("{key}.folders"),
                    "is empty: list the folders to watch, or leave it out for [\"INBOX\"]",
                );
            }
            let poll_interval = match raw.poll_interval.as_deref().map(Span::parse) {
                None => poll_default,
                Some(Ok(span)) if !span.length.is_zero() && !span.business => span.length,
                Some(Ok(_)) => {
                    problems.add(
                        format!("{key}.poll_interval"),
                        "must be a non-zero wall-clock duration",
                    );
                    poll_default
                }
                Some(Err(e)) => {
                    problems.add(format!("{key}.poll_interval"), e);
                    poll_default
                }
            };
            mailboxes.push(Mailbox {
                poll_interval,
                display_name: raw.display_name,
                reply_token: raw.reply_token,
                acknowledge_own_domain: raw.acknowledge_own_domain,
                name: raw.name,
                address: raw.address.to_lowercase(),
                queue,
                folders: raw.folders.unwrap_or_else(|| vec!["INBOX".into()]),
                sent_folders: raw.sent_folders,
                source,
            });
        }

        let mut rules = Vec::new();
        for (i, raw) in self.rule.into_iter().enumerate() {
            let key = format!("rule[{i}]");
            let mut conditions = Vec::new();
            let fields = [
                (Field::From, "from", raw.from),
                (Field::To, "to", raw.to),
                (Field::Cc, "cc", raw.cc),
                (Field::Subject, "subject", raw.subject),
                (Field::Body, "body", raw.body),
            ];
            let headers = raw
                .header
                .into_iter()
                .map(|(name, re)| (Field::Header(name.to_ascii_lowercase()), name, Some(re)));
            for (field, name, pattern) in fields
                .into_iter()
                .map(|(f, n, p)| (f, n.to_string(), p))
                .chain(headers.map(|(f, n, p)| (f, format!("header.\"{n}\""), p)))
            {
                let Some(pattern) = pattern else { continue };
                match Regex::new(&pattern) {
                    Ok(re) => conditions.push((field, re)),
                    Err(e) => problems.add(
                        format!("{key}.{name}"),
                        format!("invalid regular expression: {e}"),
                    ),
                }
            }
            if conditions.is_empty() && !problems.0.iter().any(|p| p.key.starts_with(&key)) {
                problems.add(
                    &key,
                    "has no condition (from, to, cc, subject, body or header)",
                );
            }
            if let Some(queue) = &raw.queue
                && !known_queue(queue)
            {
                problems.add(
                    format!("{key}.queue"),
                    format!("unknown queue \"{queue}\" (declare it in a [[queue]] section)"),
                );
            }
            let priority = raw.priority.as_deref().and_then(|p| {
                let parsed = Priority::parse(p);
                if parsed.is_none() {
                    problems.add(
                        format!("{key}.priority"),
                        format!("\"{p}\" is not a priority (low, normal, high, urgent)"),
                    );
                }
                parsed
            });
            if raw.queue.is_none()
                && raw.category.is_none()
                && priority.is_none()
                && raw.labels.is_empty()
                && !raw.ignore
            {
                problems.add(
                    &key,
                    "does nothing: set queue, category, priority, labels or ignore",
                );
            }
            rules.push(Rule {
                conditions,
                queue: raw.queue,
                category: raw.category,
                priority,
                labels: raw.labels,
                ignore: raw.ignore,
            });
        }

        let smtp = self.smtp.map(|raw| raw.validate(problems));
        let report = self
            .report
            .map(|raw| raw.validate(problems))
            .unwrap_or_default();

        let ticket_tag = match self.ticket_tag.as_deref().map(TicketTag::parse) {
            None => builtin.ticket_tag,
            Some(Ok(tag)) => tag,
            Some(Err(e)) => {
                problems.add("ticket_tag", e);
                builtin.ticket_tag
            }
        };

        let limits = IngestLimits::default();
        let thread_window = match self.ingest.thread_window.as_deref().map(Span::parse) {
            None => limits.thread_window,
            Some(Ok(span)) => span.length,
            Some(Err(e)) => {
                problems.add("ingest.thread_window", e);
                limits.thread_window
            }
        };
        let agent_token_lifetime =
            match self.ingest.agent_token_lifetime.as_deref().map(Span::parse) {
                None => limits.agent_token_lifetime,
                Some(Ok(span)) => span.length,
                Some(Err(e)) => {
                    problems.add("ingest.agent_token_lifetime", e);
                    limits.agent_token_lifetime
                }
            };
        for id in &self.ingest.trusted_authserv_ids {
            if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';') {
                problems.add(
                    "ingest.trusted_authserv_ids",
                    format!("\"{id}\" is not an authserv-id: give the host name your mail server writes first in its Authentication-Results header"),
                );
            }
        }
        let ingest = IngestLimits {
            max_message_bytes: self
                .ingest
                .max_message_bytes
                .unwrap_or(limits.max_message_bytes),
            max_header_lines: self
                .ingest
                .max_header_lines
                .unwrap_or(limits.max_header_lines),
            thread_window,
            agent_token_lifetime,
            trusted_authserv_ids: self.ingest.trusted_authserv_ids,
        };

        Config {
            database: self.database.unwrap_or(builtin.database),
            defaults,
            calendar,
            smtp,
            mailboxes,
            queues,
            rules,
            vip: Vip {
                domains: self.vip.domains.iter().map(|d| d.to_lowercase()).collect(),
                senders: self.vip.senders.iter().map(|s| s.to_lowercase()).collect(),
            },
            ingest,
            ticket_tag,
            token_key_file: self.token_key_file,
            templates: self.templates,
            report,
        }
    }
}

impl RawPolicy {
    fn validate(&self, key: &str, base: &QueuePolicy, problems: &mut Problems) -> QueuePolicy {
        let span = |name: &str, value: &Option<String>, fallback: Span, problems: &mut Problems| {
            match value.as_deref().map(Span::parse) {
                None => fallback,
                Some(Ok(span)) => span,
                Some(Err(e)) => {
                    problems.add(format!("{key}.{name}"), e);
                    fallback
                }
            }
        };
        let share =
            |name: &str, value: Option<f64>, fallback: f64, problems: &mut Problems| match value {
                Some(v) if v > 0.0 && v < 1.0 => v,
                Some(v) => {
                    problems.add(
                        format!("{key}.{name}"),
                        format!("{v} must be between 0 and 1 (exclusive)"),
                    );
                    fallback
                }
                None => fallback,
            };
        QueuePolicy {
            ack_delay: span("ack_delay", &self.ack_delay, base.ack_delay, problems),
            response_target: span(
                "response_target",
                &self.response_target,
                base.response_target,
                problems,
            ),
            warn_at: share("warn_at", self.warn_at, base.warn_at, problems),
            estimate_quantile: share(
                "estimate_quantile",
                self.estimate_quantile,
                base.estimate_quantile,
                problems,
            ),
            estimate_default: match span(
                "estimate_default",
                &self.estimate_default,
                base.estimate_default,
                problems,
            ) {
                s if s.length.is_zero() => {
                    problems.add(
                        format!("{key}.estimate_default"),
                        "must be a non-zero duration",
                    );
                    base.estimate_default
                }
                s => s,
            },
            estimate_min_samples: self
                .estimate_min_samples
                .unwrap_or(base.estimate_min_samples),
            ack_daily_cap: self.ack_daily_cap.unwrap_or(base.ack_daily_cap),
        }
    }
}

impl RawCalendar {
    fn validate(self, prefix: &str, problems: &mut Problems) -> Calendar {
        let mut calendar = Calendar::default();
        if let Some(name) = self.timezone {
            match TimeZone::get(&name) {
                Ok(tz) => {
                    calendar.timezone = tz;
                    calendar.timezone_name = name;
                }
                Err(_) => problems.add(
                    format!("{prefix}.timezone"),
                    format!("unknown time zone \"{name}\" (use an IANA name like \"Europe/Kyiv\")"),
                ),
            }
        }
        if let Some(hours) = self.hours {
            calendar.hours.clear();
            for (day, range) in hours {
                let key = format!("{prefix}.hours.{day}");
                let weekday = match day.to_ascii_lowercase().as_str() {
                    "mon" => Weekday::Monday,
                    "tue" => Weekday::Tuesday,
                    "wed" => Weekday::Wednesday,
                    "thu" => Weekday::Thursday,
                    "fri" => Weekday::Friday,
                    "sat" => Weekday::Saturday,
                    "sun" => Weekday::Sunday,
                    _ => {
                        problems.add(
                            &key,
                            "unknown weekday (use mon, tue, wed, thu, fri, sat, sun)",
                        );
                        continue;
                    }
                };
                let parsed = range.split_once('-').and_then(|(a, b)| {
                    Some((
                        a.trim().parse::<Time>().ok()?,
                        b.trim().parse::<Time>().ok()?,
                    ))
                });
                match parsed {
                    Some((start, end)) if start < end => {
                        calendar.hours.insert(weekday.into(), (start, end));
                    }
                    _ => problems.add(
                        &key,
                        format!("\"{range}\" is not a range of hours like \"09:00-18:00\""),
                    ),
                }
            }
        }
        for (i, day) in self.holidays.iter().enumerate() {
            match day.parse::<Date>() {
                Ok(date) => calendar.holidays.push(date),
                Err(_) => problems.add(
                    format!("{prefix}.holidays[{i}]"),
                    format!("\"{day}\" is not a date like \"2026-12-25\""),
                ),
            }
        }
        calendar
    }
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

impl RawImap {
    fn validate(self, key: &str, problems: &mut Problems) -> Imap {
        let tls = parse_tls(
            &format!("{key}.imap.tls"),
            self.tls.as_deref(),
            &self.host,
            problems,
        );
        let password = match PasswordSource::from_keys(
            self.password_file,
            self.password_env,
            self.password_credential,
        ) {
            Ok(Some(source)) => source,
            Ok(None) => {
                problems.add(
                    format!("{key}.imap"),
                    "needs a password: set password_file, password_env or password_credential",
                );
                PasswordSource::Env(String::new())
            }
            Err(e) => {
                problems.add(format!("{key}.imap"), e);
                PasswordSource::Env(String::new())
            }
        };
        Imap {
            port: self.port.unwrap_or(match tls {
                TlsMode::Tls => 993,
                _ => 143,
            }),
            host: self.host,
            tls,
            user: self.user,
            password,
        }
    }
}

impl RawReport {
    fn validate(self, problems: &mut Problems) -> ReportSchedule {
        for (i, address) in self.recipients.iter().enumerate() {
            check_address(&format!("report.recipients[{i}]"), address, problems);
        }
        let default = ReportSchedule::default();
        let weekly = match self.weekly.as_deref().map(WeeklyAt::parse) {
            None => default.weekly,
            Some(Ok(at)) => at,
            Some(Err(e)) => {
                problems.add("report.weekly", e);
                default.weekly
            }
        };
        ReportSchedule {
            recipients: self.recipients,
            weekly,
        }
    }
}

impl RawSmtp {
    fn validate(self, problems: &mut Problems) -> Smtp {
        let tls = parse_tls("smtp.tls", self.tls.as_deref(), &self.host, problems);
        let retry_default = Duration::from_secs(30);
        let retry_delay = match self.retry_delay.as_deref().map(Span::parse) {
            None => retry_default,
            Some(Ok(span)) if !span.length.is_zero() && !span.business => span.length,
            Some(Ok(_)) => {
                problems.add("smtp.retry_delay", "must be a non-zero wall-clock duration");
                retry_default
            }
            Some(Err(e)) => {
                problems.add("smtp.retry_delay", e);
                retry_default
            }
        };
        let password = match PasswordSource::from_keys(
            self.password_file,
            self.password_env,
            self.password_credential,
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
            Err(e) => {
                problems.add("smtp", e);
                None
            }
        };
        Smtp {
            retry_delay,
            password,
            port: self.port.unwrap_or(match tls {
                TlsMode::Tls => 465,
                TlsMode::StartTls => 587,
                TlsMode::None => 25,
            }),
            host: self.host,
            tls,
            user: self.user,
            max_attempts: self.max_attempts.unwrap_or(10).max(1),
        }
    }
}

fn check_address(key: &str, address: &str, problems: &mut Problems) {
    let valid = address.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && d.contains('.') && !address.contains(char::is_whitespace)
    });
    if !valid {
        problems.add(key, format!("\"{address}\" is not an email address"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, Vec<Problem>> {
        match Config::from_toml(text, Path::new("test.toml")) {
            Ok(c) => Ok(c),
            Err(ConfigError::Invalid { problems, .. }) => Err(problems),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(Span::parse("2s").unwrap().length, Duration::from_secs(2));
        assert_eq!(Span::parse("15m").unwrap().length, Duration::from_secs(900));
        assert_eq!(
            Span::parse("1d").unwrap().length,
            Duration::from_secs(86_400)
        );
        assert_eq!(
            Span::parse("1h30m").unwrap().length,
            Duration::from_secs(5400)
        );
        let business = Span::parse("8h business").unwrap();
        assert!(business.business);
        assert_eq!(business.length, Duration::from_secs(8 * 3600));
        assert!(Span::parse("15").is_err());
        assert!(Span::parse("soon").is_err());
        assert!(Span::parse("").is_err());
    }

    #[test]
    fn empty_file_gives_builtin_queue() {
        let config = load("").unwrap();
        assert_eq!(config.queues.len(), 1);
        assert_eq!(config.default_queue(), "support");
        assert_eq!(config.defaults.ack_delay.length, Duration::from_secs(900));
    }

    #[test]
    fn design_example_is_valid() {
        let text = r#"
database = "/var/lib/postdesk/postdesk.db"
[defaults]
ack_delay = "15m"
response_target = "1d"
warn_at = 0.75
estimate_quantile = 0.8
[calendar]
timezone = "Europe/Kyiv"
hours = { mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = "09:00-17:00" }
holidays = ["2026-12-25", "2027-01-01"]
[smtp]
host = "smtp.example.com"
port = 587
tls = "starttls"
user = "support@example.com"
password_file = "/etc/postdesk/smtp.pass"
[[mailbox]]
name = "support"
address = "support@example.com"
queue = "support"
folders = ["INBOX"]
sent_folders = ["Sent"]
imap = { host = "imap.example.com", port = 993, tls = "tls", user = "support@example.com", password_file = "/etc/postdesk/imap.pass" }
[[queue]]
name = "support"
[[queue]]
name = "billing"
agents = ["anna@example.com", "petro@example.com"]
escalation = "lead@example.com"
mode = "observe"
imap_folder = "Queues/Billing"
response_target = "1d"
[[rule]]
subject = "(?i)invoice|refund|сч[её]т|рахун|faktur"
queue = "billing"
category = "billing"
[vip]
domains = ["bigclient.example"]
"#;
        let config = load(text).unwrap();
        assert_eq!(config.queues.len(), 2);
        assert_eq!(config.calendar.holidays.len(), 2);
        assert_eq!(config.calendar.hours.len(), 5);
        assert!(config.is_agent("Anna@example.com"));
        assert!(config.is_own_address("support+t.abc@example.com"));
        assert!(config.vip.contains("ceo@bigclient.example"));
    }

    #[test]
    fn every_problem_names_its_key() {
        let text = r#"
[defaults]
ack_delay = "soon"
[[queue]]
name = "support"
mode = "shout"
[[rule]]
subject = "(unclosed"
queue = "support"
[[rule]]
from = "x"
queue = "nowhere"
[[mailbox]]
name = "m"
address = "support@example.com"
imap = { host = "imap.example.com", tls = "none", user = "u", password_env = "PW" }
"#;
        let problems = load(text).unwrap_err();
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "defaults.ack_delay",
                "queue[0].mode",
                "mailbox[0].imap.tls",
                "rule[0].subject",
                "rule[1].queue"
            ]
        );
        assert!(problems[3].message.contains("invalid regular expression"));
        assert!(problems[4].message.contains("unknown queue \"nowhere\""));
    }

    #[test]
    fn an_empty_folder_list_is_refused() {
        let err = Config::from_toml(
            "[[mailbox]]\nname = \"s\"\naddress = \"s@example.com\"\nmaildir = \"m\"\nfolders = []\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("folders") && err.contains("empty"), "{err}");
    }

    #[test]
    fn unknown_key_is_a_syntax_error_naming_it() {
        let err = Config::from_toml("[defaults]\nack_dealy = \"1m\"\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ack_dealy"), "{err}");
    }

    #[test]
    fn estimate_keys_default_and_inherit() {
        let config = load("").unwrap();
        assert_eq!(
            config.defaults.estimate_default,
            Span::calendar(Duration::from_secs(4 * 3600))
        );
        assert_eq!(config.defaults.estimate_min_samples, 20);
        assert_eq!(config.queues[0].policy.estimate_min_samples, 20);

        let config = load(
            r#"
[defaults]
estimate_default = "2h business"
estimate_min_samples = 5
[[queue]]
name = "support"
[[queue]]
name = "billing"
estimate_default = "1d"
estimate_min_samples = 50
"#,
        )
        .unwrap();
        let support = &config.queues[0].policy;
        assert_eq!(
            support.estimate_default,
            Span::parse("2h business").unwrap()
        );
        assert_eq!(support.estimate_min_samples, 5);
        let billing = &config.queues[1].policy;
        assert_eq!(billing.estimate_default, Span::parse("1d").unwrap());
        assert_eq!(billing.estimate_min_samples, 50);
    }

    #[test]
    fn estimate_keys_are_validated() {
        let problems = load(
            r#"
[defaults]
estimate_default = "soon"
[[queue]]
name = "support"
estimate_default = "0m"
"#,
        )
        .unwrap_err();
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["defaults.estimate_default", "queue[0].estimate_default"]
        );
        assert!(problems[1].message.contains("non-zero"), "{}", problems[1]);

        let err = Config::from_toml(
            "[defaults]\nestimate_min_samples = -1\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("estimate_min_samples"), "{err}");
        let err = Config::from_toml(
            "[[queue]]\nname = \"q\"\nestimate_defualt = \"1h\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("estimate_defualt"), "{err}");
    }

    #[test]
    fn a_queue_may_keep_its_own_calendar() {
        let config = load(
            r#"
[calendar]
timezone = "Europe/Kyiv"
[[queue]]
name = "support"
[[queue]]
name = "night"
calendar = { timezone = "America/New_York", hours = { sat = "10:00-14:00" }, holidays = ["2026-12-26"] }
[[queue]]
name = "broken"
calendar = { timezone = "Mars/Olympus" }
"#,
        )
        .unwrap_err();
        assert_eq!(problems_keys(&config), ["queue[2].calendar.timezone"]);
        let config = load(
            r#"
[calendar]
timezone = "Europe/Kyiv"
[[queue]]
name = "support"
[[queue]]
name = "night"
calendar = { timezone = "America/New_York", hours = { sat = "10:00-14:00" } }
"#,
        )
        .unwrap();
        assert_eq!(
            config.queue("support").unwrap().calendar.timezone_name,
            "Europe/Kyiv"
        );
        let night = &config.queue("night").unwrap().calendar;
        assert_eq!(night.timezone_name, "America/New_York");
        assert_eq!(night.hours.len(), 1);
    }

    #[test]
    fn passwords_come_from_exactly_one_source() {
        let config = load(
            r#"
[smtp]
host = "smtp.example.com"
user = "support@example.com"
password_credential = "smtp"
[[mailbox]]
name = "support"
address = "support@example.com"
imap = { host = "imap.example.com", user = "support", password_env = "IMAP_PASSWORD" }
"#,
        )
        .unwrap();
        let smtp = config.smtp.unwrap();
        assert_eq!(
            smtp.password,
            Some(PasswordSource::Credential("smtp".into()))
        );
        let MailboxSource::Imap(imap) = &config.mailboxes[0].source else {
            panic!("an IMAP mailbox");
        };
        assert_eq!(imap.password, PasswordSource::Env("IMAP_PASSWORD".into()));

        let problems = load(
            r#"
[smtp]
host = "smtp.example.com"
user = "support@example.com"
[[mailbox]]
name = "a"
address = "a@example.com"
imap = { host = "imap.example.com", user = "a" }
[[mailbox]]
name = "b"
address = "b@example.com"
imap = { host = "imap.example.com", user = "b", password_env = "B", password_file = "/b" }
"#,
        )
        .unwrap_err();
        assert_eq!(
            problems_keys(&problems),
            ["mailbox[0].imap", "mailbox[1].imap", "smtp.user"]
        );
        assert!(problems[0].message.contains("needs a password"));
        assert!(problems[1].message.contains("only one"));
        assert!(problems[2].message.contains("needs a password"));

        let problems =
            load("[smtp]\nhost = \"smtp.example.com\"\npassword_file = \"/p\"\n").unwrap_err();
        assert_eq!(problems_keys(&problems), ["smtp.user"]);
    }

    fn problems_keys(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn ticket_tag_round_trip() {
        let tag = TicketTag::parse("[#{ref}]").unwrap();
        assert_eq!(tag.format(1042), "[#1042]");
        let found: Vec<_> = tag.find_all("Re: [#1042] Printer").collect();
        assert_eq!(found, [1042]);
        assert_eq!(tag.strip("Re: [#1042] Printer"), "Re:  Printer");
        assert!(TicketTag::parse("{ref}").is_err());
        assert!(TicketTag::parse("#").is_err());
    }
    #[test]
    fn report_section() {
        let config = load(
            r#"
[report]
recipients = ["lead@example.com", "head@example.com"]
weekly = "fri 17:30"
"#,
        )
        .unwrap();
        assert_eq!(
            config.report.recipients,
            ["lead@example.com", "head@example.com"]
        );
        assert_eq!(config.report.weekly.weekday, Weekday::Friday);
        assert_eq!(config.report.weekly.time, Time::constant(17, 30, 0, 0));
        let default = load("").unwrap().report;
        assert!(default.recipients.is_empty());
        assert_eq!(default.weekly.weekday, Weekday::Monday);
        let typo = Config::from_toml("[report]\nrecipient = []\n", Path::new("t.toml"));
        assert!(matches!(typo, Err(ConfigError::Syntax { .. })), "{typo:?}");
        let problems =
            load("[report]\nrecipients = [\"nobody\"]\nweekly = \"someday 25:00\"\n").unwrap_err();
        assert_eq!(
            problems_keys(&problems),
            ["report.recipients[0]", "report.weekly"]
        );
    }
}
