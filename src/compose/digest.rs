//! The digest of an hour's or a day's warnings or breach notices to one recipient
//! (`warning_notice` / `breach_notice = "hourly" | "daily"`): one mail listing every ticket
//! recorded in the period — reference, subject, customer, deadline in the queue's time zone
//! and how late it is (or how much time is left) when the digest goes out.

use std::fmt::Write;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rusqlite::Connection;

use super::{Composed, build, new_message_id, sending_mailbox};
use crate::config::Config;
use crate::ingest::Digest;
use crate::report::text::{clip, duration, printable};
use crate::smtp::Outgoing;
use crate::store::outbox::{self as rows, MailJob, TicketFacts};
use crate::store::reference;
use crate::text::time::local;

/// Width of the subject column before it is cut.
const SUBJECT_WIDTH: usize = 50;

/// Which digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Warning,
    Breach,
}

/// One listed ticket as the store knows it at send time.
struct Line {
    facts: TicketFacts,
    due_at: i64,
    timezone: TimeZone,
}

/// The digest mail of a row: cancelled when none of its tickets exists any more.
pub(super) fn digest_mail(
    conn: &Connection,
    config: &Config,
    job: &MailJob,
    (kind, digest): (Kind, &Digest),
    now: Timestamp,
) -> rusqlite::Result<Composed> {
    let Some(mailbox) = sending_mailbox(config, job) else {
        return Ok(Composed::Fail(super::NO_MAILBOX.into()));
    };
    let mut lines = Vec::new();
    for entry in &digest.tickets {
        let Some(facts) = rows::ticket_facts(conn, entry.id)? else {
            continue;
        };
        let timezone = config
            .queue(&facts.queue)
            .map(|q| q.calendar.timezone.clone())
            .unwrap_or_else(|| config.calendar.timezone.clone());
        lines.push(Line {
            facts,
            due_at: entry.due_at,
            timezone,
        });
    }
    let Some(first) = lines.first() else {
        return Ok(Composed::Cancel("its tickets no longer exist".into()));
    };
    let zone_name = config
        .queue(&first.facts.queue)
        .map(|q| q.calendar.timezone_name.as_str())
        .unwrap_or(&config.calendar.timezone_name);
    let period = period_text(digest, &first.timezone);
    let subject = match kind {
        Kind::Breach => format!(
            "{} missed the response target ({period})",
            tickets(lines.len())
        ),
        Kind::Warning => format!("{} due for a reply soon ({period})", tickets(lines.len())),
    };
    let body = body(config, kind, &lines, (&period, zone_name), now.as_second());
    let message_id = new_message_id(job, &mailbox.address);
    let outgoing = Outgoing {
        from_name: mailbox.display_name.as_deref().unwrap_or(""),
        from: &mailbox.address,
        to: &job.recipient,
        reply_to: None,
        subject: &subject,
        body: &body,
        message_id: &message_id,
        references: &[],
        auto_submitted: Some("auto-generated"),
    };
    Ok(build(&outgoing, None))
}

fn tickets(count: usize) -> String {
    match count {
        1 => "1 ticket".into(),
        n => format!("{n} tickets"),
    }
}

/// `2026-11-16 12:00-13:00` for an hour, `2026-11-16` for a day.
fn period_text(digest: &Digest, tz: &TimeZone) -> String {
    let since = local(digest.since, tz);
    if digest.until - digest.since <= 3600 {
        let until = local(digest.until, tz);
        let end = until.rsplit_once(' ').map(|(_, t)| t).unwrap_or(&until);
        format!("{since}-{end}")
    } else {
        since
            .split_once(' ')
            .map(|(d, _)| d)
            .unwrap_or(&since)
            .into()
    }
}

fn body(
    config: &Config,
    kind: Kind,
    lines: &[Line],
    (period, zone): (&str, &str),
    now: i64,
) -> String {
    let mut out = String::new();
    let what = match kind {
        Kind::Breach => "missed their response target",
        Kind::Warning => "are near their response target",
    };
    // Writing into a String cannot fail.
    let _ = writeln!(out, "These tickets {what} in {period} ({zone}):\n");
    let column = match kind {
        Kind::Breach => "LATE",
        Kind::Warning => "LEFT",
    };
    let _ = writeln!(
        out,
        "{:<10}{:<18}{:<16}{:<30}SUBJECT",
        "TICKET", "DUE", column, "CUSTOMER"
    );
    for line in lines {
        let facts = &line.facts;
        let waiting = matches!(facts.status.as_str(), "new" | "acknowledged");
        let timing = match (kind, waiting) {
            (_, false) => format!("{} now", facts.status),
            (Kind::Breach, true) => duration(u64::try_from(now - line.due_at).unwrap_or(0)),
            (Kind::Warning, true) if line.due_at > now => {
                duration(u64::try_from(line.due_at - now).unwrap_or(0))
            }
            (Kind::Warning, true) => format!(
                "{} late",
                duration(u64::try_from(now - line.due_at).unwrap_or(0))
            ),
        };
        let _ = writeln!(
            out,
            "{:<10}{:<18}{:<16}{:<30}{}",
            config.ticket_tag.format(reference(facts.id)),
            local(line.due_at, &line.timezone),
            timing,
            clip(&printable(&facts.customer), 29),
            clip(&printable(&facts.subject), SUBJECT_WIDTH)
        );
    }
    let _ = match kind {
        Kind::Breach => writeln!(
            out,
            "\nEach is marked as breached: flagged in the queue listing (`postdesk tickets\n\
             --breached`) and starred in the mailbox. Please make sure someone replies to\n\
             these customers as soon as possible."
        ),
        Kind::Warning => writeln!(
            out,
            "\nPlease reply to these customers before their deadlines, or make sure a\n\
             colleague does. A reply from your own mail client counts as soon as it threads\n\
             to the ticket (keep the ticket tag in the subject)."
        ),
    };
    out.push_str("\n-- \npostdesk\n");
    out
}
