//! `postdesk tickets`: the open tickets most urgent first, a page at a time, or `--all`;
//! rows written as SQLite returns them, in a table or one JSON array.

use std::ffi::OsStr;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, ValueHint};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use super::tickets::{Shown, write_ticket_header, write_ticket_row};
use super::{UsageError, open_reader};
use crate::config::Config;
use crate::store::listing::{self, Cursor, Listed, Listing, OPEN, Order, STATUSES};
use crate::store::views::TicketView;

/// A page when `--limit` is not given (and not `--all`).
const DEFAULT_LIMIT: u64 = 50;

#[derive(Args, Debug)]
pub(super) struct TicketsArgs {
    /// Only tickets of this configured queue
    #[arg(long, value_name = "QUEUE", value_hint = ValueHint::Other)]
    queue: Option<String>,
    /// Only tickets in this status: `open` (new, acknowledged and pending, the default
    /// without --all) or one status; repeat it or separate with commas for several
    #[arg(long, value_name = "STATUS", value_parser = StatusParser, value_delimiter = ',')]
    status: Vec<&'static str>,
    /// Only tickets that missed their response target
    #[arg(long)]
    breached: bool,
    /// At most this many tickets [default: 50, or every one with --all]; when more
    /// exist, the listing ends with the --after that continues it
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Continue a listing after the cursor its previous page ended with (same options)
    #[arg(long, value_name = "CURSOR", value_hint = ValueHint::Other)]
    after: Option<String>,
    /// Every ticket, of every status unless --status says otherwise (ignored ones too),
    /// oldest first, without a limit unless --limit is given
    #[arg(long)]
    all: bool,
    /// Print the tickets as one JSON array, written as they are read; when more exist, the
    /// last one carries `next`, the cursor for --after
    #[arg(long)]
    json: bool,
}

/// `--status`: the statuses (offered by shell completion) and `open` for the three that
/// wait on the desk; anything else is refused with the list.
#[derive(Clone, Debug)]
struct StatusParser;

impl TypedValueParser for StatusParser {
    type Value = &'static str;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<&'static str, clap::Error> {
        let text = value.to_string_lossy();
        let text = text.trim();
        if text.eq_ignore_ascii_case("open") {
            return Ok("open");
        }
        STATUSES
            .into_iter()
            .find(|s| s.eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                cmd.clone().error(
                    ErrorKind::InvalidValue,
                    format!(
                        "--status {text}: no such status; use open ({}) or one of {}",
                        OPEN.join(", "),
                        STATUSES.join(", ")
                    ),
                )
            })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(STATUSES.into_iter().map(PossibleValue::new)))
    }
}

impl TicketsArgs {
    /// What to list: statuses once each in their usual order, the cursor checked.
    fn listing(&self) -> Result<Listing, UsageError> {
        let wanted: Vec<&str> = if self.status.is_empty() {
            if self.all {
                STATUSES.to_vec()
            } else {
                OPEN.to_vec()
            }
        } else {
            self.status
                .iter()
                .flat_map(|s| {
                    if *s == "open" {
                        OPEN.to_vec()
                    } else {
                        vec![*s]
                    }
                })
                .collect()
        };
        let statuses = STATUSES
            .into_iter()
            .filter(|s| wanted.contains(s))
            .collect();
        let order = if self.all {
            Order::Oldest
        } else {
            Order::Urgent
        };
        let after = self.after.as_deref().map(|text| parse_cursor(text, order));
        Ok(Listing {
            queue: self.queue.clone(),
            statuses,
            breached: self.breached,
            order,
            limit: match (self.limit, self.all) {
                (Some(n), _) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                (None, true) => None,
                (None, false) => Some(DEFAULT_LIMIT as usize),
            },
            after: after.transpose()?,
        })
    }

    /// The command line that lists the next page.
    fn next_page(&self, cursor: Cursor) -> String {
        let mut words = vec!["postdesk tickets".to_string()];
        if let Some(queue) = &self.queue {
            words.push(format!("--queue {queue}"));
        }
        for status in &self.status {
            words.push(format!("--status {status}"));
        }
        if self.breached {
            words.push("--breached".into());
        }
        if self.all {
            words.push("--all".into());
        }
        if let Some(limit) = self.limit {
            words.push(format!("--limit {limit}"));
        }
        words.push(format!("--after {cursor}"));
        words.join(" ")
    }
}

fn parse_cursor(text: &str, order: Order) -> Result<Cursor, UsageError> {
    let cursor = Cursor::parse(text.trim()).ok_or_else(|| {
        UsageError::Invalid(format!(
            "--after {text}: not a cursor a `postdesk tickets` listing ended with; pass the \
             one its last page printed, or leave --after out to start at the beginning"
        ))
    })?;
    match (cursor, order) {
        (Cursor::Urgent(_), Order::Urgent) | (Cursor::Oldest(_), Order::Oldest) => Ok(cursor),
        (Cursor::Oldest(_), _) => Err(UsageError::Invalid(format!(
            "--after {text}: this cursor continues a listing with --all; add --all"
        ))),
        (Cursor::Urgent(_), _) => Err(UsageError::Invalid(format!(
            "--after {text}: this cursor continues a listing without --all; leave --all out"
        ))),
    }
}

/// `postdesk tickets`: `--queue` and the cursor are checked before the store is opened.
pub(super) fn tickets(config: &Config, utc: bool, args: &TicketsArgs) -> Result<ExitCode> {
    if let Some(queue) = &args.queue
        && config.queue(queue).is_none()
    {
        let known: Vec<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
        return Err(UsageError::Invalid(format!(
            "--queue {queue}: no such queue; the config has {}",
            known.join(", ")
        ))
        .into());
    }
    let listing = args.listing()?;
    let store = open_reader(config)?;
    let mut out = crate::terminal::stdout();
    if args.json {
        write_json(&mut out, store.connection(), &listing)?;
    } else {
        let shown = Shown::new(config, utc);
        write_ticket_header(&mut out)?;
        let mut next = None;
        let count = listing::list(store.connection(), &listing, |row: Listed| {
            next = row.next;
            write_ticket_row(&mut out, &row.ticket, &shown).map_err(anyhow::Error::from)
        })?;
        writeln!(out, "{count} ticket(s)")?;
        if let Some(cursor) = next {
            writeln!(out, "more: {}", args.next_page(cursor))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A listed ticket in JSON: the ticket's fields, and `next` on the last of a page.
#[derive(Serialize)]
struct JsonRow<'a> {
    #[serde(flatten)]
    ticket: &'a TicketView,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// One pretty-printed array, each ticket serialized as its row comes.
fn write_json(out: &mut impl Write, conn: &rusqlite::Connection, listing: &Listing) -> Result<()> {
    // serde_json's errors carry a closed pipe's io::Error; turned back into it, the pipe's
    // end is recognised and quiet.
    let io = std::io::Error::from;
    let mut serializer = serde_json::Serializer::pretty(&mut *out);
    let mut seq = serializer.serialize_seq(None).map_err(io)?;
    listing::list(conn, listing, |row: Listed| {
        let row = JsonRow {
            ticket: &row.ticket,
            next: row.next.map(|c| c.to_string()),
        };
        seq.serialize_element(&row).map_err(io)?;
        Ok::<_, anyhow::Error>(())
    })?;
    seq.end().map_err(io)?;
    writeln!(out)?;
    Ok(())
}
