//! What the pipeline decides, as types: the ticket a message belongs to, what changes on
//! it, and the mail it causes. The store applies a [`Decision`]; nothing here writes.

use jiff::Timestamp;

use super::classify::AutoKind;
use super::outbox_mail::OutboxMail;
use super::parse::Attachment;
use super::thread::{self, Via};
use crate::sla;

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
    /// What the store fails with; the pipeline passes it on untouched.
    type Error;
    /// The ticket holding a message with this deduplication key.
    fn ticket_by_dedup_key(&self, key: &str) -> Result<Option<TicketId>, Self::Error>;
    /// The ticket of a customer reply token (`+t.`).
    fn ticket_by_token(&self, token: &str) -> Result<Option<TicketId>, Self::Error>;
    /// The ticket of a valid agent command token (`+a.`), checked against the token key.
    fn ticket_by_agent_token(&self, token: &str) -> Result<Option<TicketId>, Self::Error>;
    /// Every stored or sent message with this Message-ID (a few at most).
    fn thread_refs(&self, message_id: &str) -> Result<Vec<thread::ThreadRef>, Self::Error>;
    fn ticket_by_ref(&self, reference: i64) -> Result<Option<TicketId>, Self::Error>;
    fn is_participant(&self, ticket: TicketId, address: &str) -> Result<bool, Self::Error>;
    /// The most recent ticket with this participant and normalised subject active since `since`.
    fn recent_ticket_by_subject(
        &self,
        address: &str,
        normalized_subject: &str,
        since: i64,
    ) -> Result<Option<TicketId>, Self::Error>;
    fn ticket_state(&self, ticket: TicketId) -> Result<TicketState, Self::Error>;
    /// Acknowledgements scheduled to this address since `since`.
    fn acks_to_since(&self, address: &str, since: i64) -> Result<u32, Self::Error>;
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

    pub(crate) fn automatic(kind: AutoKind) -> Kind {
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

impl Origin {
    /// A file, a Maildir message or stdin, filed for `mailbox` (None: the first queue).
    pub fn local(mailbox: Option<String>, location: String) -> Origin {
        Origin {
            mailbox,
            location,
            imap: None,
            sent: false,
        }
    }

    /// A message on an IMAP server, named as an RFC 5092 IMAP URL path
    /// (`imap:support/INBOX;UIDVALIDITY=7/;UID=42`).
    pub fn imap(mailbox: &str, at: ImapLocation, sent: bool) -> Origin {
        let ImapLocation {
            folder,
            uidvalidity,
            uid,
        } = &at;
        Origin {
            mailbox: Some(mailbox.to_string()),
            location: format!("imap:{mailbox}/{folder};UIDVALIDITY={uidvalidity}/;UID={uid}"),
            imap: Some(at),
            sent,
        }
    }
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
    /// Event log lines for the ticket.
    pub events: Vec<Event>,
    /// Mail to send because of this message, due now.
    pub mails: Vec<QueuedMail>,
}

/// Mail written to the outbox with the message that causes it (acknowledgements, which
/// wait for their delay, are [`Ack`]s).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMail {
    pub to: String,
    pub mail: OutboxMail,
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

/// The result of one message through [`decide`].
#[derive(Debug)]
pub enum Outcome<'a> {
    Store(Box<Decision<'a>>),
    Duplicate(TicketId),
    /// Mail that is not part of any ticket (an agent's own sent mail to someone else).
    NotATicket(&'static str),
}

/// What happened on a ticket: the `type` of its event log rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A ticket was opened (or an ignored one filed).
    Created,
    /// A message joined the ticket without changing its state.
    Message,
    /// Something an admin or agent should know; also the warning before the target.
    Warning,
    /// An agent answered: the waiting period ends.
    Answered,
    /// The customer wrote again on a closed or ignored ticket.
    Reopened,
    /// The customer only thanked; the ticket stays answered.
    Thanks,
    /// Mail in the team's name that nothing proves, kept apart.
    Quarantined,
    /// An acknowledgement waits in the outbox.
    AckScheduled,
    /// No acknowledgement may be sent, and why.
    AckSuppressed,
    /// A pending acknowledgement was withdrawn.
    AckCancelled,
    /// The acknowledgement went out.
    Acknowledged,
    /// Mail the desk sent did not arrive.
    DeliveryFailed,
    /// An outbox row was given up on.
    OutboxFailed,
    /// An agent closed the ticket.
    Closed,
    /// Waiting on the customer, by an agent's command.
    Pending,
    /// An internal note by an agent.
    Note,
    /// The ticket got an assignee.
    Assigned,
    /// The ticket moved to another queue.
    QueueChanged,
    /// The ticket's priority changed.
    PriorityChanged,
    /// An agent's commands were refused.
    CommandRejected,
    /// An agent's answer waits to be relayed to the customer.
    RelayScheduled,
    /// A relay forward went out to an agent.
    Forwarded,
    /// An agent's answer went out to the customer.
    Relayed,
    /// A notice went out to an agent.
    AgentNotified,
    /// The warning before the target went out.
    WarningSent,
    /// The response target was missed.
    Breached,
    /// The breach notice went out to the escalation address.
    BreachNoticeSent,
}

impl EventKind {
    /// The name stored in the event log and shown by `postdesk ticket`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Message => "message",
            EventKind::Warning => "warning",
            EventKind::Answered => "answered",
            EventKind::Reopened => "reopened",
            EventKind::Thanks => "thanks",
            EventKind::Quarantined => "quarantined",
            EventKind::AckScheduled => "ack_scheduled",
            EventKind::AckSuppressed => "ack_suppressed",
            EventKind::AckCancelled => "ack_cancelled",
            EventKind::Acknowledged => "acknowledged",
            EventKind::DeliveryFailed => "delivery_failed",
            EventKind::OutboxFailed => "outbox_failed",
            EventKind::Closed => "closed",
            EventKind::Pending => "pending",
            EventKind::Note => "note",
            EventKind::Assigned => "assigned",
            EventKind::QueueChanged => "queue_changed",
            EventKind::PriorityChanged => "priority_changed",
            EventKind::CommandRejected => "command_rejected",
            EventKind::RelayScheduled => "relay_scheduled",
            EventKind::Forwarded => "forwarded",
            EventKind::Relayed => "relayed",
            EventKind::AgentNotified => "agent_notified",
            EventKind::WarningSent => "warning_sent",
            EventKind::Breached => "breached",
            EventKind::BreachNoticeSent => "breach_notice_sent",
        }
    }
}

/// One line of a ticket's event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub detail: String,
}

impl Event {
    pub fn new(kind: EventKind, detail: impl Into<String>) -> Event {
        Event {
            kind,
            detail: detail.into(),
        }
    }
}
