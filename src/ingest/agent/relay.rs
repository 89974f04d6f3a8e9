//! Relay mode and agents' mail to the desk. New tickets of a relay queue are forwarded to
//! its agents (or the ticket's assignee) with the ticket's secret reply address; what an
//! agent writes back to that address carries commands and an answer, which is sent on to
//! the customer from the support address. Mail claiming to be an agent's without the
//! secret is refused: filed as an outside message on a quarantine ticket, and the real
//! agent is told. Pure decisions; the outbox writes and sends the mail.

use jiff::Timestamp;

use super::commands::{self, Command};
use super::quote;
use crate::config::{Config, QueueMode};
use crate::ingest::parse::Parsed;
use crate::ingest::thread::{self, Via};
use crate::ingest::{
    Event, EventKind, OutboxMail, QueuedMail, Status, TicketId, TicketState, TicketUpdate, Waiting,
    WaitingChange, reference,
};

/// What mail from a configured agent is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMail {
    /// Written to the desk through this ticket's secret reply address.
    ToDesk(TicketId),
    /// Not accepted as the agent's: why, and the ticket it tried to reach.
    Refused {
        reason: String,
        ticket: Option<TicketId>,
    },
    /// Anything else (an answer sent straight to the customer with the desk in copy, a
    /// request of the agent's own): filed as any mail is.
    Usual,
}

/// What threading found for mail in the team's name (a configured agent's address or the
/// desk's own), and what could prove it is theirs.
#[derive(Debug)]
pub struct Claim<'a> {
    /// The ticket the mail may join, and how it was found.
    pub found: Option<(TicketId, Via)>,
    /// The ticket it threads to or names (also one it may not join).
    pub reached: Option<TicketId>,
    /// The state of `reached`.
    pub state: Option<&'a TicketState>,
    /// A trusted server's `Authentication-Results` vouches for the `From:` address.
    pub authenticated: bool,
    pub now: i64,
}

/// Tells the team's own mail from mail that only says it is theirs. A `From:` line proves
/// nothing: in a relay queue only the ticket's agent address does (an HMAC the relay
/// forward alone carries), in an observe queue the Sent folder (decided before this), a
/// trusted `Authentication-Results`, or, with no trusted server configured, a copy that
/// was at least addressed to the ticket's customer.
pub fn recognise(parsed: &Parsed, config: &Config, claim: &Claim<'_>) -> AgentMail {
    let refused = |reason: String, ticket| AgentMail::Refused { reason, ticket };
    if let Some((ticket, Via::AgentToken)) = claim.found {
        return by_agent_address(config, claim, ticket);
    }
    if let Some(refusal) = wrong_token(parsed, config, claim) {
        return refusal;
    }
    let (Some(ticket), Some(state)) = (claim.reached, claim.state) else {
        return AgentMail::Usual;
    };
    let tag = config.ticket_tag.format(reference(ticket));
    let relayed = config
        .queue(&state.queue)
        .is_some_and(|q| q.mode == QueueMode::Relay);
    let trusting = !config.ingest.trusted_authserv_ids.is_empty();
    let to_customer = parsed
        .recipients()
        .any(|r| r.eq_ignore_ascii_case(&state.customer));
    let proven = claim.found.is_some() && trusting && claim.authenticated && to_customer;
    if relayed && !proven {
        return refused(
            format!(
                "it was sent to the desk without the agent address of ticket {tag}, so it cannot be told from a forged sender; reply to the forwarded mail itself (its Reply-To address)"
            ),
            Some(ticket),
        );
    }
    if claim.found.is_none() {
        // Named a ticket it may not join: the agent's own mail, filed as any mail is.
        return AgentMail::Usual;
    }
    if trusting && !claim.authenticated {
        return refused(
            format!(
                "no Authentication-Results of the desk's mail server ({}) vouches for the sender, so it cannot be told from a forged sender and does not count as the answer to ticket {tag}",
                config.ingest.trusted_authserv_ids.join(", ")
            ),
            Some(ticket),
        );
    }
    if !to_customer {
        return refused(
            format!(
                "it was not sent to the customer {} of ticket {tag}, so it is no answer to them",
                state.customer
            ),
            Some(ticket),
        );
    }
    AgentMail::Usual
}

/// Mail through a ticket's agent address is the agent's, unless the ticket was closed
/// longer ago than `ingest.agent_token_lifetime`.
fn by_agent_address(config: &Config, claim: &Claim<'_>, ticket: TicketId) -> AgentMail {
    if let Some(state) = claim.state
        && let Some(closed_at) = state.closed_at.filter(|_| state.status == Status::Closed)
    {
        let lifetime = config.ingest.agent_token_lifetime.as_secs() as i64;
        if claim.now.saturating_sub(closed_at) > lifetime {
            return AgentMail::Refused {
                reason: format!(
                    "ticket {} was closed {}, and a closed ticket's agent address takes no commands after ingest.agent_token_lifetime ({} days); write to the customer directly",
                    config.ticket_tag.format(reference(ticket)),
                    crate::text::time::rfc3339(closed_at),
                    lifetime / 86_400
                ),
                ticket: Some(ticket),
            };
        }
    }
    AgentMail::ToDesk(ticket)
}

/// Sent to one of the desk's agent or reply addresses whose token threading did not accept:
/// wrong, altered, or not this sender's.
fn wrong_token(parsed: &Parsed, config: &Config, claim: &Claim<'_>) -> Option<AgentMail> {
    let refused = |reason: &str| AgentMail::Refused {
        reason: reason.into(),
        ticket: claim.reached,
    };
    let to_own = |token: fn(&str) -> Option<&str>| {
        parsed
            .recipients()
            .any(|r| config.is_own_address(r) && token(r).is_some())
    };
    if to_own(thread::agent_token) {
        return Some(refused(
            "the agent address it was sent to is not valid for this sender (wrong or altered, or the sender is not an agent of the desk)",
        ));
    }
    let reply_token_used = matches!(claim.found, Some((_, Via::ReplyToken)));
    if !reply_token_used && to_own(thread::reply_token) {
        return Some(refused(
            "the reply address it was sent to belongs to no ticket (the token in it is wrong or was altered)",
        ));
    }
    None
}

/// What an agent's desk mail does to its ticket.
#[derive(Debug, Default)]
pub struct DeskMail<'a> {
    pub update: TicketUpdate<'a>,
    pub events: Vec<Event>,
    pub mails: Vec<QueuedMail>,
}

/// Applies the commands at the top of the agent's text (all or none) and relays the rest
/// to the customer when the queue relays and the mail is no `#note`.
pub fn desk_mail(
    parsed: &Parsed,
    config: &Config,
    ticket: TicketId,
    state: &TicketState,
    agent: &str,
    now: i64,
) -> DeskMail<'static> {
    let tag = config.ticket_tag.format(reference(ticket));
    let visible = quote::visible_text(&parsed.text);
    let mut desk = DeskMail::default();
    let parsed_commands = match commands::parse(&visible, config) {
        Ok(parsed_commands) => parsed_commands,
        Err(errors) => {
            reject_commands(&mut desk, parsed, agent, &tag, &errors);
            return desk;
        }
    };
    let answer = parsed_commands.rest.trim();
    let (is_note, mut status) =
        apply_commands(&mut desk, &parsed_commands.commands, config, state, agent);
    let relays = config
        .queue(&state.queue)
        .is_some_and(|q| q.mode == QueueMode::Relay);
    if !answer.is_empty() {
        if is_note {
            desk.events.push(Event::new(
                EventKind::Note,
                format!("internal note by {agent}"),
            ));
        } else if relays {
            desk.mails.push(QueuedMail {
                to: state.customer.clone(),
                mail: OutboxMail::RelayAnswer {
                    text: answer.to_string(),
                    agent: agent.to_string(),
                },
            });
            desk.events.push(Event::new(
                EventKind::RelayScheduled,
                format!("answer by {agent} to {}", state.customer),
            ));
            desk.update.answered_at = Some(now);
            if state.status.is_open() {
                status = status.or(Some(Status::Answered));
            }
        } else {
            desk.events.push(Event::new(EventKind::Note,
                format!(
                    "by {agent}, kept as an internal note: queue {} does not relay (mode = \"observe\"); answer the customer directly",
                    state.queue
                ),
            ));
        }
    }
    if let Some(status) = status {
        desk.update.status = Some(status);
        desk.update.waiting = WaitingChange::Stop;
        desk.update.cancel_pending_ack = true;
    }
    desk
}

/// Commands that do not all parse apply none: the event, and the agent told what to fix.
fn reject_commands(
    desk: &mut DeskMail<'_>,
    parsed: &Parsed,
    agent: &str,
    tag: &str,
    errors: &[String],
) {
    desk.events.push(Event::new(
        EventKind::CommandRejected,
        format!("from {agent}: {}", errors.join("; ")),
    ));
    desk.mails.push(notice(
        agent,
        parsed,
        &format!("Not applied: {}", parsed.subject),
        &format!(
            "Nothing in your message was applied to ticket {tag}, and nothing was sent to the customer:\n\n{}\n\nCommands go on the first lines, one per line: #close, #assign NAME, #queue NAME, #priority low|normal|high|urgent, #note, #pending. Correct them and send your message again.\n",
            errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n")
        ),
    ));
}

/// The commands' changes to the ticket and their events; returns whether the mail is a
/// `#note` and the status a command set.
fn apply_commands(
    desk: &mut DeskMail<'_>,
    commands: &[Command],
    config: &Config,
    state: &TicketState,
    agent: &str,
) -> (bool, Option<Status>) {
    let mut is_note = false;
    let mut status = None;
    for command in commands {
        match command {
            Command::Close => {
                status = Some(Status::Closed);
                desk.events
                    .push(Event::new(EventKind::Closed, format!("by {agent}")));
            }
            Command::Pending => {
                status = Some(Status::Pending);
                desk.events.push(Event::new(
                    EventKind::Pending,
                    format!("by {agent}: waiting on the customer"),
                ));
            }
            Command::Assign(assignee) => {
                desk.update.assignee = Some(assignee.clone());
                desk.events.push(Event::new(
                    EventKind::Assigned,
                    format!("to {assignee} by {agent}"),
                ));
            }
            Command::Queue(queue) => {
                desk.update.queue = Some(queue.clone());
                let detail = queue_change(desk, config, state, queue, agent);
                desk.events
                    .push(Event::new(EventKind::QueueChanged, detail));
            }
            Command::Priority(priority) => {
                desk.update.priority = Some(priority.as_str());
                desk.events.push(Event::new(
                    EventKind::PriorityChanged,
                    format!("to {} by {agent}", priority.as_str()),
                ));
            }
            Command::Note => is_note = true,
        }
    }
    (is_note, status)
}

/// `#queue`: the event's detail, and the wait restarted under the new queue's target.
fn queue_change(
    desk: &mut DeskMail<'_>,
    config: &Config,
    state: &TicketState,
    queue: &str,
    agent: &str,
) -> String {
    let mut detail = format!("{} → {queue} by {agent}", state.queue);
    // The customer has waited since `since` whichever queue holds the ticket; the
    // new queue's target and calendar decide when that wait is due.
    if let (Some(since), Some(target)) = (
        state
            .waiting_since
            .and_then(|s| Timestamp::from_second(s).ok()),
        config.queue(queue),
    ) {
        let waiting = Waiting::start(target, since);
        desk.update.waiting = WaitingChange::Start(waiting);
        detail.push_str(&format!(
            "; response now due {}",
            crate::text::time::local(waiting.due_at, &target.calendar.timezone)
        ));
    }
    detail
}

/// The relay forward of a customer's message to whoever handles the ticket: its assignee,
/// else every agent of the queue.
pub fn forwards(
    config: &Config,
    queue: &str,
    assignee: Option<&str>,
    dedup_key: &str,
) -> Vec<QueuedMail> {
    let Some(queue) = config.queue(queue).filter(|q| q.mode == QueueMode::Relay) else {
        return Vec::new();
    };
    let recipients: Vec<&str> = match assignee {
        Some(assignee) => vec![assignee],
        None => queue.agents.iter().map(String::as_str).collect(),
    };
    recipients
        .into_iter()
        .map(|agent| QueuedMail {
            to: agent.to_string(),
            mail: OutboxMail::RelayForward {
                dedup_key: dedup_key.to_string(),
                agent_token: None,
            },
        })
        .collect()
}

/// A short notice to an agent about their message.
pub fn notice(agent: &str, parsed: &Parsed, subject: &str, body: &str) -> QueuedMail {
    QueuedMail {
        to: agent.to_string(),
        mail: OutboxMail::AgentNotice {
            subject: subject.to_string(),
            body: body.to_string(),
            in_reply_to: parsed.message_id.clone(),
        },
    }
}

/// The notice for refused mail (its subject names the quarantine ticket it is filed on).
pub fn refusal_notice(agent: &str, parsed: &Parsed, reason: &str) -> QueuedMail {
    notice(
        agent,
        parsed,
        &format!("Not relayed: {}", parsed.subject),
        &format!(
            "Your message \"{}\" was not sent to the customer.\n\nWhy: {reason}.\n\nIt is kept as an outside message on the quarantine ticket named in this subject. If you did not write it, someone is sending mail in your name: tell your administrator.\n",
            parsed.subject
        ),
    )
}

/// What a relay forward tells the agent about the ticket.
pub struct ForwardFacts<'a> {
    pub tag: &'a str,
    pub queue: &'a str,
    pub priority: &'a str,
    /// When the answer is due, in the queue's time zone; None once the clock stopped.
    pub due: Option<String>,
    pub customer: String,
    pub received: String,
    pub subject: &'a str,
    pub text: &'a str,
    pub desk_address: &'a str,
}

/// The body of a relay forward: the facts, how to answer, then the customer's message.
pub fn forward_body(facts: &ForwardFacts<'_>) -> String {
    let due = facts
        .due
        .as_deref()
        .map(|due| format!(" · answer due {due}"))
        .unwrap_or_default();
    format!(
        "Ticket {tag} · queue {queue} · priority {priority}{due}\n\
         From: {customer}\n\
         Received: {received}\n\
         Subject: {subject}\n\
         \n\
         Reply to this mail to answer the customer: your text, without the quoted message and \
         your signature, goes out from {desk}, never from your own address. First lines can be \
         commands: #note (internal, not sent), #close, #pending, #assign NAME, #queue NAME, \
         #priority low|normal|high|urgent.\n\
         \n\
         ---------- the customer's message ----------\n\
         {text}\n",
        tag = facts.tag,
        queue = facts.queue,
        priority = facts.priority,
        customer = facts.customer,
        received = facts.received,
        subject = facts.subject,
        desk = facts.desk_address,
        text = facts.text.trim_end(),
    )
}

/// The subject of an answer to the customer: a reply to the ticket's subject, with its tag.
pub fn answer_subject(subject: &str, tag: &str) -> String {
    let subject = subject.trim();
    let tagged = if subject.contains(tag) {
        subject.to_string()
    } else {
        format!("{subject} {tag}")
    };
    if tagged.to_lowercase().starts_with("re:") {
        tagged
    } else {
        format!("Re: {tagged}")
    }
}
