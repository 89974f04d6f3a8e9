//! What an agent (or customer) actually wrote in a reply: the text above the quoted
//! history and the signature, whatever client wrote it (Gmail, Outlook in English and
//! Russian, Apple Mail, Thunderbird, mobile clients).

use std::sync::LazyLock;

use regex::Regex;

/// A line that starts the quoted history.
static HISTORY_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)^\s*(
            -{2,}\s*(original\s+message|forwarded\s+message|исходное\s+сообщение|пересылаемое\s+сообщение|вихідне\s+повідомлення|oryginalna\s+wiadomość|ursprüngliche\s+nachricht)\s*-{2,}
          | _{10,}
          | (from|от|від|od|von|de)\s*:\s*.+   # Outlook header block, checked with the next lines
          | begin\s+forwarded\s+message:
        )\s*$",
    )
    .expect("history pattern is valid")
});

/// An attribution line such as "On Mon, 16 Nov 2026 at 09:12, Alice <a@b> wrote:".
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)(
            \b(wrote|writes|a\s+écrit|schrieb|scrisse|escribió|napisał\(a\)|napisał|napisała|пишет|написал\(а\)|написал|написала|пише|написав|написала)\s*:\s*$
          | \d{1,2}:\d{2}.*<[^>]+@[^>]+>\s*:\s*$
          | ^\s*(am|on|le|el|il)\s.*\b(schrieb|wrote|a\s+écrit|escribió|scrisse)\b.*:\s*$
        )",
    )
    .expect("attribution pattern is valid")
});

/// Lines that close a message from a phone client.
static DEVICE_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(sent\s+from\s+my\s+\S+|get\s+outlook\s+for\s+\S+|отправлено\s+с\s+\S+|надіслано\s+з\s+\S+|wysłane\s+z\s+\S+|von\s+meinem\s+\S+\s+gesendet)",
    )
    .expect("device signature pattern is valid")
});

/// The new text of a reply, without quoted history, signature or trailing blank lines.
pub fn visible_text(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "--" || trimmed == "-- " || line.starts_with("-- ") && line.trim() == "--" {
            end = i;
            break;
        }
        if DEVICE_SIGNATURE.is_match(line) {
            end = i;
            break;
        }
        if ATTRIBUTION.is_match(trimmed) && !trimmed.starts_with('>') {
            // An attribution wrapped over two lines starts on the previous one.
            end = if i > 0 && wraps_into(lines[i - 1]) {
                i - 1
            } else {
                i
            };
            break;
        }
        if HISTORY_START.is_match(trimmed) && starts_history(&lines[i..]) {
            end = i;
            break;
        }
        if trimmed.starts_with('>') && only_quotes_follow(&lines[i..]) {
            end = i;
            break;
        }
    }
    let kept: Vec<&str> = lines[..end].to_vec();
    let text = kept.join("\n");
    text.trim_matches(|c: char| c == '\n' || c == '\r' || c == ' ')
        .to_string()
}

/// "On Mon, 16 Nov 2026 at 09:12, Alice Martin" + next line "<alice@x> wrote:".
fn wraps_into(previous: &str) -> bool {
    let p = previous.trim().to_lowercase();
    !p.is_empty()
        && (p.starts_with("on ")
            || p.starts_with("am ")
            || p.starts_with("le ")
            || p.starts_with("w dniu"))
        && !p.ends_with('.')
}

/// A separator or an Outlook `From:` line counts only when a header block follows it.
fn starts_history(lines: &[&str]) -> bool {
    let first = lines[0].trim().to_lowercase();
    let header_like = |l: &str| {
        let l = l.trim().to_lowercase();
        [
            "sent:",
            "to:",
            "subject:",
            "date:",
            "cc:",
            "отправлено:",
            "кому:",
            "тема:",
            "дата:",
            "надіслано:",
            "wysłano:",
            "do:",
            "temat:",
            "gesendet:",
            "an:",
            "betreff:",
            "from:",
            "от:",
            "від:",
            "od:",
            "von:",
        ]
        .iter()
        .any(|h| l.starts_with(h))
    };
    let is_from = ["from", "от", "від", "od", "von", "de"]
        .iter()
        .any(|w| first.starts_with(w) && first[w.len()..].trim_start().starts_with(':'));
    if !is_from {
        return true;
    }
    lines
        .iter()
        .skip(1)
        .take(4)
        .filter(|l| header_like(l))
        .count()
        >= 2
}

/// True when from here on there are only quoted, blank or attribution lines.
fn only_quotes_follow(lines: &[&str]) -> bool {
    lines.iter().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('>')
    })
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
}
