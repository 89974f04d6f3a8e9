//! Every input the fuzzer (fuzz/, scripts/fuzz) ever broke postdesk with, kept in
//! tests/fuzz-regressions/, goes through the pipeline under the same checks as the fuzz
//! target (tests/support/checked_pipeline.rs): filed (stored or quarantined), readable,
//! one-line header values, no header injected into the mail it causes. The fuzzer's seeds
//! pass the same checks, so the harness itself is known to accept good mail.

#[path = "support/checked_pipeline.rs"]
mod checked_pipeline;

use std::path::{Path, PathBuf};

use checked_pipeline::CheckedDesks;
use postdesk::store::Filed;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_fuzz_finding_is_filed_safely() {
    let findings: Vec<PathBuf> = files_under(&root().join("tests/fuzz-regressions"))
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    assert!(
        !findings.is_empty(),
        "no findings in tests/fuzz-regressions"
    );
    let mut desks = CheckedDesks::new();
    for path in &findings {
        let raw = std::fs::read(path).unwrap();
        for filing in desks.file(&raw) {
            assert!(
                matches!(filing.filed, Filed::Stored { .. } | Filed::Duplicate(_)),
                "{} [{}]: {:?}",
                path.display(),
                filing.desk,
                filing.filed
            );
        }
    }
}

fn finding(name: &str) -> Vec<u8> {
    let path = root().join("tests/fuzz-regressions").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// mail-parser 0.11.9's debug assertion "Invalid part ID, could not find multipart." fired
/// on a multipart end with no part of its own: dev builds quarantined the message as "the
/// MIME parser failed" where the release build parses it. Every build now parses it.
#[test]
fn multipart_end_without_its_part_is_parsed() {
    let mut desks = CheckedDesks::new();
    for filing in desks.file(&finding("multipart-end-without-its-part.eml")) {
        assert!(
            matches!(
                filing.filed,
                Filed::Stored {
                    unparsed: false,
                    ..
                }
            ),
            "[{}] {:?}",
            filing.desk,
            filing.filed
        );
    }
}

/// An unterminated `Message-ID: <NZ2` ran into the next, folded line: the stored
/// Message-ID held a line break (and went on into References of the acknowledgement).
#[test]
fn message_id_with_a_folded_line_break_is_stored_as_one_word() {
    let mut desks = CheckedDesks::new();
    for filing in desks.file(&finding("message-id-with-a-folded-line-break.eml")) {
        let ticket = filing.ticket.expect("stored");
        let id = ticket.messages[0].message_id.clone().expect("a Message-ID");
        assert_eq!(id, "NZ2forsupport@example.com", "[{}]", filing.desk);
    }
}

#[test]
fn the_fuzzers_seeds_pass_the_checks() {
    let mut seeds = files_under(&root().join("fuzz/seeds"));
    seeds.extend(files_under(&root().join("fixtures/mail")));
    seeds.extend(
        files_under(&root().join("tests/corpus"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml")),
    );
    assert!(seeds.len() > 100, "{} seeds", seeds.len());
    let mut desks = CheckedDesks::new();
    let mut kinds: Vec<String> = Vec::new();
    let mut with_mail = 0;
    for path in &seeds {
        let raw = std::fs::read(path).unwrap();
        let filings = desks.file(&raw);
        if filings.iter().any(|f| f.mails.iter().any(|m| m.1.is_ok())) {
            with_mail += 1;
        }
        for (kind, _) in filings.iter().flat_map(|f| &f.mails) {
            if !kinds.contains(kind) {
                kinds.push(kind.clone());
            }
        }
    }
    // The seeds lead the fuzzer to the outgoing side: every kind of mail a message can
    // cause is rendered, for most of them.
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "acknowledgement",
            "agent_notice",
            "relay_answer",
            "relay_forward"
        ],
        "kinds of mail the seeds cause"
    );
    assert!(
        with_mail * 2 > seeds.len(),
        "only {with_mail} of {} seeds cause mail",
        seeds.len()
    );
}
