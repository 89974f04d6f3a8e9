//! Addresses with a quoted local part (`"<x>"@example.test`, `"a b"@example.test`,
//! RFC 5322 §3.4.1), which mail-parser 0.11 takes apart: it returns the quoted text as the
//! display name and `@example.test` as the address, so every such sender would share one
//! identity (and `Name <"<y>"@example.test>` comes back as the address `"<y`). For a field
//! where mail-parser's address does not look like one, [`mailboxes`] reads the raw header
//! value itself: quoted strings, comments, angle addresses, groups and obsolete routes.

use std::sync::LazyLock;

use regex::Regex;

/// One mailbox of an address list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mailbox {
    pub name: Option<String>,
    /// The addr-spec, its local part unquoted when it needs no quotes and quoted with
    /// quoted-pairs for `"` and `\` when it does.
    pub address: String,
}

/// Whether mail-parser's address for a mailbox cannot be right: no local part or no
/// domain, or characters an unquoted addr-spec cannot hold.
pub fn looks_broken(address: &str) -> bool {
    address.is_empty()
        || address.starts_with('@')
        || address.ends_with('@')
        || !address.contains('@')
        || address.contains(['"', '<', '>', '(', ')', ',', ';', '\\'])
        || address.contains(char::is_whitespace)
}

/// The mailboxes of a raw (unfolded or folded) address-list header value.
pub fn mailboxes(value: &str) -> Vec<Mailbox> {
    let mut found = Vec::new();
    let mut item = Item::default();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut quoted = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => quoted.extend(chars.next()),
                        '"' => break,
                        c => quoted.push(c),
                    }
                }
                item.quoted(&quoted);
            }
            '(' => {
                skip_comment(&mut chars);
                item.space();
            }
            '<' if !item.in_angle => {
                item.in_angle = true;
                item.angle = Some(String::new());
            }
            '>' if item.in_angle => item.in_angle = false,
            ',' | ';' if !item.in_angle => item.finish(&mut found),
            // A group's display name: its members follow.
            ':' if !item.in_angle && item.angle.is_none() && !item.spec.contains('@') => {
                item = Item::default();
            }
            c if c.is_whitespace() => item.space(),
            c => item.push(c),
        }
    }
    item.finish(&mut found);
    found
}

/// The rest of a comment whose `(` was read, nested comments and quoted-pairs included.
fn skip_comment(chars: &mut std::str::Chars<'_>) {
    let mut depth = 1;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

#[derive(Default)]
struct Item {
    /// Outside any angle brackets: the display name's words, or a bare addr-spec.
    name: String,
    spec: String,
    /// Inside `<…>`, quoted strings kept quoted.
    angle: Option<String>,
    in_angle: bool,
}

impl Item {
    fn push(&mut self, c: char) {
        match (&mut self.angle, self.in_angle) {
            (Some(angle), true) => angle.push(c),
            _ => {
                self.name.push(c);
                self.spec.push(c);
            }
        }
    }

    fn space(&mut self) {
        if !self.in_angle && !self.name.is_empty() && !self.name.ends_with(' ') {
            self.name.push(' ');
        }
    }

    fn quoted(&mut self, text: &str) {
        let requoted = quote(text);
        match (&mut self.angle, self.in_angle) {
            (Some(angle), true) => angle.push_str(&requoted),
            _ => {
                self.name.push_str(text);
                self.spec.push_str(&requoted);
            }
        }
    }

    fn finish(&mut self, found: &mut Vec<Mailbox>) {
        let item = std::mem::take(self);
        let (name, spec) = match item.angle {
            Some(angle) => {
                let name = item.name.trim();
                ((!name.is_empty()).then(|| name.to_string()), angle)
            }
            None => (None, item.spec),
        };
        let address = canonical(&spec);
        if !address.is_empty() {
            found.push(Mailbox { name, address });
        }
    }
}

/// `"text"` with quoted-pairs for `"` and `\`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// An addr-spec as written (quoted strings already requoted) → its canonical form: any
/// obsolete route (`@a,@b:`) dropped, a quoted local part that needs no quotes unquoted.
fn canonical(spec: &str) -> String {
    let outside = outside_quotes(spec);
    let start = outside
        .iter()
        .filter(|&&(_, c)| c == ':')
        .map(|&(i, _)| i + 1)
        .next_back()
        .unwrap_or(0);
    let spec = spec.get(start..).unwrap_or_default();
    let outside = outside_quotes(spec);
    let Some(at) = outside
        .iter()
        .filter(|&&(_, c)| c == '@')
        .map(|&(i, _)| i)
        .next_back()
    else {
        return spec.to_string();
    };
    let (local, domain) = (&spec[..at], &spec[at..]);
    let local = match local
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .and_then(unquote)
    {
        Some(content) if is_dot_atom(&content) => content,
        _ => local.to_string(),
    };
    format!("{local}{domain}")
}

/// Byte offsets and characters of `spec` that are outside quoted strings.
fn outside_quotes(spec: &str) -> Vec<(usize, char)> {
    let mut outside = Vec::new();
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in spec.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if !quoted => outside.push((i, c)),
            _ => {}
        }
    }
    outside
}

/// A quoted string's content, `\x` read as `x`; `None` when the quotes are not one string.
fn unquote(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// RFC 5322 dot-atom (with RFC 6532's non-ASCII): no quotes needed around it.
fn is_dot_atom(text: &str) -> bool {
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// Senders that must never get an acknowledgement, whatever their headers say.
pub fn looks_unattended(address: &str) -> bool {
    static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-daemon|postmaster|bounces?|notifications?|daemon|root|listserv|majordomo)([-+.].*)?@|noreply")
            .expect("unattended-sender pattern is valid")
    });
    PATTERN.is_match(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(value: &str) -> Vec<String> {
        mailboxes(value).into_iter().map(|m| m.address).collect()
    }

    #[test]
    fn quoted_local_parts_stay_whole() {
        assert_eq!(
            addresses(r#""<x>"@example.test"#),
            [r#""<x>"@example.test"#]
        );
        assert_eq!(
            mailboxes(r#"Name <"<y>"@example.test>, "a b"@example.test"#),
            [
                Mailbox {
                    name: Some("Name".into()),
                    address: r#""<y>"@example.test"#.into()
                },
                Mailbox {
                    name: None,
                    address: r#""a b"@example.test"#.into()
                },
            ]
        );
        assert_eq!(
            addresses(r#""x\"y"@example.test, "a\\b"@example.test"#),
            [r#""x\"y"@example.test"#, r#""a\\b"@example.test"#]
        );
        assert_eq!(
            addresses(r#""john..doe"@example.test"#),
            [r#""john..doe"@example.test"#]
        );
        // Quotes that change nothing are dropped: one sender, one identity.
        assert_eq!(addresses(r#""john"@example.test"#), ["john@example.test"]);
        assert_eq!(
            addresses(r#""a@b"@example.test, "a,b"@example.test"#),
            [r#""a@b"@example.test"#, r#""a,b"@example.test"#]
        );
    }

    #[test]
    fn the_rest_of_the_address_syntax() {
        assert_eq!(
            mailboxes(r#""Doe, Jane" (work) <jane@example.test>, bob@example.test (Bob)"#),
            [
                Mailbox {
                    name: Some("Doe, Jane".into()),
                    address: "jane@example.test".into()
                },
                Mailbox {
                    name: None,
                    address: "bob@example.test".into()
                },
            ]
        );
        assert_eq!(
            addresses("team: a@example.test, b@example.test;, c@example.test"),
            ["a@example.test", "b@example.test", "c@example.test"]
        );
        assert_eq!(addresses("undisclosed-recipients:;"), Vec::<String>::new());
        assert_eq!(
            addresses("<@relay.example,@other.example:d@example.test>"),
            ["d@example.test"]
        );
        assert_eq!(
            addresses("Folded\r\n Name\r\n <e@example.test>"),
            ["e@example.test"]
        );
        assert_eq!(
            addresses("(unclosed comment <f@example.test>"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn what_mail_parser_gets_wrong_is_recognised() {
        for broken in ["@example.test", "\"<y", "x@", "a b@c", "noat"] {
            assert!(looks_broken(broken), "{broken}");
        }
        for fine in [
            "a@example.test",
            "first.last+tag@example.test",
            "ünï@例え.jp",
        ] {
            assert!(!looks_broken(fine), "{fine}");
        }
    }

    #[test]
    fn unattended_senders() {
        assert!(looks_unattended("noreply@shop.example"));
        assert!(looks_unattended("no-reply@shop.example"));
        assert!(looks_unattended("do_not_reply@bank.example"));
        assert!(looks_unattended("bounces+123@list.example"));
        assert!(!looks_unattended("alice@customer.example"));
        assert!(!looks_unattended("norbert@customer.example"));
    }
}
