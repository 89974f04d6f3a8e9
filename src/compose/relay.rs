//! Relay mail: the customer's message forwarded to an agent (with the agents' command
//! address as Reply-To), the agent's answer sent on from the support address, and short
//! notices to agents.

use jiff::Timestamp;

use super::ticket::Mail;
use super::{Composed, build, new_message_id, token_address};
use crate::config::plus_address;
use crate::ingest::agent::relay::{self as decisions, ForwardFacts};
use crate::smtp::Outgoing;
use crate::store::outbox as rows;
use crate::store::reference;
use crate::text::locale;

impl Mail<'_> {
    fn tag(&self) -> String {
        self.config.ticket_tag.format(reference(self.facts.id))
    }

    fn desk_name(&self) -> &str {
        self.mailbox.display_name.as_deref().unwrap_or("")
    }
}

/// The customer's message to an agent of a relay queue.
pub(super) fn forward(
    mail: &Mail<'_>,
    dedup_key: &str,
    agent_token: Option<&str>,
) -> rusqlite::Result<Composed> {
    let (job, facts, mailbox) = (mail.job, mail.facts, mail.mailbox);
    let Some(original) = rows::message_by_dedup_key(mail.conn, dedup_key)? else {
        return Ok(Composed::Fail(
            "the customer's message is no longer stored".into(),
        ));
    };
    // Only forwards carry the agents' command address: the customer's reply token threads
    // and grants nothing else, so the two secrets never validate as each other.
    let agent_address = agent_token.map(|token| plus_address(&mailbox.address, "a", token));
    let tag = mail.tag();
    let tz = &mail.queue.calendar.timezone;
    let at = |seconds: i64| Timestamp::from_second(seconds).unwrap_or_default();
    let sender = original.from.clone().unwrap_or_default();
    let customer = match &original.from_name {
        Some(name) if !name.is_empty() => format!("{name} <{sender}>"),
        _ => sender.clone(),
    };
    let body = decisions::forward_body(&ForwardFacts {
        tag: &tag,
        queue: &facts.queue,
        priority: &facts.priority,
        due: facts
            .due_at
            .map(|due| locale::local_date_time(at(due), tz, "en")),
        customer,
        received: locale::local_date_time(at(original.received_at), tz, "en"),
        subject: &original.subject,
        text: &original.text,
        desk_address: &mailbox.address,
    });
    let shown_as = original
        .from_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or(sender);
    let from_name = match mail.desk_name() {
        "" => shown_as,
        desk => format!("{shown_as} via {desk}"),
    };
    let subject = format!(
        "{tag} {}",
        mail.config.ticket_tag.strip(&original.subject).trim()
    );
    let message_id = new_message_id(job, &mailbox.address);
    Ok(build(
        &Outgoing {
            from_name: &from_name,
            from: &mailbox.address,
            to: &job.recipient,
            reply_to: agent_address.as_deref(),
            subject: &subject,
            body: &body,
            message_id: &message_id,
            references: &[],
            auto_submitted: Some("auto-generated"),
        },
        None,
    ))
}

/// An agent's answer, sent on to the customer from the support address; its bounces come
/// back to the desk.
pub(super) fn answer(mail: &Mail<'_>, text: &str) -> rusqlite::Result<Composed> {
    let (job, facts, mailbox) = (mail.job, mail.facts, mail.mailbox);
    let references = match rows::last_customer_message(mail.conn, facts.id)? {
        Some(dedup_key) => rows::thread_of(mail.conn, &dedup_key)?,
        None => Vec::new(),
    };
    let reply_address = facts
        .token
        .as_deref()
        .map(|token| token_address(&mailbox.address, token));
    let reply_to = reply_address.as_deref().filter(|_| mailbox.reply_token);
    let message_id = new_message_id(job, &mailbox.address);
    Ok(build(
        &Outgoing {
            from_name: mail.desk_name(),
            from: &mailbox.address,
            to: &job.recipient,
            reply_to,
            subject: &decisions::answer_subject(&facts.subject, &mail.tag()),
            body: text,
            message_id: &message_id,
            references: &references,
            auto_submitted: None,
        },
        Some(&mailbox.address),
    ))
}

/// A short note to an agent (commands not applied, mail refused), in reply to their mail.
pub(super) fn notice(
    mail: &Mail<'_>,
    subject: &str,
    body: &str,
    in_reply_to: Option<&str>,
) -> Composed {
    let (job, mailbox) = (mail.job, mail.mailbox);
    let references: Vec<String> = in_reply_to.map(str::to_string).into_iter().collect();
    let message_id = new_message_id(job, &mailbox.address);
    build(
        &Outgoing {
            from_name: mail.desk_name(),
            from: &mailbox.address,
            to: &job.recipient,
            reply_to: None,
            subject: &format!("{} {}", mail.tag(), subject),
            body,
            message_id: &message_id,
            references: &references,
            auto_submitted: Some("auto-replied"),
        },
        None,
    )
}
