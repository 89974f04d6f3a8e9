//! `postdesk explain FILE.eml`: one message through the real pipeline against the real
//! store, in a transaction that is rolled back — what would happen, and why, with nothing
//! stored and nothing sent.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::{check_mailbox, open_store, print_json};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::ingest::Origin;
use crate::store::views::{self, TicketView, rfc3339};
use crate::store::{Filed, Incoming, Ingester, Summary};
use crate::store::{Store, StoreError};
use crate::terminal::visible_line;

#[derive(Debug, Serialize)]
pub struct Explanation {
    /// `new ticket`, `joins ticket`, `duplicate`, or `not a ticket: <why>`.
    pub outcome: String,
    /// The ticket as it would be afterwards.
    pub ticket: Option<TicketView>,
    /// What the message would be stored as, and how it threads.
    pub kind: Option<String>,
    pub threaded_by: Option<String>,
    pub language: Option<String>,
    /// The events it would add (`type`, `detail`).
    pub events: Vec<(String, String)>,
    /// The mail it would queue: kind, recipient, due.
    pub mails: Vec<(String, String, String)>,
}

/// Files `raw` as arriving in `mailbox`, reads back what changed, and rolls it all back.
pub fn explain(
    config: &Config,
    store: &mut Store,
    raw: Vec<u8>,
    mailbox: Option<String>,
    location: String,
) -> Result<Explanation, StoreError> {
    let mailbox = mailbox.or_else(|| config.mailboxes.first().map(|m| m.name.clone()));
    let incoming = Incoming {
        raw,
        origin: Origin::local(mailbox, location),
    };
    let ingester = Ingester {
        config,
        clock: &SystemClock,
    };
    let (last_event, last_mail) = high_water(store.connection())?;
    let mut explanation = None;
    let result = ingester.ingest_batch_then(
        store,
        &[incoming],
        &mut Summary::default(),
        |conn, filed| {
            explanation = Some(read_back(conn, filed, last_event, last_mail)?);
            // Never commit: explaining stores nothing.
            Err(rusqlite::Error::InvalidQuery)
        },
    );
    match (explanation, result) {
        (Some(explanation), _) => Ok(explanation),
        (None, Err(error)) => Err(error),
        (None, Ok(_)) => unreachable!("the batch always reaches its end"),
    }
}

fn high_water(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT (SELECT coalesce(max(id), 0) FROM events),
                (SELECT coalesce(max(id), 0) FROM outbox)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

fn read_back(
    conn: &Connection,
    filed: &[Filed],
    last_event: i64,
    last_mail: i64,
) -> rusqlite::Result<Explanation> {
    let (outcome, ticket) = match filed.first() {
        Some(Filed::Stored {
            ticket, new_ticket, ..
        }) => (
            if *new_ticket {
                "new ticket"
            } else {
                "joins ticket"
            }
            .to_string(),
            Some(*ticket),
        ),
        Some(Filed::Duplicate(ticket)) => ("duplicate".into(), Some(*ticket)),
        Some(Filed::NotATicket(why)) => (format!("not a ticket: {why}"), None),
        Some(Filed::Failed(error)) => (format!("cannot be stored: {error}"), None),
        None => ("nothing read".into(), None),
    };
    let detail = match ticket {
        Some(ticket) => views::ticket_detail(conn, crate::store::reference(ticket))?,
        None => None,
    };
    let message = detail.as_ref().and_then(|d| d.messages.last());
    let events = conn
        .prepare("SELECT type, detail FROM events WHERE id > ?1 ORDER BY id")?
        .query_map(params![last_event], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mails = conn
        .prepare(
            "SELECT kind, coalesce(recipient, ''), due_at FROM outbox WHERE id > ?1 ORDER BY id",
        )?
        .query_map(params![last_mail], |r| {
            Ok((r.get(0)?, r.get(1)?, rfc3339(r.get(2)?)))
        })?
        .collect::<Result<_, _>>()?;
    Ok(Explanation {
        outcome,
        kind: message.map(|m| m.kind.clone()),
        threaded_by: message.and_then(|m| m.threaded_by.clone()),
        language: message.and_then(|m| m.language.clone()),
        ticket: detail.map(|d| d.ticket),
        events,
        mails,
    })
}

/// `postdesk explain FILE [--mailbox NAME] [--json]`: the file is read before the mailbox
/// is checked, as it always was.
pub(super) fn command(
    config: &Config,
    file: &Path,
    mailbox: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let raw = if file.as_os_str() == "-" {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut raw)?;
        raw
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    check_mailbox(config, mailbox.as_deref())?;
    let mut store = open_store(config)?;
    let what = explain(config, &mut store, raw, mailbox, file.display().to_string())?;
    if json {
        print_json(&what)?;
    } else {
        print_explanation(&what)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_explanation(what: &Explanation) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "outcome: {}", visible_line(&what.outcome))?;
    if let Some(kind) = &what.kind {
        writeln!(
            out,
            "message: {kind}, threaded by {}, language {}",
            what.threaded_by.as_deref().unwrap_or("-"),
            what.language.as_deref().unwrap_or("-")
        )?;
    }
    if let Some(t) = &what.ticket {
        writeln!(
            out,
            "ticket:  #{} {} · queue {} · category {} · priority {} · due {}",
            t.reference,
            t.status,
            t.queue,
            t.category.as_deref().unwrap_or("-"),
            t.priority,
            t.due_at.as_deref().unwrap_or("-")
        )?;
    }
    for (kind, detail) in &what.events {
        writeln!(out, "event:   {kind}: {}", visible_line(detail))?;
    }
    for (kind, to, due) in &what.mails {
        writeln!(out, "mail:    {kind} to {} at {due}", visible_line(to))?;
    }
    writeln!(out, "(nothing was stored or sent)")?;
    Ok(())
}
