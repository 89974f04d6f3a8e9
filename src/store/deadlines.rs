//! Response deadlines the scheduler acts on: the warning at `warn_at`, then the breach at
//! `due_at`. `tickets.deadline_at` holds the next of the two (indexed), so finding what is
//! due never scans the table.

use rusqlite::{Connection, params};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rusqlite::OptionalExtension;

use super::folders::{self, FlagJob};
use super::{TicketId, add_event, views::rfc3339};
use crate::config::NoticeMode;
use crate::ingest::{Digest, DigestTicket, EventKind, OutboxMail};

/// Keywords that mark a breached ticket's messages in the agents' mail clients.
pub const BREACH_FLAGS: &str = "$SLABreached \\Flagged";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTicket {
    pub id: TicketId,
    pub queue: String,
    pub warn_at: Option<i64>,
    pub warned_at: Option<i64>,
    pub due_at: Option<i64>,
    /// The mailbox its first message arrived in, for the sender address of notices.
    pub mailbox: Option<String>,
}

pub fn due_deadlines(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<DueTicket>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.queue, t.warn_at, t.warned_at, t.due_at,
            (SELECT m.mailbox FROM messages m WHERE m.ticket_id = t.id AND m.mailbox IS NOT NULL
             ORDER BY m.id LIMIT 1)
         FROM tickets t WHERE t.deadline_at <= ?1 ORDER BY t.deadline_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit as i64], |r| {
        Ok(DueTicket {
            id: r.get(0)?,
            queue: r.get(1)?,
            warn_at: r.get(2)?,
            warned_at: r.get(3)?,
            due_at: r.get(4)?,
            mailbox: r.get(5)?,
        })
    })?;
    rows.collect()
}

pub fn next_deadline(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT min(deadline_at) FROM tickets WHERE deadline_at IS NOT NULL")?
        .query_row([], |r| r.get(0))
}

/// Who gets a warning or breach notice, and how: one mail per ticket, or a line in the
/// recipient's digest of the hour or day.
#[derive(Debug, Clone, Copy)]
pub struct Notices<'a> {
    pub recipients: &'a [String],
    pub mode: NoticeMode,
    /// The queue's calendar time zone: where a digest's hour or day begins and ends.
    pub timezone: &'a TimeZone,
}

/// The warning is recorded and one mail per agent queued (or a line in each agent's
/// digest); the next deadline is the breach.
pub fn record_warning(
    conn: &Connection,
    ticket: &DueTicket,
    now: i64,
    agents: &Notices<'_>,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE tickets SET warned_at = ?2, deadline_at = due_at WHERE id = ?1")?
        .execute(params![ticket.id, now])?;
    let due = ticket.due_at.map(rfc3339).unwrap_or_default();
    if agents.recipients.is_empty() {
        return add_event(
            conn,
            ticket.id,
            now,
            EventKind::Warning,
            &format!("due {due}; queue {} has no agents to warn", ticket.queue),
        );
    }
    let queued = queue_notices(conn, ticket, Notice::Warning, agents, now)?;
    add_event(
        conn,
        ticket.id,
        now,
        EventKind::Warning,
        &format!("due {due}; {queued}"),
    )
}

/// The target is missed: flagged, one notice to the escalation address (or a line in its
/// digest), and the keywords on every message of the ticket that sits on an IMAP server.
pub fn record_breach(
    conn: &Connection,
    ticket: &DueTicket,
    now: i64,
    escalation: &Notices<'_>,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE tickets SET breached = 1, deadline_at = NULL WHERE id = ?1")?
        .execute(params![ticket.id])?;
    let due = ticket.due_at.map(rfc3339).unwrap_or_default();
    let notice = if escalation.recipients.is_empty() {
        format!("queue {} has no escalation address", ticket.queue)
    } else {
        queue_notices(conn, ticket, Notice::Breach, escalation, now)?
    };
    add_event(
        conn,
        ticket.id,
        now,
        EventKind::Breached,
        &format!("response target missed (due {due}); {notice}"),
    )?;
    flag_breached(conn, ticket, now)
}

/// `$SLABreached \Flagged` on every message of the ticket that sits on an IMAP server.
fn flag_breached(conn: &Connection, ticket: &DueTicket, now: i64) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT mailbox, imap_folder, imap_uidvalidity, imap_uid FROM messages
         WHERE ticket_id = ?1 AND imap_uid IS NOT NULL ORDER BY mailbox, imap_folder, imap_uidvalidity, imap_uid",
    )?;
    let located: Vec<(String, String, u32, u32)> = stmt
        .query_map([ticket.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut jobs: Vec<(String, FlagJob)> = Vec::new();
    for (mailbox, folder, uidvalidity, uid) in located {
        match jobs.last_mut() {
            Some((m, job))
                if *m == mailbox && job.folder == folder && job.uidvalidity == uidvalidity =>
            {
                job.uids.push(uid)
            }
            _ => jobs.push((
                mailbox,
                FlagJob {
                    id: 0,
                    folder,
                    uidvalidity,
                    uids: vec![uid],
                    flags: BREACH_FLAGS.into(),
                    copy_to: None,
                },
            )),
        }
    }
    for (mailbox, job) in &jobs {
        folders::queue_flags(conn, mailbox, job, now)?;
    }
    Ok(())
}

fn queue_mail(
    conn: &Connection,
    ticket: &DueTicket,
    mail: &OutboxMail,
    recipient: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (ticket_id, kind, recipient, mailbox, payload, created_at, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        ticket.id,
        mail.kind(),
        recipient,
        ticket.mailbox,
        mail.payload().to_string(),
        now
    ])?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Warning,
    Breach,
}

impl Notice {
    fn single(self) -> OutboxMail {
        match self {
            Notice::Warning => OutboxMail::Warning,
            Notice::Breach => OutboxMail::BreachNotice,
        }
    }

    fn digest(self, digest: Digest) -> OutboxMail {
        match self {
            Notice::Warning => OutboxMail::WarningDigest(digest),
            Notice::Breach => OutboxMail::BreachDigest(digest),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Notice::Warning => "warning",
            Notice::Breach => "notice",
        }
    }
}

/// Queues the ticket's warning or breach notice to every recipient: a mail of its own, or
/// a line in the recipient's digest of the period. Returns what was done, for the event.
fn queue_notices(
    conn: &Connection,
    ticket: &DueTicket,
    notice: Notice,
    notices: &Notices<'_>,
    now: i64,
) -> rusqlite::Result<String> {
    let mut single = Vec::new();
    let mut digested = Vec::new();
    let period = digest_period(notices.mode, notices.timezone, now);
    for recipient in notices.recipients {
        let in_digest = match period {
            Some(period) => add_to_digest(conn, ticket, notice, recipient, period, now)?,
            None => false,
        };
        if in_digest {
            digested.push(recipient.as_str());
        } else {
            queue_mail(conn, ticket, &notice.single(), recipient, now)?;
            single.push(recipient.as_str());
        }
    }
    let mut done = Vec::new();
    if !single.is_empty() {
        done.push(format!("{} queued to {}", notice.name(), single.join(", ")));
    }
    if let (Some((_, until)), false) = (period, digested.is_empty()) {
        done.push(format!(
            "{} in the {} digest to {}, sent at {}",
            notice.name(),
            notices.mode.as_str(),
            digested.join(", "),
            rfc3339(until)
        ));
    }
    Ok(done.join("; "))
}

/// Adds the ticket to the recipient's digest of `period`, writing the row with the first
/// ticket (due at the end of the period). One digest per recipient and period: when the
/// period's digest is already on its way or sent (the clock was set back), returns false
/// and the caller sends the notice on its own instead.
fn add_to_digest(
    conn: &Connection,
    ticket: &DueTicket,
    notice: Notice,
    recipient: &str,
    (since, until): (i64, i64),
    now: i64,
) -> rusqlite::Result<bool> {
    let kind = notice.digest(Digest::default()).kind();
    let entry = DigestTicket {
        id: ticket.id,
        due_at: ticket.due_at.unwrap_or(now),
        at: now,
    };
    // The row was written in its period (created_at), which the index narrows to.
    let found: Option<(i64, bool, String)> = conn
        .prepare_cached(
            "SELECT id, status = 'pending' AND sending_since IS NULL, payload FROM outbox
             WHERE kind = ?1 AND recipient = ?2 AND created_at >= ?3 AND created_at < ?4
               AND json_extract(payload, '$.until') = ?4
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![kind, recipient, since, until], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match found {
        None => {
            let digest = Digest {
                since,
                until,
                tickets: vec![entry],
            };
            conn.prepare_cached(
                "INSERT INTO outbox (kind, recipient, mailbox, payload, created_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                kind,
                recipient,
                ticket.mailbox,
                notice.digest(digest).payload().to_string(),
                now,
                until
            ])?;
            Ok(true)
        }
        Some((id, true, payload)) => {
            let payload = serde_json::from_str(&payload).unwrap_or_default();
            let mut digest = match OutboxMail::from_row(kind, &payload) {
                Ok(OutboxMail::BreachDigest(d) | OutboxMail::WarningDigest(d)) => d,
                _ => Digest {
                    since,
                    until,
                    tickets: Vec::new(),
                },
            };
            if !digest
                .tickets
                .iter()
                .any(|t| t.id == entry.id && t.due_at == entry.due_at)
            {
                digest.tickets.push(entry);
            }
            conn.prepare_cached("UPDATE outbox SET payload = ?2 WHERE id = ?1")?
                .execute(params![id, notice.digest(digest).payload().to_string()])?;
            Ok(true)
        }
        Some((_, false, _)) => Ok(false),
    }
}

/// The hour or day around `now` in `tz`, as `[since, until)` unix seconds; None for
/// `"each"`. Hours follow the zone's offset at `now` (so a +05:30 zone's hours start at
/// :30 UTC); days run from local midnight to local midnight, 23 or 25 hours long on the
/// days the clocks change.
pub fn digest_period(mode: NoticeMode, tz: &TimeZone, now: i64) -> Option<(i64, i64)> {
    match mode {
        NoticeMode::Each => None,
        NoticeMode::Hourly => {
            let instant = Timestamp::from_second(now).ok()?;
            let offset = i64::from(tz.to_offset(instant).seconds());
            let since = (now + offset).div_euclid(3600) * 3600 - offset;
            Some((since, since + 3600))
        }
        NoticeMode::Daily => {
            let zoned = Timestamp::from_second(now).ok()?.to_zoned(tz.clone());
            let since = zoned.start_of_day().ok()?.timestamp().as_second();
            let until = zoned
                .tomorrow()
                .ok()?
                .start_of_day()
                .ok()?
                .timestamp()
                .as_second();
            Some((since, until))
        }
    }
}

#[cfg(test)]
#[path = "deadlines_tests.rs"]
mod tests;
