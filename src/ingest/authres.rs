//! Whether the receiving mail server vouches for the sender: `Authentication-Results`
//! (RFC 8601) written by a server the admin trusts (`ingest.trusted_authserv_ids`).
//!
//! A `From:` line proves nothing; an agent's copy of an answer in an observe queue counts
//! only when the desk's own MTA checked it (DMARC or an aligned DKIM signature). The MTA
//! must remove incoming `Authentication-Results` that carry its own authserv-id (RFC 8601
//! §5; rspamd, OpenDMARC and Exchange Online do), and prepends its own: so only the
//! topmost header with a trusted id is read, never one further down that a sender wrote.

use super::parse::Parsed;

/// Headers read from the top at most: a hostile mail may carry thousands.
const MAX_HEADERS_READ: usize = 64;

/// True when the topmost `Authentication-Results` of a trusted server says `dmarc=pass`
/// for the sender's domain, or `dkim=pass` with a signing domain (`header.d`) equal to it.
pub fn vouches_for(parsed: &Parsed, sender: &str, trusted: &[String]) -> bool {
    if trusted.is_empty() {
        return false;
    }
    let Some((_, domain)) = sender.rsplit_once('@') else {
        return false;
    };
    let topmost = parsed
        .headers
        .iter()
        .take(MAX_HEADERS_READ)
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| strip_comments(value))
        .find(|value| {
            authserv_id(value).is_some_and(|id| trusted.iter().any(|t| t.eq_ignore_ascii_case(id)))
        });
    let Some(value) = topmost else {
        return false;
    };
    value
        .split(';')
        .skip(1)
        .any(|result| passes_for(result, domain))
}

/// `mx.example.com 1; dkim=pass ...` → `mx.example.com`.
fn authserv_id(value: &str) -> Option<&str> {
    let id = value.split(';').next()?.split_whitespace().next()?;
    (!id.is_empty()).then_some(id)
}

/// One `method=result ptype.property=value ...` of the header.
fn passes_for(result: &str, domain: &str) -> bool {
    let mut words = result.split_whitespace();
    let Some((method, outcome)) = words.next().and_then(|w| w.split_once('=')) else {
        return false;
    };
    if !outcome.eq_ignore_ascii_case("pass") {
        return false;
    }
    let property = match method.to_ascii_lowercase().as_str() {
        "dmarc" => "header.from",
        "dkim" => "header.d",
        _ => return false,
    };
    words
        .filter_map(|w| w.split_once('='))
        .any(|(name, value)| {
            name.eq_ignore_ascii_case(property)
                && value.trim_matches('"').eq_ignore_ascii_case(domain)
        })
}

/// RFC 8601 values may carry RFC 5322 comments: `dkim=pass (2048-bit key) header.d=x`.
/// Nested comments are dropped whole; linear in the value's length.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(headers: &[&str]) -> Parsed {
        Parsed {
            headers: headers
                .iter()
                .map(|v| ("Authentication-Results".to_string(), v.to_string()))
                .collect(),
            ..Parsed::default()
        }
    }

    fn trusted() -> Vec<String> {
        vec!["mx.example.com".into()]
    }

    #[test]
    fn dmarc_or_aligned_dkim_from_a_trusted_server() {
        let dmarc = with(&[
            "mx.example.com; spf=pass smtp.mailfrom=example.com; dmarc=pass (p=reject) header.from=example.com",
        ]);
        assert!(vouches_for(&dmarc, "anna@example.com", &trusted()));
        let dkim =
            with(&["mx.example.com 1; dkim=pass (2048-bit key) header.d=example.com header.s=s1"]);
        assert!(vouches_for(&dkim, "anna@example.com", &trusted()));
        // Exchange Online's form: dmarc=pass action=none header.from=...
        let m365 = with(&[
            "MX.EXAMPLE.COM; dkim=none (message not signed) header.d=none; dmarc=pass action=none header.from=example.com;compauth=pass",
        ]);
        assert!(vouches_for(&m365, "anna@example.com", &trusted()));
    }

    #[test]
    fn anything_else_vouches_for_nobody() {
        let other_domain = with(&["mx.example.com; dkim=pass header.d=evil.example"]);
        assert!(!vouches_for(&other_domain, "anna@example.com", &trusted()));
        let failed = with(&["mx.example.com; dmarc=fail header.from=example.com"]);
        assert!(!vouches_for(&failed, "anna@example.com", &trusted()));
        let spf_only = with(&["mx.example.com; spf=pass smtp.mailfrom=example.com"]);
        assert!(!vouches_for(&spf_only, "anna@example.com", &trusted()));
        let untrusted = with(&["mx.evil.example; dmarc=pass header.from=example.com"]);
        assert!(!vouches_for(&untrusted, "anna@example.com", &trusted()));
        let in_comment = with(&[
            "mx.example.com; dmarc=fail (dmarc=pass header.from=example.com) header.from=example.com",
        ]);
        assert!(!vouches_for(&in_comment, "anna@example.com", &trusted()));
        let pass = with(&["mx.example.com; dmarc=pass header.from=example.com"]);
        assert!(!vouches_for(&pass, "anna@example.com", &[]));
    }

    #[test]
    fn only_the_topmost_trusted_header_counts() {
        // The real server's verdict on top; a forged "pass" the sender wrote below it.
        let forged_below = with(&[
            "mx.example.com; dmarc=fail header.from=example.com",
            "mx.example.com; dmarc=pass header.from=example.com",
        ]);
        assert!(!vouches_for(&forged_below, "anna@example.com", &trusted()));
    }

    #[test]
    fn hostile_comments_stay_linear() {
        let deep = format!(
            "mx.example.com; {}dmarc=pass header.from=example.com",
            "(".repeat(100_000)
        );
        assert!(!vouches_for(
            &with(&[&deep]),
            "anna@example.com",
            &trusted()
        ));
    }
}
