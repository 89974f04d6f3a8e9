//! The weekly report mail (`[report] recipients`, `weekly = "mon 08:00"` in the `[calendar]`
//! time zone). The deadline scheduler calls [`queue_due`]: at each weekly slot it writes one
//! outbox row per recipient, together with the slot it reported, in one transaction — so a
//! slot is reported at most once, also across restarts, and a slot that passed while
//! postdesk was down is reported at the next start. The outbox worker builds the mail at
//! send time with [`compose_mail`]: the text report as the body and the HTML page attached.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use rusqlite::Connection;

use crate::config::{Config, WeeklyAt};
use crate::daemon::Shared;
use crate::smtp::{self, FileAttachment, Outgoing};
use crate::store::StoreError;
use crate::store::outbox::MailJob;
use crate::store::reports::{self, WeeklyQueued};

use super::{Params, compute, html, text};

/// The latest weekly slot at or before `now`, and the one after it.
pub fn slots(at: WeeklyAt, tz: &TimeZone, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
    let today = now.to_zoned(tz.clone()).date();
    let back = i64::from(
        (today.weekday().to_monday_zero_offset() - at.weekday.to_monday_zero_offset())
            .rem_euclid(7),
    );
    let mut day = today.checked_sub(back.days()).ok()?;
    let mut slot = moment(day, at, tz)?;
    if slot > now {
        day = day.checked_sub(7.days()).ok()?;
        slot = moment(day, at, tz)?;
    }
    let next = moment(day.checked_add(7.days()).ok()?, at, tz)?;
    Some((slot, next))
}

/// `at` on `day`, local time of `tz` (a time skipped by a DST change moves forward).
fn moment(day: Date, at: WeeklyAt, tz: &TimeZone) -> Option<Timestamp> {
    Some(
        day.to_datetime(at.time)
            .to_zoned(tz.clone())
            .ok()?
            .timestamp(),
    )
}

/// The week a report of `slot` covers: the same local time seven days earlier.
pub fn week_before(slot: Timestamp, tz: &TimeZone) -> Timestamp {
    slot.to_zoned(tz.clone())
        .checked_sub(7.days())
        .map(|z| z.timestamp())
        .unwrap_or(slot)
}

/// Queues this slot's report when it is due and not queued yet; returns when the next slot
/// falls (None without recipients).
pub fn queue_due(shared: &Shared) -> Result<Option<i64>, StoreError> {
    let config = &shared.config;
    if config.report.recipients.is_empty() {
        return Ok(None);
    }
    let tz = &config.calendar.timezone;
    let now = shared.clock.now();
    let Some((slot, next)) = slots(config.report.weekly, tz, now) else {
        return Ok(None);
    };
    let since = week_before(slot, tz);
    let mailbox = config.mailboxes.first().map(|m| m.name.as_str());
    let queued = shared.write(|store| {
        let tx = store.transaction()?;
        let queued = reports::queue_weekly_report(
            &tx,
            slot.as_second(),
            since.as_second(),
            &config.report.recipients,
            mailbox,
            now.as_second(),
        )?;
        tx.commit()?;
        Ok(queued)
    })?;
    match queued {
        WeeklyQueued::Queued(n) => {
            tracing::info!(
                "weekly report of {} to {} queued for {n} recipient(s)",
                since,
                slot
            );
            shared.outbox_wake.notify_one();
        }
        WeeklyQueued::Baseline => tracing::info!(
            "weekly report mail configured: the first one goes out at {}",
            next.to_zoned(tz.clone())
        ),
        WeeklyQueued::AlreadyQueued => {}
    }
    Ok(Some(next.as_second()))
}

/// The report mail of an outbox row, or why it cannot be sent.
pub fn compose_mail(
    conn: &Connection,
    config: &Config,
    job: &MailJob,
    now: Timestamp,
) -> rusqlite::Result<Result<lettre::Message, String>> {
    let field = |name: &str| job.payload.get(name).and_then(serde_json::Value::as_i64);
    let (Some(since), Some(until)) = (field("since"), field("until")) else {
        return Ok(Err("report row without its since/until window".into()));
    };
    let Some(mailbox) = job
        .mailbox
        .as_deref()
        .and_then(|name| config.mailbox(name))
        .or_else(|| config.mailboxes.first())
    else {
        return Ok(Err(
            "no [[mailbox]] configured, so no address to send from".into()
        ));
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
        "{}\nThe attached page shows the same with charts; open it in a browser.\n",
        text::render(&report, tz)
    );
    let page = html::render(&report, tz);
    let domain = mailbox
        .address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    let message_id = format!(
        "postdesk.report.{}.{:08x}@{domain}",
        job.id,
        rand::random::<u32>()
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Time, Weekday};

    fn monday_eight() -> WeeklyAt {
        WeeklyAt {
            weekday: Weekday::Monday,
            time: Time::constant(8, 0, 0, 0),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn latest_and_next_slot_in_the_calendar_zone() {
        let kyiv = TimeZone::get("Europe/Kyiv").unwrap();
        // Wednesday 25 November 2026, 10:52 UTC: the last slot was Monday 23rd 08:00 Kyiv
        // (06:00 UTC), the next is Monday 30th.
        let (slot, next) = slots(monday_eight(), &kyiv, at("2026-11-25T10:52:00Z")).unwrap();
        assert_eq!(slot, at("2026-11-23T06:00:00Z"));
        assert_eq!(next, at("2026-11-30T06:00:00Z"));
        // On the slot itself, it is the latest; a second before, the week before is.
        let (slot, _) = slots(monday_eight(), &kyiv, at("2026-11-23T06:00:00Z")).unwrap();
        assert_eq!(slot, at("2026-11-23T06:00:00Z"));
        let (slot, next) = slots(monday_eight(), &kyiv, at("2026-11-23T05:59:59Z")).unwrap();
        assert_eq!(slot, at("2026-11-16T06:00:00Z"));
        assert_eq!(next, at("2026-11-23T06:00:00Z"));
        assert_eq!(week_before(slot, &kyiv), at("2026-11-09T06:00:00Z"));
    }

    #[test]
    fn a_week_across_a_dst_change_keeps_local_time() {
        let kyiv = TimeZone::get("Europe/Kyiv").unwrap();
        // Kyiv leaves summer time on Sunday 25 October 2026: Monday 08:00 is 05:00 UTC
        // before and 06:00 UTC after.
        let (slot, _) = slots(monday_eight(), &kyiv, at("2026-10-26T12:00:00Z")).unwrap();
        assert_eq!(slot, at("2026-10-26T06:00:00Z"));
        assert_eq!(week_before(slot, &kyiv), at("2026-10-19T05:00:00Z"));
    }
}
