//! The subject as a thread key, in time linear in its length: a hostile subject of a million
//! `Re: ` prefixes (4 MB) is one pass of one regex, not a million copies of the rest.

use std::sync::LazyLock;

use regex::Regex;

use super::parse::{MAX_SUBJECT_CHARS, cut_chars};
use crate::config::TicketTag;

/// Every reply/forward prefix in a row at the start of a subject, each one a word in one of
/// many languages, maybe a count (`RE[2]:`, `Re(3):`, `Re^4:`) and a colon; external-sender
/// marks (`[EXT]`, `[EXTERNAL]`, as written) among them. One match takes the whole run.
static PREFIXES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:\s*(?:(?:re|fwd?|fw|aw|wg|sv|vs|antw|odp|pd|tr|rif|r|ynt|отв|ответ|пересл|回复|转发|返信|転送)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]|(?-i:\[EXT\]|\[EXTERNAL\])))*\s*",
    )
    .expect("reply prefix pattern is valid")
});

/// A thread key is at most this many characters. Stored subjects are cut at
/// [`MAX_SUBJECT_CHARS`]; a reply to a subject that long is cut further along the original
/// (its `Re: ` takes room), so keys are cut shorter still for the two to agree.
pub const MAX_KEY_CHARS: usize = MAX_SUBJECT_CHARS - 200;

/// The subject as a thread key: reply/forward prefixes in many languages and ticket tags
/// removed, case and spacing folded, at most [`MAX_KEY_CHARS`] characters.
pub fn normalize_subject(subject: &str, tag: &TicketTag) -> String {
    let untagged = tag.strip(subject);
    let start = PREFIXES.find(&untagged).map_or(0, |m| m.end());
    let rest = untagged.get(start..).unwrap_or_default();
    let mut key = String::with_capacity(rest.len());
    for word in rest.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(word);
    }
    if key.is_ascii() {
        key.make_ascii_lowercase();
    } else {
        // `str::to_lowercase` knows a final sigma, which lowercasing each char does not.
        key = key.to_lowercase();
    }
    let key = cut_chars(key, MAX_KEY_CHARS);
    match key.strip_suffix(' ') {
        Some(trimmed) => trimmed.to_string(),
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn tag() -> TicketTag {
        TicketTag::parse("[#{ref}]").unwrap()
    }

    /// The prefix-at-a-time definition the key had before; the keys of tickets already
    /// stored were made with it, so the fast one must agree with it.
    fn one_prefix_at_a_time(subject: &str, tag: &TicketTag) -> String {
        let one = Regex::new(
            r"(?i)^\s*(re|fwd?|fw|aw|wg|sv|vs|antw|odp|pd|tr|rif|r|ynt|отв|ответ|пересл|回复|转发|返信|転送)\s*(\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*",
        )
        .unwrap();
        let mut rest = tag.strip(subject).into_owned();
        loop {
            let trimmed = rest.trim_start();
            let next = match one.find(trimmed) {
                Some(m) => trimmed[m.end()..].to_string(),
                None if trimmed.starts_with("[EXT]") || trimmed.starts_with("[EXTERNAL]") => {
                    trimmed
                        .split_once(']')
                        .map(|(_, r)| r.to_string())
                        .unwrap_or_default()
                }
                None => break,
            };
            rest = next;
        }
        rest.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }

    #[test]
    fn agrees_with_the_prefix_at_a_time_definition() {
        for subject in [
            "",
            "   ",
            "Re:",
            "Re: ",
            "Printer driver crashes",
            "Re: Printer driver crashes",
            "RE: Re: printer  driver crashes",
            "AW: WG: Printer driver crashes",
            "Отв: Ответ: Пересл: Принтер",
            "RE[2]: Re(3): Re^4 : Printer",
            "Fwd: Re: [#1042] Printer driver crashes",
            "[EXT] Re: [EXTERNAL] fw: Invoice",
            "[ext] Re: lower-case mark is kept",
            "Re:Re:Re:no spaces",
            "Re : spaced colon",
            "Re：full-width colon",
            "回复: 转发: 问题",
            "Reply: not a prefix",
            "Re [2] Re: no colon after the count",
            "Re:\u{a0}\u{2003}Unicode spaces",
            "ΣΟΦΟΣ ΚΑΙ ΟΔΟΣ",
            "Re: Straße İstanbul",
            "  Re:  [EXT]  tr: rif: ynt: antw: odp: pd: vs: sv: r: x",
        ] {
            assert_eq!(
                normalize_subject(subject, &tag()),
                one_prefix_at_a_time(subject, &tag()),
                "{subject:?}"
            );
        }
    }

    #[test]
    fn a_reply_to_a_subject_cut_at_the_limit_has_the_same_key() {
        let original: String = (0..400).map(|n| format!("w{n} ")).collect();
        let stored = cut_chars(original.clone(), MAX_SUBJECT_CHARS);
        let reply = cut_chars(format!("Re: Fwd: AW: {original}"), MAX_SUBJECT_CHARS);
        let key = normalize_subject(&stored, &tag());
        assert_eq!(key, normalize_subject(&reply, &tag()));
        assert!(key.chars().count() <= MAX_KEY_CHARS && !key.ends_with(' '));
        assert!(original.starts_with(&key));
    }

    #[test]
    fn a_million_reply_prefixes_take_one_pass() {
        let subject = format!("{}Printer Driver crashes", "Re: ".repeat(1_000_000));
        let started = Instant::now();
        let key = normalize_subject(&subject, &tag());
        let elapsed = started.elapsed();
        assert_eq!(key, "printer driver crashes");
        // The prefix-at-a-time loop copied the rest once per prefix: minutes for this.
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");

        let interleaved = format!("{}invoice", "Re: [EXT] Fwd: [#12] ".repeat(200_000));
        let started = Instant::now();
        assert_eq!(normalize_subject(&interleaved, &tag()), "invoice");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
