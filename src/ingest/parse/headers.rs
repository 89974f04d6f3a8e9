//! The header values kept for the views and rules, bounded, and the envelope recipients
//! among them.

use mail_parser::{Header, HeaderValue, Message};

use super::text::{normalize_address, one_line_max};
use super::{MAX_ADDRESS_CHARS, MAX_HEADER_VALUE_CHARS, MAX_HEADERS_BYTES, MAX_RECIPIENTS, Parsed};

/// Fills `parsed.headers` and `parsed.envelope_to` from the message's header lines, in order,
/// while their total stays under [`MAX_HEADERS_BYTES`].
pub(super) fn read_headers(message: &Message<'_>, raw: &[u8], parsed: &mut Parsed) {
    let mut headers_bytes = 0;
    for header in message.headers() {
        let name = header.name();
        let value = header_value(header, raw);
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
}

/// One header's value on one line: decoded where mail-parser decodes it, else as written.
fn header_value(header: &Header<'_>, raw: &[u8]) -> String {
    match header.value() {
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
    }
}
