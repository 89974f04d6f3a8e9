//! From, To and Cc as stored.

use mail_parser::{Address, Message};

use super::text::{normalize_address, one_line_max};
use super::{MAX_ADDRESS_CHARS, MAX_NAME_CHARS, MAX_RECIPIENTS};
use crate::ingest::address;

/// One mailbox of From, To or Cc, as stored: address normalised, name on one line.
pub(super) struct Mailbox {
    pub(super) address: Option<String>,
    pub(super) name: Option<String>,
}

/// The mailboxes of an address field. Where mail-parser's address for one of them cannot be
/// right (it splits a quoted local part off as the name), the raw header is read by
/// [`address::mailboxes`] instead.
pub(super) fn field(
    message: &Message<'_>,
    name: &str,
    parsed: Option<&Address<'_>>,
) -> Vec<Mailbox> {
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

pub(super) fn addresses(
    message: &Message<'_>,
    name: &str,
    parsed: Option<&Address<'_>>,
) -> Vec<String> {
    field(message, name, parsed)
        .into_iter()
        .filter_map(|m| m.address)
        .collect()
}
