//! The validated values a [`Config`](super::Config) is made of.

use std::path::PathBuf;
use std::time::Duration;

use jiff::civil::{Time, Weekday};
use regex::Regex;

use super::calendar::{Calendar, Span, WeeklyAt};
use crate::secret::PasswordSource;

/// `[report]`: the weekly report mail. No recipients, no mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSchedule {
    pub recipients: Vec<String>,
    /// When it goes out, in the `[calendar]` time zone.
    pub weekly: WeeklyAt,
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
    /// One breach notice per ticket, or one digest per hour or day to the escalation address.
    pub breach_notice: NoticeMode,
    /// The same for the warnings to the agents.
    pub warning_notice: NoticeMode,
    /// How long closed and ignored tickets are kept after they were last touched.
    pub retention: Retention,
}

/// `retention = "3y"`: how long a closed ticket is kept; `"forever"` (the default) keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Forever,
    /// This many days, weeks, months or years (`d`, `w`, `mo`, `y`), counted in the
    /// calendar's time zone.
    For(u32, RetentionUnit),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionUnit {
    Days,
    Weeks,
    Months,
    Years,
}

impl Retention {
    pub fn parse(text: &str) -> Result<Retention, String> {
        let text = text.trim();
        if text == "forever" {
            return Ok(Retention::Forever);
        }
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let unit = match &text[digits..] {
            "d" => Some(RetentionUnit::Days),
            "w" => Some(RetentionUnit::Weeks),
            "mo" => Some(RetentionUnit::Months),
            "y" => Some(RetentionUnit::Years),
            _ => None,
        };
        match (text[..digits].parse::<u32>(), unit) {
            (Ok(n), Some(unit)) if n > 0 && n <= 1000 => Ok(Retention::For(n, unit)),
            _ => Err(format!(
                "\"{text}\" is not a retention (use a length like \"90d\", \"26w\", \"18mo\", \"3y\", or \"forever\")"
            )),
        }
    }

    /// Tickets last touched before this moment are past their retention; `None` keeps all.
    pub fn cutoff(&self, now: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
        let Retention::For(n, unit) = *self else {
            return None;
        };
        let n = i64::from(n);
        let span = match unit {
            RetentionUnit::Days => jiff::Span::new().days(n),
            RetentionUnit::Weeks => jiff::Span::new().weeks(n),
            RetentionUnit::Months => jiff::Span::new().months(n),
            RetentionUnit::Years => jiff::Span::new().years(n),
        };
        now.to_zoned(tz.clone())
            .checked_sub(span)
            .map(|z| z.timestamp())
            .ok()
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Retention::Forever => f.write_str("forever"),
            Retention::For(n, unit) => {
                let unit = match unit {
                    RetentionUnit::Days => "d",
                    RetentionUnit::Weeks => "w",
                    RetentionUnit::Months => "mo",
                    RetentionUnit::Years => "y",
                };
                write!(f, "{n}{unit}")
            }
        }
    }
}

/// How warnings and breach notices reach their recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeMode {
    /// One mail per ticket, right away.
    Each,
    /// One digest per recipient at the end of each hour (the queue's calendar time zone).
    Hourly,
    /// One digest per recipient at the end of each day (local midnight).
    Daily,
}

impl NoticeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeMode::Each => "each",
            NoticeMode::Hourly => "hourly",
            NoticeMode::Daily => "daily",
        }
    }

    pub fn parse(text: &str) -> Result<NoticeMode, String> {
        match text {
            "each" => Ok(NoticeMode::Each),
            "hourly" => Ok(NoticeMode::Hourly),
            "daily" => Ok(NoticeMode::Daily),
            other => Err(format!(
                "\"{other}\" is not a notice mode (use \"each\", \"hourly\" or \"daily\")"
            )),
        }
    }
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
            breach_notice: NoticeMode::Each,
            warning_notice: NoticeMode::Each,
            retention: Retention::Forever,
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

    /// As the config writes it: `"[#{ref}]"`.
    pub fn as_format(&self) -> String {
        format!("{}{{ref}}{}", self.prefix, self.suffix)
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

#[cfg(test)]
#[path = "retention_tests.rs"]
mod retention_tests;
