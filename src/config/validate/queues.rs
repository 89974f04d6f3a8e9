//! `[[queue]]`, `[defaults]` and the calendars: how fast each queue answers, counted in
//! which working hours.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::{Problems, check_address, parsed_or, positive, required};
use crate::config::calendar::{Calendar, Span, WeekdayKey, parse_weekday};
use crate::config::raw::{RawCalendar, RawPolicy, RawQueue};
use crate::config::values::{NoticeMode, Queue, QueueMode, QueuePolicy, Retention};

/// `[[queue]]`: without any, the built-in queue with `[defaults]` and `[calendar]`.
pub(super) fn queues(
    raws: Vec<RawQueue>,
    builtin: Vec<Queue>,
    defaults: &QueuePolicy,
    calendar: &Calendar,
    problems: &mut Problems,
) -> Vec<Queue> {
    let mut queues = Vec::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let queue = raw.validate(
            &format!("queue[{}]", i + 1),
            &queues,
            defaults,
            calendar,
            problems,
        );
        queues.push(queue);
    }
    if queues.is_empty() {
        queues = builtin;
        // The built-in configuration has its one queue; it answers by `[defaults]` and
        // `[calendar]`.
        if let Some(only) = queues.first_mut() {
            only.policy = defaults.clone();
            only.calendar = calendar.clone();
        }
    }
    queues
}

impl RawQueue {
    fn validate(
        self,
        key: &str,
        declared: &[Queue],
        defaults: &QueuePolicy,
        calendar: &Calendar,
        problems: &mut Problems,
    ) -> Queue {
        let name = required(key, "name", self.name.clone(), problems);
        if self.name.is_some() && name.trim().is_empty() {
            problems.add(format!("{key}.name"), "must not be empty");
        }
        if declared.iter().any(|q| q.name == name) {
            problems.add(
                format!("{key}.name"),
                format!("queue \"{name}\" is declared twice"),
            );
        }
        let mode = match self.mode.as_deref() {
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
        for (j, agent) in self.agents.iter().enumerate() {
            check_address(&format!("{key}.agents[{}]", j + 1), agent, problems);
        }
        if let Some(escalation) = &self.escalation {
            check_address(&format!("{key}.escalation"), escalation, problems);
        }
        let policy = self.policy().validate(key, defaults, problems);
        Queue {
            calendar: match self.calendar {
                Some(own) => own.validate(&format!("{key}.calendar"), problems),
                None => calendar.clone(),
            },
            policy,
            name,
            agents: self.agents.iter().map(|a| a.to_lowercase()).collect(),
            escalation: self.escalation,
            mode,
            imap_folder: self.imap_folder,
            thanks_closes: self.thanks_closes.unwrap_or(true),
        }
    }
}

impl RawPolicy {
    /// `[defaults]` over the built-in policy, or a `[[queue]]` over `[defaults]` (`base`).
    pub(super) fn validate(
        &self,
        key: &str,
        base: &QueuePolicy,
        problems: &mut Problems,
    ) -> QueuePolicy {
        // Only the acknowledgement may be due at once ("0s"); a deadline of nothing is not.
        let span = |name: &str, value: &Option<String>, fallback: Span, problems: &mut Problems| {
            let key = format!("{key}.{name}");
            let parse = if name == "ack_delay" {
                Span::parse
            } else {
                positive
            };
            parsed_or(&key, value.as_deref(), parse, fallback, problems)
        };
        let notice = |name: &str, value: &Option<String>, fallback, problems: &mut Problems| {
            let key = format!("{key}.{name}");
            parsed_or(
                &key,
                value.as_deref(),
                NoticeMode::parse,
                fallback,
                problems,
            )
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
            estimate_default: span(
                "estimate_default",
                &self.estimate_default,
                base.estimate_default,
                problems,
            ),
            estimate_min_samples: self
                .estimate_min_samples
                .unwrap_or(base.estimate_min_samples),
            ack_daily_cap: self.ack_daily_cap.unwrap_or(base.ack_daily_cap),
            breach_notice: notice(
                "breach_notice",
                &self.breach_notice,
                base.breach_notice,
                problems,
            ),
            warning_notice: notice(
                "warning_notice",
                &self.warning_notice,
                base.warning_notice,
                problems,
            ),
            retention: self.retention(key, base, problems),
        }
    }

    fn retention(&self, key: &str, base: &QueuePolicy, problems: &mut Problems) -> Retention {
        let key = format!("{key}.retention");
        let value = self.retention.as_deref();
        parsed_or(&key, value, Retention::parse, base.retention, problems)
    }
}

impl RawCalendar {
    /// Unset keys keep the built-in calendar's: UTC, Monday to Friday 09:00-18:00.
    pub(super) fn validate(self, prefix: &str, problems: &mut Problems) -> Calendar {
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
            calendar.hours = working_hours(prefix, hours, problems);
        }
        for (i, day) in self.holidays.iter().enumerate() {
            match day.parse::<Date>() {
                Ok(date) => calendar.holidays.push(date),
                Err(_) => problems.add(
                    format!("{prefix}.holidays[{}]", i + 1),
                    format!("\"{day}\" is not a date like \"2026-12-25\""),
                ),
            }
        }
        calendar
    }
}

/// `hours = { mon = "09:00-18:00", ... }`: the weekdays not named are days off.
fn working_hours(
    prefix: &str,
    hours: BTreeMap<String, String>,
    problems: &mut Problems,
) -> BTreeMap<WeekdayKey, (Time, Time)> {
    let mut working = BTreeMap::new();
    for (day, range) in hours {
        let key = format!("{prefix}.hours.{day}");
        let Some(weekday) = parse_weekday(&day) else {
            problems.add(
                &key,
                "unknown weekday (use mon, tue, wed, thu, fri, sat, sun)",
            );
            continue;
        };
        let parsed = range.split_once('-').and_then(|(a, b)| {
            Some((
                a.trim().parse::<Time>().ok()?,
                b.trim().parse::<Time>().ok()?,
            ))
        });
        match parsed {
            Some((start, end)) if start < end => {
                working.insert(weekday.into(), (start, end));
            }
            _ => problems.add(
                &key,
                format!("\"{range}\" is not a range of hours like \"09:00-18:00\""),
            ),
        }
    }
    working
}
