//! The caller view: what a phone agent needs in five seconds — has this person written,
//! what did we promise them, who answered and when, what is overdue — then the
//! conversation with quoted history folded, and the note and close forms.

use jiff::tz::TimeZone;
use maud::{Markup, html};
use rusqlite::{Connection, OptionalExtension};

use super::accounts::Session;
use super::view::{layout, time, time_or};
use crate::ingest::agent::quote::visible_text;
use crate::store::views::{CustomerView, MessageView, TicketDetail};

/// The acknowledgement of a ticket, as the outbox has it.
pub struct AckState {
    /// `pending`, `done`, `failed` or `cancelled`.
    pub status: String,
    pub due_at: String,
    pub done_at: Option<String>,
}

pub struct Caller {
    pub detail: TicketDetail,
    pub customer: CustomerView,
    pub ack: Option<AckState>,
    /// Why no acknowledgement may be sent, when one was suppressed.
    pub ack_suppressed: Option<String>,
    /// Seconds now, to say what is overdue.
    pub now: i64,
}

/// The newest acknowledgement row of the ticket.
pub fn ack_state(conn: &Connection, ticket: i64) -> rusqlite::Result<Option<AckState>> {
    conn.query_row(
        "SELECT status, due_at, done_at FROM outbox
         WHERE ticket_id = ?1 AND kind = 'acknowledgement' ORDER BY id DESC LIMIT 1",
        [ticket],
        |r| {
            Ok(AckState {
                status: r.get(0)?,
                due_at: crate::text::time::rfc3339(r.get(1)?),
                done_at: r.get::<_, Option<i64>>(2)?.map(crate::text::time::rfc3339),
            })
        },
    )
    .optional()
}

fn is_open(status: &str) -> bool {
    matches!(status, "new" | "acknowledged" | "pending")
}

fn overdue(caller: &Caller) -> bool {
    let t = &caller.detail.ticket;
    let past_due = t
        .due_at
        .as_deref()
        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
        .is_some_and(|due| due.as_second() < caller.now);
    t.breached || (is_open(&t.status) && t.first_response_at.is_none() && past_due)
}

pub fn page(session: &Session, caller: &Caller, tz: &TimeZone) -> Markup {
    let t = &caller.detail.ticket;
    let title = format!("#{} {}", t.reference, t.subject);
    layout(
        &title,
        Some(session),
        "",
        html! {
            h1 {
                span.ref { "#" (t.reference) } " " (t.subject) " "
                span class={ "status " (t.status) } { (t.status) }
                @if overdue(caller) { " " span.badge.overdue { "overdue" } }
            }
            div.facts {
                (who(caller, tz))
                (promise(caller, tz))
                (answered(caller, tz))
            }
            (actions(session, t.reference, &t.status))
            h2 { "Conversation" }
            @for message in &caller.detail.messages { (message_card(message, tz)) }
            h2 { "Events" }
            ul.events {
                @for event in &caller.detail.events {
                    li { (time_or(event.at.as_deref(), tz, "-")) " " strong { (event.kind) } " " (event.detail) }
                }
            }
        },
    )
}

fn who(caller: &Caller, tz: &TimeZone) -> Markup {
    let c = &caller.customer;
    let t = &caller.detail.ticket;
    html! {
        section.card {
            h2 { "Caller" }
            p { strong { (t.customer_name.as_deref().or(c.name.as_deref()).unwrap_or("(no name given)")) } }
            p { a href={ "/search?q=" (t.customer) } { (t.customer) } }
            p { "Has written " (c.message_count) " message(s) in " (c.tickets.len()) " ticket(s); "
                (c.open_tickets) " open." }
            p.meta { "First " (time_or(c.first_contact_at.as_deref(), tz, "-"))
                ", last " (time_or(c.last_contact_at.as_deref(), tz, "-")) }
            p.meta { "Queue " (t.queue) ", priority " (t.priority)
                @if let Some(a) = &t.assignee { ", assigned to " (a) } }
        }
    }
}

fn promise(caller: &Caller, tz: &TimeZone) -> Markup {
    let t = &caller.detail.ticket;
    html! {
        section.card {
            h2 { "What we promised" }
            p { "Answer due: " strong { (time_or(t.due_at.as_deref(), tz, "no target running")) } }
            @match &caller.ack {
                Some(ack) if ack.status == "done" => p { "Acknowledgement sent "
                    (time_or(ack.done_at.as_deref(), tz, "-")) "." },
                Some(ack) if ack.status == "pending" => p { "Acknowledgement not sent yet: due "
                    (time(&ack.due_at, tz)) "." },
                Some(ack) => p { "Acknowledgement " (ack.status) ": it did not go out." },
                None => p { "No acknowledgement was sent"
                    @if let Some(why) = &caller.ack_suppressed { ": " (why) } "." },
            }
        }
    }
}

fn answered(caller: &Caller, tz: &TimeZone) -> Markup {
    let t = &caller.detail.ticket;
    let answer = caller
        .detail
        .messages
        .iter()
        .find(|m| m.kind == "agent_reply");
    html! {
        section.card {
            h2 { "Answered" }
            @match (&t.first_response_at, answer) {
                (Some(at), Some(m)) => p { "By " (m.from_name.as_deref().or(m.from.as_deref()).unwrap_or("an agent"))
                    " at " (time(at, tz)) "." },
                (Some(at), None) => p { "At " (time(at, tz)) "." },
                (None, _) => p { strong { "Not answered yet." } },
            }
            @if overdue(caller) { p { span.badge.overdue { "overdue" } " the answer is late: tell the caller when to expect it." } }
        }
    }
}

fn actions(session: &Session, reference: i64, status: &str) -> Markup {
    html! {
        section.actions.card {
            h2 { "Note a call" }
            form action={ "/tickets/" (reference) "/note" } method="post" {
                input type="hidden" name="csrf" value=(session.csrf);
                textarea name="text" required aria-label="Note" placeholder="What the caller said, what you told them" {}
                button type="submit" { "Add note" }
            }
            @if status != "closed" {
                form action={ "/tickets/" (reference) "/close" } method="post" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button.secondary type="submit" { "Close ticket" }
                }
            }
        }
    }
}

fn message_card(m: &MessageView, tz: &TimeZone) -> Markup {
    let visible = visible_text(&m.text);
    let folded = visible.trim() != m.text.trim();
    let from = match (&m.from_name, &m.from) {
        (Some(name), Some(address)) => format!("{name} <{address}>"),
        (None, Some(address)) => address.clone(),
        (Some(name), None) => name.clone(),
        (None, None) => "(no sender)".into(),
    };
    html! {
        article class={ "message" @if m.kind == "agent_reply" { " agent" } } {
            div.meta { strong { (from) } " · " (time_or(m.received_at.as_deref(), tz, "-")) " · " (m.kind) }
            pre.text { (visible) }
            @if folded {
                details { summary { "Quoted history" } pre.text { (m.text) } }
            }
        }
    }
}
