//! The fields read from a parsed message: ids, addresses, subject, text, language and
//! attachments, each bounded.

use mail_parser::{HeaderValue, Message, MimeHeaders};

use super::mailbox::{addresses, field};
use super::text::{cut_bytes, cut_chars, one_line, one_line_max};
use super::{
    Attachment, MAX_ATTACHMENTS, MAX_MESSAGE_ID_CHARS, MAX_NAME_CHARS, MAX_REFERENCES,
    MAX_SUBJECT_CHARS, MAX_TEXT_BYTES, Parsed,
};

/// Everything but the header list, the envelope recipients and the deduplication key.
pub(super) fn message_fields(message: &Message<'_>) -> Parsed {
    let from = field(message, "From", message.from()).into_iter().next();
    Parsed {
        message_id: message
            .message_id()
            .map(clean_id)
            .filter(|id| !id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_CHARS),
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        from: from.as_ref().and_then(|m| m.address.clone()),
        from_name: from.and_then(|m| m.name),
        to: addresses(message, "To", message.to()),
        cc: addresses(message, "Cc", message.cc()),
        envelope_to: Vec::new(),
        subject: message
            .subject()
            .map(|s| one_line_max(s, MAX_SUBJECT_CHARS))
            .unwrap_or_default(),
        date: message.date().map(|d| d.to_timestamp()),
        text: message
            .body_text(0)
            .map(|t| cut_bytes(t.into_owned(), MAX_TEXT_BYTES))
            .unwrap_or_default(),
        headers: Vec::with_capacity(message.headers().len()),
        content_language: content_language(message),
        attachments: attachments(message),
        is_report: message.is_content_type("multipart", "report"),
        unparsed: None,
        dedup_key: String::new(),
    }
}

/// The first language of `Content-Language` (RFC 3282), on one line.
fn content_language(message: &Message<'_>) -> Option<String> {
    message
        .content_language()
        .as_text_list()
        .and_then(|l| l.first().map(|s| s.to_string()))
        .or_else(|| message.content_language().as_text().map(str::to_string))
        .map(|l| one_line_max(&l, MAX_NAME_CHARS))
}

/// The first [`MAX_ATTACHMENTS`] attachments: name, lower-cased content type and size.
fn attachments(message: &Message<'_>) -> Vec<Attachment> {
    message
        .attachments()
        .take(MAX_ATTACHMENTS)
        .map(|part| Attachment {
            name: part
                .attachment_name()
                .map(|n| one_line_max(n, MAX_NAME_CHARS)),
            content_type: cut_chars(
                part.content_type()
                    .map(|ct| match ct.subtype() {
                        Some(sub) => format!("{}/{}", ct.ctype(), sub),
                        None => ct.ctype().to_string(),
                    })
                    .map(|ct| one_line(&ct))
                    .unwrap_or_else(|| "application/octet-stream".into())
                    .to_ascii_lowercase(),
                MAX_NAME_CHARS,
            ),
            size: part.contents().len(),
        })
        .collect()
}

/// Message-IDs as stored: without angle brackets, whitespace or control characters. A
/// msg-id has none of them inside (RFC 5322 §3.6.4), but from a malformed header
/// mail-parser can return a folded line break and the next id's bracket, which must never
/// reach the store or the References of a mail we send.
pub fn clean_id(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>'))
        .collect()
}

/// The last [`MAX_REFERENCES`] ids, in order: a thread that long keeps its newest part,
/// the parent (last) included.
fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    let ids: &[_] = match value {
        HeaderValue::Text(id) => std::slice::from_ref(id),
        HeaderValue::TextList(ids) => ids,
        _ => &[],
    };
    let mut kept: Vec<String> = ids
        .iter()
        .rev()
        .map(|id| clean_id(id))
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_CHARS)
        .take(MAX_REFERENCES)
        .collect();
    kept.reverse();
    kept
}
