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

use std::sync::LazyLock;

use regex::Regex;

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
static INLINE_ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:On|Am|Le|El|Il giorno|W dniu)\s[^\n]{{0,160}}?\d[^\n]{{0,160}}?\s(?:{WROTE})\s*:"
    ))
    .expect("valid pattern")
});

/// Separators that start a quoted or forwarded message in every client's language.
static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)^\s*(?:
            -{2,}\s*(?:original\s+message|reply\s+message|forwarded\s+message|message\s+d'origine
              |message\s+transféré|ursprüngliche\s+nachricht|weitergeleitete\s+nachricht
              |oprindelig\s+besked|mensaje\s+original|mensagem\s+original|messaggio\s+originale
              |oorspronkelijk\s+bericht|originalmeddelande|alkuperäinen\s+viesti
              |исходное\s+сообщение|пересылаемое\s+сообщение|переслане\s+повідомлення
              |оригінальне\s+повідомлення|вихідне\s+повідомлення|oryginalna\s+wiadomość
              |przekazana\s+wiadomość|wiadomość\s+przekazana)\s*-{2,}
          | (?:begin\s+forwarded\s+message|anfang\s+der\s+weitergeleiteten\s+nachricht
              |début\s+du\s+message\s+réexpédié|начало\s+переадресованного\s+сообщения
              |початок\s+пересланого\s+повідомлення)\s*:
        )\s*$",
    )
    .expect("valid pattern")
});

/// One field of a quoted message's header block, as Outlook, OWA, Outlook for Mac, Windows
/// Mail and Yahoo print it (also bold, "**From:**", after HTML-to-text conversion).
static HEADER_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)^\s*[*_]*\s*(?:
            from|sent|date|to|cc|bcc|subject|reply-to
          | von|gesendet|an|betreff|datum
          | de|envoyé(?:\s+le)?|à|a|objet|sujet|copie\s+à|message\s+du
          | enviado|enviada\s+em|para|asunto|assunto|fecha|data
          | van|verzonden|aan|onderwerp
          | fra|sendt|til|emne|dato|från|skickat|till|ämne
          | od|wysłano|do|temat|dw
          | от|отправлено|кому|тема|дата|копия
          | від|надіслано|копія
        )\s*[*_]*\s*:",
    )
    .expect("valid pattern")
});

/// The field that names the quoted message's sender; a header block has one.
static SENDER_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*[*_]*\s*(?:from|von|de|van|fra|från|od|от|від)\s*[*_]*\s*:")
        .expect("valid pattern")
});

/// Footers that mobile and desktop clients add under the text, in their own languages.
static DEVICE_FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)^(?:
            envoyé\s+(?:de|depuis)\s+(?:mon|ma)\s+\S.*
          | enviado\s+(?:desde|de)\s+(?:mi|meu)\s+\S.*
          | von\s+meinem\s+\S.*\s+gesendet.*
          | gesendet\s+von\s+(?:outlook|meinem|mail|samsung|iphone|ipad|android)\b.*
          | (?:verzonden|verstuurd)\s+(?:vanuit|vanaf|met|van)\s+\S.*
          | (?:отправлено|послано)\s+(?:с|из|через)\s+\S.*
          | надіслано\s+(?:з|із|через)\s+\S.*
          | (?:wysłane|wysłano)\s+z\s+\S.*
          | gesendet\s+(?:mit|über)\s+(?:der|dem|meinem|einem)?\s*\S.*(?:app|mail|iphone|ipad|android|outlook)
          | inviato\s+da\s+(?:il\s+mio\s+)?\S.*
          | (?:skickat|skickades)\s+från\s+(?:min\s+)?\S.*
          | sendt\s+fra\s+(?:min\s+)?\S.*
          | odesláno\s+z\s+\S.*
          | enviado\s+do\s+(?:meu\s+)?\S.*
        )$",
    )
    .expect("valid pattern")
});

/// Outlook mobile's "Get Outlook for iOS" in any language ("Outlook für iOS beziehen",
/// "Получить Outlook для Android"), with or without its link.
static OUTLOOK_MOBILE_FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[^<>]{0,40}\boutlook\b[^<>]{0,40}\b(?:ios|android)[^<>]{0,40}(?:<[^>]*>)?$")
        .expect("valid pattern")
});

/// English "Sent from …"/"Sent with …": a footer when what follows names a device or an app.
static SENT_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^sent\s+(?:from|with|via|using)\s+(.+)$").expect("valid pattern")
});

/// Words that make "Sent from my …" a device footer even in lower case.
static DEVICE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:mobile|phone|smartphone|cell|device|tablet|mail|mailbox)\b")
        .expect("valid pattern")
});

/// At most this many words name the device in "Sent from my …".
const DEVICE_NAME_WORDS: usize = 7;

/// A line that only draws a rule: left behind above a cut header block.
static RULE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:_{2,}|-{3,}|={3,}|\*(?:\s*\*){2,})\s*$").expect("valid pattern")
});

/// A caption between dashes ("-----Oprindelig meddelelse-----", "-------- Thư gốc
/// --------"): in any language, the separator of a quoted message when a header block
/// follows it.
static DASHED_CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*-{2,}\s*[^-\s][^-]{0,48}?\s*-{2,}\s*$").expect("valid pattern")
});

/// A quoted line shorter than this was not broken by the quoting client's line wrap.
const WRAP_WIDTH: usize = 60;

/// How many lines an attribution may be wrapped over.
const MAX_ATTRIBUTION_LINES: usize = 4;

/// Longer lines are text, not an attribution (400 characters of up to 4 bytes).
const MAX_ATTRIBUTION_BYTES: usize = 1600;

/// How far below its first field a header block may still have fields.
const HEADER_BLOCK_LINES: usize = 12;

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
        kept.push(lines[i].get(..at).unwrap_or_default());
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
    while i < lines.len() {
        let line = lines[i];
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
            cut.attribution_lines[i..=last].fill(true);
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

/// Where an attribution starts inside a line after the writer's own sentence ("Works
/// now, thanks! On Tue, … Bob <b@x> wrote:").
fn attribution_after_sentence(line: &str) -> Option<usize> {
    let found = INLINE_ATTRIBUTION.find(line)?;
    let before = line.get(..found.start())?.trim_end();
    (found.start() > 0
        && before.ends_with(['.', '!', '?', '…'])
        && found.end() + 1 >= line.trim_end().len())
    .then_some(found.start())
}

/// A signature delimiter, a device footer, an "Original Message" separator or a header
/// block: nothing the writer typed follows.
fn ends_text(lines: &[&str], i: usize) -> bool {
    let trimmed = lines[i].trim();
    trimmed == "--"
        || is_device_footer(trimmed)
        || ORIGINAL_MESSAGE.is_match(trimmed)
        || starts_header_block(lines, i)
        || (DASHED_CAPTION.is_match(trimmed)
            && next_non_blank(lines, i + 1).is_some_and(|next| starts_header_block(lines, next)))
}

/// "Sent from my iPhone", "Отправлено из мобильной Почты Mail.ru", "Get Outlook for iOS"…
/// but not "Sent from my desk, is much easier than my mobile phone."
fn is_device_footer(trimmed: &str) -> bool {
    if DEVICE_FOOTER.is_match(trimmed) || OUTLOOK_MOBILE_FOOTER.is_match(trimmed) {
        return true;
    }
    let Some(rest) = SENT_FROM.captures(trimmed).and_then(|c| c.get(1)) else {
        return false;
    };
    // The device's name ends where a sentence or a link goes on.
    let name = rest
        .as_str()
        .split([',', ';', '<', '('])
        .next()
        .unwrap_or_default()
        .split(". ")
        .next()
        .unwrap_or_default();
    let words: Vec<&str> = name.split_whitespace().collect();
    words.len() <= DEVICE_NAME_WORDS
        && (DEVICE_WORD.is_match(name)
            || words
                .iter()
                .any(|w| w.chars().any(|c| c.is_uppercase() || c.is_ascii_digit())))
}

/// `From:` (in any language) with at least two more fields close below: Outlook puts
/// blank lines between them when it converts HTML, and long values wrap onto a second line.
fn starts_header_block(lines: &[&str], i: usize) -> bool {
    if !HEADER_FIELD.is_match(lines[i]) {
        return false;
    }
    let mut fields = 0;
    let mut has_sender = false;
    let mut other_lines = 0;
    for line in lines.iter().skip(i).take(HEADER_BLOCK_LINES) {
        if HEADER_FIELD.is_match(line) {
            fields += 1;
            has_sender |= SENDER_FIELD.is_match(line);
        } else if !line.trim().is_empty() {
            other_lines += 1;
            if other_lines > 1 {
                break;
            }
        }
    }
    fields >= 3 && has_sender
}

/// If an attribution starts at line `i`, the index of its last line.
fn attribution_at(lines: &[&str], i: usize) -> Option<usize> {
    if DATED_ADDRESS_LINE.is_match(lines[i].trim()) && next_text_is_quoted(lines, i) {
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
            let starts_later = (i + 1..=last)
                .any(|later| opens_strongly(lines[later]) && is_attribution(lines, later, last));
            return (!starts_later).then_some(last);
        }
    }
    None
}

/// Line `last` can be the next line of an attribution wrapped over several lines.
fn window_continues(lines: &[&str], last: usize) -> bool {
    let line = lines[last];
    if line.trim().is_empty() {
        return false;
    }
    !is_quoted(line)
        || (last > 0 && QUOTED_VERB_LINE.is_match(line.trim()) && opens_angle(lines[last - 1]))
}

/// Lines `first..=last`, joined, read as a client's attribution line.
fn is_attribution(lines: &[&str], first: usize, last: usize) -> bool {
    let start = lines[first].trim();
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
    if lines[first..=last].iter().map(|l| l.len()).sum::<usize>() > MAX_ATTRIBUTION_BYTES {
        return false;
    }
    let joined = lines[first..=last]
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

/// After the attribution ending at `last`: only history (unquoted as HTML-converted clients
/// leave it, or a quote followed by nothing the writer typed)?
fn history_follows(lines: &[&str], last: usize) -> bool {
    let Some(first) = next_non_blank(lines, last + 1) else {
        return true;
    };
    if !is_quoted(lines[first]) {
        return true;
    }
    let Some(after) = next_non_blank(lines, quote_region_end(lines, first)) else {
        return true;
    };
    let trimmed = lines[after].trim();
    RULE_LINE.is_match(trimmed) || ends_text(lines, after) || attribution_at(lines, after).is_some()
}

fn next_non_blank(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&i| !lines[i].trim().is_empty())
}

/// The index just past the quote starting at `first`: quoted lines, blank lines between
/// them, and lines the quoting client's wrap broke out of the quote.
fn quote_region_end(lines: &[&str], first: usize) -> usize {
    let mut i = first;
    while i < lines.len() {
        if is_quoted(lines[i]) || is_wrapped_quote(lines, i) {
            i += 1;
        } else if lines[i].trim().is_empty() {
            match next_non_blank(lines, i) {
                Some(next) if is_quoted(lines[next]) => i = next,
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
    i > 0
        && i + 1 < lines.len()
        && !lines[i].trim().is_empty()
        && !is_quoted(lines[i])
        && is_quoted(lines[i - 1])
        && is_quoted(lines[i + 1])
        && (lines[i - 1].chars().count() >= WRAP_WIDTH || is_bare_link(lines[i]))
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
    let quoted: Vec<bool> = (0..lines.len())
        .map(|i| is_quoted(lines[i]) || is_wrapped_quote(lines, i))
        .collect();
    let is_text = |i: usize| !quoted[i] && !lines[i].trim().is_empty();
    let Some(first_text) = (0..lines.len()).find(|&i| is_text(i)) else {
        return Vec::new();
    };
    let last_text = (0..lines.len())
        .rfind(|&i| is_text(i))
        .unwrap_or(first_text);
    let interleaved = (first_text..last_text).any(|i| quoted[i]);
    let from = if interleaved { 0 } else { first_text };
    lines[from..=last_text].to_vec()
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
    let first = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(lines.len());
    lines[first..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::visible_text;

    #[test]
    fn thunderbird_and_gmail_attributions() {
        let body = "Thanks, that fixed it.\n\nOn 16.11.2026 09:12, Alice Martin wrote:\n> I cannot log in.\n";
        assert_eq!(visible_text(body), "Thanks, that fixed it.");
        let gmail = "Sure, done.\n\nOn Mon, Nov 16, 2026 at 9:12 AM Alice Martin <\nalice@customer.example> wrote:\n\n> I cannot log in.\n";
        assert_eq!(visible_text(gmail), "Sure, done.");
    }

    #[test]
    fn outlook_header_blocks_in_english_and_russian() {
        let en = "We reset it.\n\nBest,\nAnna\n\n________________________________\nFrom: Alice Martin <alice@customer.example>\nSent: Monday, November 16, 2026 9:12 AM\nTo: support@example.com\nSubject: Cannot log in\n\nI cannot log in.";
        assert_eq!(visible_text(en), "We reset it.\n\nBest,\nAnna");
        let ru = "Пароль сброшен.\n\nОт: Иван Петров <ivan@mail.example.ru>\nОтправлено: 16 ноября 2026 г. 9:12\nКому: support@example.com\nТема: Оплата\n\nНе могу оплатить.";
        assert_eq!(visible_text(ru), "Пароль сброшен.");
        let original = "See below.\n\n-----Original Message-----\nFrom: x@y.z\nSent: today\n\nold";
        assert_eq!(visible_text(original), "See below.");
    }

    #[test]
    fn signatures_and_devices() {
        assert_eq!(
            visible_text("Done.\n-- \nAnna Support\n+380 44 000 0000"),
            "Done."
        );
        assert_eq!(
            visible_text("Done.\n\nSent from my iPhone\n\n> old"),
            "Done."
        );
        assert_eq!(visible_text("Готово.\n\nОтправлено с iPhone"), "Готово.");
    }

    #[test]
    fn apple_mail_and_inline_quotes() {
        let apple = "Yes, please.\n\n> On 16 Nov 2026, at 09:12, Support <support@example.com> wrote:\n> \n> Shall we?\n";
        assert_eq!(visible_text(apple), "Yes, please.");
        // Text interleaved with quotes keeps the agent's answers.
        let inline = "> Question one?\nAnswer one.\n> Question two?\nAnswer two.";
        assert_eq!(visible_text(inline), inline);
    }

    #[test]
    fn from_line_in_normal_text_is_kept() {
        let body = "From: the logs I see a timeout.\nPlease check.";
        assert_eq!(visible_text(body), body);
    }

    #[test]
    fn localized_attributions() {
        for line in [
            "16.11.2026 09:12, Иван Петров пишет:",
            "16.11.2026 09:12, Олена Коваль пише:",
            "W dniu 16.11.2026 o 09:12, Paweł Wiśniewski napisał:",
            "Am 16.11.2026 um 09:12 schrieb Jürgen Müller:",
            "Le 16/11/2026 à 09:12, Marie a écrit :",
            "пн, 16 нояб. 2026 г. в 09:12, Alice Martin <alice@customer.example>:",
        ] {
            let body = format!("New text.\n\n{line}\n> old\n");
            assert_eq!(visible_text(&body), "New text.", "{line}");
        }
    }

    #[test]
    fn attributions_without_a_verb() {
        for line in [
            "16.11.2026, 09:12, \"Иван Петров\" <ivan@mail.example.ru>:",
            "Понедельник, 16 ноября 2026, 9:12 +03:00 от Иван Петров <ivan@mail.example.ru>:",
            "2017-11-24 16:32 GMT+01:00 Baptiste <b@crisp.example>:",
        ] {
            let body = format!("Готово.\n\n{line}\n> old\n");
            assert_eq!(visible_text(&body), "Готово.", "{line}");
        }
        let old_gmail =
            "Works now.\n\n2013/7/20 sam via Meta <info@discourse.example>\n\n> Does it persist?";
        assert_eq!(visible_text(old_gmail), "Works now.");
        let zoho =
            "Yes.\n\n---- On Wed, 24 Feb 2021 14:02:50 +0530 john@gmail.example wrote ----\n\nold";
        assert_eq!(visible_text(zoho), "Yes.");
    }

    #[test]
    fn attributions_wrapped_over_lines() {
        let german =
            "Danke.\n\nAm 26.5.2017\num 12:00 schrieb Adam\n<adam@example.com>:\n\n> Hallo";
        assert_eq!(visible_text(german), "Danke.");
        let gmail_fr = "Merci.\n\nLe mer. 29 juin 2022 à 12:32, Rick <rick.sanchez@example.com\n> a écrit :\n\n> Hello";
        assert_eq!(visible_text(gmail_fr), "Merci.");
        // The text line above a one-line attribution stays, dates and all.
        let dated_text = "Call me on 12/11 at 10:00\nOn Mon, Nov 16, 2026 at 9:12 AM Alice <a@customer.example> wrote:\n> Hi";
        assert_eq!(visible_text(dated_text), "Call me on 12/11 at 10:00");
        let customer_wrote = "Customer 5521 wrote:\n> It is broken\n\nWe fixed it.";
        assert_eq!(
            visible_text(customer_wrote),
            customer_wrote,
            "a sentence is not an attribution"
        );
    }

    #[test]
    fn header_blocks_after_html_conversion_and_in_other_languages() {
        let spaced = "Your response here\n\n\nFrom: dev@example.com <dev@example.com>\n\nSent: Sunday, October 5, 2025 7:17 PM\n\nTo: a@example.com\n\nSubject: Re: Where\n\nold";
        assert_eq!(visible_text(spaced), "Your response here");
        let bold = "Kind regards\n\n---\n\n**From:** Zinc <checks@example.com>\n**Sent:** Monday, July 28, 2025 15:45\n**To:** Laura\n**Subject:** Reminder\n\nold";
        assert_eq!(visible_text(bold), "Kind regards");
        let polish = "Zwrot przyjęty.\n\nOd: Paweł <pawel@example.pl>\nWysłano: poniedziałek, 16 listopada 2026 09:12\nDo: support@example.com\nTemat: Zwrot\n\nold";
        assert_eq!(visible_text(polish), "Zwrot przyjęty.");
        let ukrainian = "Доступ відновлено.\n\nВід: Олександр <o@example.ua>\nНадіслано: понеділок, 16 листопада 2026 р. 09:12\nКому: support@example.com\nТема: Доступ\n\nold";
        assert_eq!(visible_text(ukrainian), "Доступ відновлено.");
    }

    #[test]
    fn device_footers_in_many_languages() {
        for footer in [
            "Sent from my Wiko RIDGE FAB 4G",
            "Sent from Mail for Windows 10",
            "Get Outlook for iOS<https://aka.ms/o0ukef>",
            "Outlook für iOS beziehen <https://example.com/download>",
            "Получить Outlook для Android<https://aka.ms/AAb9ysg>",
            "Отправлено из мобильной Почты Mail.ru",
            "Надіслано з iPhone",
            "Wysłane z iPhone'a",
            "Von meinem iPhone gesendet",
            "Envoyé depuis mon iPhone",
            "Verstuurd vanaf mijn iPhone",
        ] {
            let body = format!("Done.\n\n{footer}\n\nFrom: someone quoted");
            assert_eq!(visible_text(&body), "Done.", "{footer}");
        }
        let sentence =
            "Here is another email\n\nSent from my desk, is much easier than my mobile phone.";
        assert_eq!(visible_text(sentence), sentence);
    }

    #[test]
    fn bottom_posted_and_interleaved_answers() {
        let bottom = "On 04/02/2012 06:26 PM, Megan wrote:\n> Hi\nHello";
        assert_eq!(visible_text(bottom), "Hello");
        let interleaved = "Добрый день!\n\n16.11.2026 09:12, Иван пишет:\n> 1. Безнал?\n\nДа.\n\n> 2. Доставка?\n\nЕсть.\n\n-- \nАнна";
        assert_eq!(
            visible_text(interleaved),
            "Добрый день!\n\n> 1. Безнал?\n\nДа.\n\n> 2. Доставка?\n\nЕсть."
        );
        let selected = "Hallo,\n\nAm 13.05.2026 um 09:05 schrieb Vorname:\n> Zitat.\n\nAntwort.";
        assert_eq!(visible_text(selected), "Hallo,\n\n> Zitat.\n\nAntwort.");
    }

    #[test]
    fn what_follows_a_quote_decides_whether_it_is_history() {
        // A signature or a mailing-list footer under the quote is not an answer.
        let signature = "Thanks.\n\nOn Wed, May 25, 2016 at 3:13 PM <n@github.example> wrote:\n> LGTM\n--\nmy signature";
        assert_eq!(visible_text(signature), "Thanks.");
        let footer = "Oh thanks.\n\nOn 01/03/11 7:07 PM, Russell wrote:\n> Hi\n\n__\nriak-users mailing list";
        assert_eq!(visible_text(footer), "Oh thanks.");
        // Gmail on Android breaks long quoted lines without repeating the marker.
        let wrapped = "This is a test\n\nOn Sep 21, 2016 3:18 PM, \"frugal\" <noreply@frugal.example> wrote:\n> Pitchfork occupy vegan pabst hammock. Wayfarers etsy pok pok, kale chips\nbrooklyn four dollar toast.\n> Akeem";
        assert_eq!(visible_text(wrapped), "This is a test");
    }

    #[test]
    fn attribution_glued_to_the_text_by_html_conversion() {
        let glued =
            "FooBarOn 2016-03-25, at 23:01, John Doe <john@doe.example> wrote:Some important email";
        assert_eq!(visible_text(glued), "FooBar");
    }

    #[test]
    fn rules_above_a_cut_go_but_rules_in_the_text_stay() {
        let text = "## Key Points\n----\n\n1. Faster\n\n====\n\nMore.";
        assert_eq!(visible_text(text), text);
        let outlook = "Done.\n\n________________________________\nFrom: A <a@example.com>\nSent: today\nTo: b\nSubject: x";
        assert_eq!(visible_text(outlook), "Done.");
    }
}

#[cfg(test)]
#[path = "quote_structure_tests.rs"]
mod structure_tests;
