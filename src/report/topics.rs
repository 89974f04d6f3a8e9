//! Hot topics: the categories of new tickets and the terms their subjects use most — what a
//! self-service page should answer first (most questions repeat).
//!
//! A subject's terms: the subject without reply/forward prefixes and ticket tags (the same
//! normalisation that threads replies), split into words, without numbers, one-letter words
//! and stop words (English, Russian, Ukrainian, Polish and German lists from the
//! `stop-words` crate, plus the greetings and fillers of support mail). Each ticket counts
//! once per term.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use crate::config::TicketTag;
use crate::ingest::thread::normalize_subject;

use super::{CategoryCount, TermCount, Topics};

/// Languages whose stop words are removed (ISO 639-1, as `stop_words::get` takes them).
const STOP_WORD_LANGUAGES: [&str; 5] = ["en", "ru", "uk", "pl", "de"];

/// Words that carry no topic in a support subject, in those languages: greetings,
/// politeness, and "question/problem/request/help/urgent".
const SUPPORT_FILLERS: &[&str] = &[
    "hello",
    "hi",
    "dear",
    "please",
    "pls",
    "thanks",
    "thank",
    "regards",
    "question",
    "questions",
    "problem",
    "problems",
    "issue",
    "issues",
    "request",
    "help",
    "urgent",
    "asap",
    "inquiry",
    "enquiry",
    "info",
    "cannot",
    "unable",
    "fwd",
    "fw",
    "re",
    "здравствуйте",
    "добрый",
    "день",
    "вопрос",
    "вопросы",
    "проблема",
    "проблемы",
    "помогите",
    "помощь",
    "пожалуйста",
    "срочно",
    "заявка",
    "спасибо",
    "привет",
    "добрий",
    "доброго",
    "питання",
    "проблеми",
    "допоможіть",
    "допомога",
    "будь",
    "ласка",
    "терміново",
    "дякую",
    "вітаю",
    "щодо",
    "dzień",
    "dobry",
    "pytanie",
    "pytania",
    "problem",
    "problemy",
    "pomoc",
    "proszę",
    "pilne",
    "dziękuję",
    "witam",
    "zapytanie",
    "hallo",
    "frage",
    "fragen",
    "bitte",
    "dringend",
    "danke",
    "anfrage",
];

static STOP_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    STOP_WORD_LANGUAGES
        .iter()
        .flat_map(|language| stop_words::get(language).iter().copied())
        .chain(SUPPORT_FILLERS.iter().copied())
        .collect()
});

/// At most this many terms are taken from one subject: a subject of millions of distinct
/// words (hostile mail) counts like a long one, not like millions of tickets.
pub const MAX_TERMS_PER_SUBJECT: usize = 32;

/// Longer words are not topics (base64, URLs, hashes) and are left out.
pub const MAX_TERM_CHARS: usize = 40;

/// The distinct terms of one subject, in order of appearance, at most
/// [`MAX_TERMS_PER_SUBJECT`] of them, none longer than [`MAX_TERM_CHARS`].
pub fn subject_terms(subject: &str, tag: &TicketTag) -> Vec<String> {
    let normalized = normalize_subject(subject, tag);
    let mut terms: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for word in normalized.split(|c: char| !(c.is_alphanumeric() || is_apostrophe(c))) {
        if terms.len() == MAX_TERMS_PER_SUBJECT {
            break;
        }
        let word = word.trim_matches(is_apostrophe);
        let length = word.chars().take(MAX_TERM_CHARS + 1).count();
        if !(2..=MAX_TERM_CHARS).contains(&length) || !word.chars().any(char::is_alphabetic) {
            continue;
        }
        let word: String = word
            .chars()
            .map(|c| if is_apostrophe(c) { '\'' } else { c })
            .collect();
        if STOP_WORDS.contains(word.as_str()) || !seen.insert(word.clone()) {
            continue;
        }
        terms.push(word);
    }
    terms
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ')
}

/// The `top` most frequent categories and subject terms of these tickets
/// (`(category, subject)`), ties in alphabetical order.
pub fn topics<'a>(
    tickets: impl Iterator<Item = (Option<&'a str>, &'a str)>,
    tag: &TicketTag,
    top: usize,
) -> Topics {
    let mut categories: BTreeMap<Option<String>, u64> = BTreeMap::new();
    let mut terms: BTreeMap<String, u64> = BTreeMap::new();
    for (category, subject) in tickets {
        *categories.entry(category.map(str::to_string)).or_default() += 1;
        for term in subject_terms(subject, tag) {
            *terms.entry(term).or_default() += 1;
        }
    }
    let mut categories: Vec<CategoryCount> = categories
        .into_iter()
        .map(|(category, count)| CategoryCount { category, count })
        .collect();
    // Stable sort: equal counts stay in the map's (alphabetical) order.
    categories.sort_by_key(|c| std::cmp::Reverse(c.count));
    categories.truncate(top);
    let mut terms: Vec<TermCount> = terms
        .into_iter()
        .map(|(term, count)| TermCount { term, count })
        .collect();
    terms.sort_by_key(|t| std::cmp::Reverse(t.count));
    terms.truncate(top);
    Topics { categories, terms }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag() -> TicketTag {
        TicketTag::parse("[#{ref}]").unwrap()
    }

    #[test]
    fn terms_without_prefixes_tags_numbers_and_stop_words() {
        assert_eq!(
            subject_terms(
                "Re: Fwd: [#1042] Where is my invoice for order 4471?",
                &tag()
            ),
            ["invoice", "order"]
        );
        assert_eq!(
            subject_terms("Ответ: Не проходит оплата счёта", &tag()),
            ["проходит", "оплата", "счёта"]
        );
        assert_eq!(subject_terms("Питання щодо рахунку", &tag()), ["рахунку"]);
        assert_eq!(
            subject_terms("Odp: Zamówienie nie dotarło", &tag()),
            ["zamówienie", "dotarło"]
        );
        assert_eq!(
            subject_terms("AW: Frage zur Lieferung – dringend", &tag()),
            ["lieferung"]
        );
        assert_eq!(
            subject_terms("Hello, please help!!! URGENT problem", &tag()),
            Vec::<String>::new()
        );
        assert_eq!(
            subject_terms("Invoice, invoice and INVOICE", &tag()),
            ["invoice"]
        );
        assert_eq!(
            subject_terms("Не можу зайти в кабінет п’ять разів", &tag())
                .iter()
                .filter(|t| t.contains('\''))
                .collect::<Vec<_>>(),
            ["п'ять"]
        );
    }

    #[test]
    fn hostile_subjects_give_plain_terms() {
        let terms = subject_terms("<script>alert('x')</script> refund", &tag());
        assert_eq!(terms, ["script", "alert", "refund"]);
    }

    /// `aa`, `ab`, … : distinct letter words, none a stop word of the length used.
    fn distinct_word(mut n: usize, letters: usize) -> String {
        let mut word = vec![b'a'; letters];
        for place in word.iter_mut().rev() {
            *place = b'a' + (n % 26) as u8;
            n /= 26;
        }
        String::from_utf8(word).unwrap()
    }

    #[test]
    fn a_subject_of_many_distinct_words_gives_at_most_the_cap() {
        let words: Vec<String> = (0..300_000).map(|n| distinct_word(n, 5)).collect();
        let subject = words.join(" ");
        let started = std::time::Instant::now();
        let terms = subject_terms(&subject, &tag());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(terms.len(), MAX_TERMS_PER_SUBJECT);
        assert_eq!(terms[..], words[..MAX_TERMS_PER_SUBJECT]);

        let topics = topics(
            [(None, subject.as_str()), (None, subject.as_str())].into_iter(),
            &tag(),
            100,
        );
        assert_eq!(topics.terms.len(), MAX_TERMS_PER_SUBJECT);
        assert!(topics.terms.iter().all(|t| t.count == 2));
    }

    #[test]
    fn repeated_and_overlong_words_are_not_terms() {
        let long = "x".repeat(MAX_TERM_CHARS + 1);
        let longest = "y".repeat(MAX_TERM_CHARS);
        let subject = format!("{} {long} {longest} refund", "refund ".repeat(50));
        assert_eq!(
            subject_terms(&subject, &tag()),
            ["refund".to_string(), longest]
        );
    }

    #[test]
    fn counts_each_ticket_once_and_sorts_by_count() {
        let tickets = [
            (Some("billing"), "Invoice missing"),
            (Some("billing"), "Re: invoice missing, invoice wrong"),
            (None, "Login fails"),
            (Some("technical"), "Login fails on mobile"),
            (Some("billing"), "Refund"),
        ];
        let topics = topics(tickets.into_iter(), &tag(), 3);
        assert_eq!(
            topics.categories,
            [
                CategoryCount {
                    category: Some("billing".into()),
                    count: 3
                },
                CategoryCount {
                    category: None,
                    count: 1
                },
                CategoryCount {
                    category: Some("technical".into()),
                    count: 1
                },
            ]
        );
        let terms: Vec<(&str, u64)> = topics
            .terms
            .iter()
            .map(|t| (t.term.as_str(), t.count))
            .collect();
        assert_eq!(terms, [("fails", 2), ("invoice", 2), ("login", 2)]);
    }
}
