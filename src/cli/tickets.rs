//! Reading the store: `ticket` (also as an mbox), `search` and `customer`, and the ticket
//! table `tickets` (in `listing`) shares.
//!
//! Times are shown in the desk's time zone (`[calendar] timezone`) with its abbreviation,
//! `2026-03-02 10:00 EET`, or in UTC with `--utc`; people as `Name <address>`. `--json`
//! keeps RFC 3339 in UTC and the name in a field of its own.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use jiff::tz::TimeZone;

use super::{UsageError, open_reader, print_json};
use crate::config::Config;
use crate::report::text::clip;
use crate::sources::files as source;
use crate::store::Store;
use crate::store::search::search as postdesk_search;
use crate::store::views::{self, CustomerView, TicketView};
use crate::terminal::{visible, visible_line};

/// How the reading commands show an instant: in one time zone, named on every time.
pub(super) struct Shown {
    tz: TimeZone,
}

impl Shown {
    /// The desk's time zone, or UTC when `--utc` is given.
    pub(super) fn new(config: &Config, utc: bool) -> Shown {
        Shown {
            tz: if utc {
                TimeZone::UTC
            } else {
                config.calendar.timezone.clone()
            },
        }
    }

    /// An RFC 3339 instant as `2026-03-02 10:00 EET`; text that is not one, as it is.
    fn time(&self, rfc3339: &str) -> String {
        match rfc3339.parse::<jiff::Timestamp>() {
            Ok(at) => at
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string(),
            Err(_) => visible_line(rfc3339).into_owned(),
        }
    }

    fn time_or_dash(&self, rfc3339: Option<&str>) -> String {
        rfc3339.map_or_else(|| "-".into(), |at| self.time(at))
    }
}

/// `Alice Example <alice@example.com>`, or the address alone when the mail gave no name.
fn person(name: Option<&str>, address: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} <{address}>"),
        None => address.to_string(),
    }
}

/// [`person`] in at most `width` characters: the name is cut before the address is.
fn person_cell(name: Option<&str>, address: &str, width: usize) -> String {
    let whole = person(name, address);
    if whole.chars().count() <= width {
        return whole;
    }
    let room = width.saturating_sub(address.chars().count() + 3);
    match name {
        Some(name) if room >= 4 => {
            let name = clip(name.trim(), room).replace(" …", "…");
            format!("{name} <{address}>")
        }
        _ => clip(address, width),
    }
}

/// `postdesk ticket REF [--json | --mbox]`.
pub(super) fn ticket(
    config: &Config,
    utc: bool,
    reference: &str,
    json: bool,
    mbox: bool,
) -> Result<ExitCode> {
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
        let mut out = crate::terminal::stdout();
        write_ticket(&mut out, &detail, &Shown::new(config, utc))?;
        write_agent_address(&mut out, config, &store, number)?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// For agents who prefer to write commands than to reply to a forward.
fn write_agent_address(
    out: &mut impl Write,
    config: &Config,
    store: &Store,
    number: i64,
) -> std::io::Result<()> {
    if let Some(mailbox) = config.mailboxes.first() {
        let token =
            crate::store::agent_token(store.token_key(), crate::store::ticket_of_reference(number));
        let address = crate::config::plus_address(&mailbox.address, "a", &token);
        writeln!(
            out,
            "\nagent address (commands by mail, from a configured agent): {address}"
        )?;
    }
    Ok(())
}

/// `postdesk search QUERY...`: a ticket per hit, with the words around the match.
pub(super) fn search(
    config: &Config,
    utc: bool,
    query: &[String],
    limit: usize,
    json: bool,
) -> Result<ExitCode> {
    let store = open_reader(config)?;
    let hits = postdesk_search(store.connection(), &query.join(" "), limit)?;
    if json {
        print_json(&hits)?;
    } else {
        let shown = Shown::new(config, utc);
        let mut out = crate::terminal::stdout();
        for hit in &hits {
            writeln!(
                out,
                "#{}  {}  {}  {}  {}\n      {}",
                hit.reference,
                hit.status,
                shown.time(&hit.received_at),
                visible_line(&hit.customer),
                visible_line(&hit.subject),
                visible_line(&hit.snippet)
            )?;
        }
        writeln!(out, "{} ticket(s)", hits.len())?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `postdesk customer ADDRESS`.
pub(super) fn customer(config: &Config, utc: bool, address: &str, json: bool) -> Result<ExitCode> {
    let store = open_reader(config)?;
    let customer = views::customer(store.connection(), address)?;
    if json {
        print_json(&customer)?;
    } else {
        let mut out = crate::terminal::stdout();
        write_customer(&mut out, &customer, &Shown::new(config, utc))?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_customer(
    out: &mut impl Write,
    customer: &CustomerView,
    shown: &Shown,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} message(s), {} ticket(s), {} open",
        visible_line(&person(customer.name.as_deref(), &customer.address)),
        customer.message_count,
        customer.tickets.len(),
        customer.open_tickets
    )?;
    if let (Some(first), Some(last)) = (&customer.first_contact_at, &customer.last_contact_at) {
        writeln!(
            out,
            "first contact {}, last contact {}",
            shown.time(first),
            shown.time(last)
        )?;
    }
    if !customer.tickets.is_empty() {
        write_ticket_table(out, &customer.tickets, shown)?;
    }
    Ok(())
}

/// Width of the table's CUSTOMER column.
const CUSTOMER_WIDTH: usize = 36;

fn write_ticket_table(
    out: &mut impl Write,
    tickets: &[TicketView],
    shown: &Shown,
) -> std::io::Result<()> {
    write_ticket_header(out)?;
    for t in tickets {
        write_ticket_row(out, t, shown)?;
    }
    writeln!(out, "{} ticket(s)", tickets.len())?;
    Ok(())
}

/// The ticket table's column names.
pub(super) fn write_ticket_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<7} {:<12} {:<10} {:<7} {:<21} {:<CUSTOMER_WIDTH$} SUBJECT",
        "REF", "STATUS", "QUEUE", "PRIO", "DUE", "CUSTOMER"
    )
}

/// One ticket as a line of the table.
pub(super) fn write_ticket_row(
    out: &mut impl Write,
    t: &TicketView,
    shown: &Shown,
) -> std::io::Result<()> {
    let mut flags = String::new();
    if t.breached {
        flags.push_str("[BREACHED] ");
    }
    if t.unparsed {
        flags.push_str("[UNPARSED] ");
    }
    let customer = if t.customer.is_empty() {
        "(unknown)".to_string()
    } else {
        person_cell(t.customer_name.as_deref(), &t.customer, CUSTOMER_WIDTH)
    };
    writeln!(
        out,
        "{:<7} {:<12} {:<10} {:<7} {:<21} {:<CUSTOMER_WIDTH$} {}{}",
        format!("#{}", t.reference),
        visible_line(&t.status),
        visible_line(&clip(&t.queue, 10)),
        t.priority,
        shown.time_or_dash(t.due_at.as_deref()),
        visible_line(&customer),
        flags,
        visible_line(&clip(&t.subject, 60))
    )
}

/// `postdesk ticket REF --mbox`: each message as it arrived, read and written one at a time.
fn write_ticket_mbox(conn: &rusqlite::Connection, number: i64) -> Result<()> {
    let Some(rows) = views::message_rows(conn, number)? else {
        bail!("no ticket #{number}");
    };
    let mut out = crate::terminal::stdout();
    for row in rows {
        let message = views::original(conn, row)?;
        let at = jiff::Timestamp::from_second(message.received_at).unwrap_or_default();
        source::write_mbox_message(&mut out, message.sender.as_deref(), at, &message.raw)
            .context("writing the mbox to stdout")?;
    }
    out.flush().context("writing the mbox to stdout")?;
    Ok(())
}

/// `postdesk ticket REF`: every text that came in a mail (or from a rule, or a server's
/// answer) through [`visible_line`], a body's lines through [`visible`] (which keeps tabs).
pub(super) fn write_ticket(
    out: &mut impl Write,
    detail: &views::TicketDetail,
    shown: &Shown,
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
            visible_line(&person(t.customer_name.as_deref(), &t.customer)).into_owned()
        },
        shown.time_or_dash(t.created_at.as_deref()),
        shown.time_or_dash(t.due_at.as_deref()),
        shown.time_or_dash(t.first_response_at.as_deref()),
    )?;
    writeln!(
        out,
        "participants {}",
        visible_line(&detail.participants.join(", "))
    )?;
    for m in &detail.messages {
        write_message(out, m, shown)?;
    }
    writeln!(out)?;
    writeln!(out, "events:")?;
    for e in &detail.events {
        writeln!(
            out,
            "  {} {:<14} {}",
            shown.time_or_dash(e.at.as_deref()),
            visible_line(&e.kind),
            visible_line(&e.detail)
        )?;
    }
    Ok(())
}

/// One message of `postdesk ticket REF`: its header line, attachments and first 20 lines.
fn write_message(
    out: &mut impl Write,
    m: &views::MessageView,
    shown: &Shown,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "--- {} from {} at {}{}",
        visible_line(&m.kind),
        m.from.as_deref().map_or_else(
            || "(unknown)".into(),
            |from| visible_line(&person(m.from_name.as_deref(), from)).into_owned()
        ),
        shown.time_or_dash(m.received_at.as_deref()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kyiv() -> Shown {
        Shown {
            tz: TimeZone::get("Europe/Kyiv").unwrap(),
        }
    }

    #[test]
    fn times_are_shown_in_the_zone_with_its_abbreviation() {
        assert_eq!(kyiv().time("2026-03-02T08:00:00Z"), "2026-03-02 10:00 EET");
        assert_eq!(kyiv().time("2026-07-01T08:00:00Z"), "2026-07-01 11:00 EEST");
        let utc = Shown { tz: TimeZone::UTC };
        assert_eq!(utc.time("2026-03-02T08:00:00Z"), "2026-03-02 08:00 UTC");
        assert_eq!(utc.time_or_dash(None), "-");
        assert_eq!(utc.time("12345678901234"), "12345678901234");
    }

    #[test]
    fn a_name_goes_beside_the_address_and_is_cut_first() {
        let alice = Some("Alice Example");
        assert_eq!(
            person(alice, "alice@x.example"),
            "Alice Example <alice@x.example>"
        );
        assert_eq!(person(Some("  "), "alice@x.example"), "alice@x.example");
        assert_eq!(person(None, "alice@x.example"), "alice@x.example");
        assert_eq!(
            person_cell(alice, "alice@x.example", 40),
            "Alice Example <alice@x.example>"
        );
        assert_eq!(
            person_cell(alice, "alice@x.example", 24),
            "Alice… <alice@x.example>"
        );
        assert_eq!(
            person_cell(alice, "alice@x.example", 25),
            "Alice… <alice@x.example>"
        );
        assert_eq!(person_cell(alice, "alice@x.example", 20), "alice@x.example");
        assert_eq!(person_cell(alice, "alice@x.example", 10), "alice@x.e…");
    }
}
