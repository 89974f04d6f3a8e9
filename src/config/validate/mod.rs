//! From the raw tables to a [`Config`]: one function per section, each recording what is
//! wrong in [`Problems`] and carrying on with a default, so that one run names every bad key.
//! Keys are named as written, the elements of an array (`[[rule]]`, `agents`) counted from 1.

mod queues;
mod rules;
mod servers;
pub mod web;

use std::time::Duration;

use super::calendar::{Calendar, Span, WeeklyAt};
use super::document::did_you_mean;
use super::raw::{RawConfig, RawIngest, RawReport, RawVip};
use super::values::{IngestLimits, Queue, QueuePolicy, ReportSchedule, TicketTag, Vip};
use super::{Config, Problem};

/// Every problem found so far, in the order the keys were checked.
#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
            at: None,
        });
    }

    /// Is any problem recorded at `prefix` or a key below it?
    fn any_under(&self, prefix: &str) -> bool {
        self.0.iter().any(|p| {
            p.key
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }

    pub(super) fn into_vec(self) -> Vec<Problem> {
        self.0
    }
}

impl RawConfig {
    /// Sections are checked in this order, which is the order their problems are listed in.
    pub(super) fn validate(self, problems: &mut Problems) -> Config {
        let builtin = Config::builtin();
        let defaults = self
            .defaults
            .validate("defaults", &QueuePolicy::default(), problems);
        let calendar = match self.calendar {
            Some(raw) => raw.validate("calendar", problems),
            None => Calendar::default(),
        };
        let queues = queues::queues(self.queue, builtin.queues, &defaults, &calendar, problems);
        let mailboxes = servers::mailboxes(self.mailbox, &queues, problems);
        let rules = rules::rules(self.rule, &queues, problems);
        let smtp = self.smtp.map(|raw| raw.validate(problems));
        let report = self
            .report
            .map(|raw| raw.validate(problems))
            .unwrap_or_default();
        let ticket_tag = parsed_or(
            "ticket_tag",
            self.ticket_tag.as_deref(),
            TicketTag::parse,
            builtin.ticket_tag,
            problems,
        );
        let ingest = self.ingest.validate(problems);
        let web = self.web.map(|raw| raw.validate(problems));
        let log_level = parsed_or(
            "log_level",
            self.log_level.as_deref(),
            crate::telemetry::LogLevel::parse,
            builtin.log_level,
            problems,
        );
        Config {
            database: self.database.unwrap_or(builtin.database),
            defaults,
            calendar,
            smtp,
            mailboxes,
            queues,
            rules,
            vip: self.vip.validate(),
            ingest,
            ticket_tag,
            token_key_file: self.token_key_file,
            templates: self.templates,
            report,
            log_level,
            web,
        }
    }
}

/// `value` read by `parse`, or `default` when the key is unset; a value `parse` refuses is
/// recorded at `key` and gives `default` too.
fn parsed_or<T>(
    key: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, String>,
    default: T,
    problems: &mut Problems,
) -> T {
    match value.map(parse) {
        None => default,
        Some(Ok(parsed)) => parsed,
        Some(Err(e)) => {
            problems.add(key, e);
            default
        }
    }
}

/// A non-zero wall-clock duration at `key` (a poll or retry interval), else `default`.
fn wall_clock(
    key: &str,
    value: Option<&str>,
    default: Duration,
    problems: &mut Problems,
) -> Duration {
    match value.map(Span::parse) {
        None => default,
        Some(Ok(span)) if !span.length.is_zero() && !span.business => span.length,
        Some(Ok(_)) => {
            problems.add(
                key,
                "must be a non-zero wall-clock duration (e.g. \"30s\", without \"business\")",
            );
            default
        }
        Some(Err(e)) => {
            problems.add(key, e);
            default
        }
    }
}

/// A span that is more than nothing: a deadline, a window or a lifetime of zero is a
/// mistake (a negative one does not parse).
fn positive(text: &str) -> Result<Span, String> {
    let span = Span::parse(text)?;
    if span.length.is_zero() {
        return Err(format!(
            "\"{}\" is no time at all: give a non-zero duration, e.g. \"1d\"",
            text.trim()
        ));
    }
    Ok(span)
}

/// A key every `[[queue]]`, `[[mailbox]]` or server table must have; a missing one is
/// recorded at the table (`key` is the table's) and gives an empty string.
fn required(key: &str, name: &str, value: Option<String>, problems: &mut Problems) -> String {
    value.unwrap_or_else(|| {
        problems.add(
            format!("{key}.{name}"),
            format!("is missing: set {name} = \"...\" in this table"),
        );
        String::new()
    })
}

fn check_address(key: &str, address: &str, problems: &mut Problems) {
    let valid = address.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && d.contains('.') && !address.contains(char::is_whitespace)
    });
    if !valid {
        problems.add(key, format!("\"{address}\" is not an email address"));
    }
}

/// A mailbox or rule may only name a queue that a `[[queue]]` declares (or the built-in one).
fn check_queue(key: &str, queue: &str, queues: &[Queue], problems: &mut Problems) {
    if !queues.iter().any(|q| q.name == queue) {
        let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
        let hint = match did_you_mean(queue, &names) {
            Some(near) => format!("; did you mean \"{near}\"?"),
            None => String::new(),
        };
        problems.add(
            key,
            format!("unknown queue \"{queue}\" (declare it in a [[queue]] section){hint}"),
        );
    }
}

impl RawVip {
    /// Addresses and domains compare in lower case.
    fn validate(self) -> Vip {
        Vip {
            domains: self.domains.iter().map(|d| d.to_lowercase()).collect(),
            senders: self.senders.iter().map(|s| s.to_lowercase()).collect(),
        }
    }
}

impl RawIngest {
    fn validate(self, problems: &mut Problems) -> IngestLimits {
        let limits = IngestLimits::default();
        let length = |text: &str| positive(text).map(|span| span.length);
        let thread_window = parsed_or(
            "ingest.thread_window",
            self.thread_window.as_deref(),
            length,
            limits.thread_window,
            problems,
        );
        let agent_token_lifetime = parsed_or(
            "ingest.agent_token_lifetime",
            self.agent_token_lifetime.as_deref(),
            length,
            limits.agent_token_lifetime,
            problems,
        );
        // RFC 8601: the authserv-id is one token, the first thing in the header before ';'.
        for id in &self.trusted_authserv_ids {
            if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';') {
                problems.add(
                    "ingest.trusted_authserv_ids",
                    format!("\"{id}\" is not an authserv-id: give the host name your mail server writes first in its Authentication-Results header"),
                );
            }
        }
        IngestLimits {
            max_message_bytes: self.max_message_bytes.unwrap_or(limits.max_message_bytes),
            max_header_lines: self.max_header_lines.unwrap_or(limits.max_header_lines),
            thread_window,
            agent_token_lifetime,
            trusted_authserv_ids: self.trusted_authserv_ids,
        }
    }
}

impl RawReport {
    fn validate(self, problems: &mut Problems) -> ReportSchedule {
        for (i, address) in self.recipients.iter().enumerate() {
            check_address(&format!("report.recipients[{}]", i + 1), address, problems);
        }
        let weekly = parsed_or(
            "report.weekly",
            self.weekly.as_deref(),
            WeeklyAt::parse,
            ReportSchedule::default().weekly,
            problems,
        );
        ReportSchedule {
            recipients: self.recipients,
            weekly,
        }
    }
}
