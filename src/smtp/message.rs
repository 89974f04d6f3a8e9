//! The messages postdesk writes, built with lettre, with header values that can never carry
//! a line break and header lines that stay within RFC 5322's 998 characters.

use email_encoding::headers::rfc2047;
use email_encoding::headers::writer::EmailWriter;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{
    Attachment, Mailbox as Address, Message, MessageBuilder, MultiPart, SinglePart,
};

use super::SmtpError;
use crate::ingest::classify::LOOP_HEADER;

/// A word of an unstructured header longer than this is not written as it is: lettre folds
/// only between words, so a 5,000-character word would make one line over RFC 5322's hard
/// limit of 998 (§2.1.1); the value goes out as RFC 2047 encoded-words instead.
const LONGEST_PLAIN_WORD: usize = 64;
/// A display name is cut to this many characters: lettre cannot fold inside a quoted name.
const MAX_DISPLAY_NAME: usize = 200;
/// Longer Message-IDs (a msg-id cannot be folded) are left out of In-Reply-To/References.
const MAX_MESSAGE_ID: usize = 250;

/// What an outgoing message says and where it threads.
pub struct Outgoing<'a> {
    pub from_name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
    /// Message-IDs (without brackets) this answers: the last is the direct parent.
    pub references: &'a [String],
    /// `Auto-Submitted: auto-replied` (an answer to a message) or `auto-generated`; None
    /// for a person's answer (relayed), which customers' auto-responders may answer.
    pub auto_submitted: Option<&'static str>,
}

/// Builds the message. Every header value goes through [`clean`], so nothing taken from a
/// customer's mail can start a header of its own.
pub fn compose(outgoing: &Outgoing<'_>) -> Result<Message, SmtpError> {
    headers(outgoing)?
        .header(ContentType::TEXT_PLAIN)
        .body(outgoing.body.replace("\r\n", "\n"))
        .map_err(|e| SmtpError::Build(e.to_string()))
}

/// A file sent along with a message.
pub struct FileAttachment<'a> {
    pub name: &'a str,
    /// A MIME type, e.g. `text/html; charset=utf-8`.
    pub content_type: &'a str,
    pub content: &'a [u8],
}

/// Like [`compose`], with the body as the first part of a `multipart/mixed` message and
/// the file attached after it.
pub fn compose_with_attachment(
    outgoing: &Outgoing<'_>,
    file: &FileAttachment<'_>,
) -> Result<Message, SmtpError> {
    let content_type = ContentType::parse(file.content_type)
        .map_err(|e| SmtpError::Build(format!("content type {:?}: {e}", file.content_type)))?;
    headers(outgoing)?
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(outgoing.body.replace("\r\n", "\n")))
                .singlepart(
                    Attachment::new(clean(file.name)).body(file.content.to_vec(), content_type),
                ),
        )
        .map_err(|e| SmtpError::Build(e.to_string()))
}

/// Every header of an outgoing message but its content type.
fn headers(outgoing: &Outgoing<'_>) -> Result<MessageBuilder, SmtpError> {
    let address = |name: &str, addr: &str| -> Result<Address, SmtpError> {
        let parsed = clean(addr)
            .parse()
            .map_err(|e| SmtpError::Build(format!("address {addr:?}: {e}")))?;
        let name: String = clean(name).chars().take(MAX_DISPLAY_NAME).collect();
        Ok(Address::new((!name.is_empty()).then_some(name), parsed))
    };
    let mut builder = Message::builder()
        .from(address(outgoing.from_name, outgoing.from)?)
        .to(address("", outgoing.to)?)
        .raw_header(unstructured("Subject", &clean(outgoing.subject)))
        .message_id(Some(format!("<{}>", clean(outgoing.message_id))))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(LOOP_HEADER),
            clean(outgoing.from),
        ));
    if let Some(auto_submitted) = outgoing.auto_submitted {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                auto_submitted.into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ));
    }
    if let Some(reply_to) = outgoing.reply_to {
        builder = builder.reply_to(address(outgoing.from_name, reply_to)?);
    }
    let chain: Vec<String> = outgoing
        .references
        .iter()
        .map(|id| clean(id))
        .filter(|id| !id.is_empty() && id.len() <= MAX_MESSAGE_ID)
        .map(|id| format!("<{id}>"))
        .collect();
    if let Some(parent) = chain.last() {
        builder = builder.in_reply_to(parent.clone());
        builder = builder.references(chain.join(" "));
    }
    Ok(builder)
}

/// An unstructured header (RFC 5322 §3.2.5) whose every line fits: lettre's encoding when
/// it folds the value, else the whole value as RFC 2047 encoded-words of at most 76
/// characters, one a line, which a reader joins back into the same text.
fn unstructured(name: &'static str, value: &str) -> HeaderValue {
    let name = HeaderName::new_from_ascii_str(name);
    if value
        .split(' ')
        .all(|word| word.len() <= LONGEST_PLAIN_WORD)
    {
        return HeaderValue::new(name, value.to_string());
    }
    let mut encoded = String::with_capacity(value.len() * 4 / 3 + value.len() / 4 + 16);
    {
        let mut writer = EmailWriter::new(&mut encoded, name.len() + ": ".len(), 0, false);
        // Writing into a String cannot fail.
        let _ = rfc2047::encode(value, &mut writer);
    }
    // Encoded-words are printable ASCII and the folds CRLF + space: nothing to inject.
    HeaderValue::dangerous_new_pre_encoded(name, value.to_string(), encoded)
}

/// One line, no control characters: safe as (part of) a header value.
pub fn clean(value: &str) -> String {
    crate::ingest::parse::one_line(value)
}
