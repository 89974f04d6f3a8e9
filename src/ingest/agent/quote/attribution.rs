//! Attribution lines, the client's "On … wrote:" above the quote, in the languages and
//! layouts clients write them: with a verb at the end or inside, without a verb (the
//! address and a colon), wrapped over several lines or glued to the text.

use std::sync::LazyLock;

use regex::Regex;

use super::is_quoted;

/// Verbs that close an attribution line, in the languages mail clients write them.
const WROTE: &str = r"wrote|writes|a\s+écrit|schrieb|schreef|het\s+volgende\s+geschreven|skrev|kirjoitti|escreveu|escribió|ha\s+scritto|scrisse|napisał\(a\)|napisała|napisał|pisze|пишет|написал\(а\)|написала|написал|пише|написав\(ла\)|написав|írta";

/// Words that open an attribution line ("On …", "Am …", "W dniu …"), after an optional
/// "- " (Zimbra) or "---- " (Zoho).
const OPENER: &str = r"(?i)^(?:-+\s*)?(?:on|am|le|el|em|il|in\s+data|w\s+dniu|dnia|op|den|på)\s";

/// The verb ends the line: "… Alice <a@b> wrote:", "… Иван Петров пишет:", Zoho's
/// "---- On … wrote ----".
static VERB_AT_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)\b(?:{WROTE})\s*:?\s*(?:-{{2,}})?$")).expect("valid pattern")
});

/// The verb comes before the name or the date: "Am 16.11.2026 um 09:12 schrieb Jürgen:",
/// Gmail's "Aa Bb <a@b> schrieb am So., 23. Juni 2024, 21:08:".
static VERB_INSIDE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"(?i)\b(?:{WROTE})\b.*:$")).expect("valid pattern"));

/// The line starts the way attributions start.
static OPENS_ATTRIBUTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(OPENER).expect("valid pattern"));

/// An address as clients print it in attributions.
static ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+=-]+@[\w-]+(?:\.[\w-]+)+").expect("valid pattern"));

/// "пн, 16", "Wednesday, 17", "pon., 16": a weekday, then the date.
static WEEKDAY_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\p{L}{2,12}\.?,\s*\d").expect("valid pattern"));

/// A time ("09:12", "17.50", "10h30") or a year: what makes a line a dated attribution.
static DATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{1,2}[:.h]\d{2}\b|\b(?:19|20)\d{2}\b").expect("valid pattern")
});

/// Attributions without a verb end with the address and a colon: Gmail in Russian
/// ("пн, 16 нояб. 2026 г. в 09:12, Name <a@b>:"), Yandex ("16.11.2026, 09:12, "Name"
/// <a@b>:"), Mail.ru ("Понедельник, 16 ноября 2026, 9:12 +03:00 от Name <a@b>:").
static ADDRESS_AT_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\w.+=-]+@[\w-]+(?:\.[\w-]+)+\s*[>)\]]?\s*:$").expect("valid pattern")
});

/// Old Gmail: "2013/7/20 Name <a@b>" with the quote right below.
static DATED_ADDRESS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\b.*<[\w.+=-]+@[\w.-]+>\s*$").expect("valid pattern")
});

/// "> a écrit :" when Gmail wrapped the address line inside its angle brackets.
static QUOTED_VERB_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)^>\s*(?:{WROTE})\s*:?\s*$")).expect("valid pattern")
});

/// An attribution glued to the end of the reply's last line, as mail-parser renders an
/// HTML reply whose quote sits in the same block: "FooBarOn 2016-03-25, at 23:01, John
/// <j@x> wrote:Some text".
pub(super) static INLINE_ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:On|Am|Le|El|Il giorno|W dniu)\s[^\n]{{0,160}}?\d[^\n]{{0,160}}?\s(?:{WROTE})\s*:"
    ))
    .expect("valid pattern")
});

/// How many lines an attribution may be wrapped over.
const MAX_ATTRIBUTION_LINES: usize = 4;

/// Longer lines are text, not an attribution (400 characters of up to 4 bytes).
const MAX_ATTRIBUTION_BYTES: usize = 1600;

/// Where an attribution starts inside a line after the writer's own sentence ("Works
/// now, thanks! On Tue, … Bob <b@x> wrote:").
pub(super) fn attribution_after_sentence(line: &str) -> Option<usize> {
    let found = INLINE_ATTRIBUTION.find(line)?;
    let before = line.get(..found.start())?.trim_end();
    (found.start() > 0
        && before.ends_with(['.', '!', '?', '…'])
        && found.end() + 1 >= line.trim_end().len())
    .then_some(found.start())
}

/// If an attribution starts at line `i`, the index of its last line.
pub(super) fn attribution_at(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines.get(i)?;
    if DATED_ADDRESS_LINE.is_match(line.trim()) && next_text_is_quoted(lines, i) {
        return Some(i);
    }
    let last_possible = (i + MAX_ATTRIBUTION_LINES).min(lines.len());
    for last in i..last_possible {
        if !window_continues(lines, last) && last > i {
            return None;
        }
        if is_attribution(lines, i, last) {
            // A shorter attribution ending on the same line starts later: the lines above
            // it are the writer's own.
            let starts_later = lines
                .iter()
                .enumerate()
                .take(last + 1)
                .skip(i + 1)
                .any(|(later, line)| opens_strongly(line) && is_attribution(lines, later, last));
            return (!starts_later).then_some(last);
        }
    }
    None
}

/// Line `last` can be the next line of an attribution wrapped over several lines.
fn window_continues(lines: &[&str], last: usize) -> bool {
    let Some(&line) = lines.get(last).filter(|l| !l.trim().is_empty()) else {
        return false;
    };
    let above = last.checked_sub(1).and_then(|a| lines.get(a));
    !is_quoted(line)
        || (QUOTED_VERB_LINE.is_match(line.trim()) && above.is_some_and(|a| opens_angle(a)))
}

/// Lines `first..=last`, joined, read as a client's attribution line.
fn is_attribution(lines: &[&str], first: usize, last: usize) -> bool {
    let Some(window) = lines.get(first..=last) else {
        return false;
    };
    let start = window.first().map_or("", |l| l.trim());
    if start.starts_with(['<', '(', '[']) || closes_before_opening(start) {
        // The tail of an address wrapped from the line above.
        return false;
    }
    if is_quoted(start) || (first < last && !plausible_first_line(start)) {
        return false;
    }
    if (first + 1..=last).any(|l| !window_continues(lines, l)) {
        return false;
    }
    if window.iter().map(|l| l.len()).sum::<usize>() > MAX_ATTRIBUTION_BYTES {
        return false;
    }
    let joined = window
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ");
    if joined.chars().count() > 400 || !joined.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    let opens = OPENS_ATTRIBUTION.is_match(&joined);
    let has_address = ADDRESS.is_match(&joined);
    let dated = DATED.is_match(&joined);
    if VERB_AT_END.is_match(&joined) {
        return opens || has_address || dated;
    }
    if VERB_INSIDE.is_match(&joined) {
        return opens || has_address;
    }
    // By structure, in any language: a dated line with the sender's address, ending in a
    // colon, right above the quote (Apple Mail's "Wiadomość napisana przez … w dniu …, o
    // godz. …:").
    (ADDRESS_AT_END.is_match(&joined) && dated)
        || (dated && has_address && joined.ends_with(':') && next_text_is_quoted(lines, last))
}

/// A first line of a wrapped attribution: an opener, an address, or a date near its start.
fn plausible_first_line(line: &str) -> bool {
    OPENS_ATTRIBUTION.is_match(line)
        || line.contains('@')
        || line.chars().take(12).any(|c| c.is_ascii_digit())
}

/// A line that can only be the first of an attribution: an opener word, a leading date,
/// an address, or a weekday before the date ("пн, 16 нояб.", "Wednesday, 17 November").
fn opens_strongly(line: &str) -> bool {
    let line = line.trim();
    OPENS_ATTRIBUTION.is_match(line)
        || line.starts_with(|c: char| c.is_ascii_digit())
        || line.contains('@')
        || WEEKDAY_START.is_match(line)
}

fn closes_before_opening(line: &str) -> bool {
    match (line.find('>'), line.find('<')) {
        (Some(close), Some(open)) => close < open,
        (Some(_), None) => true,
        _ => false,
    }
}

/// An address left open at the end of the line ("Name <").
fn opens_angle(line: &str) -> bool {
    line.rfind('<') > line.rfind('>')
}

fn next_text_is_quoted(lines: &[&str], i: usize) -> bool {
    lines
        .iter()
        .skip(i + 1)
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| is_quoted(l))
}
