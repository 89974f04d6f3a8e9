//! Step 3c: the customer's language, for the reply template: Content-Language when the
//! client set it, else detected from the text.

use std::collections::HashMap;
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
    let sample = sample(subject, text);
    if let Some(code) = cyrillic_by_letters(&sample) {
        return Some(code.into());
    }
    if let Some(code) = by_common_words(&sample) {
        return Some(code.into());
    }
    by_trigrams(&sample)
}

/// The text the language is judged on: the subject and the first lines of the customer's
/// own words, before quoted history and the signature.
pub fn sample(subject: &str, text: &str) -> String {
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
    sample
}

/// whatlang's verdict on a [`sample`], the slow general answer.
pub fn by_trigrams(sample: &str) -> Option<String> {
    let info = DETECTOR.detect(sample)?;
    // Short texts are often guessed wrong; better no language than a wrong one.
    if !info.is_reliable() && info.confidence() < 0.3 {
        return None;
    }
    Some(code(info.lang()))
}

/// Frequent words of support mail, each used often by one language only among those
/// whatlang is asked about: Dutch says "die" too, Polish "ich", Spanish "les", Hungarian
/// "mit", Estonian "see", Romanian "el", Danish "have", Czech "ale" and "pan", Slovak "nie";
/// those are left out.
#[rustfmt::skip]
const COMMON_WORDS: [(&str, &[&str]); 8] = [
    ("en", &[
        "able", "about", "after", "again", "agree", "and", "another", "any", "anything", "aren",
        "because", "been", "before", "being", "below", "but", "can", "cheers", "could", "dear",
        "did", "didn", "does", "doesn", "everything", "first", "from", "get", "got", "haven",
        "hello", "here", "how", "if", "into", "isn", "its", "know", "make", "many", "more",
        "much", "need", "not", "nothing", "only", "or", "other", "our", "out", "people",
        "please", "receive", "received", "regards", "reply", "should", "since", "sincerely",
        "some", "something", "still", "than", "thank", "thanks", "that", "the", "their", "them",
        "then", "there", "these", "they", "this", "those", "today", "up", "very", "wasn", "way",
        "well", "were", "what", "when", "where", "which", "while", "who", "why", "with", "won",
        "working", "would", "yesterday", "you", "your"
    ]),
    ("de", &[
        "aber", "auch", "auf", "aus", "beim", "bereits", "bin", "bitte", "damen", "danke",
        "dann", "dass", "denn", "dich", "diese", "diesem", "diesen", "dieser", "dieses", "dir",
        "doch", "durch", "ein", "eine", "einem", "einen", "einer", "etwas", "euch",
        "freundlichen", "für", "geehrte", "geehrter", "gegen", "geht", "gerne", "gestern",
        "gruß", "grüsse", "grüße", "grüßen", "gut", "guten", "habe", "haben", "hat", "herren",
        "heute", "ihnen", "ihr", "ihre", "immer", "ist", "jetzt", "kann", "kein", "keine",
        "können", "könnte", "könnten", "leider", "mein", "meine", "meinen", "meiner", "mfg",
        "mich", "mir", "muss", "müssen", "nach", "neue", "neuen", "nicht", "noch", "nur",
        "oder", "ohne", "schon", "sehr", "sich", "sind", "soll", "sollte", "und", "unser",
        "unsere", "unserer", "viele", "vielen", "vielleicht", "von", "weil", "wenn", "wieder",
        "wir", "wird", "wurde", "wurden", "würde", "zu", "zum", "zur", "zwischen", "über"
    ]),
    ("fr", &[
        "aimerais", "alors", "après", "aussi", "autre", "aux", "avait", "avec", "avez", "avoir",
        "avons", "bonjour", "bonne", "ceci", "ces", "cette", "chez", "commande", "comme",
        "cordialement", "dans", "depuis", "doit", "donc", "déjà", "elle", "elles", "encore",
        "est", "faire", "fait", "ils", "jour", "journée", "leur", "madame", "merci", "mon",
        "monsieur", "même", "notre", "nous", "oui", "où", "peut", "peux", "pour", "pourrait",
        "pourriez", "pouvez", "problème", "qu", "quand", "reçu", "rien", "salutations", "sont",
        "suis", "sur", "toujours", "tout", "très", "une", "vais", "veuillez", "votre",
        "voudrais", "vous", "ça", "était", "été", "être"
    ]),
    ("es", &[
        "ahora", "aquí", "así", "atentamente", "ayuda", "buenas", "buenos", "cuando", "cuenta",
        "cuál", "cuándo", "cómo", "donde", "días", "dónde", "esa", "ese", "eso", "estimado",
        "estimados", "esto", "estoy", "están", "fue", "gracias", "había", "hace", "hacer",
        "hasta", "hay", "hecho", "hemos", "hice", "hola", "las", "llegado", "los", "muchas",
        "mucho", "muchos", "muy", "necesitamos", "necesito", "ninguna", "ningún", "nuestra",
        "nuestro", "pero", "podría", "podrían", "puede", "pueden", "puedo", "queremos",
        "quiero", "quisiera", "qué", "saludos", "sido", "sus", "también", "tengo", "tiene",
        "tienen", "todavía", "usted", "ustedes", "yo"
    ]),
    ("it", &[
        "abbiamo", "anche", "ancora", "avete", "buona", "buonasera", "buongiorno", "che",
        "ciao", "cordiali", "dalla", "degli", "dei", "della", "delle", "dello", "di",
        "distinti", "dopo", "essere", "fare", "fatto", "gentile", "già", "gli", "grazie",
        "loro", "mia", "mio", "molto", "nel", "nella", "nessun", "nessuna", "nostra", "nostro",
        "ogni", "pagato", "perché", "però", "potete", "potreste", "qualche", "quale", "questa",
        "questo", "quindi", "ricevuto", "saluti", "salve", "sapere", "settimana", "sia", "sono",
        "stata", "stato", "sul", "suo", "tutto", "volevo", "vorrei", "vostra", "vostro", "è"
    ]),
    ("pt", &[
        "aconteceu", "agora", "aguardo", "ainda", "ao", "aos", "atenciosamente", "boa",
        "cumprimentos", "depois", "eles", "em", "encomenda", "então", "essa", "estou", "estão",
        "fazer", "fiz", "foi", "gostaria", "hoje", "há", "isso", "isto", "mesmo", "minha",
        "muito", "nao", "nossa", "nosso", "não", "nós", "obrigada", "obrigado", "olá", "onde",
        "ontem", "pela", "pelo", "pode", "podem", "porém", "preciso", "recebi", "seu", "são",
        "também", "tenho", "ter", "tudo", "uma", "voce", "você", "vocês", "é"
    ]),
    ("nl", &[
        "aan", "alleen", "alstublieft", "altijd", "alvast", "bedankt", "bent", "bestelling",
        "bij", "daar", "dat", "deze", "dus", "echter", "een", "erg", "gaat", "geen",
        "geplaatst", "gisteren", "goedemiddag", "goedemorgen", "graag", "groet", "groeten",
        "hartelijk", "heb", "hebben", "hebt", "heeft", "het", "hoe", "hoi", "iets", "ik", "jij",
        "jullie", "komt", "kunnen", "laten", "maar", "mijn", "moet", "moeten", "mogelijk",
        "mvg", "naar", "niet", "niets", "nooit", "omdat", "ons", "ontvangen", "onze", "ook",
        "toch", "uit", "uw", "vanaf", "vandaag", "voor", "vorige", "vraag", "vriendelijke",
        "waar", "wanneer", "wat", "wel", "werd", "wij", "wordt", "zal", "zich", "zijn", "zou",
        "zullen"
    ]),
    ("pl", &[
        "bardzo", "będzie", "chciałabym", "chciałam", "chciałbym", "chciałem", "ciągu", "czy",
        "dla", "dobry", "dziekuje", "dzień", "dzisiaj", "dziękuję", "gdy", "jest", "jestem",
        "jeszcze", "jeśli", "już", "która", "które", "który", "mam", "mamy", "mnie", "mogę",
        "moim", "mojego", "moją", "może", "można", "mój", "nasz", "naszej", "oraz",
        "otrzymałam", "otrzymałem", "paczka", "paczki", "panie", "państwa", "państwo",
        "ponieważ", "poważaniem", "powinien", "powinna", "pozdrawiam", "pozdrowienia", "prosze",
        "proszę", "przesyłka", "przez", "również", "się", "sprawie", "są", "też", "tylko",
        "tym", "wczoraj", "wiadomości", "wiadomość", "zamówienie", "został", "została",
        "zostało", "zostały", "że"
    ]),
];

/// No word of [`COMMON_WORDS`] is longer (in bytes); longer words are not looked up.
const LONGEST_COMMON_WORD: usize = 16;

const COMMON_WORD_COUNT: usize = {
    let (mut count, mut rest): (usize, &[(&str, &[&str])]) = (0, &COMMON_WORDS);
    while let [(_, words), tail @ ..] = rest {
        count += words.len();
        rest = tail;
    }
    count
};

/// Each common word → its language (a place in [`COMMON_WORDS`]) and its own number, so that
/// a repeated word counts once.
static COMMON_WORD_INDEX: LazyLock<HashMap<&'static str, (usize, usize)>> = LazyLock::new(|| {
    COMMON_WORDS
        .iter()
        .enumerate()
        .flat_map(|(language, (_, words))| words.iter().map(move |word| (*word, language)))
        .enumerate()
        .map(|(number, (word, language))| (word, (language, number)))
        .collect()
});

/// The leading language needs this many different common words ...
const MIN_COMMON_WORDS: usize = 3;
/// ... and this many times as many as any other language.
const MIN_COMMON_LEAD: usize = 3;

/// Most mail in the eight commonest support languages gives itself away by its function
/// words (the, und, vous, że ...) long before whatlang has built its trigram tables. Only a
/// clear answer is given: mixed or scant evidence is left to whatlang.
pub fn by_common_words(sample: &str) -> Option<&'static str> {
    let index = &*COMMON_WORD_INDEX;
    let mut seen = [false; COMMON_WORD_COUNT];
    let mut different_words = [0usize; COMMON_WORDS.len()];
    let mut buffer = [0u8; LONGEST_COMMON_WORD];
    for word in sample.split(|c: char| !c.is_alphabetic()) {
        if word.is_empty() || word.len() > LONGEST_COMMON_WORD {
            continue;
        }
        let Some(lower) = lowercase(word, &mut buffer) else {
            continue;
        };
        // The index numbers words below COMMON_WORD_COUNT and names places in
        // COMMON_WORDS, so both slots are there.
        if let Some(&(language, number)) = index.get(lower)
            && seen
                .get_mut(number)
                .is_some_and(|seen| !std::mem::replace(seen, true))
            && let Some(count) = different_words.get_mut(language)
        {
            *count += 1;
        }
    }
    let counted = || {
        COMMON_WORDS
            .iter()
            .map(|(code, _)| *code)
            .zip(different_words)
    };
    let (best, best_count) = counted().max_by_key(|&(_, count)| count)?;
    let runner_up = counted()
        .filter(|&(code, _)| code != best)
        .map(|(_, count)| count)
        .max()
        .unwrap_or(0);
    let clear = best_count >= MIN_COMMON_WORDS && best_count >= MIN_COMMON_LEAD * runner_up;
    clear.then_some(best)
}

/// `word` in lower case, borrowed when it already is, else written into `buffer`; `None`
/// when the lower-case form does not fit (then it is no common word).
fn lowercase<'a>(word: &'a str, buffer: &'a mut [u8; LONGEST_COMMON_WORD]) -> Option<&'a str> {
    if word.is_ascii() {
        if !word.bytes().any(|b| b.is_ascii_uppercase()) {
            return Some(word);
        }
        let lower = buffer.get_mut(..word.len())?;
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        return std::str::from_utf8(lower).ok();
    }
    // All common words are written in Latin letters (below U+0180); a Cyrillic, Greek or
    // CJK word is not lower-cased for nothing.
    if word.chars().any(|c| c > '\u{17f}') {
        return None;
    }
    let mut len = 0;
    for c in word.chars().flat_map(char::to_lowercase) {
        let end = len + c.len_utf8();
        c.encode_utf8(buffer.get_mut(len..end)?);
        len = end;
    }
    std::str::from_utf8(buffer.get(..len)?).ok()
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
    // Both cases listed rather than lower-casing every character: this runs on all mail.
    for c in text.chars() {
        match c {
            'ы' | 'э' | 'ъ' | 'ё' | 'Ы' | 'Э' | 'Ъ' | 'Ё' => russian += 1,
            'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ' => ukrainian += 1,
            'а'..='я' | 'А'..='Я' => cyrillic += 1,
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
    use std::collections::HashMap;

    use super::*;

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

    /// Everyday support mail in each language the common words know.
    const CLEAR_MAIL: [(&str, &str, &str); 8] = [
        (
            "en",
            "Invoice for November is wrong",
            "Hello,\n\nthe invoice you sent for November charges us for 12 seats, but we have had only 8 users since the start of the month. Could you please check this and send a corrected invoice?\n\nThank you and best regards,\nAnna",
        ),
        (
            "de",
            "Lieferung",
            "Guten Tag, wann wird meine Bestellung geliefert? Vielen Dank für Ihre Hilfe.",
        ),
        (
            "fr",
            "Commande",
            "Bonjour, je n'ai toujours pas reçu ma commande passée il y a deux semaines. Pouvez-vous vérifier où elle en est ? Merci d'avance, cordialement.",
        ),
        (
            "es",
            "Pedido",
            "Hola, hice un pedido hace una semana y todavía no ha llegado. ¿Pueden decirme cuándo llegará? Muchas gracias, saludos.",
        ),
        (
            "it",
            "Ordine",
            "Buongiorno, vorrei sapere quando arriverà il mio ordine. Ho pagato la settimana scorsa ma non ho ricevuto nessuna conferma. Grazie mille.",
        ),
        (
            "pt",
            "Encomenda",
            "Olá, fiz uma encomenda há uma semana e ainda não recebi nada. Podem verificar o que aconteceu? Muito obrigado.",
        ),
        (
            "nl",
            "Bestelling",
            "Goedemorgen, ik heb vorige week een bestelling geplaatst maar ik heb nog niets ontvangen. Kunnen jullie dit nakijken? Alvast bedankt.",
        ),
        (
            "pl",
            "Zamówienie",
            "Dzień dobry, moje zamówienie nr 4471 nie dotarło. Proszę o pomoc w tej sprawie.",
        ),
    ];

    #[test]
    fn common_words_settle_clear_mail_with_whatlangs_answer() {
        for (want, subject, text) in CLEAR_MAIL {
            let sample = sample(subject, text);
            assert_eq!(by_common_words(&sample), Some(want), "{text}");
            assert_eq!(by_trigrams(&sample).as_deref(), Some(want), "{text}");
            assert_eq!(detect(None, subject, text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn capitals_and_diacritics_are_recognised() {
        let text = "BITTE HELFEN SIE MIR, ICH KANN MICH NICHT ANMELDEN. DANKE FÜR IHRE HILFE.";
        assert_eq!(by_common_words(&sample("", text)), Some("de"));
        assert_eq!(detect(None, "", text).as_deref(), Some("de"));
    }

    #[test]
    fn mixed_or_scant_evidence_is_left_to_whatlang() {
        let cases = [
            // Two languages side by side.
            "Vielen Dank für Ihre Hilfe, es geht jetzt. Thank you for your help, it works now.",
            // Too little to go by.
            "Thanks!",
            // One word said again and again is still one word.
            "the the the the the the the",
            // A language the common words do not know.
            "Hei, en pääse kirjautumaan tililleni eilisen jälkeen. Voitteko auttaa?",
        ];
        for text in cases {
            let sample = sample("", text);
            assert_eq!(by_common_words(&sample), None, "{text}");
            assert_eq!(detect(None, "", text), by_trigrams(&sample), "{text}");
        }
    }

    #[test]
    fn each_common_word_is_lower_case_latin_and_in_one_language_only() {
        let mut language_of = HashMap::new();
        for (language, words) in COMMON_WORDS {
            for &word in words {
                assert!(word.len() <= LONGEST_COMMON_WORD, "{word} is too long");
                assert_eq!(word.to_lowercase(), word);
                assert!(
                    word.chars().all(|c| c.is_alphabetic() && c <= '\u{17f}'),
                    "{word} has a letter the lookup skips"
                );
                if let Some(other) = language_of.insert(word, language) {
                    panic!("{word} is listed for {other} and {language}");
                }
            }
        }
        assert_eq!(COMMON_WORD_INDEX.len(), COMMON_WORD_COUNT);
    }

    /// Counting capitals in the match gives what lower-casing every character first gave.
    #[test]
    fn cyrillic_capitals_count_as_their_small_letters() {
        let changed_by_lowercase = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|&c| !c.to_lowercase().eq([c]));
        for c in changed_by_lowercase {
            // With nine other letters and "ы" only a counted letter makes the text Russian;
            // with ten and "ыі" a Russian letter makes it Russian, a Ukrainian one Ukrainian.
            for text in [format!("{c}бвгдежзикы"), format!("{c}бвгдежзиклыі")]
            {
                assert_eq!(
                    cyrillic_by_letters(&text),
                    cyrillic_by_letters(&text.to_lowercase()),
                    "{c:?}"
                );
            }
        }
    }
}
