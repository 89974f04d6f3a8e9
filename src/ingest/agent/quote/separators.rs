//! Where nothing the writer typed follows: a signature delimiter, a device footer, an
//! "Original Message" separator or a quoted message's header block.

use std::sync::LazyLock;

use regex::Regex;

use super::next_non_blank;

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
pub(super) static RULE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:_{2,}|-{3,}|={3,}|\*(?:\s*\*){2,})\s*$").expect("valid pattern")
});

/// A caption between dashes ("-----Oprindelig meddelelse-----", "-------- Thư gốc
/// --------"): in any language, the separator of a quoted message when a header block
/// follows it.
static DASHED_CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*-{2,}\s*[^-\s][^-]{0,48}?\s*-{2,}\s*$").expect("valid pattern")
});

/// How far below its first field a header block may still have fields.
const HEADER_BLOCK_LINES: usize = 12;

/// A signature delimiter, a device footer, an "Original Message" separator or a header
/// block: nothing the writer typed follows.
pub(super) fn ends_text(lines: &[&str], i: usize) -> bool {
    let Some(trimmed) = lines.get(i).map(|l| l.trim()) else {
        return false;
    };
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
    if !lines.get(i).is_some_and(|l| HEADER_FIELD.is_match(l)) {
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
