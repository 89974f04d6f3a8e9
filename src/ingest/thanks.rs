//! "Thanks, that solved it!" on an answered ticket is no new request. The rule errs towards
//! a follow-up: a missed question costs a customer more than an extra deadline. A text is a
//! thank-you only when it is short, asks nothing (no question mark), says thanks or "it
//! works" in one of the desk's languages, and has no word that turns it into more: a
//! negation, a "but", a "still", a request, a question word, a problem.

/// Longer texts carry more than thanks.
const MAX_WORDS: usize = 25;
const MAX_CHARS: usize = 300;

/// Words and stems of thanks and confirmation (EN, RU, UK, PL, DE, and the common FR/ES/IT).
const THANKS: &[&str] = &[
    "thank",
    "thanks",
    "thx",
    "ty",
    "cheers",
    "appreciate",
    "appreciated",
    "solved",
    "fixed",
    "resolved",
    "works",
    "working",
    "perfect",
    "great",
    "awesome",
    "brilliant",
    "спасибо",
    "спасиб",
    "благодарю",
    "благодарим",
    "работает",
    "заработало",
    "помогло",
    "отлично",
    "супер",
    "дякую",
    "дякуємо",
    "спасибі",
    "працює",
    "запрацювало",
    "допомогло",
    "чудово",
    "dziękuję",
    "dziękujemy",
    "dzięki",
    "działa",
    "zadziałało",
    "pomogło",
    "świetnie",
    "super",
    "danke",
    "dank",
    "passt",
    "funktioniert",
    "klappt",
    "prima",
    "merci",
    "gracias",
    "grazie",
];

/// Words that make a short text more than thanks, whatever else it says.
const MORE: &[&str] = &[
    // English
    "but",
    "however",
    "although",
    "though",
    "still",
    "not",
    "no",
    "never",
    "nothing",
    "don't",
    "doesn't",
    "didn't",
    "can't",
    "cannot",
    "won't",
    "isn't",
    "aren't",
    "wasn't",
    "again",
    "another",
    "also",
    "problem",
    "problems",
    "issue",
    "issues",
    "error",
    "errors",
    "fail",
    "fails",
    "failed",
    "wrong",
    "broken",
    "help",
    "please",
    "pls",
    "need",
    "needs",
    "want",
    "could",
    "would",
    "can",
    "when",
    "why",
    "how",
    "what",
    "where",
    "which",
    "who",
    "only",
    "except",
    "unfortunately",
    "if",
    // Russian
    "но",
    "однако",
    "не",
    "нет",
    "ни",
    "ещё",
    "еще",
    "снова",
    "опять",
    "помогите",
    "пожалуйста",
    "нужно",
    "надо",
    "можно",
    "когда",
    "почему",
    "как",
    "что",
    "где",
    "только",
    "если",
    "к сожалению",
    // Ukrainian
    "але",
    "проте",
    "ні",
    "ще",
    "знову",
    "будь",
    "потрібно",
    "треба",
    "можна",
    "коли",
    "чому",
    "як",
    "що",
    "де",
    "тільки",
    "якщо",
    "на жаль",
    // Polish
    "ale",
    "jednak",
    "nie",
    "jeszcze",
    "znowu",
    "proszę",
    "potrzebuję",
    "można",
    "kiedy",
    "dlaczego",
    "jak",
    "co",
    "gdzie",
    "tylko",
    "jeśli",
    "niestety",
    // German
    "aber",
    "jedoch",
    "nicht",
    "kein",
    "keine",
    "noch",
    "wieder",
    "bitte",
    "brauche",
    "können",
    "könnten",
    "kann",
    "wann",
    "warum",
    "wie",
    "was",
    "wo",
    "nur",
    "wenn",
    "leider",
];

/// Stems of problem words, matched at the start of a word ("проблема", "ошибки", "błędy").
const MORE_STEMS: &[&str] = &[
    "проблем",
    "ошибк",
    "помилк",
    "неправ",
    "problem",
    "błęd",
    "błąd",
    "fehler",
    "falsch",
];

/// Is `visible` (the new text of a customer's message, quotes and signature gone) only a
/// thank-you or a confirmation?
pub fn is_only_thanks(visible: &str) -> bool {
    let text = visible.trim();
    if text.is_empty() || text.chars().count() > MAX_CHARS {
        return false;
    }
    if text.contains(['?', '？', '¿']) {
        return false;
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() || words.len() > MAX_WORDS {
        return false;
    }
    let more = words.iter().any(|w| {
        let w = w.replace('’', "'");
        MORE.contains(&w.as_str())
            || w.ends_with("n't")
            || MORE_STEMS.iter().any(|stem| w.starts_with(stem))
    }) || MORE
        .iter()
        .any(|phrase| phrase.contains(' ') && lower.contains(phrase));
    let thanks = words
        .iter()
        .any(|w| THANKS.iter().any(|t| w.starts_with(t)));
    thanks && !more
}

#[cfg(test)]
mod tests {
    use super::is_only_thanks;

    #[test]
    fn thanks_and_confirmations_in_the_desks_languages() {
        for text in [
            "Thanks!",
            "Thanks, that solved it!",
            "Thank you so much, works perfectly now.\n\nBest regards,\nAnna",
            "Спасибо, всё работает",
            "Спасибо большое!",
            "Дякую",
            "Дякую, все працює!",
            "Dziękuję, działa.",
            "Danke, passt",
            "It works",
        ] {
            assert!(is_only_thanks(text), "{text}");
        }
    }

    #[test]
    fn anything_more_stays_a_follow_up() {
        for text in [
            "Thanks, but it still fails.",
            "Thanks! Can you also send the invoice?",
            "Thank you. Please close my account.",
            "Thanks, one more thing: the export does not work.",
            "Спасибо, но ошибка осталась",
            "Спасибо. Когда придёт посылка",
            "Дякую, але не працює",
            "Dziękuję, ale nadal nie działa",
            "Danke, aber es geht nicht",
            "Danke. Bitte schicken Sie mir die Rechnung",
            // "wieder" (again) errs towards a follow-up, as "again" does.
            "Vielen Dank, funktioniert wieder",
            "",
            "Thanks for the quick answer. I have another order, number 5531, that arrived damaged and I would like a replacement sent to my office address in Berlin as soon as possible.",
        ] {
            assert!(!is_only_thanks(text), "{text}");
        }
    }
}
