//! The stages that need no store: parse, classify, detect the language, key the subject.
//! Batches are prepared on every core while the single writer files the previous one.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::classify::{self, Author, AutoKind};
use super::parse::{self, Parsed};
use super::{bounce, language, thread};
use crate::config::Config;

/// A message after the stages that need no store (parse, classify, language, subject
/// key): batches are prepared on every core while the single writer files the previous one.
#[derive(Debug)]
pub struct Prepared {
    pub(crate) parsed: Parsed,
    pub(crate) author: Author,
    pub(crate) language: Option<String>,
    pub(crate) normalized_subject: String,
    /// Who may join the ticket later ([`participants_of`]).
    pub(crate) participants: Vec<String>,
    pub(crate) to_json: String,
    pub(crate) cc_json: String,
    pub(crate) headers_json: String,
    /// For a bounce: the Message-IDs of our own mail it returns, and why it failed.
    pub(crate) returned: Vec<String>,
    pub(crate) failure: String,
}

/// The pure part of the pipeline. Never panics on any input.
pub fn prepare(raw: &[u8], config: &Config) -> Prepared {
    // mail-parser promises never to panic; should it ever, the message is kept, unparsed.
    let parsed = catch_unwind(AssertUnwindSafe(|| parse::parse(raw, &config.ingest)))
        .unwrap_or_else(|_| parse::unparsed(raw, "the MIME parser failed on this message".into()));
    let author = classify::classify(&parsed, config);
    let (returned, failure) = match author {
        Author::Automatic(AutoKind::Bounce, _) => (
            bounce::returned_ids(raw),
            bounce::failure(raw, &parsed.text),
        ),
        _ => (Vec::new(), String::new()),
    };
    Prepared {
        author,
        returned,
        failure,
        language: language::detect(
            parsed.content_language.as_deref(),
            &parsed.subject,
            &parsed.text,
        ),
        normalized_subject: thread::normalize_subject(&parsed.subject, &config.ticket_tag),
        participants: participants_of(&parsed, config),
        to_json: json_array(&parsed.to),
        cc_json: json_array(&parsed.cc),
        headers_json: json_array(&parsed.headers),
        parsed,
    }
}

fn json_array<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// The people who may later join this ticket by tag or subject: the sender and the other
/// addressees, never our own mailboxes.
fn participants_of(parsed: &Parsed, config: &Config) -> Vec<String> {
    let mut people: Vec<String> = Vec::new();
    for address in parsed.from.iter().chain(&parsed.to).chain(&parsed.cc) {
        if !address.is_empty() && !config.is_own_address(address) && !people.contains(address) {
            people.push(address.clone());
        }
    }
    people
}
