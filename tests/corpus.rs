//! The shared corpus of real mail (tests/corpus, from public sources; see its README and
//! MANIFEST.tsv) through the whole pipeline: no panic, nothing lost, labels honoured.

mod common;

use std::path::Path;

use common::Desk;
use postdesk::store::Filed;

struct Entry {
    file: String,
    category: String,
    notable: String,
    expected: String,
}

fn manifest() -> Vec<Entry> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, category, notable, expected) = (
        column("file"),
        column("category"),
        column("notable"),
        column("expected"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or("").trim().to_string();
            Entry {
                file: cell(file),
                category: cell(category),
                notable: cell(notable).to_lowercase(),
                expected: cell(expected),
            }
        })
        .collect()
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[test]
fn whole_corpus_is_filed_with_labels_honoured() {
    let entries = manifest();
    assert!(
        entries.len() >= 100,
        "manifest lists {} files",
        entries.len()
    );
    let mut desk = Desk::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let (mut parsed, mut unparsed) = (0, 0);
    for entry in &entries {
        let raw = std::fs::read(dir.join(&entry.file)).unwrap();
        // Like mail-parser's own suite, every message is tried with LF and CRLF line ends.
        for (variant, bytes) in [("lf", raw.clone()), ("crlf", crlf(&raw))] {
            let filed = desk.ingest_filed(&bytes);
            let ticket = match filed {
                Filed::Stored { ticket, .. } | Filed::Duplicate(ticket) => ticket,
                Filed::NotATicket(reason) => {
                    panic!("{} ({variant}) was not filed: {reason}", entry.file)
                }
                Filed::Failed(e) => panic!("{} ({variant}) was not stored: {e}", entry.file),
            };
            let detail = desk.ticket(postdesk::store::reference(ticket));
            let message = detail
                .messages
                .iter()
                .rev()
                .find(|m| variant == "lf" || m.size as usize == bytes.len())
                .unwrap_or(&detail.messages[0]);
            if variant == "lf" {
                if message.parse_error.is_some() {
                    unparsed += 1;
                } else {
                    parsed += 1;
                }
            }
            if entry.category != "malformed" {
                assert!(
                    message.parse_error.is_none(),
                    "{}: {:?}",
                    entry.file,
                    message.parse_error
                );
            }
            for (label, kind) in [
                ("automatic reply", "auto_reply"),
                ("bounce", "bounce"),
                ("list", "list"),
            ] {
                if entry.notable.contains(label) {
                    assert_eq!(message.kind, kind, "{} is labelled {label}", entry.file);
                }
            }
            if !entry.expected.is_empty() {
                assert!(
                    message.text.contains(&entry.expected),
                    "{}: expected text {:?} in {:?}",
                    entry.file,
                    entry.expected,
                    message.text
                );
            }
        }
    }
    let files = entries.len() as u64;
    let s = desk.summary;
    assert_eq!(s.failed, 0);
    assert_eq!(s.ingested + s.quarantined + s.duplicates, 2 * files);
    assert_eq!(
        desk.count("SELECT count(DISTINCT dedup_key) FROM messages") as u64,
        s.ingested + s.quarantined
    );
    println!("corpus: {files} files, {parsed} parsed, {unparsed} stored unparsed; {s:?}");
}
