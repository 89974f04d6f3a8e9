//! The one ingest pipeline, whatever the source: parse → deduplicate → classify → route →
//! thread → decide. [`prepare`] needs no store (bytes + config → a [`Prepared`] message), so
//! batches are prepared on every core; [`decide`] is pure (prepared message + config + store
//! lookups → a [`Decision`]); [`Ingester`] is the edge that applies decisions to the store in
//! batched transactions.

pub mod address;
pub mod agent;
pub mod authres;
pub mod bounce;
pub mod classify;
pub mod language;
pub mod parse;
pub mod route;
pub mod subject;
pub mod thanks;
pub mod thread;

use std::panic::{AssertUnwindSafe, catch_unwind};

use jiff::Timestamp;

use crate::clock::Clock;
use crate::config::Config;
use crate::ingest::agent::relay::{self, AgentMail};
use crate::sla;
use crate::store::{Store, StoreError};
use classify::{Author, AutoKind};
use parse::{Attachment, Parsed};
use thread::{Threading, Via};

/// A ticket's row id (its public reference is [`reference`] of it).
pub type TicketId = i64;

/// Public references start at #1000: ref = id + REF_OFFSET.
pub(crate) const REF_OFFSET: i64 = 999;

/// The number customers and agents see for a ticket (`[#1042]`).
pub fn reference(ticket: TicketId) -> i64 {
    ticket + REF_OFFSET
}

pub fn ticket_of_reference(reference: i64) -> TicketId {
    reference - REF_OFFSET
}

/// The store queries the pipeline needs; implemented by the store on a live transaction,
/// so messages earlier in the same batch are seen.
pub trait Lookup {
    /// The ticket holding a message with this deduplication key.
    fn ticket_by_dedup_key(&self, key: &str) -> rusqlite::Result<Option<TicketId>>;
    /// The ticket of a customer reply token (`+t.`).
    fn ticket_by_token(&self, token: &str) -> rusqlite::Result<Option<TicketId>>;
    /// The ticket of a valid agent command token (`+a.`), checked against the token key.
    fn ticket_by_agent_token(&self, token: &str) -> rusqlite::Result<Option<TicketId>>;
    /// Every stored or sent message with this Message-ID (a few at most).
    fn thread_refs(&self, message_id: &str) -> rusqlite::Result<Vec<thread::ThreadRef>>;
    fn ticket_by_ref(&self, reference: i64) -> rusqlite::Result<Option<TicketId>>;
    fn is_participant(&self, ticket: TicketId, address: &str) -> rusqlite::Result<bool>;
    /// The most recent ticket with this participant and normalised subject active since `since`.
    fn recent_ticket_by_subject(
        &self,
        address: &str,
        normalized_subject: &str,
        since: i64,
    ) -> rusqlite::Result<Option<TicketId>>;
    fn ticket_state(&self, ticket: TicketId) -> rusqlite::Result<TicketState>;
    /// Acknowledgements scheduled to this address since `since`.
    fn acks_to_since(&self, address: &str, since: i64) -> rusqlite::Result<u32>;
}

/// What the pipeline needs to know of an existing ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    pub status: Status,
    pub queue: String,
    pub waiting_since: Option<i64>,
    pub customer: String,
    pub assignee: Option<String>,
    /// When an agent closed it, while it is closed.
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    Acknowledged,
    Answered,
    Pending,
    Closed,
    Ignored,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::Answered => "answered",
            Status::Pending => "pending",
            Status::Closed => "closed",
            Status::Ignored => "ignored",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::New,
            Status::Acknowledged,
            Status::Answered,
            Status::Pending,
            Status::Closed,
            Status::Ignored,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Waiting for an agent.
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::Acknowledged)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    FollowUp,
    AgentReply,
    AutoReply,
    Bounce,
    List,
    Spam,
    Loop,
    Outside,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::FollowUp => "follow_up",
            Kind::AgentReply => "agent_reply",
            Kind::AutoReply => "auto_reply",
            Kind::Bounce => "bounce",
            Kind::List => "list",
            Kind::Spam => "spam",
            Kind::Loop => "loop",
            Kind::Outside => "outside",
        }
    }

    fn automatic(kind: AutoKind) -> Kind {
        match kind {
            AutoKind::Loop => Kind::Loop,
            AutoKind::Spam => Kind::Spam,
            AutoKind::Bounce => Kind::Bounce,
            AutoKind::List => Kind::List,
            AutoKind::AutoReply => Kind::AutoReply,
        }
    }
}

/// Where a message came from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The configured mailbox it arrived in; decides the default queue.
    pub mailbox: Option<String>,
    /// Human-readable location: a file path, `maildir:/x/cur/...`, `imap:support/INBOX/42`.
    pub location: String,
    /// Where the message sits on the IMAP server, for flags set on it later.
    pub imap: Option<ImapLocation>,
    /// Read from a Sent folder: our own outgoing mail, which only ever answers a ticket.
    pub sent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapLocation {
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// Everything the store needs to file one message.
#[derive(Debug)]
pub struct Decision<'a> {
    pub message: MessageRecord<'a>,
    pub placement: Placement<'a>,
    /// Event log lines for the ticket: (type, detail).
    pub events: Vec<(&'static str, String)>,
    /// Mail to send because of this message, due now.
    pub mails: Vec<QueuedMail>,
}

/// Mail written to the outbox with the message that causes it (acknowledgements, which
/// wait for their delay, are [`Ack`]s).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMail {
    pub kind: MailKind,
    pub to: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A customer's message, forwarded to an agent of a relay queue.
    RelayForward,
    /// An agent's answer, sent on to the customer from the support address.
    RelayAnswer,
    /// A short note to an agent: commands not applied, mail refused.
    AgentNotice,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::RelayForward => "relay_forward",
            MailKind::RelayAnswer => "relay_answer",
            MailKind::AgentNotice => "agent_notice",
        }
    }
}

/// The message row, borrowed from the prepared message and its origin.
#[derive(Debug)]
pub struct MessageRecord<'a> {
    pub dedup_key: &'a str,
    pub message_id: Option<&'a str>,
    pub kind: Kind,
    pub from: Option<&'a str>,
    pub from_name: Option<&'a str>,
    /// JSON arrays of addresses.
    pub to_json: &'a str,
    pub cc_json: &'a str,
    pub subject: &'a str,
    pub date: Option<i64>,
    pub received_at: i64,
    pub language: Option<&'a str>,
    pub text: &'a str,
    /// JSON array of `[name, value]` pairs.
    pub headers_json: &'a str,
    pub attachments: &'a [Attachment],
    pub source: &'a str,
    pub mailbox: Option<&'a str>,
    pub imap: Option<&'a ImapLocation>,
    pub threaded_by: Option<Via>,
    pub parse_error: Option<&'a str>,
}

#[derive(Debug)]
pub enum Placement<'a> {
    New(NewTicket<'a>),
    Existing {
        ticket: TicketId,
        update: TicketUpdate<'a>,
    },
}

#[derive(Debug)]
pub struct NewTicket<'a> {
    pub status: Status,
    pub queue: String,
    pub category: Option<String>,
    pub priority: &'static str,
    pub labels: Vec<String>,
    pub language: Option<String>,
    pub customer: String,
    pub customer_name: Option<String>,
    pub subject: String,
    pub normalized_subject: String,
    pub unparsed: bool,
    pub participants: &'a [String],
    pub waiting: Option<Waiting>,
    pub ack: Option<Ack>,
}

#[derive(Debug, Default)]
pub struct TicketUpdate<'a> {
    pub status: Option<Status>,
    pub waiting: WaitingChange,
    /// The agent's answer time, recorded as first response if there was none.
    pub answered_at: Option<i64>,
    pub cancel_pending_ack: bool,
    pub ack: Option<Ack>,
    pub participants: &'a [String],
    pub language: Option<String>,
    pub assignee: Option<String>,
    pub queue: Option<String>,
    pub priority: Option<&'static str>,
    /// A label the ticket gets if it has not got it yet.
    pub label: Option<&'static str>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub enum WaitingChange {
    #[default]
    Keep,
    Start(Waiting),
    Stop,
}

/// A period in which the ticket awaits an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub since: i64,
    /// When the queue's agents are warned (`warn_at` share of the target).
    pub warn_at: i64,
    pub due_at: i64,
}

impl Waiting {
    /// A waiting period that began at `since`, against `queue`'s target and calendar.
    pub fn start(queue: &crate::config::Queue, since: Timestamp) -> Waiting {
        let target = queue.policy.response_target;
        let warning = crate::config::Span {
            length: target.length.mul_f64(queue.policy.warn_at),
            ..target
        };
        Waiting {
            since: since.as_second(),
            warn_at: sla::add(&queue.calendar, since, warning).as_second(),
            due_at: sla::add(&queue.calendar, since, target).as_second(),
        }
    }
}

/// An acknowledgement to schedule through the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub to: String,
    /// The mailbox whose address the acknowledgement is sent from.
    pub mailbox: Option<String>,
    pub due_at: i64,
}

/// Mail written longer ago than this is backlog (a first sync of an old mailbox, an archive
/// import): filed, but never acknowledged.
const ACK_MAX_AGE_SECS: i64 = 86_400;

/// The result of one message through [`decide`].
#[derive(Debug)]
pub enum Outcome<'a> {
    Store(Box<Decision<'a>>),
    Duplicate(TicketId),
    /// Mail that is not part of any ticket (an agent's own sent mail to someone else).
    NotATicket(&'static str),
}

/// A message after the stages that need no store (parse, classify, language, subject
/// key): batches are prepared on every core while the single writer files the previous one.
#[derive(Debug)]
pub struct Prepared {
    parsed: Parsed,
    author: Author,
    language: Option<String>,
    normalized_subject: String,
    /// Who may join the ticket later ([`participants_of`]).
    participants: Vec<String>,
    to_json: String,
    cc_json: String,
    headers_json: String,
    /// For a bounce: the Message-IDs of our own mail it returns, and why it failed.
    returned: Vec<String>,
    failure: String,
}

/// The pure part of the pipeline. Never panics on any input.
pub fn prepare(raw: &[u8], config: &Config) -> Prepared {
    // mail-parser promises never to panic; should it ever, the message is kept, unparsed.
    let parsed = catch_unwind(AssertUnwindSafe(|| parse::parse(raw, &config.ingest)))
        .unwrap_or_else(|_| parse::unparsed(raw, "the MIME parser failed on this message".into()));
    let author = classify::classify(&parsed, config);
    let (returned, failure) = match author {
        Author::Automatic(AutoKind::Bounce, _) => (
            bounce::returned_ids(raw),
            bounce::failure(raw, &parsed.text),
        ),
        _ => (Vec::new(), String::new()),
    };
    Prepared {
        author,
        returned,
        failure,
        language: language::detect(
            parsed.content_language.as_deref(),
            &parsed.subject,
            &parsed.text,
        ),
        normalized_subject: thread::normalize_subject(&parsed.subject, &config.ticket_tag),
        participants: participants_of(&parsed, config),
        to_json: json_array(&parsed.to),
        cc_json: json_array(&parsed.cc),
        headers_json: json_array(&parsed.headers),
        parsed,
    }
}

fn json_array<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Runs the pipeline on one prepared message. A store error is the only failure.
pub fn decide<'a, L: Lookup>(
    prepared: &'a Prepared,
    origin: &'a Origin,
    config: &Config,
    lookup: &L,
    now: Timestamp,
) -> rusqlite::Result<Outcome<'a>> {
    let parsed = &prepared.parsed;
    if let Some(ticket) = lookup.ticket_by_dedup_key(&parsed.dedup_key)? {
        return Ok(Outcome::Duplicate(ticket));
    }
    let now_s = now.as_second();
    let default_queue = origin
        .mailbox
        .as_deref()
        .and_then(|m| config.mailbox(m))
        .map(|m| m.queue.as_str())
        .unwrap_or_else(|| config.default_queue());
    let mut message = MessageRecord {
        dedup_key: &parsed.dedup_key,
        message_id: parsed.message_id.as_deref(),
        kind: Kind::Request,
        from: parsed.from.as_deref(),
        from_name: parsed.from_name.as_deref(),
        to_json: &prepared.to_json,
        cc_json: &prepared.cc_json,
        subject: &parsed.subject,
        date: parsed.date,
        received_at: now_s,
        language: None,
        text: &parsed.text,
        headers_json: &prepared.headers_json,
        attachments: &parsed.attachments,
        source: &origin.location,
        mailbox: origin.mailbox.as_deref(),
        imap: origin.imap.as_ref(),
        threaded_by: None,
        parse_error: parsed.unparsed.as_deref(),
    };

    if origin.sent && parsed.unparsed.is_some() {
        return Ok(Outcome::NotATicket("unparsable mail in a Sent folder"));
    }
    if let Some(reason) = &parsed.unparsed {
        let queue = config.queue(default_queue).unwrap_or(&config.queues[0]);
        let waiting = Waiting::start(queue, now);
        return Ok(Outcome::Store(Box::new(Decision {
            message,
            placement: Placement::New(NewTicket {
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
                waiting: Some(waiting),
                ack: None,
            }),
            events: vec![
                (
                    "created",
                    format!("unparsed message from {}", origin.location),
                ),
                (
                    "warning",
                    format!("stored without parsing: {reason}; not acknowledged"),
                ),
            ],
            mails: Vec::new(),
        })));
    }

    message.language = prepared.language.as_deref();
    let window_start = now_s - config.ingest.thread_window.as_secs() as i64;
    let threading = thread::find_ticket(
        parsed,
        &prepared.normalized_subject,
        config,
        lookup,
        window_start,
    )?;
    let mut events = Vec::new();
    let (ticket, reached, stranger) = match threading {
        Threading::Found(ticket, via) => {
            message.threaded_by = Some(via);
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
        message.kind = Kind::automatic(AutoKind::Bounce);
        let whom = if config.is_agent(&sent_to) {
            format!("the agent {sent_to}")
        } else {
            format!("{sent_to}: they did not get our mail, phone them or check the address")
        };
        events.push((
            "delivery_failed",
            format!(
                "mail the desk sent did not arrive ({}) to {whom}",
                prepared.failure
            ),
        ));
        return Ok(Outcome::Store(Box::new(Decision {
            message,
            placement: Placement::Existing {
                ticket: bounced,
                update: TicketUpdate {
                    label: Some("delivery_failed"),
                    ..TicketUpdate::default()
                },
            },
            events,
            mails: Vec::new(),
        })));
    }
    let staff = parsed
        .from
        .as_deref()
        .filter(|s| config.is_agent(s) || config.is_own_address(s));
    // A trusted server's Authentication-Results vouches for the team's From: line.
    let authenticated = staff.is_some_and(|staff| {
        authres::vouches_for(parsed, staff, &config.ingest.trusted_authserv_ids)
    });
    if let (false, Author::Agent, Some(staff)) = (origin.sent, &author, staff) {
        let state = reached.map(|t| lookup.ticket_state(t)).transpose()?;
        let claim = relay::Claim {
            found: ticket.zip(message.threaded_by),
            reached,
            state: state.as_ref(),
            authenticated,
            now: now_s,
        };
        match relay::recognise(parsed, config, &claim) {
            AgentMail::ToDesk(ticket) => {
                let state = match state {
                    Some(state) => state,
                    None => lookup.ticket_state(ticket)?,
                };
                message.kind = Kind::AgentReply;
                let desk = relay::desk_mail(parsed, config, ticket, &state, staff, now_s);
                events.push((
                    "message",
                    format!("agent mail to the desk via {}", via_name(&message)),
                ));
                events.extend(desk.events);
                return Ok(Outcome::Store(Box::new(Decision {
                    message,
                    placement: Placement::Existing {
                        ticket,
                        update: desk.update,
                    },
                    events,
                    mails: desk.mails,
                })));
            }
            AgentMail::Refused { reason, ticket } => {
                let queue = state
                    .map(|s| s.queue)
                    .unwrap_or_else(|| default_queue.to_string());
                return Ok(Outcome::Store(Box::new(quarantine(
                    message, parsed, config, staff, queue, ticket, &reason,
                ))));
            }
            AgentMail::Usual => {}
        }
    }
    if let Some((named, via)) = stranger {
        events.push((
            "warning",
            format!(
                "{} names ticket {} but {} is not one of its participants: opened a new ticket",
                via.as_str(),
                config.ticket_tag.format(reference(named)),
                parsed.from.as_deref().unwrap_or("the sender")
            ),
        ));
    }
    let mut mails = Vec::new();
    let participants = &prepared.participants[..];

    let placement = match (ticket, author) {
        (Some(ticket), Author::Automatic(kind, reason)) => {
            message.kind = Kind::automatic(*kind);
            events.push((
                "message",
                format!(
                    "{} ({reason}) via {}",
                    message.kind.as_str(),
                    via_name(&message)
                ),
            ));
            Placement::Existing {
                ticket,
                update: TicketUpdate::default(),
            }
        }
        (Some(ticket), Author::Agent) => {
            message.kind = Kind::AgentReply;
            let state = lookup.ticket_state(ticket)?;
            let mut update = TicketUpdate::default();
            let proven = origin.sent || authenticated;
            let decided = answer_commands(parsed, config, proven, &mut events);
            if state.status.is_open() || decided.is_some() {
                update.status = Some(decided.unwrap_or(Status::Answered));
                update.waiting = WaitingChange::Stop;
                update.answered_at = Some(now_s);
                update.cancel_pending_ack = true;
                events.push((
                    "answered",
                    format!(
                        "by {} via {}",
                        parsed.from.as_deref().unwrap_or("?"),
                        via_name(&message)
                    ),
                ));
            } else {
                events.push((
                    "message",
                    format!("agent message via {}", via_name(&message)),
                ));
            }
            Placement::Existing { ticket, update }
        }
        (Some(ticket), Author::Customer) => {
            message.kind = Kind::FollowUp;
            let state = lookup.ticket_state(ticket)?;
            let queue = config.queue(&state.queue).unwrap_or(&config.queues[0]);
            if state.status == Status::Answered
                && queue.thanks_closes
                && thanks::is_only_thanks(&crate::ingest::agent::quote::visible_text(&parsed.text))
            {
                events.push((
                    "thanks",
                    format!(
                        "the customer only thanks or confirms, via {}: the ticket stays answered",
                        via_name(&message)
                    ),
                ));
                return Ok(Outcome::Store(Box::new(Decision {
                    message,
                    placement: Placement::Existing {
                        ticket,
                        update: TicketUpdate {
                            participants,
                            language: prepared.language.clone(),
                            ..TicketUpdate::default()
                        },
                    },
                    events,
                    mails,
                })));
            }
            mails.extend(relay::forwards(
                config,
                &state.queue,
                state.assignee.as_deref(),
                message.dedup_key,
            ));
            let mut update = TicketUpdate {
                participants,
                language: prepared.language.clone(),
                ..TicketUpdate::default()
            };
            let waiting = Waiting::start(queue, now);
            match state.status {
                Status::New | Status::Acknowledged if state.waiting_since.is_some() => {
                    events.push(("message", format!("follow-up via {}", via_name(&message))));
                }
                Status::Closed | Status::Ignored => {
                    update.status = Some(Status::New);
                    update.waiting = WaitingChange::Start(waiting);
                    update.ack = plan_ack(parsed, config, queue, origin, lookup, now)?
                        .map_err(|reason| events.push(("ack_suppressed", reason)))
                        .ok();
                    events.push((
                        "reopened",
                        format!(
                            "customer wrote again (was {}), via {}",
                            state.status.as_str(),
                            via_name(&message)
                        ),
                    ));
                }
                _ => {
                    update.status = Some(Status::New);
                    update.waiting = WaitingChange::Start(waiting);
                    events.push((
                        "message",
                        format!(
                            "follow-up via {}: waiting for an agent again",
                            via_name(&message)
                        ),
                    ));
                }
            }
            Placement::Existing { ticket, update }
        }
        (None, author) => {
            let route = route::route(parsed, config, default_queue);
            let queue = config.queue(&route.queue).unwrap_or(&config.queues[0]);
            let mut status = Status::New;
            let mut waiting = Some(Waiting::start(queue, now));
            let mut ack = None;
            match author {
                Author::Automatic(kind, reason) => {
                    message.kind = Kind::automatic(*kind);
                    status = Status::Ignored;
                    waiting = None;
                    events.push((
                        "created",
                        format!("{} ({reason}): ignored", message.kind.as_str()),
                    ));
                }
                Author::Agent | Author::Customer => {
                    if let Some(rule) = route.ignored_by {
                        status = Status::Ignored;
                        waiting = None;
                        events.push(("created", format!("ignored by rule[{rule}]")));
                    } else {
                        events.push((
                            "created",
                            match route.rule {
                                Some(rule) => {
                                    format!("request routed to {} by rule[{rule}]", route.queue)
                                }
                                None => format!("request filed in {}", route.queue),
                            },
                        ));
                        match plan_ack(parsed, config, queue, origin, lookup, now)? {
                            Ok(planned) => ack = Some(planned),
                            Err(reason) => events.push(("ack_suppressed", reason)),
                        }
                        mails.extend(relay::forwards(
                            config,
                            &route.queue,
                            None,
                            message.dedup_key,
                        ));
                    }
                }
            }
            let subject = if parsed.subject.is_empty() {
                "(no subject)".to_string()
            } else {
                parsed.subject.clone()
            };
            Placement::New(NewTicket {
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
                participants,
                waiting,
                ack,
            })
        }
    };
    Ok(Outcome::Store(Box::new(Decision {
        message,
        placement,
        events,
        mails,
    })))
}

fn via_name(message: &MessageRecord) -> &'static str {
    message.threaded_by.map(Via::as_str).unwrap_or("-")
}

/// Mail in the team's name that cannot be told from a forgery: filed as an outside message
/// on a quarantine ticket of its own, changing nothing else. A configured agent is told;
/// the desk's own address is not written to (that would be mail to ourselves).
fn quarantine<'a>(
    mut message: MessageRecord<'a>,
    parsed: &Parsed,
    config: &Config,
    sender: &str,
    queue: String,
    target: Option<TicketId>,
    reason: &str,
) -> Decision<'a> {
    message.kind = Kind::Outside;
    message.threaded_by = None;
    let target = target
        .map(|t| config.ticket_tag.format(reference(t)))
        .unwrap_or_else(|| "no ticket".into());
    let mails = if config.is_agent(sender) {
        vec![relay::refusal_notice(sender, parsed, reason)]
    } else {
        Vec::new()
    };
    Decision {
        placement: Placement::New(NewTicket {
            status: Status::Ignored,
            queue,
            category: None,
            priority: "normal",
            labels: vec!["quarantine".into()],
            language: message.language.map(str::to_string),
            customer: sender.to_string(),
            customer_name: parsed.from_name.clone(),
            subject: parsed.subject.clone(),
            // Nothing may join a quarantine ticket by sender and subject.
            normalized_subject: String::new(),
            unparsed: false,
            participants: &[],
            waiting: None,
            ack: None,
        }),
        message,
        events: vec![(
            "quarantined",
            format!("outside message from {sender} for {target}, not relayed: {reason}"),
        )],
        mails,
    }
}

/// `#close` or `#pending` on the first lines of an observed answer, honoured only where
/// the sender is proven (the Sent folder, which only an authenticated user can write to, or
/// a trusted `Authentication-Results`): a `From:` line is forged in seconds. Other commands
/// go through the agent address.
fn answer_commands(
    parsed: &Parsed,
    config: &Config,
    proven: bool,
    events: &mut Vec<(&'static str, String)>,
) -> Option<Status> {
    let visible = crate::ingest::agent::quote::visible_text(&parsed.text);
    let commands = crate::ingest::agent::commands::parse(&visible, config).ok()?;
    let agent = parsed.from.as_deref().unwrap_or("?");
    let mut status = None;
    for command in &commands.commands {
        let (next, kind) = match command {
            crate::ingest::agent::commands::Command::Close => (Status::Closed, "closed"),
            crate::ingest::agent::commands::Command::Pending => (Status::Pending, "pending"),
            _ => continue,
        };
        if !proven {
            events.push((
                "warning",
                format!(
                    "#{kind} from {agent} not applied: nothing proves the sender (not in the Sent folder, no trusted Authentication-Results)"
                ),
            ));
            return None;
        }
        events.push((kind, format!("by {agent}, in the answer")));
        status = Some(next);
    }
    status
}

/// The ticket, and the recipient, of mail the desk sent that this bounce returns. Our
/// Message-IDs carry 32 random bits, so a bounce naming one saw that mail.
fn bounced_mail<L: Lookup>(
    prepared: &Prepared,
    lookup: &L,
) -> rusqlite::Result<Option<(TicketId, String)>> {
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

/// The people who may later join this ticket by tag or subject: the sender and the other
/// addressees, never our own mailboxes.
fn participants_of(parsed: &Parsed, config: &Config) -> Vec<String> {
    let mut people: Vec<String> = Vec::new();
    for address in parsed.from.iter().chain(&parsed.to).chain(&parsed.cc) {
        if !address.is_empty() && !config.is_own_address(address) && !people.contains(address) {
            people.push(address.clone());
        }
    }
    people
}

/// An acknowledgement for this customer message, or why none may be sent.
fn plan_ack<L: Lookup>(
    parsed: &Parsed,
    config: &Config,
    queue: &crate::config::Queue,
    origin: &Origin,
    lookup: &L,
    now: Timestamp,
) -> rusqlite::Result<Result<Ack, String>> {
    let Some(to) = parsed.from.clone() else {
        return Ok(Err("no sender address".into()));
    };
    if classify::looks_unattended(&to) {
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

/// Counts of one ingest run, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub ingested: u64,
    pub duplicates: u64,
    /// Stored as unparsed tickets.
    pub quarantined: u64,
    /// Could not be stored at all.
    pub failed: u64,
    /// Sent mail that answers no ticket, left alone.
    pub not_tickets: u64,
}

/// What happened to one message of a batch.
#[derive(Debug)]
pub enum Filed {
    Stored {
        ticket: TicketId,
        new_ticket: bool,
        kind: Kind,
        unparsed: bool,
    },
    Duplicate(TicketId),
    NotATicket(&'static str),
    Failed(StoreError),
}

/// A message waiting to go through the pipeline.
pub struct Incoming {
    pub raw: Vec<u8>,
    pub origin: Origin,
}

/// Applies the pipeline's decisions to the store, one transaction per batch.
pub struct Ingester<'a> {
    pub config: &'a Config,
    pub clock: &'a dyn Clock,
}

/// Below this many messages per thread a batch is prepared on the calling thread alone.
const MIN_PREPARE_CHUNK: usize = 16;

impl Ingester<'_> {
    /// Files every message of the batch in one transaction; one bad message cannot take
    /// the others with it.
    pub fn ingest_batch(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        summary: &mut Summary,
    ) -> Result<Vec<Filed>, StoreError> {
        self.ingest_batch_then(store, batch, summary, |_, _| Ok(()))
    }

    /// Like [`Ingester::ingest_batch`], and `finish` writes in the same transaction what
    /// follows from the batch (the source's new position, post-actions), so both commit or
    /// neither does.
    pub fn ingest_batch_then(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        summary: &mut Summary,
        finish: impl FnOnce(&rusqlite::Connection, &[Filed]) -> rusqlite::Result<()>,
    ) -> Result<Vec<Filed>, StoreError> {
        let prepared = self.prepare_batch(batch);
        self.file_batch_then(store, batch, &prepared, summary, finish)
    }

    /// [`prepare`] on every message of the batch, spread over the machine's cores.
    pub fn prepare_batch(&self, batch: &[Incoming]) -> Vec<Prepared> {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(batch.len() / MIN_PREPARE_CHUNK)
            .max(1);
        let prepare_all = |part: &[Incoming]| -> Vec<Prepared> {
            part.iter().map(|m| prepare(&m.raw, self.config)).collect()
        };
        if threads == 1 {
            return prepare_all(batch);
        }
        let chunk = batch.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = batch
                .chunks(chunk)
                .map(|part| scope.spawn(move || prepare_all(part)))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    // prepare never panics (the parser runs under catch_unwind)
                    worker
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p))
                })
                .collect()
        })
    }

    /// Files prepared messages (`prepared[i]` is [`prepare`] of `batch[i]`) in one
    /// transaction, with `finish` as in [`Ingester::ingest_batch_then`].
    pub fn file_batch_then(
        &self,
        store: &mut Store,
        batch: &[Incoming],
        prepared: &[Prepared],
        summary: &mut Summary,
        finish: impl FnOnce(&rusqlite::Connection, &[Filed]) -> rusqlite::Result<()>,
    ) -> Result<Vec<Filed>, StoreError> {
        let token_key = store.token_key().to_vec();
        // First without a savepoint per message: each would make SQLite copy every page it
        // touches to the statement journal and FTS5 flush its index, for every message.
        // Should any message fail, nothing of this attempt stays and the batch is filed
        // again with one savepoint per message.
        let tx = store.transaction()?;
        let indexed = crate::store::last_message_row(&tx)?;
        let mut results = Vec::with_capacity(batch.len());
        let mut all_stored = true;
        for (incoming, prepared) in batch.iter().zip(prepared) {
            match self.file_one(&tx, incoming, prepared, &token_key) {
                Ok(filed) => results.push(filed),
                Err(_) => {
                    all_stored = false;
                    break;
                }
            }
        }
        let tx = if all_stored {
            tx
        } else {
            tx.rollback()?;
            let mut tx = store.transaction()?;
            results = self.file_each_in_savepoint(&mut tx, batch, prepared, &token_key)?;
            tx
        };
        crate::store::index_messages_after(&tx, indexed)?;
        for (incoming, filed) in batch.iter().zip(&results) {
            match filed {
                Filed::Stored { unparsed: true, .. } => summary.quarantined += 1,
                Filed::Stored { .. } => summary.ingested += 1,
                Filed::Duplicate(_) => summary.duplicates += 1,
                Filed::NotATicket(_) => summary.not_tickets += 1,
                Filed::Failed(error) => {
                    tracing::error!(source = %incoming.origin.location, "cannot store message: {error}");
                    summary.failed += 1
                }
            }
        }
        finish(&tx, &results)?;
        tx.commit()?;
        Ok(results)
    }

    fn file_each_in_savepoint(
        &self,
        tx: &mut rusqlite::Transaction<'_>,
        batch: &[Incoming],
        prepared: &[Prepared],
        token_key: &[u8],
    ) -> rusqlite::Result<Vec<Filed>> {
        let mut results = Vec::with_capacity(batch.len());
        for (incoming, prepared) in batch.iter().zip(prepared) {
            let mut savepoint = tx.savepoint()?;
            let filed = match self.file_one(&savepoint, incoming, prepared, token_key) {
                Ok(filed) => {
                    savepoint.commit()?;
                    filed
                }
                Err(error) => {
                    savepoint.rollback()?;
                    drop(savepoint);
                    Filed::Failed(StoreError::from(error))
                }
            };
            results.push(filed);
        }
        Ok(results)
    }

    fn file_one(
        &self,
        conn: &rusqlite::Connection,
        incoming: &Incoming,
        prepared: &Prepared,
        token_key: &[u8],
    ) -> rusqlite::Result<Filed> {
        let lookup = Store::lookup(conn, token_key);
        let now = self.clock.now();
        match decide(prepared, &incoming.origin, self.config, &lookup, now)? {
            Outcome::Duplicate(ticket) => Ok(Filed::Duplicate(ticket)),
            Outcome::NotATicket(reason) => Ok(Filed::NotATicket(reason)),
            Outcome::Store(decision) => {
                let unparsed = decision.message.parse_error.is_some();
                let kind = decision.message.kind;
                let (ticket, new_ticket) = Store::apply(conn, &decision, &incoming.raw, token_key)?;
                Ok(Filed::Stored {
                    ticket,
                    new_ticket,
                    kind,
                    unparsed,
                })
            }
        }
    }
}
