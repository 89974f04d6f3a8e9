//! Step 4: which existing ticket a message belongs to, tried in the order of DESIGN.md:
//! reply token, In-Reply-To/References, subject tag, then same sender and subject.

use super::parse::Parsed;
use super::{Lookup, TicketId};
use crate::config::Config;

/// How a message found its ticket; stored with the message and shown in its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    ReplyToken,
    InReplyTo,
    References,
    SubjectTag,
    Subject,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
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
    /// A tag named an existing ticket but the sender is not one of its participants.
    StrangerTag(TicketId),
    None,
}

/// `normalized_subject` is [`normalize_subject`] of the message's subject.
pub fn find_ticket<L: Lookup>(
    parsed: &Parsed,
    normalized_subject: &str,
    config: &Config,
    lookup: &L,
    window_start: i64,
) -> rusqlite::Result<Threading> {
    for recipient in parsed.recipients() {
        if let Some(token) = reply_token(recipient)
            && let Some(ticket) = lookup.ticket_by_token(token)?
        {
            return Ok(Threading::Found(ticket, Via::ReplyToken));
        }
    }
    for id in &parsed.in_reply_to {
        if let Some(ticket) = lookup.ticket_by_message_id(id)? {
            return Ok(Threading::Found(ticket, Via::InReplyTo));
        }
    }
    // The last reference is the direct parent; walk back from it.
    for id in parsed.references.iter().rev() {
        if let Some(ticket) = lookup.ticket_by_message_id(id)? {
            return Ok(Threading::Found(ticket, Via::References));
        }
    }
    let Some(sender) = parsed.from.as_deref() else {
        return Ok(Threading::None);
    };
    let mut stranger = None;
    for reference in config.ticket_tag.find_all(&parsed.subject) {
        let Some(ticket) = lookup.ticket_by_ref(reference)? else {
            continue;
        };
        if lookup.is_participant(ticket, sender)? {
            return Ok(Threading::Found(ticket, Via::SubjectTag));
        }
        stranger.get_or_insert(ticket);
    }
    if let Some(ticket) = stranger {
        return Ok(Threading::StrangerTag(ticket));
    }
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
    if config.is_agent(sender) || config.is_own_address(sender) {
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

/// `support+t.<token>@example.com` → `<token>`.
pub fn reply_token(address: &str) -> Option<&str> {
    let local = address.split('@').next()?;
    let (_, token) = local.split_once("+t.")?;
    (!token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric())).then_some(token)
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
    }
}
