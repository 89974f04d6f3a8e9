//! Step 1: bytes → the fields postdesk needs, charset-decoded by mail-parser. A message that
//! cannot be trusted to parse (too big, NUL bytes, absurd headers, no headers at all) comes
//! back with `unparsed` set and is still stored.

use std::fmt::Write;

use mail_parser::MessageParser;
use sha2::{Digest, Sha256};

use crate::config::IngestLimits;

mod fields;
mod flat_drop;
mod headers;
mod mailbox;
mod parsed;
mod text;

pub use fields::clean_id;
use flat_drop::FlatDrop;
pub use parsed::{Attachment, Parsed, arrival_time};
pub use text::{cut_bytes, cut_chars, normalize_address, one_line, one_line_max};

/// At most this many recipients are kept per message (hostile mail may list 100,000).
const MAX_RECIPIENTS: usize = 200;

/// The subject is stored cut to this many characters (the raw message keeps it whole): a
/// 4 MB subject would otherwise be copied into every view, report and reply.
pub const MAX_SUBJECT_CHARS: usize = 1_000;
/// The text stored and indexed for search is cut to this many bytes (on a character
/// boundary); the raw message, attachments included, is always kept whole.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Each header value kept for the views and rules is cut to this many characters…
pub const MAX_HEADER_VALUE_CHARS: usize = 4_096;
/// …and header values are kept only while their total stays under this many bytes.
pub const MAX_HEADERS_BYTES: usize = 256 * 1024;
/// Display names, attachment names and content types are cut to this many characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longer addresses are left out: no SMTP path is longer (RFC 5321 §4.5.3.1.3).
pub const MAX_ADDRESS_CHARS: usize = 320;
/// Longer Message-IDs are left out (an id that long is no one's).
pub const MAX_MESSAGE_ID_CHARS: usize = 250;
/// The last this-many References are kept: the parent is the last (RFC 5322 §3.6.4).
pub const MAX_REFERENCES: usize = 100;
/// At most this many attachments are listed per message.
pub const MAX_ATTACHMENTS: usize = 1_000;

pub fn parse(raw: &[u8], limits: &IngestLimits) -> Parsed {
    if let Some(reason) = refuse(raw, limits) {
        return unparsed(raw, reason);
    }
    let Some(message) = MessageParser::default().parse(raw).map(FlatDrop) else {
        return unparsed(raw, "mail-parser found no message in it".into());
    };
    let field_name =
        |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !message.headers().iter().any(|h| field_name(h.name())) {
        return unparsed(raw, "no header lines found: not an email".into());
    }
    let mut parsed = fields::message_fields(&message);
    headers::read_headers(&message, raw, &mut parsed);
    parsed.dedup_key = match &parsed.message_id {
        // The same Message-ID from the same sender at the same time is the same message,
        // whichever folder or server re-delivered it (its bytes may differ in trace headers).
        Some(id) => digest(&[
            id.as_bytes(),
            parsed.from.as_deref().unwrap_or("").as_bytes(),
            parsed.header("Date").unwrap_or("").as_bytes(),
        ]),
        None => digest(&[raw]),
    };
    parsed
}

fn refuse(raw: &[u8], limits: &IngestLimits) -> Option<String> {
    if raw.len() > limits.max_message_bytes {
        return Some(format!(
            "message is {} bytes, over the limit of {} (ingest.max_message_bytes)",
            raw.len(),
            limits.max_message_bytes
        ));
    }
    let (header_lines, has_nul) = scan_headers(raw, limits.max_header_lines);
    if has_nul {
        return Some("message headers contain NUL bytes".into());
    }
    if header_lines > limits.max_header_lines {
        return Some(format!(
            "message has more than {} header lines (ingest.max_header_lines)",
            limits.max_header_lines
        ));
    }
    None
}

/// Header lines (before the first empty one), counted no further than just past `limit`,
/// and whether any holds a NUL byte. A body may legitimately carry NULs (binary UTF-16).
fn scan_headers(raw: &[u8], limit: usize) -> (usize, bool) {
    let mut count = 0;
    for line in raw.split(|&b| b == b'\n') {
        if line.is_empty() || line == b"\r" || count > limit {
            break;
        }
        if line.contains(&0) {
            return (count, true);
        }
        count += 1;
    }
    (count, false)
}

/// A message kept as raw bytes only, with the reason.
pub fn unparsed(raw: &[u8], reason: String) -> Parsed {
    Parsed {
        unparsed: Some(reason),
        dedup_key: digest(&[raw]),
        ..Parsed::default()
    }
}

fn digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex_prefix(&hasher.finalize(), 16)
}

pub fn hex(bytes: &[u8]) -> String {
    hex_prefix(bytes, bytes.len())
}

/// The first `len` bytes of `bytes` (all of them when there are fewer) in hex: a digest or
/// MAC cut to the length a key or token uses.
pub(crate) fn hex_prefix(bytes: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(2 * len.min(bytes.len()));
    for b in bytes.iter().take(len) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests;
