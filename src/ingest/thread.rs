//! Step 4: which existing ticket a message belongs to, tried in the order of DESIGN.md:
//! reply token, In-Reply-To/References, subject tag, then same sender and subject.

use super::parse::Parsed;
use super::{Lookup, TicketId};
use crate::config::Config;

/// How a message found its ticket; stored with the message and shown in its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The ticket's agent command address (`+a.`), from a configured agent.
    AgentToken,
    /// The customer reply address (`+t.`): threads a reply, grants nothing else.
    ReplyToken,
    InReplyTo,
    References,
    SubjectTag,
    Subject,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::AgentToken => "agent address",
            Via::ReplyToken => "reply token",
            Via::InReplyTo => "In-Reply-To",
            Via::References => "References",
            Via::SubjectTag => "subject tag",
            Via::Subject => "sender and subject",
        }
    }
}

/// What a thread search found, including refusals worth an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Threading {
    Found(TicketId, Via),
    /// A Message-ID or tag named an existing ticket, but the sender is not one of its
    /// participants (nor the recipient of the referenced mail): the mail may not join it.
    Stranger(TicketId, Via),
    None,
}

/// A Message-ID we stored or sent, as [`Lookup::thread_refs`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRef {
    pub ticket: TicketId,
    /// Who used the ID first: the sender's address, or "" for mail the desk sent.
    pub author: String,
    /// For mail the desk sent: to whom.
    pub sent_to: Option<String>,
}

/// `normalized_subject` is [`normalize_subject`] of the message's subject.
///
/// Message-IDs are not secret (they travel in every Cc, quote and list archive), so a
/// reference, tag or subject match attaches only when the sender provably belongs to the
/// ticket: a participant, the author of the referenced message, or its recipient when we
/// sent it. A configured agent or the desk's own address may reach any ticket; whether
/// that mail is the agent's is decided after threading ([`crate::ingest::agent::relay::recognise`]).
pub fn find_ticket<L: Lookup>(
    parsed: &Parsed,
    normalized_subject: &str,
    config: &Config,
    lookup: &L,
    window_start: i64,
) -> Result<Threading, L::Error> {
    let sender = parsed.from.as_deref();
    let staff = sender.is_some_and(|s| config.is_agent(s) || config.is_own_address(s));
    if sender.is_some_and(|s| config.is_agent(s)) {
        for recipient in parsed.recipients() {
            if let Some(token) = agent_token(recipient)
                && let Some(ticket) = lookup.ticket_by_agent_token(token)?
            {
                return Ok(Threading::Found(ticket, Via::AgentToken));
            }
        }
    }
    let mut stranger = None;
    if let Some(found) = by_reply_token(parsed, sender, staff, lookup, &mut stranger)? {
        return Ok(found);
    }
    // The last reference is the direct parent; walk back from it.
    let ids = (parsed.in_reply_to.iter().map(|id| (id, Via::InReplyTo))).chain(
        parsed
            .references
            .iter()
            .rev()
            .map(|id| (id, Via::References)),
    );
    for (id, via) in ids {
        let refs = lookup.thread_refs(id)?;
        if let Some(ticket) = owner(&refs, sender, staff, lookup)? {
            return Ok(Threading::Found(ticket, via));
        }
        if let Some(first) = refs.first() {
            stranger.get_or_insert((first.ticket, via));
        }
    }
    let Some(sender) = sender else {
        return Ok(stranger.map_or(Threading::None, |(t, via)| Threading::Stranger(t, via)));
    };
    for reference in config.ticket_tag.find_all(&parsed.subject) {
        let Some(ticket) = lookup.ticket_by_ref(reference)? else {
            continue;
        };
        if lookup.is_participant(ticket, sender)? {
            return Ok(Threading::Found(ticket, Via::SubjectTag));
        }
        stranger.get_or_insert((ticket, Via::SubjectTag));
    }
    if let Some((ticket, via)) = stranger {
        return Ok(Threading::Stranger(ticket, via));
    }
    by_subject(
        parsed,
        normalized_subject,
        sender,
        staff,
        config,
        lookup,
        window_start,
    )
}

/// The customer's reply address is a secret, but one the customer may pass on with a
/// quote: it threads only the people of the ticket (and the team, whose mail
/// relay::recognise then weighs). The first token that names a ticket decides; a stranger's
/// is noted in `stranger`.
fn by_reply_token<L: Lookup>(
    parsed: &Parsed,
    sender: Option<&str>,
    staff: bool,
    lookup: &L,
    stranger: &mut Option<(TicketId, Via)>,
) -> Result<Option<Threading>, L::Error> {
    for recipient in parsed.recipients() {
        if let Some(token) = reply_token(recipient)
            && let Some(ticket) = lookup.ticket_by_token(token)?
        {
            let member = match sender {
                Some(s) => staff || lookup.is_participant(ticket, s)?,
                None => false,
            };
            if member {
                return Ok(Some(Threading::Found(ticket, Via::ReplyToken)));
            }
            stranger.get_or_insert((ticket, Via::ReplyToken));
            break;
        }
    }
    Ok(None)
}

/// The last resort: a recent ticket of this sender with the same subject.
fn by_subject<L: Lookup>(
    parsed: &Parsed,
    normalized_subject: &str,
    sender: &str,
    staff: bool,
    config: &Config,
    lookup: &L,
    window_start: i64,
) -> Result<Threading, L::Error> {
    if normalized_subject.is_empty() {
        return Ok(Threading::None);
    }
    if let Some(ticket) =
        lookup.recent_ticket_by_subject(sender, normalized_subject, window_start)?
    {
        return Ok(Threading::Found(ticket, Via::Subject));
    }
    // The team answering a customer whose client lost the thread headers: the customer is
    // among the recipients, and is the participant with that subject.
    if staff {
        for recipient in parsed.to.iter().chain(&parsed.cc) {
            if config.is_own_address(recipient) {
                continue;
            }
            if let Some(ticket) =
                lookup.recent_ticket_by_subject(recipient, normalized_subject, window_start)?
            {
                return Ok(Threading::Found(ticket, Via::Subject));
            }
        }
    }
    Ok(Threading::None)
}

/// The ticket of one referenced Message-ID that this sender may join: the one whose message
/// they wrote, the one whose mail we sent them, one they take part in; for the team, the
/// first. Several rows exist when different senders used the same ID.
fn owner<L: Lookup>(
    refs: &[ThreadRef],
    sender: Option<&str>,
    staff: bool,
    lookup: &L,
) -> Result<Option<TicketId>, L::Error> {
    let Some(sender) = sender else {
        return Ok(None);
    };
    if let Some(own) = refs.iter().find(|r| r.author == sender) {
        return Ok(Some(own.ticket));
    }
    if let Some(ours) = refs.iter().find(|r| r.sent_to.as_deref() == Some(sender)) {
        return Ok(Some(ours.ticket));
    }
    for r in refs {
        if lookup.is_participant(r.ticket, sender)? {
            return Ok(Some(r.ticket));
        }
    }
    Ok(refs.first().filter(|_| staff).map(|r| r.ticket))
}

/// `support+t.<token>@example.com` → `<token>`: the customer reply address.
pub fn reply_token(address: &str) -> Option<&str> {
    plus_token(address, "+t.", |c| c.is_ascii_alphanumeric())
}

/// `support+a.<ref>.<mac>@example.com` → `<ref>.<mac>`: the agent command address.
pub fn agent_token(address: &str) -> Option<&str> {
    plus_token(address, "+a.", |c| c.is_ascii_alphanumeric() || c == '.')
}

fn plus_token<'a>(address: &'a str, marker: &str, allowed: fn(char) -> bool) -> Option<&'a str> {
    let local = address.split('@').next()?;
    let (_, token) = local.split_once(marker)?;
    (!token.is_empty() && token.len() <= 64 && token.chars().all(allowed)).then_some(token)
}

pub use super::subject::normalize_subject;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TicketTag;

    #[test]
    fn normalizes_prefixes_in_many_languages() {
        let tag = TicketTag::parse("[#{ref}]").unwrap();
        for subject in [
            "Printer driver crashes",
            "Re: Printer driver crashes",
            "RE: Re: printer  driver crashes",
            "AW: WG: Printer driver crashes",
            "Odp: Printer driver crashes",
            "Отв: Printer driver crashes",
            "Ответ: Printer driver crashes",
            "RE[2]: Printer driver crashes",
            "Fwd: Re: [#1042] Printer driver crashes",
            "SV: Printer driver crashes",
        ] {
            assert_eq!(
                normalize_subject(subject, &tag),
                "printer driver crashes",
                "{subject}"
            );
        }
        assert_eq!(normalize_subject("Reboot loop", &tag), "reboot loop");
        assert_eq!(normalize_subject("Re:", &tag), "");
    }

    #[test]
    fn reply_tokens() {
        assert_eq!(reply_token("support+t.ab12cd@example.com"), Some("ab12cd"));
        assert_eq!(reply_token("support@example.com"), None);
        assert_eq!(reply_token("support+t.@example.com"), None);
        assert_eq!(reply_token("support+t.a'b@example.com"), None);
        assert_eq!(reply_token("support+a.1000.ab12@example.com"), None);
        assert_eq!(
            agent_token("support+a.1000.ab12@example.com"),
            Some("1000.ab12")
        );
        assert_eq!(agent_token("support+t.ab12cd@example.com"), None);
    }
}
