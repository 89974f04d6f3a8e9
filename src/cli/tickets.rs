//! Reading the store: `tickets`, `ticket` (also as an mbox), `search` and `customer`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::{UsageError, open_reader, print_json, short_time};
use crate::config::Config;
use crate::ingest::Status;
use crate::report::text::clip;
use crate::sources::files as source;
use crate::store::Store;
use crate::store::search::search as postdesk_search;
use crate::store::views::{self, CustomerView, TicketFilter, TicketView};
use crate::terminal::{visible, visible_line};

/// `postdesk tickets`: `--status` and `--queue` are checked before the store is opened.
pub(super) fn tickets(
    config: &Config,
    queue: Option<String>,
    status: Option<String>,
    breached: bool,
    json: bool,
) -> Result<ExitCode> {
    if let Some(status) = &status
        && Status::parse(status).is_none()
    {
        return Err(UsageError::Invalid(format!(
            "--status {status}: use new, acknowledged, answered, pending, closed or ignored"
        ))
        .into());
    }
    if let Some(queue) = &queue
        && config.queue(queue).is_none()
    {
        let known: Vec<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
        return Err(UsageError::Invalid(format!(
            "--queue {queue}: no such queue; the config has {}",
            known.join(", ")
        ))
        .into());
    }
    let store = open_reader(config)?;
    let tickets = views::list_tickets(
        store.connection(),
        &TicketFilter {
            queue,
            status,
            breached,
            customer: None,
        },
    )?;
    if json {
        print_json(&tickets)?;
    } else {
        print_ticket_table(&tickets)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `postdesk ticket REF [--json | --mbox]`.
pub(super) fn ticket(config: &Config, reference: &str, json: bool, mbox: bool) -> Result<ExitCode> {
    let number: i64 = reference.trim_start_matches('#').parse().map_err(|_| {
        UsageError::Invalid(format!(
            "\"{reference}\" is not a ticket reference like 1042"
        ))
    })?;
    let store = open_reader(config)?;
    if mbox {
        write_ticket_mbox(store.connection(), number)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(detail) = views::ticket_detail(store.connection(), number)? else {
        bail!("no ticket #{number}");
    };
    if json {
        print_json(&detail)?;
    } else {
        print_ticket(&detail)?;
        print_agent_address(config, &store, number);
    }
    Ok(ExitCode::SUCCESS)
}

/// For agents who prefer to write commands than to reply to a forward.
fn print_agent_address(config: &Config, store: &Store, number: i64) {
    if let Some(mailbox) = config.mailboxes.first() {
        let token =
            crate::store::agent_token(store.token_key(), crate::store::ticket_of_reference(number));
        let address = crate::config::plus_address(&mailbox.address, "a", &token);
        println!("\nagent address (commands by mail, from a configured agent): {address}");
    }
}

/// `postdesk search QUERY...`: a ticket per hit, with the words around the match.
pub(super) fn search(
    config: &Config,
    query: &[String],
    limit: usize,
    json: bool,
) -> Result<ExitCode> {
    let store = open_reader(config)?;
    let hits = postdesk_search(store.connection(), &query.join(" "), limit)?;
    if json {
        print_json(&hits)?;
    } else {
        let mut out = std::io::stdout().lock();
        for hit in &hits {
            writeln!(
                out,
                "#{}  {}  {}  {}  {}\n      {}",
                hit.reference,
                hit.status,
                hit.received_at,
                visible_line(&hit.customer),
                visible_line(&hit.subject),
                visible_line(&hit.snippet)
            )?;
        }
        writeln!(out, "{} ticket(s)", hits.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `postdesk customer ADDRESS`.
pub(super) fn customer(config: &Config, address: &str, json: bool) -> Result<ExitCode> {
    let store = open_reader(config)?;
    let customer = views::customer(store.connection(), address)?;
    if json {
        print_json(&customer)?;
    } else {
        print_customer(&customer)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_customer(customer: &CustomerView) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}{}: {} message(s), {} ticket(s), {} open",
        visible_line(&customer.address),
        customer
            .name
            .as_deref()
            .map(|n| format!(" ({})", visible_line(n)))
            .unwrap_or_default(),
        customer.message_count,
        customer.tickets.len(),
        customer.open_tickets
    )?;
    if let (Some(first), Some(last)) = (&customer.first_contact_at, &customer.last_contact_at) {
        writeln!(out, "first contact {first}, last contact {last}")?;
    }
    drop(out);
    if !customer.tickets.is_empty() {
        print_ticket_table(&customer.tickets)?;
    }
    Ok(())
}

fn print_ticket_table(tickets: &[TicketView]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<7} {:<12} {:<10} {:<7} {:<17} {:<28} SUBJECT",
        "REF", "STATUS", "QUEUE", "PRIO", "DUE", "CUSTOMER"
    )?;
    for t in tickets {
        let mut flags = String::new();
        if t.breached {
            flags.push_str("[BREACHED] ");
        }
        if t.unparsed {
            flags.push_str("[UNPARSED] ");
        }
        writeln!(
            out,
            "{:<7} {:<12} {:<10} {:<7} {:<17} {:<28} {}{}",
            format!("#{}", t.reference),
            visible_line(&t.status),
            visible_line(&clip(&t.queue, 10)),
            t.priority,
            t.due_at
                .as_deref()
                .map(short_time)
                .unwrap_or_else(|| "-".into()),
            visible_line(&clip(
                if t.customer.is_empty() {
                    "(unknown)"
                } else {
                    &t.customer
                },
                28
            )),
            flags,
            visible_line(&clip(&t.subject, 60))
        )?;
    }
    writeln!(out, "{} ticket(s)", tickets.len())?;
    Ok(())
}

/// `postdesk ticket REF --mbox`: each message as it arrived, read and written one at a time.
fn write_ticket_mbox(conn: &rusqlite::Connection, number: i64) -> Result<()> {
    let Some(rows) = views::message_rows(conn, number)? else {
        bail!("no ticket #{number}");
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for row in rows {
        let message = views::original(conn, row)?;
        let at = jiff::Timestamp::from_second(message.received_at).unwrap_or_default();
        source::write_mbox_message(&mut out, message.sender.as_deref(), at, &message.raw)
            .context("writing the mbox to stdout")?;
    }
    out.flush().context("writing the mbox to stdout")?;
    Ok(())
}

fn print_ticket(detail: &views::TicketDetail) -> Result<()> {
    let mut out = std::io::stdout().lock();
    write_ticket(&mut out, detail)?;
    Ok(())
}

/// `postdesk ticket REF`: every text that came in a mail (or from a rule, or a server's
/// answer) through [`visible_line`], a body's lines through [`visible`] (which keeps tabs).
pub(super) fn write_ticket(
    out: &mut impl Write,
    detail: &views::TicketDetail,
) -> std::io::Result<()> {
    let t = &detail.ticket;
    writeln!(out, "#{} {}", t.reference, visible_line(&t.subject))?;
    writeln!(
        out,
        "status {}  queue {}  priority {}  category {}  language {}{}{}",
        visible_line(&t.status),
        visible_line(&t.queue),
        visible_line(&t.priority),
        or_dash(t.category.as_deref()),
        or_dash(t.language.as_deref()),
        if t.breached { "  BREACHED" } else { "" },
        if t.unparsed { "  UNPARSED" } else { "" },
    )?;
    writeln!(
        out,
        "customer {}  created {}  due {}  first response {}",
        if t.customer.is_empty() {
            "(unknown)".into()
        } else {
            visible_line(&t.customer)
        },
        or_dash(t.created_at.as_deref()),
        or_dash(t.due_at.as_deref()),
        or_dash(t.first_response_at.as_deref()),
    )?;
    writeln!(
        out,
        "participants {}",
        visible_line(&detail.participants.join(", "))
    )?;
    for m in &detail.messages {
        write_message(out, m)?;
    }
    writeln!(out)?;
    writeln!(out, "events:")?;
    for e in &detail.events {
        writeln!(
            out,
            "  {} {:<14} {}",
            or_dash(e.at.as_deref()),
            visible_line(&e.kind),
            visible_line(&e.detail)
        )?;
    }
    Ok(())
}

/// One message of `postdesk ticket REF`: its header line, attachments and first 20 lines.
fn write_message(out: &mut impl Write, m: &views::MessageView) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "--- {} from {} at {}{}",
        visible_line(&m.kind),
        visible_line(m.from.as_deref().unwrap_or("(unknown)")),
        or_dash(m.received_at.as_deref()),
        m.threaded_by
            .as_deref()
            .map(|v| format!(" (threaded by {})", visible_line(v)))
            .unwrap_or_default()
    )?;
    writeln!(out, "Subject: {}", visible_line(&m.subject))?;
    if let Some(error) = &m.parse_error {
        writeln!(
            out,
            "(not parsed: {}; {} bytes kept)",
            visible_line(error),
            m.size
        )?;
    }
    for a in &m.attachments {
        writeln!(
            out,
            "[attachment {} {} {} bytes]",
            visible_line(a.name.as_deref().unwrap_or("(unnamed)")),
            visible_line(&a.content_type),
            a.size
        )?;
    }
    for line in m.text.lines().take(20) {
        writeln!(out, "  {}", visible(line))?;
    }
    Ok(())
}

fn or_dash(value: Option<&str>) -> String {
    visible_line(value.unwrap_or("-")).into_owned()
}
