//! `postdesk report`: is the one-day promise kept? Computed from the store for a window
//! `since..until` — the share of waiting periods answered within the target, first-response
//! times, the breaches, the backlog by age, acknowledgements sent and the hot topics — as one
//! [`Report`] value that the renderers ([`text`], [`html`], JSON through serde) only format.
//!
//! A waiting period counts in the window in which its outcome was settled: when answered in
//! time, at its answer (met); otherwise at its deadline (missed), whether the answer came
//! late or has not come yet. A period still open and not yet due is counted apart
//! (`open_not_due`), never as missed. So consecutive windows (weekly reports) count every
//! period exactly once.

pub mod html;
pub mod periods;
pub mod summary;
pub mod text;
pub mod topics;
pub mod weekly;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::Connection;
use serde::{Serialize, Serializer};

use crate::config::{Config, Queue};
use crate::sla;
use crate::store;
use crate::store::reports::{self, TicketHistory};
use periods::{Outcome, Period};

/// How many categories and subject terms the topics list keeps.
pub const TOP_TOPICS: usize = 20;

/// First-response histogram: upper bounds (seconds, exclusive) and labels; the last bucket
/// is open-ended.
const RESPONSE_BUCKETS: [(i64, &str); 6] = [
    (15 * 60, "<15m"),
    (3600, "15m-1h"),
    (4 * 3600, "1-4h"),
    (8 * 3600, "4-8h"),
    (86_400, "8-24h"),
    (i64::MAX, ">1d"),
];

/// Backlog ages.
pub const AGE_BUCKETS: [(i64, &str); 5] = [
    (3600, "<1h"),
    (4 * 3600, "1-4h"),
    (86_400, "4-24h"),
    (3 * 86_400, "1-3d"),
    (i64::MAX, ">3d"),
];

/// What to report on.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    /// Start (inclusive) of the window, unix seconds.
    pub since: i64,
    /// End (exclusive) of the window.
    pub until: i64,
    /// When the report is made: backlog ages count up to here.
    pub now: i64,
    /// Only this queue.
    pub queue: Option<&'a str>,
}

/// The report. Its serde form is the `report --json` contract (README, "JSON output").
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    #[serde(serialize_with = "rfc3339")]
    pub generated_at: i64,
    #[serde(serialize_with = "rfc3339")]
    pub since: i64,
    #[serde(serialize_with = "rfc3339")]
    pub until: i64,
    pub queue: Option<String>,
    /// The `[calendar]` time zone that days and local times are shown in.
    pub timezone: String,
    /// Tickets opened in the window (not counting ones made only of automatic mail).
    pub tickets_opened: u64,
    pub acknowledgements_sent: u64,
    pub target: TargetShare,
    pub first_response: FirstResponse,
    /// Waiting periods that missed their deadline in the window, by deadline.
    pub breaches: Vec<Breach>,
    /// Missed deadlines per local day of the window, every day listed.
    pub breaches_per_day: Vec<DayCount>,
    /// Tickets awaiting an agent when the report was made, per queue, by age.
    pub backlog: Vec<QueueBacklog>,
    pub topics: Topics,
}

/// Waiting periods settled in the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetShare {
    pub met: u64,
    pub missed: u64,
    /// `met / (met + missed)`; null when no period was settled.
    pub share_met: Option<f64>,
    /// Periods still open whose deadline is after the window: not counted above.
    pub open_not_due: u64,
    pub by_queue: Vec<QueueShare>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueShare {
    pub queue: String,
    pub met: u64,
    pub missed: u64,
    pub share_met: Option<f64>,
}

/// Time from a ticket's first message to its first agent reply, for the tickets first
/// answered in the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FirstResponse {
    pub count: u64,
    /// Wall-clock, nearest rank; null without answers.
    pub p50_seconds: Option<u64>,
    pub p90_seconds: Option<u64>,
    /// The same in business time (working hours of each ticket's queue calendar).
    pub business_p50_seconds: Option<u64>,
    pub business_p90_seconds: Option<u64>,
    /// Wall-clock distribution: `<15m`, `15m-1h`, `1-4h`, `4-8h`, `8-24h`, `>1d`.
    pub histogram: Vec<Bucket>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Bucket {
    pub label: &'static str,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Breach {
    #[serde(rename = "ref")]
    pub reference: i64,
    pub queue: String,
    pub subject: String,
    pub customer: String,
    #[serde(serialize_with = "rfc3339")]
    pub waiting_since: i64,
    #[serde(serialize_with = "rfc3339")]
    pub due_at: i64,
    /// Null while it is still waiting (as of the end of the window).
    #[serde(serialize_with = "rfc3339_or_null")]
    pub answered_at: Option<i64>,
    /// How late the answer came, or how overdue it is at the end of the window.
    pub late_seconds: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayCount {
    /// Local date, `2026-11-16`.
    pub date: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueueBacklog {
    pub queue: String,
    pub total: u64,
    /// By time waited: `<1h`, `1-4h`, `4-24h`, `1-3d`, `>3d`.
    pub ages: Vec<Bucket>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Topics {
    /// Categories of the tickets opened in the window, most frequent first (null: none).
    pub categories: Vec<CategoryCount>,
    /// Terms of their subjects (reply prefixes, ticket tags and stop words removed), by the
    /// number of tickets that use them.
    pub terms: Vec<TermCount>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CategoryCount {
    pub category: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TermCount {
    pub term: String,
    pub count: u64,
}

fn rfc3339<S: Serializer>(seconds: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&store::views::rfc3339(*seconds))
}

fn rfc3339_or_null<S: Serializer>(seconds: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    match seconds {
        Some(seconds) => rfc3339(seconds, serializer),
        None => serializer.serialize_none(),
    }
}

/// Builds the report from the store.
pub fn compute(
    conn: &Connection,
    config: &Config,
    params: &Params<'_>,
) -> rusqlite::Result<Report> {
    let Params {
        since,
        until,
        now,
        queue,
    } = *params;
    let mut queue_names = wanted_queues(config, queue);
    let (target, breaches) = settled_periods(conn, config, params, &mut queue_names)?;
    let first_response = first_responses(conn, config, params)?;
    let backlog = backlog(conn, params, &mut queue_names)?;

    let opened = reports::opened_tickets(conn, since, until, queue)?;
    let topics = topics::topics(
        opened
            .iter()
            .filter(|(_, _, unparsed)| !unparsed)
            .map(|(category, subject, _)| (category.as_deref(), subject.as_str())),
        &config.ticket_tag,
        TOP_TOPICS,
    );

    Ok(Report {
        generated_at: now,
        since,
        until,
        queue: queue.map(str::to_string),
        timezone: config.calendar.timezone_name.clone(),
        tickets_opened: opened.len() as u64,
        acknowledgements_sent: reports::acknowledgements_sent(conn, since, until, queue)?,
        target,
        first_response,
        breaches_per_day: per_day(&breaches, since, until, &config.calendar.timezone),
        breaches,
        backlog,
        topics,
    })
}

/// The queue a ticket is counted under: its own, or the first configured one when its queue
/// is no longer in the configuration.
fn queue_of<'c>(config: &'c Config, name: &str) -> &'c Queue {
    config
        .queue(name)
        .unwrap_or_else(|| config.default_queue_config())
}

/// The queues listed: the configured ones (only `queue` when one is asked for, even when it
/// is no longer configured). Queues found in the data are appended as they are met.
fn wanted_queues(config: &Config, queue: Option<&str>) -> Vec<String> {
    let mut queue_names: Vec<String> = config
        .queues
        .iter()
        .map(|q| q.name.clone())
        .filter(|name| queue.is_none_or(|only| only == name))
        .collect();
    if let Some(only) = queue
        && !queue_names.iter().any(|n| n == only)
    {
        queue_names.push(only.to_string());
    }
    queue_names
}

/// Appends the names not listed yet, in their order.
fn add_queues<'n>(queue_names: &mut Vec<String>, names: impl Iterator<Item = &'n String>) {
    for name in names {
        if !queue_names.contains(name) {
            queue_names.push(name.clone());
        }
    }
}

/// The waiting periods settled in the window: met and missed, overall and per queue, and the
/// missed ones as breaches by deadline.
fn settled_periods(
    conn: &Connection,
    config: &Config,
    params: &Params<'_>,
    queue_names: &mut Vec<String>,
) -> rusqlite::Result<(TargetShare, Vec<Breach>)> {
    let Params {
        since,
        until,
        queue,
        ..
    } = *params;
    let mut by_queue: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut met, mut missed, mut open_not_due) = (0u64, 0u64, 0u64);
    let mut breaches = Vec::new();
    for history in reports::ticket_histories(conn, since, until, queue)? {
        let policy = queue_of(config, &history.queue);
        let deadline = |start: i64| -> i64 {
            Timestamp::from_second(start)
                .map(|t| sla::add(&policy.calendar, t, policy.policy.response_target).as_second())
                .unwrap_or(start)
        };
        for period in periods::periods_of(&history, deadline) {
            let outcome = period.outcome(until);
            if outcome == Outcome::OpenNotDue {
                open_not_due += 1;
                continue;
            }
            let decided = period.decided_at();
            if decided < since || decided >= until {
                continue;
            }
            let counts = by_queue.entry(history.queue.clone()).or_default();
            if outcome == Outcome::Met {
                met += 1;
                counts.0 += 1;
            } else {
                missed += 1;
                counts.1 += 1;
                breaches.push(breach(&history, &period, until));
            }
        }
    }
    breaches.sort_by_key(|b| (b.due_at, b.reference));
    add_queues(queue_names, by_queue.keys());
    let target = TargetShare {
        met,
        missed,
        share_met: share(met, missed),
        open_not_due,
        by_queue: queue_names
            .iter()
            .map(|name| {
                let (met, missed) = by_queue.get(name).copied().unwrap_or_default();
                QueueShare {
                    queue: name.clone(),
                    met,
                    missed,
                    share_met: share(met, missed),
                }
            })
            .collect(),
    };
    Ok((target, breaches))
}

/// A missed period; one still open counts as late up to `until`.
fn breach(history: &TicketHistory, period: &Period, until: i64) -> Breach {
    let settled = period.answered.unwrap_or(until);
    Breach {
        reference: store::reference(history.id),
        queue: history.queue.clone(),
        subject: history.subject.clone(),
        customer: history.customer.clone(),
        waiting_since: period.start,
        due_at: period.due,
        answered_at: period.answered,
        late_seconds: u64::try_from(settled - period.due).unwrap_or(0),
    }
}

/// First-response times of the tickets first answered in the window, wall-clock and business.
fn first_responses(
    conn: &Connection,
    config: &Config,
    params: &Params<'_>,
) -> rusqlite::Result<FirstResponse> {
    let mut wall = Vec::new();
    let mut business = Vec::new();
    for (name, created, answered) in
        reports::first_responses(conn, params.since, params.until, params.queue)?
    {
        let (Ok(start), Ok(end)) = (
            Timestamp::from_second(created),
            Timestamp::from_second(answered),
        ) else {
            continue;
        };
        let calendar = &queue_of(config, &name).calendar;
        wall.push(sla::elapsed(calendar, start, end, false));
        business.push(sla::business_duration(calendar, start, end));
    }
    Ok(FirstResponse {
        count: wall.len() as u64,
        p50_seconds: quantile(&wall, 0.5),
        p90_seconds: quantile(&wall, 0.9),
        business_p50_seconds: quantile(&business, 0.5),
        business_p90_seconds: quantile(&business, 0.9),
        histogram: bucketed(
            &RESPONSE_BUCKETS,
            wall.iter()
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        ),
    })
}

/// Tickets awaiting an agent at `now`, per queue, by how long they have waited.
fn backlog(
    conn: &Connection,
    params: &Params<'_>,
    queue_names: &mut Vec<String>,
) -> rusqlite::Result<Vec<QueueBacklog>> {
    let waiting = reports::waiting_tickets(conn, params.queue)?;
    add_queues(queue_names, waiting.iter().map(|(name, _)| name));
    Ok(queue_names
        .iter()
        .map(|name| {
            let ages = bucketed(
                &AGE_BUCKETS,
                waiting
                    .iter()
                    .filter(|(q, _)| q == name)
                    .map(|(_, since)| (params.now - since).max(0)),
            );
            QueueBacklog {
                queue: name.clone(),
                total: ages.iter().map(|b| b.count).sum(),
                ages,
            }
        })
        .collect())
}

fn share(met: u64, missed: u64) -> Option<f64> {
    let total = met + missed;
    (total > 0).then(|| met as f64 / total as f64)
}

fn quantile(samples: &[Duration], q: f64) -> Option<u64> {
    (!samples.is_empty()).then(|| sla::nearest_rank(samples, q).as_secs())
}

fn bucketed(bounds: &[(i64, &'static str)], values: impl Iterator<Item = i64>) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> = bounds
        .iter()
        .map(|&(_, label)| Bucket { label, count: 0 })
        .collect();
    for value in values {
        if let Some(i) = bounds.iter().position(|&(upper, _)| value < upper)
            && let Some(bucket) = buckets.get_mut(i)
        {
            bucket.count += 1;
        }
    }
    buckets
}

/// Every local day of `since..until`, with the breaches whose deadline fell on it.
fn per_day(breaches: &[Breach], since: i64, until: i64, tz: &jiff::tz::TimeZone) -> Vec<DayCount> {
    let date_of = |seconds: i64| {
        Timestamp::from_second(seconds)
            .ok()
            .map(|t| t.to_zoned(tz.clone()).date())
    };
    let (Some(first), Some(last)) = (date_of(since), date_of((until - 1).max(since))) else {
        return Vec::new();
    };
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        let count = breaches
            .iter()
            .filter(|b| date_of(b.due_at) == Some(day))
            .count() as u64;
        days.push(DayCount {
            date: day.to_string(),
            count,
        });
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    days
}

#[cfg(test)]
mod tests;
