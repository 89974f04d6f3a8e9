//! The effective configuration, as `postdesk config show` prints it: every key with the value
//! postdesk uses, defaults filled in and each queue's policy and calendar as they apply to it
//! (its own keys over `[defaults]` and `[calendar]`). Secrets are named by where they are
//! kept (a file, a variable, a credential), never read.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::{Time, Weekday};
use serde::{Serialize, Serializer};

use super::Config;
use super::calendar::{Calendar, Span, WeekdayKey};
use super::values::{
    Field, Imap, IngestLimits, Mailbox, MailboxSource, Queue, QueueMode, QueuePolicy,
    ReportSchedule, Rule, Smtp,
};
use crate::secret::PasswordSource;

/// The whole config, laid out as the file would be (scalars before tables, for TOML).
#[derive(Serialize)]
pub struct Effective {
    database: String,
    ticket_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    templates: Option<String>,
    defaults: Policy,
    calendar: Hours,
    #[serde(skip_serializing_if = "Option::is_none")]
    smtp: Option<SmtpShown>,
    ingest: Ingest,
    vip: Vip,
    report: Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    web: Option<WebShown>,
    mailbox: Vec<MailboxShown>,
    queue: Vec<QueueShown>,
    rule: Vec<RuleShown>,
}

impl Effective {
    pub fn of(config: &Config) -> Effective {
        Effective {
            database: config.database.display().to_string(),
            ticket_tag: config.ticket_tag.as_format(),
            token_key_file: config
                .token_key_file
                .as_ref()
                .map(|p| p.display().to_string()),
            templates: config.templates.as_ref().map(|p| p.display().to_string()),
            defaults: Policy::of(&config.defaults),
            calendar: Hours::of(&config.calendar),
            smtp: config.smtp.as_ref().map(SmtpShown::of),
            ingest: Ingest::of(&config.ingest),
            vip: Vip {
                domains: config.vip.domains.clone(),
                senders: config.vip.senders.clone(),
            },
            report: Report::of(&config.report),
            web: config.web.as_ref().map(|web| WebShown {
                listen: web.listen.to_string(),
                trusted_proxy: web.trusted_proxy.iter().map(|ip| ip.to_string()).collect(),
            }),
            mailbox: config.mailboxes.iter().map(MailboxShown::of).collect(),
            queue: config.queues.iter().map(QueueShown::of).collect(),
            rule: config.rules.iter().map(RuleShown::of).collect(),
        }
    }
}

/// `[web]`, as it is only shown when the console is on.
#[derive(Serialize)]
struct WebShown {
    listen: String,
    trusted_proxy: Vec<String>,
}

fn span(span: &Span) -> String {
    span.to_string()
}

fn wall(duration: Duration) -> String {
    Span::calendar(duration).to_string()
}

fn hhmm(time: Time) -> String {
    time.strftime("%H:%M").to_string()
}

#[derive(Serialize)]
struct Policy {
    ack_delay: String,
    response_target: String,
    warn_at: f64,
    estimate_quantile: f64,
    estimate_default: String,
    estimate_min_samples: u32,
    ack_daily_cap: u32,
    breach_notice: &'static str,
    warning_notice: &'static str,
    retention: String,
}

impl Policy {
    fn of(policy: &QueuePolicy) -> Policy {
        Policy {
            ack_delay: span(&policy.ack_delay),
            response_target: span(&policy.response_target),
            warn_at: policy.warn_at,
            estimate_quantile: policy.estimate_quantile,
            estimate_default: span(&policy.estimate_default),
            estimate_min_samples: policy.estimate_min_samples,
            ack_daily_cap: policy.ack_daily_cap,
            breach_notice: policy.breach_notice.as_str(),
            warning_notice: policy.warning_notice.as_str(),
            retention: policy.retention.to_string(),
        }
    }
}

#[derive(Serialize)]
struct Hours {
    timezone: String,
    holidays: Vec<String>,
    /// Monday first, as a table.
    hours: Week,
}

impl Hours {
    fn of(calendar: &Calendar) -> Hours {
        Hours {
            timezone: calendar.timezone_name.clone(),
            holidays: calendar.holidays.iter().map(|d| d.to_string()).collect(),
            hours: Week(
                calendar
                    .hours
                    .iter()
                    .map(|(day, (start, end))| {
                        (weekday(*day), format!("{}-{}", hhmm(*start), hhmm(*end)))
                    })
                    .collect(),
            ),
        }
    }
}

/// Weekdays in the order of the week (a map would sort them by name).
struct Week(Vec<(&'static str, String)>);

impl Serialize for Week {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

fn weekday(day: WeekdayKey) -> &'static str {
    match Weekday::from_monday_one_offset(day.0).unwrap_or(Weekday::Monday) {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// Where a password is kept: exactly one of the three is set.
#[derive(Serialize)]
struct Password {
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_credential: Option<String>,
}

impl Password {
    fn of(source: &PasswordSource) -> Password {
        let mut shown = Password {
            password_file: None,
            password_env: None,
            password_credential: None,
        };
        match source {
            PasswordSource::File(path) => shown.password_file = Some(path.display().to_string()),
            PasswordSource::Env(name) => shown.password_env = Some(name.clone()),
            PasswordSource::Credential(name) => shown.password_credential = Some(name.clone()),
        }
        shown
    }
}

#[derive(Serialize)]
struct SmtpShown {
    host: String,
    port: u16,
    tls: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    password: Option<Password>,
    max_attempts: u32,
    retry_delay: String,
}

impl SmtpShown {
    fn of(smtp: &Smtp) -> SmtpShown {
        SmtpShown {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls.as_str(),
            user: smtp.user.clone(),
            password: smtp.password.as_ref().map(Password::of),
            max_attempts: smtp.max_attempts,
            retry_delay: wall(smtp.retry_delay),
        }
    }
}

#[derive(Serialize)]
struct Ingest {
    max_message_bytes: usize,
    max_header_lines: usize,
    thread_window: String,
    agent_token_lifetime: String,
    trusted_authserv_ids: Vec<String>,
}

impl Ingest {
    fn of(limits: &IngestLimits) -> Ingest {
        Ingest {
            max_message_bytes: limits.max_message_bytes,
            max_header_lines: limits.max_header_lines,
            thread_window: wall(limits.thread_window),
            agent_token_lifetime: wall(limits.agent_token_lifetime),
            trusted_authserv_ids: limits.trusted_authserv_ids.clone(),
        }
    }
}

#[derive(Serialize)]
struct Vip {
    domains: Vec<String>,
    senders: Vec<String>,
}

#[derive(Serialize)]
struct Report {
    recipients: Vec<String>,
    weekly: String,
}

impl Report {
    fn of(report: &ReportSchedule) -> Report {
        Report {
            recipients: report.recipients.clone(),
            weekly: format!(
                "{} {}",
                weekday(report.weekly.weekday.into()),
                hhmm(report.weekly.time)
            ),
        }
    }
}

#[derive(Serialize)]
struct MailboxShown {
    name: String,
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    reply_token: bool,
    acknowledge_own_domain: bool,
    queue: String,
    folders: Vec<String>,
    sent_folders: Vec<String>,
    poll_interval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    maildir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    imap: Option<ImapShown>,
}

impl MailboxShown {
    fn of(mailbox: &Mailbox) -> MailboxShown {
        let (maildir, imap) = match &mailbox.source {
            MailboxSource::Maildir(dir) => (Some(dir.display().to_string()), None),
            MailboxSource::Imap(imap) => (None, Some(ImapShown::of(imap))),
        };
        MailboxShown {
            name: mailbox.name.clone(),
            address: mailbox.address.clone(),
            display_name: mailbox.display_name.clone(),
            reply_token: mailbox.reply_token,
            acknowledge_own_domain: mailbox.acknowledge_own_domain,
            queue: mailbox.queue.clone(),
            folders: mailbox.folders.clone(),
            sent_folders: mailbox.sent_folders.clone(),
            poll_interval: wall(mailbox.poll_interval),
            maildir,
            imap,
        }
    }
}

#[derive(Serialize)]
struct ImapShown {
    host: String,
    port: u16,
    tls: &'static str,
    user: String,
    #[serde(flatten)]
    password: Password,
}

impl ImapShown {
    fn of(imap: &Imap) -> ImapShown {
        ImapShown {
            host: imap.host.clone(),
            port: imap.port,
            tls: imap.tls.as_str(),
            user: imap.user.clone(),
            password: Password::of(&imap.password),
        }
    }
}

#[derive(Serialize)]
struct QueueShown {
    name: String,
    mode: &'static str,
    agents: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    escalation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    imap_folder: Option<String>,
    thanks_closes: bool,
    #[serde(flatten)]
    policy: Policy,
    calendar: Hours,
}

impl QueueShown {
    fn of(queue: &Queue) -> QueueShown {
        QueueShown {
            name: queue.name.clone(),
            mode: match queue.mode {
                QueueMode::Observe => "observe",
                QueueMode::Relay => "relay",
            },
            agents: queue.agents.clone(),
            escalation: queue.escalation.clone(),
            imap_folder: queue.imap_folder.clone(),
            thanks_closes: queue.thanks_closes,
            policy: Policy::of(&queue.policy),
            calendar: Hours::of(&queue.calendar),
        }
    }
}

#[derive(Serialize)]
struct RuleShown {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<&'static str>,
    labels: Vec<String>,
    ignore: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    header: BTreeMap<String, String>,
}

impl RuleShown {
    fn of(rule: &Rule) -> RuleShown {
        let mut shown = RuleShown {
            from: None,
            to: None,
            cc: None,
            subject: None,
            body: None,
            queue: rule.queue.clone(),
            category: rule.category.clone(),
            priority: rule.priority.map(|p| p.as_str()),
            labels: rule.labels.clone(),
            ignore: rule.ignore,
            header: BTreeMap::new(),
        };
        for (field, regex) in &rule.conditions {
            let pattern = Some(regex.as_str().to_string());
            match field {
                Field::From => shown.from = pattern,
                Field::To => shown.to = pattern,
                Field::Cc => shown.cc = pattern,
                Field::Subject => shown.subject = pattern,
                Field::Body => shown.body = pattern,
                Field::Header(name) => {
                    shown
                        .header
                        .insert(name.clone(), regex.as_str().to_string());
                }
            }
        }
        shown
    }
}
