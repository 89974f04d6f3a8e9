//! Whether a customer's message may be acknowledged, and when: never to automatic or
//! unattended senders, our own domain, backlog, or beyond the daily cap.

use jiff::Timestamp;

use super::address;
use super::decision::{Ack, Lookup, Origin};
use super::parse::{self, Parsed};
use crate::config::{Config, Queue};
use crate::sla;

/// Mail written longer ago than this is backlog (a first sync of an old mailbox, an archive
/// import): filed, but never acknowledged.
const ACK_MAX_AGE_SECS: i64 = 86_400;

/// An acknowledgement for this customer message, or why none may be sent.
pub(crate) fn plan<L: Lookup>(
    parsed: &Parsed,
    config: &Config,
    queue: &Queue,
    origin: &Origin,
    lookup: &L,
    now: Timestamp,
) -> Result<Result<Ack, String>, L::Error> {
    let Some(to) = parsed.from.clone() else {
        return Ok(Err("no sender address".into()));
    };
    if address::looks_unattended(&to) {
        return Ok(Err(format!("{to} looks like an unattended address")));
    }
    if parsed
        .header("Return-Path")
        .is_some_and(|p| p.trim() == "<>")
    {
        return Ok(Err("null return path (automatic mail)".into()));
    }
    let domain = to.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let internal_desk = origin
        .mailbox
        .as_deref()
        .and_then(|name| config.mailbox(name))
        .is_some_and(|m| m.acknowledge_own_domain);
    if !internal_desk
        && config
            .own_domains()
            .any(|own| own.eq_ignore_ascii_case(domain))
    {
        return Ok(Err(format!("{to} is in our own domain")));
    }
    // When the mail reached a server, not what the sender's clock wrote: the topmost
    // Received: (RFC 5321 §4.4, added by the receiving server). Only mail that never passed
    // a server (a local copy, an IMAP APPEND) falls back to its Date:.
    let (arrived, how) = match parse::arrival_time(parsed) {
        Some(at) => (Some(at), "arrived"),
        None => (parsed.date, "written"),
    };
    if let Some(at) = arrived
        && now.as_second() - at > ACK_MAX_AGE_SECS
    {
        return Ok(Err(format!(
            "{how} {}, too long ago to acknowledge (a backlog, not a new request)",
            crate::text::time::rfc3339(at)
        )));
    }
    let since = now.as_second() - 86_400;
    let sent = lookup.acks_to_since(&to, since)?;
    if sent >= queue.policy.ack_daily_cap {
        return Ok(Err(format!(
            "{to} already got {sent} acknowledgements in the last day (ack_daily_cap)"
        )));
    }
    let due_at = sla::add(&queue.calendar, now, queue.policy.ack_delay).as_second();
    Ok(Ok(Ack {
        to,
        mailbox: origin.mailbox.clone(),
        due_at,
    }))
}
