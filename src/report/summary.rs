//! The weekly report mail's body: the week's headline numbers against the week before
//! ("50.0% (last week 40.0%, +10.0 points)"), the backlog now, and the few worst breaches.
//! The full report — every breach, the charts, the backlog by age, the topics — is the
//! attached HTML page.

use std::fmt::Write;

use jiff::tz::TimeZone;

use super::Report;
use super::text::{clip, duration, local, percent, printable};

/// Breaches listed in the body, the latest first; the page has them all.
pub const LISTED_BREACHES: usize = 5;

/// Width of the subject column before it is cut.
const SUBJECT_WIDTH: usize = 50;

/// The summary of `report`, with the trend against `previous` (the week before).
pub fn render(report: &Report, previous: &Report, tz: &TimeZone) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_summary(&mut out, report, previous, tz);
    out
}

fn write_summary(
    out: &mut String,
    report: &Report,
    previous: &Report,
    tz: &TimeZone,
) -> std::fmt::Result {
    // The same heading as `postdesk report`.
    super::text::write_heading(out, report, tz)?;
    write_headline(out, report, previous)?;
    write_backlog(out, report)?;
    write_breaches(out, report, tz)
}

/// Answered within target (overall and per queue), breaches, first response, tickets
/// opened: each with last week's value and the change.
fn write_headline(out: &mut String, report: &Report, previous: &Report) -> std::fmt::Result {
    let (now, before) = (&report.target, &previous.target);
    writeln!(
        out,
        "{:<24}{:>7}   {} of {} waiting periods {}",
        "Answered within target",
        percent(now.share_met),
        now.met,
        now.met + now.missed,
        share_trend(now.share_met, before.share_met)
    )?;
    if now.by_queue.len() > 1 {
        for queue in &now.by_queue {
            let last = before
                .by_queue
                .iter()
                .find(|q| q.queue == queue.queue)
                .and_then(|q| q.share_met);
            writeln!(
                out,
                "  {:<22}{:>7}   {}",
                clip(&printable(&queue.queue), 22),
                percent(queue.share_met),
                share_trend(queue.share_met, last)
            )?;
        }
    }
    writeln!(
        out,
        "{:<24}{:>7}   {}",
        "Breaches",
        report.breaches.len(),
        count_trend(report.breaches.len() as u64, previous.breaches.len() as u64)
    )?;
    let (p50, last_p50) = (
        report.first_response.p50_seconds,
        previous.first_response.p50_seconds,
    );
    writeln!(
        out,
        "{:<24}p50 {} {}, p90 {}",
        "First response",
        p50.map(duration).unwrap_or_else(|| "-".into()),
        time_trend(p50, last_p50),
        report
            .first_response
            .p90_seconds
            .map(duration)
            .unwrap_or_else(|| "-".into())
    )?;
    writeln!(
        out,
        "{:<24}{:>7}   {}",
        "Tickets opened",
        report.tickets_opened,
        count_trend(report.tickets_opened, previous.tickets_opened)
    )
}

/// Tickets awaiting an agent when the report was made, and how many of them for over a day.
fn write_backlog(out: &mut String, report: &Report) -> std::fmt::Result {
    let total: u64 = report.backlog.iter().map(|q| q.total).sum();
    let over_a_day: u64 = report
        .backlog
        .iter()
        .flat_map(|q| q.ages.iter())
        .filter(|b| matches!(b.label, "1-3d" | ">3d"))
        .map(|b| b.count)
        .sum();
    writeln!(
        out,
        "{:<24}{:>7}   awaiting an agent now, {over_a_day} of them for over a day",
        "Backlog", total
    )
}

/// The latest breaches, at most [`LISTED_BREACHES`].
fn write_breaches(out: &mut String, report: &Report, tz: &TimeZone) -> std::fmt::Result {
    if report.breaches.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let total = report.breaches.len();
    if total > LISTED_BREACHES {
        writeln!(
            out,
            "The {LISTED_BREACHES} latest of {total} breaches (the attached page lists them all):"
        )?;
    } else {
        writeln!(out, "Breaches:")?;
    }
    for breach in report.breaches.iter().rev().take(LISTED_BREACHES) {
        writeln!(
            out,
            "  {:<8}{:<12}due {:<18}{:<15}{:<9}{}",
            format!("#{}", breach.reference),
            clip(&printable(&breach.queue), 11),
            local(breach.due_at, tz),
            if breach.answered_at.is_some() {
                "answered late"
            } else {
                "still waiting"
            },
            duration(breach.late_seconds),
            printable(&clip(&breach.subject, SUBJECT_WIDTH))
        )?;
    }
    Ok(())
}

/// `(last week 40.0%, +10.0 points)`.
fn share_trend(now: Option<f64>, before: Option<f64>) -> String {
    match (now, before) {
        (_, None) => "(last week: none settled)".into(),
        (None, Some(before)) => format!("(last week {})", percent(Some(before))),
        (Some(now), Some(before)) => {
            let points = (now - before) * 100.0;
            let change = if points.abs() < 0.05 {
                "same".to_string()
            } else {
                format!("{points:+.1} points")
            };
            format!("(last week {}, {change})", percent(Some(before)))
        }
    }
}

/// `(last week 3, -2)`.
fn count_trend(now: u64, before: u64) -> String {
    let change = now as i128 - before as i128;
    if change == 0 {
        format!("(last week {before}, same)")
    } else {
        format!("(last week {before}, {change:+})")
    }
}

/// `(last week 2h 00m, 1h 00m faster)`.
fn time_trend(now: Option<u64>, before: Option<u64>) -> String {
    match (now, before) {
        (_, None) => "(last week -)".into(),
        (None, Some(before)) => format!("(last week {})", duration(before)),
        (Some(now), Some(before)) if now == before => {
            format!("(last week {}, same)", duration(before))
        }
        (Some(now), Some(before)) => format!(
            "(last week {}, {} {})",
            duration(before),
            duration(now.abs_diff(before)),
            if now < before { "faster" } else { "slower" }
        ),
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
