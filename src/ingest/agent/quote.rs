//! What an agent (or customer) actually wrote in a reply: the text above the quoted
//! history and the signature, whatever client wrote it (Gmail, Outlook in English and
//! Russian, Apple Mail, Thunderbird, Yandex and Mail.ru, mobile clients).
//!
//! The history starts at the client's attribution ("On … wrote:", "… пишет:", "пн, 16 нояб.
//! 2026 г. в 09:12, Name <addr>:"), at an Outlook header block ("From:/Sent:/To:/Subject:"
//! in any language), at an "Original Message" separator, at a signature delimiter ("-- ")
//! or at a device footer ("Sent from my iPhone", "Отправлено из мобильной Почты Mail.ru").
//! Answers written between quoted lines keep those quotes for context; quotes above a
//! bottom-posted answer or below a top-posted one are history and go.

mod attribution;
mod separators;

use attribution::{INLINE_ATTRIBUTION, attribution_after_sentence, attribution_at};
use separators::{RULE_LINE, ends_text};

/// A quoted line shorter than this was not broken by the quoting client's line wrap.
const WRAP_WIDTH: usize = 60;

/// The new text of a reply, without quoted history, signature or trailing blank lines.
pub fn visible_text(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let cut = find_history(&lines);
    let mut kept: Vec<&str> = Vec::with_capacity(cut.end + 1);
    for (line, hidden) in lines.iter().zip(&cut.attribution_lines).take(cut.end) {
        if !hidden {
            kept.push(line);
        }
    }
    if let Some((i, at)) = cut.partial {
        kept.push(lines.get(i).and_then(|l| l.get(..at)).unwrap_or_default());
    }
    let kept = drop_history_quotes(&kept);
    tidy(&kept)
}

/// Where the history starts, and the attribution lines above answers written below a quote.
struct Cut {
    /// Lines from here on are history or signature.
    end: usize,
    /// The history starts inside line `.0`, at byte `.1`.
    partial: Option<(usize, usize)>,
    /// Per line: an attribution above an answer, hidden from the text.
    attribution_lines: Vec<bool>,
}

fn find_history(lines: &[&str]) -> Cut {
    let mut cut = Cut {
        end: lines.len(),
        partial: None,
        attribution_lines: vec![false; lines.len()],
    };
    let mut i = 0;
    while let Some(&line) = lines.get(i) {
        if is_quoted(line) || line.trim().is_empty() {
            i += 1;
            continue;
        }
        if ends_text(lines, i) {
            cut.end = i;
            return cut;
        }
        if let Some(at) = attribution_after_sentence(line) {
            cut.end = i;
            cut.partial = Some((i, at));
            return cut;
        }
        if let Some(last) = attribution_at(lines, i) {
            if history_follows(lines, last) {
                cut.end = i;
                return cut;
            }
            // An answer follows the quote: the attribution goes, the quote stays in play.
            // (`attribution_at` ends it on a line of `lines`, so the range is there.)
            if let Some(attribution) = cut.attribution_lines.get_mut(i..=last) {
                attribution.fill(true);
            }
            i = last + 1;
            continue;
        }
        if let Some(found) = INLINE_ATTRIBUTION.find(line)
            && found.start() > 0
            && line
                .get(..found.start())
                .is_some_and(|before| !before.trim().is_empty())
        {
            cut.end = i;
            cut.partial = Some((i, found.start()));
            return cut;
        }
        i += 1;
    }
    cut
}

/// After the attribution ending at `last`: only history (unquoted as HTML-converted clients
/// leave it, or a quote followed by nothing the writer typed)?
fn history_follows(lines: &[&str], last: usize) -> bool {
    let Some(first) = next_non_blank(lines, last + 1) else {
        return true;
    };
    if !lines.get(first).is_some_and(|l| is_quoted(l)) {
        return true;
    }
    let Some(after) = next_non_blank(lines, quote_region_end(lines, first)) else {
        return true;
    };
    let trimmed = lines.get(after).map_or("", |l| l.trim());
    RULE_LINE.is_match(trimmed) || ends_text(lines, after) || attribution_at(lines, after).is_some()
}

fn next_non_blank(lines: &[&str], from: usize) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i)
}

/// The index just past the quote starting at `first`: quoted lines, blank lines between
/// them, and lines the quoting client's wrap broke out of the quote.
fn quote_region_end(lines: &[&str], first: usize) -> usize {
    let mut i = first;
    while let Some(&line) = lines.get(i) {
        if is_quoted(line) || is_wrapped_quote(lines, i) {
            i += 1;
        } else if line.trim().is_empty() {
            match next_non_blank(lines, i) {
                Some(next) if lines.get(next).is_some_and(|l| is_quoted(l)) => i = next,
                _ => break,
            }
        } else {
            break;
        }
    }
    i
}

/// An unquoted line between two quoted ones, under a quoted line long enough to have been
/// wrapped: the rest of that quoted line.
fn is_wrapped_quote(lines: &[&str], i: usize) -> bool {
    // The first and the last line have no line on both sides.
    let Some(&[above, line, below]) = i.checked_sub(1).and_then(|a| lines.get(a..=i + 1)) else {
        return false;
    };
    !line.trim().is_empty()
        && !is_quoted(line)
        && is_quoted(above)
        && is_quoted(below)
        && (above.chars().count() >= WRAP_WIDTH || is_bare_link(line))
}

/// A line that is only a link: clients put a long URL of a quoted line on a line of its
/// own without the quote marker.
fn is_bare_link(line: &str) -> bool {
    let line = line.trim().trim_start_matches('<').trim_end_matches('>');
    (line.starts_with("http://") || line.starts_with("https://") || line.starts_with("mailto:"))
        && !line.contains(char::is_whitespace)
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Quotes below the last answer (top-posting) and a quote above a bottom-posted answer are
/// history; quotes between answers stay, so each answer keeps its question.
fn drop_history_quotes<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let quoted: Vec<bool> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| is_quoted(line) || is_wrapped_quote(lines, i))
        .collect();
    let is_text: Vec<bool> = lines
        .iter()
        .zip(&quoted)
        .map(|(line, &quoted)| !quoted && !line.trim().is_empty())
        .collect();
    let Some(first_text) = is_text.iter().position(|&t| t) else {
        return Vec::new();
    };
    let last_text = is_text.iter().rposition(|&t| t).unwrap_or(first_text);
    let interleaved = quoted.iter().take(last_text).skip(first_text).any(|&q| q);
    let from = if interleaved { 0 } else { first_text };
    lines
        .iter()
        .copied()
        .take(last_text + 1)
        .skip(from)
        .collect()
}

/// Without blank lines around the text, rules left above a cut, or trailing spaces.
fn tidy(lines: &[&str]) -> String {
    let mut lines: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    while lines
        .last()
        .is_some_and(|l| l.trim().is_empty() || RULE_LINE.is_match(l))
    {
        lines.pop();
    }
    let text: Vec<&str> = lines
        .into_iter()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    text.join("\n")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "quote_structure_tests.rs"]
mod structure_tests;
