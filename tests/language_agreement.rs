//! The common-word shortcut of language detection gives whatlang's answer, measured over all
//! the real mail in the repository: the corpus (tests/corpus), the reply fixtures
//! (tests/replies) and the pipeline fixtures (fixtures/mail), each read through postdesk's own
//! parser and judged on the same sample whatlang sees. Where whatlang is too unsure to name
//! a language (one-line replies) and the shortcut names one, the message is listed.

mod common;

use std::fs;
use std::path::Path;

use postdesk::config::IngestLimits;
use postdesk::ingest::language::{by_common_words, by_trigrams, sample};
use postdesk::ingest::parse::parse;

/// The languages the shortcut knows.
const SHORTCUT_LANGUAGES: [&str; 8] = ["en", "de", "fr", "es", "it", "pt", "nl", "pl"];

/// Of the messages whatlang puts in one of those languages, the shortcut must answer at
/// least this share itself (86% of the repository's mail; most of the rest are one-line
/// replies such as "Hello" or "This is a test").
const REQUIRED_SHORTCUT_SHARE: f64 = 0.80;

/// Fewer messages than this means a folder was not found, not a pass.
const MINIMUM_MESSAGES: usize = 300;

struct Message {
    name: String,
    subject: String,
    text: String,
}

#[test]
fn common_words_agree_with_whatlang_on_all_real_mail() {
    let messages = load_messages();
    assert!(
        messages.len() >= MINIMUM_MESSAGES,
        "expected at least {MINIMUM_MESSAGES} messages, found {}",
        messages.len()
    );

    let (mut shortcut_languages, mut answered_by_shortcut) = (0, 0);
    let mut shortcut_only = Vec::new();
    let mut disagreements = Vec::new();
    for message in &messages {
        let sample = sample(&message.subject, &message.text);
        let by_words = by_common_words(&sample);
        let by_whatlang = by_trigrams(&sample);
        match (by_words, by_whatlang.as_deref()) {
            (Some(words), Some(whatlang)) if words != whatlang => {
                disagreements.push(format!(
                    "{}: common words say {words}, whatlang {whatlang}: {sample:?}",
                    message.name
                ));
            }
            (Some(words), None) => {
                shortcut_only.push(format!("{words} for {}: {sample:?}", message.name))
            }
            _ => {}
        }
        if by_whatlang
            .as_deref()
            .is_some_and(|lang| SHORTCUT_LANGUAGES.contains(&lang))
        {
            shortcut_languages += 1;
            if by_words.is_some() {
                answered_by_shortcut += 1;
            }
        }
    }

    let share = answered_by_shortcut as f64 / shortcut_languages as f64;
    println!(
        "language: {} messages; whatlang puts {shortcut_languages} in en/de/fr/es/it/pt/nl/pl; \
         common words answer {answered_by_shortcut} of those ({:.1}%), disagree on {}, \
         answer where whatlang does not on {}",
        messages.len(),
        share * 100.0,
        disagreements.len(),
        shortcut_only.len()
    );
    for line in &shortcut_only {
        println!("no language from whatlang, common words say {line}");
    }

    assert!(
        disagreements.is_empty(),
        "common words and whatlang disagree:\n{}",
        disagreements.join("\n")
    );
    assert!(
        share >= REQUIRED_SHORTCUT_SHARE,
        "common words answer only {answered_by_shortcut} of {shortcut_languages} messages \
         ({:.1}%); at least {:.0}% must",
        share * 100.0,
        REQUIRED_SHORTCUT_SHARE * 100.0
    );
}

/// Every message: `*.eml` through the parser, a reply fixture's `NAME.txt` as the body it is
/// (its `NAME.expected.txt` is a cut of the same text and is left out).
fn load_messages() -> Vec<Message> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for dir in ["tests/corpus", "tests/replies", "fixtures/mail"] {
        common::collect_files(&root.join(dir), &mut paths);
    }
    paths.sort();
    let limits = IngestLimits::default();
    let mut messages = Vec::new();
    for path in paths {
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if file_name.ends_with(".eml") {
            let raw = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
            let parsed = parse(&raw, &limits);
            messages.push(Message {
                name,
                subject: parsed.subject,
                text: parsed.text,
            });
        } else if file_name.ends_with(".txt")
            && !file_name.ends_with(".expected.txt")
            && name.starts_with("tests/replies")
        {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{name} is not UTF-8 text: {e}"));
            messages.push(Message {
                name,
                subject: String::new(),
                text,
            });
        }
    }
    messages
}
