//! Step 1: bytes → the fields postdesk needs, charset-decoded by mail-parser. A message that
//! cannot be trusted to parse (too big, NUL bytes, absurd headers, no headers at all) comes
//! back with `unparsed` set and is still stored.

use std::fmt::Write;

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use super::address;
use crate::config::IngestLimits;

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

#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Lower-cased sender address.
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Delivered-To, X-Original-To and Envelope-To: where a plus-address token survives
    /// even when the visible recipients were rewritten.
    pub envelope_to: Vec<String>,
    pub subject: String,
    pub date: Option<i64>,
    pub text: String,
    /// Header names as written, values decoded where mail-parser decodes them.
    pub headers: Vec<(String, String)>,
    pub content_language: Option<String>,
    pub attachments: Vec<Attachment>,
    /// `multipart/report` (a delivery status notification, RFC 3464).
    pub is_report: bool,
    /// Why the message was not parsed; the fields above are then empty.
    pub unparsed: Option<String>,
    /// Same message, same key: the deduplication key.
    pub dedup_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: usize,
}

impl Parsed {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every address the message was sent to.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.to
            .iter()
            .chain(&self.cc)
            .chain(&self.envelope_to)
            .map(String::as_str)
    }
}

/// When the topmost `Received:` says the mail arrived (the date after its last `;`).
pub fn arrival_time(parsed: &Parsed) -> Option<i64> {
    let received = parsed.header("Received")?;
    let (_, date) = received.rsplit_once(';')?;
    mail_parser::DateTime::parse_rfc822(date.trim())
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp())
}

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
    let from = field(&message, "From", message.from()).into_iter().next();
    let mut parsed = Parsed {
        message_id: message
            .message_id()
            .map(clean_id)
            .filter(|id| !id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_CHARS),
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        from: from.as_ref().and_then(|m| m.address.clone()),
        from_name: from.and_then(|m| m.name),
        to: addresses(&message, "To", message.to()),
        cc: addresses(&message, "Cc", message.cc()),
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
        content_language: message
            .content_language()
            .as_text_list()
            .and_then(|l| l.first().map(|s| s.to_string()))
            .or_else(|| message.content_language().as_text().map(str::to_string))
            .map(|l| one_line_max(&l, MAX_NAME_CHARS)),
        attachments: message
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
            .collect(),
        is_report: message.is_content_type("multipart", "report"),
        unparsed: None,
        dedup_key: String::new(),
    };
    let mut headers_bytes = 0;
    for header in message.headers() {
        let name = header.name();
        let value = match header.value() {
            HeaderValue::Text(text) => one_line_max(text, MAX_HEADER_VALUE_CHARS),
            HeaderValue::TextList(list) => {
                let mut joined = String::new();
                for item in list.iter() {
                    if joined.len() > 4 * MAX_HEADER_VALUE_CHARS {
                        break;
                    }
                    if !joined.is_empty() {
                        joined.push_str(", ");
                    }
                    joined.push_str(item);
                }
                one_line_max(&joined, MAX_HEADER_VALUE_CHARS)
            }
            _ => {
                let start = header.offset_start() as usize;
                let end = header.offset_end() as usize;
                one_line_max(
                    &String::from_utf8_lossy(raw.get(start..end).unwrap_or_default()),
                    MAX_HEADER_VALUE_CHARS,
                )
            }
        };
        if ["delivered-to", "x-original-to", "envelope-to"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
            && parsed.envelope_to.len() < MAX_RECIPIENTS
        {
            let address = normalize_address(value.trim_matches(['<', '>', ' ']));
            if address.chars().count() <= MAX_ADDRESS_CHARS {
                parsed.envelope_to.push(address);
            }
        }
        headers_bytes += name.len() + value.len();
        if headers_bytes > MAX_HEADERS_BYTES {
            break;
        }
        parsed.headers.push((name.to_string(), value));
    }
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

/// A parsed message that is taken apart on the heap when it is dropped. mail-parser keeps
/// an attached message inside its part and drops it recursively: a message nested 10,000
/// deep (hostile mail, a few hundred kilobytes) overflowed the stack when it went out of
/// scope, killing the process.
struct FlatDrop<'x>(Message<'x>);

impl<'x> std::ops::Deref for FlatDrop<'x> {
    type Target = Message<'x>;

    fn deref(&self) -> &Message<'x> {
        &self.0
    }
}

impl Drop for FlatDrop<'_> {
    fn drop(&mut self) {
        let mut detached = vec![std::mem::take(&mut self.0)];
        while let Some(mut message) = detached.pop() {
            for part in &mut message.parts {
                if matches!(part.body, PartType::Message(_))
                    && let PartType::Message(inner) = std::mem::take(&mut part.body)
                {
                    detached.push(inner);
                }
            }
            // `message` goes here, with no message left inside it
        }
    }
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
    hex(&hasher.finalize()[..16])
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
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

/// One mailbox of From, To or Cc, as stored: address normalised, name on one line.
struct Mailbox {
    address: Option<String>,
    name: Option<String>,
}

/// The mailboxes of an address field. Where mail-parser's address for one of them cannot be
/// right (it splits a quoted local part off as the name), the raw header is read by
/// [`address::mailboxes`] instead.
fn field(message: &Message<'_>, name: &str, parsed: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(parsed) = parsed else {
        return Vec::new();
    };
    let keep = |address: &str, name: Option<&str>| Mailbox {
        address: Some(normalize_address(address))
            .filter(|a| !a.is_empty() && a.chars().count() <= MAX_ADDRESS_CHARS),
        name: name
            .map(|n| one_line_max(n, MAX_NAME_CHARS))
            .filter(|n| !n.is_empty()),
    };
    let broken = parsed
        .iter()
        .take(MAX_RECIPIENTS)
        .any(|a| a.address().is_some_and(address::looks_broken));
    match message.header_raw(name) {
        Some(raw) if broken => address::mailboxes(raw)
            .iter()
            .take(MAX_RECIPIENTS)
            .map(|m| keep(&m.address, m.name.as_deref()))
            .collect(),
        _ => parsed
            .iter()
            .take(MAX_RECIPIENTS)
            .map(|a| match a.address() {
                Some(address) => keep(address, a.name()),
                None => Mailbox {
                    address: None,
                    name: a.name().map(|n| one_line_max(n, MAX_NAME_CHARS)),
                },
            })
            .collect(),
    }
}

fn addresses(message: &Message<'_>, name: &str, parsed: Option<&Address<'_>>) -> Vec<String> {
    field(message, name, parsed)
        .into_iter()
        .filter_map(|m| m.address)
        .collect()
}

/// At most `max` characters of `text`, cut on a character boundary.
pub fn cut_chars(mut text: String, max: usize) -> String {
    if let Some((end, _)) = text.char_indices().nth(max) {
        text.truncate(end);
    }
    text
}

/// At most `max` bytes of `text`, cut on a character boundary.
pub fn cut_bytes(mut text: String, max: usize) -> String {
    text.truncate(text.floor_char_boundary(max));
    text
}

pub fn normalize_address(address: &str) -> String {
    one_line(address).trim().to_lowercase()
}

/// Header-derived text never carries line breaks or control characters onwards: its words,
/// separated by one space.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// [`one_line`] cut at `max` characters, reading no further into `text` than that takes:
/// a 50 MB subject costs a kilobyte, not two more copies of itself.
pub fn one_line_max(text: &str, max: usize) -> String {
    // One pass over the characters: a separator run becomes one space before the next
    // word, and reading stops at the `max`th character kept.
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)));
    let (mut length, mut gap) = (0, false);
    for c in text.chars() {
        if length == max {
            break;
        }
        if c.is_control() || c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
            length += 1;
            if length == max {
                break;
            }
        }
        gap = false;
        out.push(c);
        length += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> IngestLimits {
        IngestLimits::default()
    }

    #[test]
    fn koi8r_subject_and_body() {
        let mut raw = b"From: a@b.example\r\nSubject: =?koi8-r?B?8NLJ18XU?=\r\nMessage-ID: <x@y>\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
        raw.extend_from_slice(&[0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]);
        let parsed = parse(&raw, &limits());
        assert_eq!(parsed.subject, "Привет");
        assert_eq!(parsed.text.trim(), "Привет");
        assert_eq!(parsed.message_id.as_deref(), Some("x@y"));
    }

    #[test]
    fn header_values_lose_line_breaks() {
        let raw = b"From: \"Evil\r\n Name\" <EVIL@Example.COM>\r\nSubject: a\r\n b\r\n\r\nbody";
        let parsed = parse(raw, &limits());
        assert_eq!(parsed.from.as_deref(), Some("evil@example.com"));
        assert_eq!(parsed.subject, "a b");
        assert!(
            parsed
                .headers
                .iter()
                .all(|(_, v)| !v.contains(['\r', '\n']))
        );
    }

    #[test]
    fn one_line_folds_whitespace_and_control_characters() {
        for (text, want) in [
            ("plain words", "plain words"),
            ("", ""),
            ("  two  spaces\t\r\n tab ", "two spaces tab"),
            ("bell\u{7}inside", "bell inside"),
            ("non\u{a0}breaking  Привет", "non breaking Привет"),
        ] {
            assert_eq!(one_line(text), want, "{text:?}");
        }
    }

    #[test]
    fn quoted_local_parts_are_whole_addresses() {
        let raw = b"From: \"<x>\"@Example.test\r\nTo: \"a b\"@example.test, Name <\"<y>\"@example.test>, c@example.test\r\nCc: \"John\"@example.test\r\nSubject: hi\r\n\r\nbody";
        let parsed = parse(raw, &limits());
        assert_eq!(parsed.from.as_deref(), Some("\"<x>\"@example.test"));
        assert_eq!(parsed.from_name, None);
        assert_eq!(
            parsed.to,
            [
                "\"a b\"@example.test",
                "\"<y>\"@example.test",
                "c@example.test"
            ]
        );
        assert_eq!(parsed.cc, ["john@example.test"]);
        let other = parse(
            b"From: \"<z>\"@example.test\r\nSubject: hi\r\n\r\nbody",
            &limits(),
        );
        assert_ne!(other.from, parsed.from, "two senders, two identities");
        // The ordinary forms are read as mail-parser reads them, encoded names decoded.
        let plain = parse(
            b"From: =?utf-8?B?0JjQstCw0L0=?= <Ivan@Example.test>\r\nTo: \"Doe, Jane\" <jane@example.test>\r\n\r\nbody",
            &limits(),
        );
        assert_eq!(plain.from.as_deref(), Some("ivan@example.test"));
        assert_eq!(plain.from_name.as_deref(), Some("Иван"));
        assert_eq!(plain.to, ["jane@example.test"]);
    }

    #[test]
    fn the_last_hundred_references_are_kept_parent_last() {
        let ids: Vec<String> = (0..150).map(|n| format!("<r{n}@x.example>")).collect();
        let raw = format!(
            "From: a@b.example\r\nReferences: {}\r\nSubject: hi\r\n\r\nbody",
            ids.join("\r\n ")
        );
        let parsed = parse(raw.as_bytes(), &limits());
        assert_eq!(parsed.references.len(), MAX_REFERENCES);
        assert_eq!(parsed.references.first().unwrap(), "r50@x.example");
        assert_eq!(parsed.references.last().unwrap(), "r149@x.example");
    }

    #[test]
    fn derived_fields_are_bounded() {
        let subject = "Привет ".repeat(1_000);
        let long_header = "v".repeat(10_000);
        let mut raw = format!(
            "From: {} <a@b.example>\r\nTo: {}@b.example, ok@b.example\r\nSubject: {subject}\r\nX-Long: {long_header}\r\n",
            "n".repeat(5_000),
            "l".repeat(400)
        );
        for i in 0..100 {
            raw.push_str(&format!("X-Fill-{i}: {long_header}\r\n"));
        }
        raw.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        raw.push_str(&"ж".repeat(MAX_TEXT_BYTES));
        let parsed = parse(raw.as_bytes(), &limits());
        assert_eq!(parsed.unparsed, None);
        assert_eq!(parsed.subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(subject.starts_with(&parsed.subject));
        assert!(parsed.text.len() <= MAX_TEXT_BYTES && parsed.text.len() > MAX_TEXT_BYTES - 4);
        assert!(parsed.text.chars().all(|c| c == 'ж'));
        assert_eq!(
            parsed.from_name.as_deref().map(|n| n.chars().count()),
            Some(MAX_NAME_CHARS)
        );
        assert_eq!(parsed.to, ["ok@b.example"]);
        assert_eq!(
            parsed.header("X-Long").map(|v| v.chars().count()),
            Some(MAX_HEADER_VALUE_CHARS)
        );
        let kept: usize = parsed.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(kept <= MAX_HEADERS_BYTES, "{kept}");
        assert!(parsed.headers.len() < 100, "{}", parsed.headers.len());
        assert!(parsed.header("From").is_some());
    }

    #[test]
    fn the_raw_message_is_stored_whole_and_the_derived_fields_cut() {
        use crate::ingest::Origin;
        use crate::store::{Incoming, Ingester, Summary};
        let config = crate::config::Config::builtin();
        let clock = crate::clock::ManualClock::new("2026-11-16T08:00:00Z".parse().unwrap());
        let mut store = crate::store::Store::open_in_memory().unwrap();
        let raw = format!(
            "From: a@b.example\r\nSubject: {}\r\nX-Pad: {}\r\n\r\n{}",
            "Re: ".repeat(250_000),
            "p".repeat(100_000),
            "body ".repeat(400_000)
        )
        .into_bytes();
        let batch = [Incoming {
            raw: raw.clone(),
            origin: Origin {
                mailbox: None,
                location: "test".into(),
                imap: None,
                sent: false,
            },
        }];
        let ingester = Ingester {
            config: &config,
            clock: &clock,
        };
        ingester
            .ingest_batch(&mut store, &batch, &mut Summary::default())
            .unwrap();
        let (stored, subject, text, headers): (Vec<u8>, i64, i64, i64) = store
            .connection()
            .query_row(
                "SELECT raw, length(subject), length(CAST(text AS BLOB)), length(headers) FROM messages",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(stored, raw);
        assert_eq!(subject, MAX_SUBJECT_CHARS as i64);
        assert!(text <= MAX_TEXT_BYTES as i64, "{text}");
        assert!(
            headers < 2 * (MAX_SUBJECT_CHARS + MAX_HEADER_VALUE_CHARS) as i64,
            "{headers}"
        );
    }

    #[test]
    fn one_line_max_is_one_line_cut() {
        for text in ["", "  a  bb ccc\r\n dddd ", "é ü\tжжж  ", "x", "   "] {
            for max in 0..12 {
                assert_eq!(
                    one_line_max(text, max),
                    cut_chars(one_line(text), max),
                    "{text:?} {max}"
                );
            }
        }
    }

    #[test]
    fn arrival_is_the_topmost_received_date() {
        let raw = b"Received: from b by c; Tue, 17 Nov 2026 10:00:00 +0000\r\n\
            Received: from a by b; Mon, 2 Nov 2026 10:00:00 +0000\r\n\
            Date: Sun, 1 Nov 2026 10:00:00 +0000\r\nFrom: a@b.example\r\n\r\nhi\r\n";
        let parsed = parse(raw, &IngestLimits::default());
        assert_eq!(
            arrival_time(&parsed),
            Some(
                "2026-11-17T10:00:00Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_second()
            )
        );
        let local = parse(
            b"Date: Sun, 1 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n",
            &IngestLimits::default(),
        );
        assert_eq!(arrival_time(&local), None);
        let garbage = parse(
            b"Received: from a; not a date\r\n\r\nhi\r\n",
            &IngestLimits::default(),
        );
        assert_eq!(arrival_time(&garbage), None);
    }

    #[test]
    fn message_ids_are_one_word() {
        // found by fuzzing: an unterminated msg-id runs into the next, folded line
        let raw = b"From: a@b.example\r\nMessage-ID: <NZ2\n\tfor <support@example.com>; Mon\r\nReferences: <r 1@x>\r\n\r\nhi";
        let parsed = parse(raw, &limits());
        let id = parsed.message_id.unwrap();
        assert_eq!(id, "NZ2forsupport@example.com");
        assert!(
            parsed
                .references
                .iter()
                .all(|r| !r.contains(char::is_whitespace)),
            "{:?}",
            parsed.references
        );
    }

    #[test]
    fn a_message_nested_ten_thousand_deep_is_parsed_without_overflowing_the_stack() {
        let mut raw = String::new();
        for level in 0..10_000 {
            raw.push_str(&format!(
                "From: a@b.example\r\nSubject: level {level}\r\nContent-Type: message/rfc822\r\n\r\n"
            ));
        }
        raw.push_str("From: core@b.example\r\nSubject: core\r\n\r\nThe core.\r\n");
        let parsed = parse(raw.as_bytes(), &limits());
        assert_eq!(parsed.unparsed, None);
        assert_eq!(parsed.subject, "level 0");
    }

    #[test]
    fn refuses_nul_bytes_and_header_floods() {
        let parsed = parse(b"From: a@b.c\r\nSubject: x\0y\r\n\r\nhi", &limits());
        assert!(parsed.unparsed.unwrap().contains("NUL"));
        let mut flood = String::new();
        for i in 0..10_000 {
            flood.push_str(&format!("X-H{i}: v\r\n"));
        }
        flood.push_str("\r\nbody");
        let parsed = parse(flood.as_bytes(), &limits());
        assert!(
            parsed
                .unparsed
                .unwrap()
                .contains("more than 2000 header lines")
        );
    }

    #[test]
    fn refuses_oversized() {
        let small = IngestLimits {
            max_message_bytes: 10,
            ..limits()
        };
        let parsed = parse(b"From: a@b.c\r\n\r\nmore than ten", &small);
        assert!(parsed.unparsed.unwrap().contains("over the limit"));
    }

    #[test]
    fn same_message_same_key_despite_trace_headers() {
        let a = parse(b"Received: by a\r\nFrom: a@b.c\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m@b.c>\r\n\r\nx", &limits());
        let b = parse(b"Received: by b\r\nReceived: by a\r\nFrom: a@b.c\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m@b.c>\r\n\r\nx", &limits());
        assert_eq!(a.dedup_key, b.dedup_key);
        let other = parse(
            b"From: z@b.c\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m@b.c>\r\n\r\nx",
            &limits(),
        );
        assert_ne!(a.dedup_key, other.dedup_key);
    }
}
