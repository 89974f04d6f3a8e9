//! [`decide`]: one prepared message + config + store lookups → what to file. Pure: the
//! store is reached only through [`Lookup`], and nothing here writes.
//!
//! The stages, in order: duplicate, unparsed, threading, a bounce of our own mail, the
//! team's mail (agent/), then by author and ticket: an automatic reply, an agent's answer,
//! a customer's follow-up, or a new ticket.

use jiff::Timestamp;

use super::agent::commands;
use super::agent::quote::visible_text;
use super::agent::relay::{self, AgentMail};
use super::classify::{Author, AutoKind};
use super::decision::*;
use super::parse::Parsed;
use super::prepare::Prepared;
use super::thread::{self, Threading, Via};
use super::{authres, route, thanks};
use crate::config::{Config, Queue};

/// Runs the pipeline on one prepared message. A store error is the only failure.
pub fn decide<'a, L: Lookup>(
    prepared: &'a Prepared,
    origin: &'a Origin,
    config: &Config,
    lookup: &L,
    now: Timestamp,
) -> Result<Outcome<'a>, L::Error> {
    let parsed = &prepared.parsed;
    if let Some(ticket) = lookup.ticket_by_dedup_key(&parsed.dedup_key)? {
        return Ok(Outcome::Duplicate(ticket));
    }
    let step = Step {
        prepared,
        parsed,
        origin,
        config,
        lookup,
        now,
        default_queue: default_queue(origin, config),
    };
    let mut draft = Draft::new(step.record());
    if origin.sent && parsed.unparsed.is_some() {
        return Ok(Outcome::NotATicket("unparsable mail in a Sent folder"));
    }
    if let Some(reason) = &parsed.unparsed {
        let placement = step.unparsed(&mut draft, reason);
        return Ok(draft.into_outcome(placement));
    }
    draft.message.language = prepared.language.as_deref();
    let window_start = now.as_second() - config.ingest.thread_window.as_secs() as i64;
    let threading = thread::find_ticket(
        parsed,
        &prepared.normalized_subject,
        config,
        lookup,
        window_start,
    )?;
    let (ticket, reached, stranger) = match threading {
        Threading::Found(ticket, via) => {
            draft.message.threaded_by = Some(via);
            (Some(ticket), Some(ticket), None)
        }
        Threading::Stranger(ticket, via) => (None, Some(ticket), Some((ticket, via))),
        Threading::None => (None, None, None),
    };
    // What the team sent from its own mailbox answers a ticket or is none of ours; it
    // never opens one (an agent's quoted history is not a new request).
    let author = match (origin.sent, ticket) {
        (true, None) => return Ok(Outcome::NotATicket("sent mail that answers no ticket")),
        (true, Some(_)) => &Author::Agent,
        (false, _) => &prepared.author,
    };
    if !origin.sent
        && let Some((bounced, sent_to)) = bounced_mail(prepared, lookup)?
    {
        let placement = step.bounce_of_ours(&mut draft, bounced, &sent_to);
        return Ok(draft.into_outcome(placement));
    }
    let (staff, authenticated) = team_sender(parsed, config);
    if let (false, Author::Agent, Some(staff)) = (origin.sent, author, staff)
        && let Some(placement) =
            step.team_mail(&mut draft, staff, ticket, reached, authenticated)?
    {
        return Ok(draft.into_outcome(placement));
    }
    if let Some((named, via)) = stranger {
        step.stranger(&mut draft, named, via);
    }
    let placement = match (ticket, author) {
        (Some(ticket), Author::Automatic(kind, reason)) => {
            step.automatic_reply(&mut draft, ticket, *kind, reason)
        }
        (Some(ticket), Author::Agent) => step.agent_answer(&mut draft, ticket, authenticated)?,
        (Some(ticket), Author::Customer) => step.follow_up(&mut draft, ticket)?,
        (None, author) => step.new_ticket(&mut draft, author)?,
    };
    Ok(draft.into_outcome(placement))
}

/// The queue of the mailbox the message came from, else the first queue.
fn default_queue<'c>(origin: &Origin, config: &'c Config) -> &'c str {
    origin
        .mailbox
        .as_deref()
        .and_then(|m| config.mailbox(m))
        .map(|m| m.queue.as_str())
        .unwrap_or_else(|| config.default_queue())
}

/// The team's address the mail is from, if any, and whether a trusted server's
/// Authentication-Results vouches for that From: line (RFC 8601).
fn team_sender<'p>(parsed: &'p Parsed, config: &Config) -> (Option<&'p str>, bool) {
    let staff = parsed
        .from
        .as_deref()
        .filter(|s| config.is_agent(s) || config.is_own_address(s));
    let authenticated = staff.is_some_and(|staff| {
        authres::vouches_for(parsed, staff, &config.ingest.trusted_authserv_ids)
    });
    (staff, authenticated)
}

/// What every stage of [`decide`] reads.
struct Step<'a, 'c, L> {
    prepared: &'a Prepared,
    parsed: &'a Parsed,
    origin: &'a Origin,
    config: &'c Config,
    lookup: &'c L,
    now: Timestamp,
    default_queue: &'c str,
}

/// The decision being written: the message row, its events and the mail it causes.
struct Draft<'a> {
    message: MessageRecord<'a>,
    events: Vec<Event>,
    mails: Vec<QueuedMail>,
}

impl<'a> Draft<'a> {
    fn new(message: MessageRecord<'a>) -> Draft<'a> {
        Draft {
            message,
            events: Vec::new(),
            mails: Vec::new(),
        }
    }

    fn event(&mut self, kind: EventKind, detail: String) {
        self.events.push(Event::new(kind, detail));
    }

    fn via(&self) -> &'static str {
        self.message.threaded_by.map(Via::as_str).unwrap_or("-")
    }

    fn into_outcome(self, placement: Placement<'a>) -> Outcome<'a> {
        Outcome::Store(Box::new(Decision {
            message: self.message,
            placement,
            events: self.events,
            mails: self.mails,
        }))
    }
}

impl<'a, L: Lookup> Step<'a, '_, L> {
    /// The message row as it arrived; the stages fill in its kind, language and threading.
    fn record(&self) -> MessageRecord<'a> {
        let (parsed, prepared, origin) = (self.parsed, self.prepared, self.origin);
        MessageRecord {
            dedup_key: &parsed.dedup_key,
            message_id: parsed.message_id.as_deref(),
            kind: Kind::Request,
            from: parsed.from.as_deref(),
            from_name: parsed.from_name.as_deref(),
            to_json: &prepared.to_json,
            cc_json: &prepared.cc_json,
            subject: &parsed.subject,
            date: parsed.date,
            received_at: self.now.as_second(),
            language: None,
            text: &parsed.text,
            headers_json: &prepared.headers_json,
            attachments: &parsed.attachments,
            source: &origin.location,
            mailbox: origin.mailbox.as_deref(),
            imap: origin.imap.as_ref(),
            threaded_by: None,
            parse_error: parsed.unparsed.as_deref(),
        }
    }

    fn queue(&self, name: &str) -> &Queue {
        self.config
            .queue(name)
            .unwrap_or_else(|| self.config.default_queue_config())
    }

    /// Mail the parser could not read: kept whole on a ticket of its own, never acknowledged.
    fn unparsed(&self, draft: &mut Draft<'a>, reason: &str) -> Placement<'a> {
        let queue = self.queue(self.default_queue);
        draft.event(
            EventKind::Created,
            format!("unparsed message from {}", self.origin.location),
        );
        draft.event(
            EventKind::Warning,
            format!("stored without parsing: {reason}; not acknowledged"),
        );
        Placement::New(NewTicket {
            status: Status::New,
            queue: queue.name.clone(),
            category: None,
            priority: "normal",
            labels: Vec::new(),
            language: None,
            customer: String::new(),
            customer_name: None,
            subject: "(unparsed message)".into(),
            normalized_subject: String::new(),
            unparsed: true,
            participants: &[],
            waiting: Some(Waiting::start(queue, self.now)),
            ack: None,
        })
    }

    /// A bounce of mail the desk sent: the ticket is flagged, whoever it was for.
    fn bounce_of_ours(
        &self,
        draft: &mut Draft<'a>,
        bounced: TicketId,
        sent_to: &str,
    ) -> Placement<'a> {
        draft.message.kind = Kind::automatic(AutoKind::Bounce);
        let whom = if self.config.is_agent(sent_to) {
            format!("the agent {sent_to}")
        } else {
            format!("{sent_to}: they did not get our mail, phone them or check the address")
        };
        draft.event(
            EventKind::DeliveryFailed,
            format!(
                "mail the desk sent did not arrive ({}) to {whom}",
                self.prepared.failure
            ),
        );
        Placement::Existing {
            ticket: bounced,
            update: TicketUpdate {
                label: Some("delivery_failed"),
                ..TicketUpdate::default()
            },
        }
    }

    /// Mail in the team's name that did not come from its Sent folder: to the desk (relay
    /// answers and commands), refused into quarantine, or `None` for the usual stages.
    fn team_mail(
        &self,
        draft: &mut Draft<'a>,
        staff: &str,
        found: Option<TicketId>,
        reached: Option<TicketId>,
        authenticated: bool,
    ) -> Result<Option<Placement<'a>>, L::Error> {
        let state = reached.map(|t| self.lookup.ticket_state(t)).transpose()?;
        let claim = relay::Claim {
            found: found.zip(draft.message.threaded_by),
            reached,
            state: state.as_ref(),
            authenticated,
            now: self.now.as_second(),
        };
        Ok(match relay::recognise(self.parsed, self.config, &claim) {
            AgentMail::ToDesk(ticket) => {
                let state = match state {
                    Some(state) => state,
                    None => self.lookup.ticket_state(ticket)?,
                };
                Some(self.to_desk(draft, ticket, &state, staff))
            }
            AgentMail::Refused { reason, ticket } => {
                let queue = state
                    .map(|s| s.queue)
                    .unwrap_or_else(|| self.default_queue.to_string());
                Some(self.quarantine(draft, staff, queue, ticket, &reason))
            }
            AgentMail::Usual => None,
        })
    }

    fn to_desk(
        &self,
        draft: &mut Draft<'a>,
        ticket: TicketId,
        state: &TicketState,
        staff: &str,
    ) -> Placement<'a> {
        draft.message.kind = Kind::AgentReply;
        let now = self.now.as_second();
        let desk = relay::desk_mail(self.parsed, self.config, ticket, state, staff, now);
        let via = draft.via();
        draft.event(
            EventKind::Message,
            format!("agent mail to the desk via {via}"),
        );
        draft.events.extend(desk.events);
        draft.mails.extend(desk.mails);
        Placement::Existing {
            ticket,
            update: desk.update,
        }
    }

    /// Mail in the team's name that cannot be told from a forgery: filed as an outside
    /// message on a quarantine ticket of its own, changing nothing else. A configured agent
    /// is told; the desk's own address is not written to (that would be mail to ourselves).
    fn quarantine(
        &self,
        draft: &mut Draft<'a>,
        sender: &str,
        queue: String,
        target: Option<TicketId>,
        reason: &str,
    ) -> Placement<'a> {
        let (config, parsed) = (self.config, self.parsed);
        draft.message.kind = Kind::Outside;
        draft.message.threaded_by = None;
        let target = target
            .map(|t| config.ticket_tag.format(reference(t)))
            .unwrap_or_else(|| "no ticket".into());
        if config.is_agent(sender) {
            draft
                .mails
                .push(relay::refusal_notice(sender, parsed, reason));
        }
        draft.event(
            EventKind::Quarantined,
            format!("outside message from {sender} for {target}, not relayed: {reason}"),
        );
        Placement::New(NewTicket {
            status: Status::Ignored,
            queue,
            category: None,
            priority: "normal",
            labels: vec!["quarantine".into()],
            language: draft.message.language.map(str::to_string),
            customer: sender.to_string(),
            customer_name: parsed.from_name.clone(),
            subject: parsed.subject.clone(),
            // Nothing may join a quarantine ticket by sender and subject.
            normalized_subject: String::new(),
            unparsed: false,
            participants: &[],
            waiting: None,
            ack: None,
        })
    }

    /// A sender that names a ticket it is not a participant of gets a ticket of its own.
    fn stranger(&self, draft: &mut Draft<'a>, named: TicketId, via: Via) {
        draft.event(
            EventKind::Warning,
            format!(
                "{} names ticket {} but {} is not one of its participants: opened a new ticket",
                via.as_str(),
                self.config.ticket_tag.format(reference(named)),
                self.parsed.from.as_deref().unwrap_or("the sender")
            ),
        );
    }

    /// An auto-reply or bounce on a ticket: kept on it, changes nothing.
    fn automatic_reply(
        &self,
        draft: &mut Draft<'a>,
        ticket: TicketId,
        kind: AutoKind,
        reason: &str,
    ) -> Placement<'a> {
        draft.message.kind = Kind::automatic(kind);
        let detail = format!(
            "{} ({reason}) via {}",
            draft.message.kind.as_str(),
            draft.via()
        );
        draft.event(EventKind::Message, detail);
        Placement::Existing {
            ticket,
            update: TicketUpdate::default(),
        }
    }

    /// The team answered on a ticket (a Sent-folder copy or an observed reply).
    fn agent_answer(
        &self,
        draft: &mut Draft<'a>,
        ticket: TicketId,
        authenticated: bool,
    ) -> Result<Placement<'a>, L::Error> {
        draft.message.kind = Kind::AgentReply;
        let state = self.lookup.ticket_state(ticket)?;
        let mut update = TicketUpdate::default();
        let proven = self.origin.sent || authenticated;
        let decided = commands::in_answer(self.parsed, self.config, proven, &mut draft.events);
        let via = draft.via();
        if state.status.is_open() || decided.is_some() {
            update.status = Some(decided.unwrap_or(Status::Answered));
            update.waiting = WaitingChange::Stop;
            update.answered_at = Some(self.now.as_second());
            update.cancel_pending_ack = true;
            let by = self.parsed.from.as_deref().unwrap_or("?");
            draft.event(EventKind::Answered, format!("by {by} via {via}"));
        } else {
            draft.event(EventKind::Message, format!("agent message via {via}"));
        }
        Ok(Placement::Existing { ticket, update })
    }

    /// The customer wrote again on a ticket: waiting again, reopened, or (thanks only, where
    /// the queue allows) left answered.
    fn follow_up(
        &self,
        draft: &mut Draft<'a>,
        ticket: TicketId,
    ) -> Result<Placement<'a>, L::Error> {
        draft.message.kind = Kind::FollowUp;
        let state = self.lookup.ticket_state(ticket)?;
        let queue = self.queue(&state.queue);
        let mut update = TicketUpdate {
            participants: &self.prepared.participants,
            language: self.prepared.language.clone(),
            ..TicketUpdate::default()
        };
        let via = draft.via();
        if state.status == Status::Answered
            && queue.thanks_closes
            && thanks::is_only_thanks(&visible_text(&self.parsed.text))
        {
            draft.event(
                EventKind::Thanks,
                format!(
                    "the customer only thanks or confirms, via {via}: the ticket stays answered"
                ),
            );
            return Ok(Placement::Existing { ticket, update });
        }
        let assignee = state.assignee.as_deref();
        let forwards =
            relay::forwards(self.config, &state.queue, assignee, draft.message.dedup_key);
        draft.mails.extend(forwards);
        match state.status {
            Status::New | Status::Acknowledged if state.waiting_since.is_some() => {
                draft.event(EventKind::Message, format!("follow-up via {via}"));
            }
            Status::Closed | Status::Ignored => {
                update.status = Some(Status::New);
                update.waiting = WaitingChange::Start(Waiting::start(queue, self.now));
                update.ack = self.ack(draft, queue)?;
                let was = state.status.as_str();
                draft.event(
                    EventKind::Reopened,
                    format!("customer wrote again (was {was}), via {via}"),
                );
            }
            _ => {
                update.status = Some(Status::New);
                update.waiting = WaitingChange::Start(Waiting::start(queue, self.now));
                draft.event(
                    EventKind::Message,
                    format!("follow-up via {via}: waiting for an agent again"),
                );
            }
        }
        Ok(Placement::Existing { ticket, update })
    }

    /// An acknowledgement if one may be sent, else the reason as an `ack_suppressed` event.
    fn ack(&self, draft: &mut Draft<'a>, queue: &Queue) -> Result<Option<Ack>, L::Error> {
        let planned = super::ack::plan(
            self.parsed,
            self.config,
            queue,
            self.origin,
            self.lookup,
            self.now,
        )?;
        Ok(planned
            .map_err(|reason| draft.event(EventKind::AckSuppressed, reason))
            .ok())
    }

    /// Mail that belongs to no ticket opens one, routed by the queue rules.
    fn new_ticket(
        &self,
        draft: &mut Draft<'a>,
        author: &Author,
    ) -> Result<Placement<'a>, L::Error> {
        let (parsed, prepared) = (self.parsed, self.prepared);
        let route = route::route(parsed, self.config, self.default_queue);
        let queue = self.queue(&route.queue);
        let mut status = Status::New;
        let mut waiting = Some(Waiting::start(queue, self.now));
        let mut ack = None;
        if let Author::Automatic(kind, reason) = author {
            draft.message.kind = Kind::automatic(*kind);
            (status, waiting) = (Status::Ignored, None);
            let kind = draft.message.kind.as_str();
            draft.event(EventKind::Created, format!("{kind} ({reason}): ignored"));
        } else if let Some(rule) = route.ignored_by {
            (status, waiting) = (Status::Ignored, None);
            draft.event(EventKind::Created, format!("ignored by rule[{rule}]"));
        } else {
            draft.event(
                EventKind::Created,
                match route.rule {
                    Some(rule) => format!("request routed to {} by rule[{rule}]", route.queue),
                    None => format!("request filed in {}", route.queue),
                },
            );
            ack = self.ack(draft, queue)?;
            let forwards =
                relay::forwards(self.config, &route.queue, None, draft.message.dedup_key);
            draft.mails.extend(forwards);
        }
        let subject = if parsed.subject.is_empty() {
            "(no subject)".to_string()
        } else {
            parsed.subject.clone()
        };
        Ok(Placement::New(NewTicket {
            status,
            queue: route.queue,
            category: route.category,
            priority: route.priority.as_str(),
            labels: route.labels,
            language: prepared.language.clone(),
            customer: parsed.from.clone().unwrap_or_default(),
            customer_name: parsed.from_name.clone(),
            normalized_subject: prepared.normalized_subject.clone(),
            subject,
            unparsed: false,
            participants: &prepared.participants,
            waiting,
            ack,
        }))
    }
}

/// The ticket, and the recipient, of mail the desk sent that this bounce returns. Our
/// Message-IDs carry 32 random bits, so a bounce naming one saw that mail.
fn bounced_mail<L: Lookup>(
    prepared: &Prepared,
    lookup: &L,
) -> Result<Option<(TicketId, String)>, L::Error> {
    for id in &prepared.returned {
        let sent = lookup
            .thread_refs(id)?
            .into_iter()
            .find(|r| r.author.is_empty());
        if let Some(sent) = sent {
            return Ok(Some((sent.ticket, sent.sent_to.unwrap_or_default())));
        }
    }
    Ok(None)
}
