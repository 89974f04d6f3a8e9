//! Step 3c: the customer's language, for the reply template: Content-Language when the
//! client set it, else detected from the text.

use std::sync::LazyLock;

use whatlang::{Detector, Lang};

/// A two-letter code where one exists (ISO 639-1), else the three-letter one.
pub fn detect(content_language: Option<&str>, subject: &str, text: &str) -> Option<String> {
    if let Some(tag) = content_language {
        let primary = tag.split([',', '-', '_']).next().unwrap_or("").trim();
        if (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic()) {
            return Some(primary.to_ascii_lowercase());
        }
    }
    // The first lines carry the customer's own words; quoted history and signatures follow.
    let mut sample = String::with_capacity(600);
    sample.push_str(subject);
    sample.push('\n');
    for line in text.lines().filter(|l| !l.trim_start().starts_with('>')) {
        if line.trim() == "--" || sample.len() > 500 {
            break;
        }
        sample.push_str(line);
        sample.push('\n');
    }
    if let Some(code) = cyrillic_by_letters(&sample) {
        return Some(code.into());
    }
    let info = DETECTOR.detect(&sample)?;
    // Short texts are often guessed wrong; better no language than a wrong one.
    if !info.is_reliable() && info.confidence() < 0.3 {
        return None;
    }
    Some(code(info.lang()))
}

/// Languages support mail is usually written in; a smaller candidate set makes whatlang far
/// more certain on short messages.
static DETECTOR: LazyLock<Detector> = LazyLock::new(|| {
    Detector::with_allowlist(vec![
        Lang::Eng,
        Lang::Rus,
        Lang::Ukr,
        Lang::Pol,
        Lang::Deu,
        Lang::Fra,
        Lang::Spa,
        Lang::Ita,
        Lang::Por,
        Lang::Nld,
        Lang::Ces,
        Lang::Slk,
        Lang::Ron,
        Lang::Hun,
        Lang::Tur,
        Lang::Swe,
        Lang::Dan,
        Lang::Nob,
        Lang::Fin,
        Lang::Bul,
        Lang::Bel,
        Lang::Lit,
        Lang::Lav,
        Lang::Est,
        Lang::Ell,
        Lang::Heb,
        Lang::Ara,
        Lang::Jpn,
        Lang::Cmn,
        Lang::Kor,
        Lang::Hrv,
        Lang::Srp,
        Lang::Slv,
    ])
});

/// Russian and Ukrainian share most trigrams; letters only one of them uses settle it.
fn cyrillic_by_letters(text: &str) -> Option<&'static str> {
    let (mut russian, mut ukrainian, mut cyrillic) = (0, 0, 0);
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'ы' | 'э' | 'ъ' | 'ё' => russian += 1,
            'і' | 'ї' | 'є' | 'ґ' => ukrainian += 1,
            'а'..='я' => cyrillic += 1,
            _ => {}
        }
    }
    if cyrillic < 10 {
        return None;
    }
    match (russian, ukrainian) {
        (r, 0) if r > 0 => Some("ru"),
        (0, u) if u > 0 => Some("uk"),
        (r, u) if r >= 2 * u => Some("ru"),
        (r, u) if u >= 2 * r => Some("uk"),
        _ => None,
    }
}

fn code(lang: Lang) -> String {
    let two = match lang {
        Lang::Eng => "en",
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Pol => "pl",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        Lang::Ita => "it",
        Lang::Por => "pt",
        Lang::Nld => "nl",
        Lang::Ces => "cs",
        Lang::Slk => "sk",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Bul => "bg",
        Lang::Bel => "be",
        Lang::Ron => "ro",
        Lang::Hun => "hu",
        Lang::Fin => "fi",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "nb",
        Lang::Lit => "lt",
        Lang::Lav => "lv",
        Lang::Est => "et",
        Lang::Tur => "tr",
        Lang::Ell => "el",
        Lang::Heb => "he",
        Lang::Ara => "ar",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Cmn => "zh",
        Lang::Kat => "ka",
        Lang::Hye => "hy",
        Lang::Uzb => "uz",
        Lang::Aze => "az",
        other => return other.code().to_string(),
    };
    two.to_string()
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn content_language_wins() {
        assert_eq!(
            detect(Some("de-DE"), "Hello", "Hello there").as_deref(),
            Some("de")
        );
    }

    #[test]
    fn detects_common_support_languages() {
        let cases = [
            (
                "en",
                "Cannot log in",
                "Hello, I cannot log in to my account since yesterday. I get an error every time I try.",
            ),
            (
                "ru",
                "Оплата",
                "Здравствуйте! Не могу оплатить счёт за ноябрь, карта отклоняется. Что делать?",
            ),
            (
                "uk",
                "Рахунок",
                "Добрий день! Прошу надіслати рахунок за листопад. Дякую, чекаю на відповідь.",
            ),
            (
                "pl",
                "Zamówienie",
                "Dzień dobry, moje zamówienie nr 4471 nie dotarło. Proszę o pomoc w tej sprawie.",
            ),
            (
                "de",
                "Lieferung",
                "Guten Tag, wann wird meine Bestellung geliefert? Vielen Dank für Ihre Hilfe.",
            ),
            (
                "ja",
                "注文",
                "お世話になっております。注文の状況を教えてください。",
            ),
        ];
        for (want, subject, text) in cases {
            assert_eq!(detect(None, subject, text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn quoted_text_does_not_decide() {
        let text = "Danke!\n\n> Hello, your order has shipped and will arrive tomorrow morning.\n> Best regards, the support team of the shop";
        assert_ne!(detect(None, "", text).as_deref(), Some("en"));
    }
}
