//! The report as plain text for a terminal or a mail body: aligned columns, local times
//! in the report's time zone, and nothing a subject holds can move the cursor (control
//! characters are shown as visible escapes, [`crate::terminal::visible`]).

use std::fmt::Write;

use jiff::tz::TimeZone;

use super::Report;

/// Width of the subject column before it is cut.
const SUBJECT_WIDTH: usize = 60;

pub fn render(report: &Report, tz: &TimeZone) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(&mut out, report, tz);
    out
}

fn write_report(out: &mut String, report: &Report, tz: &TimeZone) -> std::fmt::Result {
    write_heading(out, report, tz)?;
    write_summary(out, report)?;
    write_breaches(out, report, tz)?;
    write_backlog(out, report)?;
    write_topics(out, report)
}

/// The window, its time zone and the queue, then a blank line.
pub(super) fn write_heading(out: &mut String, report: &Report, tz: &TimeZone) -> std::fmt::Result {
    writeln!(
        out,
        "postdesk report: {} to {} ({}), {}",
        local(report.since, tz),
        local(report.until, tz),
        report.timezone,
        report
            .queue
            .as_deref()
            .map(|q| format!("queue {}", printable(q)))
            .unwrap_or_else(|| "all queues".into())
    )?;
    writeln!(out)
}

/// The share met (overall and per queue), first-response times, tickets opened and
/// acknowledgements sent.
fn write_summary(out: &mut String, report: &Report) -> std::fmt::Result {
    let target = &report.target;
    writeln!(
        out,
        "{:<26}{:>7}   {} of {} waiting periods ({} still open, not yet due)",
        "Answered within target",
        percent(target.share_met),
        target.met,
        target.met + target.missed,
        target.open_not_due
    )?;
    for queue in &target.by_queue {
        writeln!(
            out,
            "  {:<24}{:>7}   {}",
            clip(&printable(&queue.queue), 24),
            percent(queue.share_met),
            if queue.met + queue.missed == 0 {
                "none settled".to_string()
            } else {
                format!("{} of {}", queue.met, queue.met + queue.missed)
            }
        )?;
    }
    let response = &report.first_response;
    writeln!(
        out,
        "{:<26}p50 {:<10} p90 {:<10} ({} ticket(s) first answered)",
        "First response",
        seconds(response.p50_seconds),
        seconds(response.p90_seconds),
        response.count
    )?;
    writeln!(
        out,
        "  {:<24}p50 {:<10} p90 {}",
        "in business time",
        seconds(response.business_p50_seconds),
        seconds(response.business_p90_seconds)
    )?;
    writeln!(out, "{:<26}{}", "Tickets opened", report.tickets_opened)?;
    writeln!(
        out,
        "{:<26}{}",
        "Acknowledgements sent", report.acknowledgements_sent
    )
}

/// The missed deadlines, one line each, and their count per day.
fn write_breaches(out: &mut String, report: &Report, tz: &TimeZone) -> std::fmt::Result {
    writeln!(out)?;
    writeln!(out, "Breaches: {}", report.breaches.len())?;
    if !report.breaches.is_empty() {
        writeln!(
            out,
            "  {:<8}{:<12}{:<18}{:<18}{:<18}{:<9}SUBJECT",
            "REF", "QUEUE", "WAITING SINCE", "DUE", "ANSWERED", "LATE"
        )?;
        for breach in &report.breaches {
            writeln!(
                out,
                "  {:<8}{:<12}{:<18}{:<18}{:<18}{:<9}{}",
                format!("#{}", breach.reference),
                clip(&printable(&breach.queue), 11),
                local(breach.waiting_since, tz),
                local(breach.due_at, tz),
                breach
                    .answered_at
                    .map(|t| local(t, tz))
                    .unwrap_or_else(|| "still waiting".into()),
                duration(breach.late_seconds),
                printable(&clip(&breach.subject, SUBJECT_WIDTH))
            )?;
        }
        let days: Vec<String> = report
            .breaches_per_day
            .iter()
            .filter(|d| d.count > 0)
            .map(|d| format!("{} {}", d.date, d.count))
            .collect();
        writeln!(out, "  per day: {}", days.join(", "))?;
    }
    Ok(())
}

/// The tickets awaiting an agent, a row per queue and a column per age bucket.
fn write_backlog(out: &mut String, report: &Report) -> std::fmt::Result {
    writeln!(out)?;
    writeln!(
        out,
        "Backlog: tickets awaiting an agent now, by time waited"
    )?;
    write!(out, "  {:<24}", "QUEUE")?;
    for bucket in super::AGE_BUCKETS {
        write!(out, "{:>7}", bucket.1)?;
    }
    writeln!(out, "{:>7}", "TOTAL")?;
    for queue in &report.backlog {
        write!(out, "  {:<24}", clip(&printable(&queue.queue), 24))?;
        for bucket in &queue.ages {
            write!(out, "{:>7}", bucket.count)?;
        }
        writeln!(out, "{:>7}", queue.total)?;
    }
    Ok(())
}

/// The top categories and subject terms of the tickets opened.
fn write_topics(out: &mut String, report: &Report) -> std::fmt::Result {
    writeln!(out)?;
    writeln!(out, "Top categories (tickets opened)")?;
    if report.topics.categories.is_empty() {
        writeln!(out, "  none")?;
    }
    for category in &report.topics.categories {
        let name = category
            .category
            .as_deref()
            .map(printable)
            .unwrap_or_else(|| "(no category)".into());
        writeln!(out, "  {:<30}{:>5}", clip(&name, 30), category.count)?;
    }
    writeln!(out)?;
    writeln!(out, "Top subject terms (tickets using them)")?;
    if report.topics.terms.is_empty() {
        writeln!(out, "  none")?;
    }
    for term in &report.topics.terms {
        writeln!(
            out,
            "  {:<30}{:>5}",
            clip(&printable(&term.term), 30),
            term.count
        )?;
    }
    Ok(())
}

/// `2026-11-16 10:00` in `tz`.
pub use crate::text::time::local;

pub fn percent(share: Option<f64>) -> String {
    share
        .map(|s| format!("{:.1}%", s * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn seconds(value: Option<u64>) -> String {
    value.map(duration).unwrap_or_else(|| "-".into())
}

/// `45s`, `12m`, `3h 05m`, `2d 4h`.
pub fn duration(seconds: u64) -> String {
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m:02}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Nothing that steers a terminal, and no line break: every value here is one cell of a line
/// ([`crate::terminal::visible_line`]).
pub fn printable(text: &str) -> String {
    crate::terminal::visible_line(text).into_owned()
}

/// At most `width` characters, the last one `…` when the text was cut.
pub fn clip(text: &str, width: usize) -> String {
    if text.chars().nth(width).is_none() {
        text.to_string()
    } else {
        let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_compact() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(12 * 60 + 5), "12m");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3h 05m");
        assert_eq!(duration(2 * 86_400 + 4 * 3600 + 59), "2d 4h");
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(
            printable("a\u{1b}[2Jb\r\nc\u{9b}d"),
            "a\\u{1b}[2Jb\\u{d}\\u{a}c\\u{9b}d"
        );
    }
}
