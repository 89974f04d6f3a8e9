//! Bounces that are not RFC 3464 reports, recognised by their structure rather than by
//! their subject: who sent them (the null reverse-path of RFC 5321 §4.5.5, the RFC 2142
//! mailbox names, an unattended system sender) and what they carry (an SMTP reply or RFC
//! 3463 status code, the returned message or its header block, a delivery-status part).
//! Plain-text bounces of qmail, DragonFly, Exim, Sendmail, Apache James, carriers' gateways
//! look alike in exactly these ways, whatever language their prose is in.

use std::sync::LazyLock;

use regex::Regex;

use super::address::looks_unattended;
use super::parse::Parsed;

/// How far into the body the evidence is looked for: diagnostics come first in every
/// format, and this keeps the scan bounded on hostile mail.
const SCAN_BYTES: usize = 16 * 1024;

/// What speaks for a system sender, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Sender {
    /// A person, or nothing says otherwise.
    Unknown,
    /// `noreply@`-like: also sends notifications, so it needs a strong sign.
    Unattended,
    /// The null reverse-path, or a mail system's own mailbox name.
    System,
}

/// Why this message is a bounce, or `None`.
pub fn evidence(parsed: &Parsed) -> Option<String> {
    let sender = sender(parsed);
    if sender == Sender::Unknown {
        return None;
    }
    let returned = parsed
        .attachments
        .iter()
        .find(|a| RETURNED_TYPES.contains(&a.content_type.as_str()))
        .map(|a| format!("a {} part", a.content_type));
    let body = head(&parsed.text, SCAN_BYTES);
    let code = STATUS_CODE
        .find(body)
        .map(|m| format!("status {}", m.as_str().trim()));
    let strong = returned.or(code);
    let reason = match sender {
        Sender::System => strong.or_else(|| returned_headers(body)),
        Sender::Unattended => strong,
        Sender::Unknown => None,
    }?;
    Some(format!("{} with {reason}", sender_reason(parsed, sender)))
}

/// How far into the raw bounce the returned message is looked for.
const RETURNED_SCAN_BYTES: usize = 512 * 1024;

/// The part of a bounce that is scanned: its first [`RETURNED_SCAN_BYTES`], or all of a
/// shorter one.
fn scanned(raw: &[u8]) -> &[u8] {
    raw.get(..RETURNED_SCAN_BYTES).unwrap_or(raw)
}

/// At most this many of our Message-IDs are taken from one bounce.
const MAX_RETURNED: usize = 8;

/// The Message-IDs of mail the desk sent (`postdesk.<kind>.<row>.<random>@<domain>`) that
/// a bounce carries back: in its returned message or headers, or its thread headers.
pub fn returned_ids(raw: &[u8]) -> Vec<String> {
    static OURS: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(
            r"postdesk\.[a-z_]{1,32}\.[0-9]{1,19}\.[0-9a-f]{8}@[A-Za-z0-9.-]{1,253}",
        )
        .expect("message id pattern is valid")
    });
    let mut ids: Vec<String> = Vec::new();
    for found in OURS.find_iter(scanned(raw)) {
        let id = String::from_utf8_lossy(found.as_bytes())
            .trim_end_matches('.')
            .to_string();
        if !ids.contains(&id) {
            ids.push(id);
            if ids.len() == MAX_RETURNED {
                break;
            }
        }
    }
    ids
}

/// The failed recipient and the reason, as far as the bounce says (RFC 3464
/// `Final-Recipient`, `Status`, `Diagnostic-Code`, else the first status code of its
/// text), in one bounded line.
pub fn failure(raw: &[u8], text: &str) -> String {
    static FIELD: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(
            r"(?mi)^(final-recipient|status|diagnostic-code):[ \t]*(?:rfc822;|smtp;)?[ \t]*([^\r\n]{1,200})",
        )
        .expect("delivery status pattern is valid")
    });
    let mut parts: Vec<String> = Vec::new();
    for field in FIELD.captures_iter(scanned(raw)) {
        // Both groups are required by the pattern, so every match has them.
        let (Some(name), Some(value)) = (field.get(1), field.get(2)) else {
            continue;
        };
        let name = String::from_utf8_lossy(name.as_bytes()).to_ascii_lowercase();
        if parts.iter().any(|p| p.starts_with(&name)) {
            continue;
        }
        parts.push(format!(
            "{name} {}",
            String::from_utf8_lossy(value.as_bytes()).trim()
        ));
    }
    if parts.is_empty()
        && let Some(line) = STATUS_CODE
            .find(head(text, SCAN_BYTES))
            .and_then(|m| text[m.start()..].lines().next())
    {
        parts.push(line.trim().to_string());
    }
    let line: String = parts
        .join("; ")
        .chars()
        .filter(|c| !c.is_control())
        .take(400)
        .collect();
    if line.is_empty() {
        "no reason given".into()
    } else {
        line
    }
}

/// Parts that only a delivery report or a returned message has.
const RETURNED_TYPES: &[&str] = &[
    "message/rfc822",
    "message/global",
    "message/delivery-status",
    "message/global-delivery-status",
    "text/rfc822-headers",
    "message/global-headers",
];

/// An SMTP reply code at the start of a line (RFC 5321 §4.2: `550 ...`, `550-...`), or an
/// enhanced status code (RFC 3463: `5.1.1`, qmail's `#5.1.1`), failures and delays only.
static STATUS_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^[ \t>]*[45][0-5][0-9](?:[ \t-]|$)|(?:^|[\s(#\[])[45]\.[0-7]\.[0-9]{1,3}(?:[^\w.]|\.(?:\s|$)|$)",
    )
        .expect("status code pattern is valid")
});

/// A returned message's header block in the text: three or more lines in a row of the
/// fields every message has, one of them a trace or identity field.
fn returned_headers(body: &str) -> Option<String> {
    static FIELD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)^(received|message-id|return-path|from|to|subject|date|mail from|rcpt to):\s",
        )
        .expect("header field pattern is valid")
    });
    let (mut run, mut trace) = (0, false);
    for line in body.lines() {
        let line = line.trim_start_matches([' ', '\t', '>']);
        if let Some(field) = FIELD.find(line) {
            run += 1;
            let name = field.as_str().to_ascii_lowercase();
            trace |= ["received", "message-id", "return-path", "rcpt to"]
                .iter()
                .any(|t| name.starts_with(t));
            if run >= 3 && trace {
                return Some("the returned message's headers".into());
            }
        } else if !line.starts_with([' ', '\t']) {
            (run, trace) = (0, false);
        }
    }
    None
}

fn sender(parsed: &Parsed) -> Sender {
    let null_path = parsed
        .header("Return-Path")
        .is_some_and(|p| p.trim().trim_matches(['<', '>', ' ']).is_empty());
    let from = parsed.from.as_deref().unwrap_or("");
    if null_path || from.is_empty() || is_system_name(local_part(from)) {
        return Sender::System;
    }
    if parsed.from_name.as_deref().is_some_and(is_system_name) {
        return Sender::System;
    }
    if looks_unattended(from) {
        return Sender::Unattended;
    }
    Sender::Unknown
}

fn sender_reason(parsed: &Parsed, sender: Sender) -> String {
    match (parsed.from.as_deref(), sender) {
        (None | Some(""), _) => "no sender address".into(),
        (Some(from), Sender::System) => format!("system sender {from}"),
        (Some(from), _) => format!("unattended sender {from}"),
    }
}

/// RFC 2142 and RFC 5321 §4.5.1 names of a mail system's own mailboxes, as MTAs spell them
/// (`MAILER-DAEMON`, `post_master`, `Mail Delivery Subsystem`).
fn is_system_name(name: &str) -> bool {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(
        name.as_str(),
        "mailerdaemon"
            | "maildaemon"
            | "mdaemon"
            | "postmaster"
            | "doublebounce"
            | "maildeliverysubsystem"
            | "maildeliverysystem"
    )
}

fn local_part(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(local, _)| local)
}

/// At most `max` bytes of `text`, cut on a character boundary.
fn head(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IngestLimits;
    use crate::ingest::parse::parse;

    fn evidence_of(raw: &str) -> Option<String> {
        evidence(&parse(raw.as_bytes(), &IngestLimits::default()))
    }

    const DRAGONFLY: &str = "From: MAILER-DAEMON <>\r\nTo: k@df.example\r\nSubject: Mail delivery failed\r\n\r\n\
        There was an error delivering your mail to <x@example.com>.\r\n\r\n\
        mx.example.com did not like our final DATA:\r\n550 5.7.26 Unauthenticated email\r\n";

    #[test]
    fn plain_text_bounces_from_system_senders() {
        assert!(
            evidence_of(DRAGONFLY)
                .unwrap()
                .contains("no sender address")
        );
        let qmail = "From: MAILER-DAEMON@mx.example\r\nSubject: failure notice\r\n\r\n\
            Hi. This is the qmail-send program at mx.example.\r\n\
            <x@example.com>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n";
        assert!(evidence_of(qmail).unwrap().contains("5.1.1"));
        let james = "From: post_master@vtext.example.com\r\nSubject: Re:Test message\r\n\r\n\
            Error: Invalid user address\r\nError message below:\r\n\
            550 - Requested action not taken: no such user here\r\n";
        assert!(evidence_of(james).unwrap().contains("status 550"));
        let headers_only = "From: Mail Delivery Subsystem <daemon@mx.example>\r\nSubject: Warnung\r\n\r\n\
            Die Nachricht konnte nicht zugestellt werden.\r\n\r\n\
            Received: from a.example by b.example\r\nFrom: k@example.com\r\nSubject: Hallo\r\n";
        assert!(evidence_of(headers_only).unwrap().contains("headers"));
    }

    #[test]
    fn unattended_senders_need_a_code_or_a_returned_part() {
        let kddi = "From: no-reply@gw.example.jp\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nmailbox full\r\n\
            --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@example.jp\r\nSubject: hi\r\n\r\nhi\r\n--b--\r\n";
        assert!(evidence_of(kddi).unwrap().contains("message/rfc822"));
        // A contact form relayed by a no-reply sender is a person's request.
        let form = "From: noreply@shop.example\r\nSubject: Contact form\r\n\r\n\
            From: Jane <jane@example.org>\r\nTo: support\r\nSubject: broken order\r\nDate: today\r\n\r\nMy order 123 never came.\r\n";
        assert_eq!(evidence_of(form), None);
    }

    #[test]
    fn people_quoting_errors_are_people() {
        let customer = "From: bob@client.example\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n\
            I got this when writing to you:\r\n550 5.1.1 user unknown\r\n\
            Received: from a by b\r\nFrom: bob@client.example\r\nSubject: order\r\n";
        assert_eq!(evidence_of(customer), None);
        // A system sender with nothing of a bounce in it is not one here (other rules
        // may still file it as automatic).
        let notice = "From: postmaster@example.org\r\nSubject: New policy\r\n\r\nPlease read the attached policy.\r\n";
        assert_eq!(evidence_of(notice), None);
    }

    #[test]
    fn our_returned_message_ids_and_the_reason() {
        let raw = b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
            --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n\
            Final-Recipient: rfc822; alice@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
            Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
            --b\r\nContent-Type: text/rfc822-headers\r\n\r\n\
            Message-ID: <postdesk.acknowledgement.12.00c0ffee@desk.example>\r\n\
            References: <postdesk.acknowledgement.12.00c0ffee@desk.example> <other@x>\r\n--b--\r\n";
        assert_eq!(
            returned_ids(raw),
            ["postdesk.acknowledgement.12.00c0ffee@desk.example"]
        );
        assert_eq!(
            failure(raw, ""),
            "final-recipient alice@customer.example; status 5.1.1; diagnostic-code 550 5.1.1 no such user"
        );
        assert_eq!(
            failure(b"", "Sorry.\n<a@b>:\n550 no mailbox here\nmore"),
            "550 no mailbox here"
        );
        assert!(returned_ids(b"postdesk.ack.1.zzzzzzzz@x").is_empty());
    }

    #[test]
    fn status_codes_at_line_starts_or_as_enhanced_codes_only() {
        assert!(STATUS_CODE.is_match("550-5.7.26 text"));
        assert!(STATUS_CODE.is_match("  > 421 try later"));
        assert!(STATUS_CODE.is_match("Remote said (#4.4.1)"));
        assert!(!STATUS_CODE.is_match("order 550 is late"));
        assert!(!STATUS_CODE.is_match("version 5.1.10.2 released"));
        assert!(!STATUS_CODE.is_match("200 OK"));
    }
}
