//! The weekly report as mail: a summary in the body (the headline numbers against the week
//! before, the backlog, the latest breaches), the full report as the attached HTML page.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rusqlite::Connection;

use crate::config::Config;
use crate::report::{Params, compute, html, summary, text, weekly};
use crate::smtp::{self, FileAttachment, Outgoing};
use crate::store::outbox::MailJob;

/// The report mail of an outbox row, or why it cannot be sent.
pub(super) fn report_mail(
    conn: &Connection,
    config: &Config,
    job: &MailJob,
    (since, until): (i64, i64),
    now: Timestamp,
) -> rusqlite::Result<Result<lettre::Message, String>> {
    let Some(mailbox) = super::sending_mailbox(config, job) else {
        return Ok(Err(super::NO_MAILBOX.into()));
    };
    let report = compute(
        conn,
        config,
        &Params {
            since,
            until,
            now: now.as_second(),
            queue: None,
        },
    )?;
    let tz = &config.calendar.timezone;
    let before = Timestamp::from_second(since)
        .map(|t| weekly::week_before(t, tz).as_second())
        .unwrap_or(since - 7 * 86_400);
    let previous = compute(
        conn,
        config,
        &Params {
            since: before,
            until: since,
            now: since,
            queue: None,
        },
    )?;
    let outcome = match report.target.share_met {
        Some(share) => format!(
            "{} answered within target, {} missed",
            text::percent(Some(share)),
            report.target.missed
        ),
        None => "no waiting period settled".to_string(),
    };
    let subject = format!(
        "postdesk weekly report {} to {}: {outcome}",
        day(since, tz),
        day(until, tz),
    );
    let body = format!(
        "{}\nThe attached page has the full report: every breach, the charts, the backlog by\nage and the top topics; open it in a browser.\n",
        summary::render(&report, &previous, tz)
    );
    let page = html::render(&report, tz);
    let message_id = super::new_message_id(job, &mailbox.address);
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
    let attachment = FileAttachment {
        name: &format!("postdesk-report-{}.html", day(until, tz)),
        content_type: "text/html; charset=utf-8",
        content: page.as_bytes(),
    };
    Ok(smtp::compose_with_attachment(&outgoing, &attachment).map_err(|e| e.to_string()))
}

fn day(seconds: i64, tz: &TimeZone) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_zoned(tz.clone()).date().to_string())
        .unwrap_or_else(|_| seconds.to_string())
}
