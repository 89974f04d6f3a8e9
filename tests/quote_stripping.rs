//! The text relayed from an agent's reply is what the agent wrote: no quoted history, no
//! attribution line, no signature or device footer. Measured over real replies written by
//! Gmail, Outlook (desktop, OWA, mobile; English, Russian and other languages), Apple Mail,
//! Thunderbird, Yandex/Mail.ru and other clients, collected in `tests/replies/` (sources and
//! licenses in its README). Each reply `NAME.txt` (a body as the client wrote it) or
//! `NAME.eml` (a whole message, read through postdesk's own parser) sits next to
//! `NAME.expected.txt`, the visible text a person reading it would keep.

mod common;

use std::fs;
use std::path::Path;

use postdesk::config::IngestLimits;
use postdesk::ingest::agent::quote::visible_text;
use postdesk::ingest::parse::parse;

/// The bar: at least this share of the replies keep exactly the expected text.
const REQUIRED_SHARE: f64 = 0.95;

/// Fewer fixtures than this means the folder was not found or lost files, not a pass.
const MINIMUM_FIXTURES: usize = 60;

struct Fixture {
    name: String,
    body: String,
    expected: String,
}

#[test]
fn replies_keep_only_the_visible_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replies");
    let fixtures = load_fixtures(&root);
    assert!(
        fixtures.len() >= MINIMUM_FIXTURES,
        "expected at least {MINIMUM_FIXTURES} reply fixtures under {}, found {}",
        root.display(),
        fixtures.len()
    );

    let mut failures = Vec::new();
    let mut leaked_quotes = Vec::new();
    for fixture in &fixtures {
        let got = normalise(&visible_text(&fixture.body));
        let expected = normalise(&fixture.expected);
        // A quoted line may stay only where the writer answered between quotes and the
        // expected text keeps it for context; any other `>` line is leaked history.
        let leaked: Vec<&str> = got
            .lines()
            .filter(|line| line.trim_start().starts_with('>'))
            .filter(|line| !expected.lines().any(|kept| kept == *line))
            .collect();
        if !leaked.is_empty() {
            leaked_quotes.push(format!("{}: {:?}", fixture.name, leaked));
        }
        if got != expected {
            failures.push(format!("{}\n{}", fixture.name, short_diff(&expected, &got)));
        }
    }

    let total = fixtures.len();
    let kept = total - failures.len();
    let share = kept as f64 / total as f64;
    println!(
        "quote stripping: {kept} of {total} replies keep the expected visible text ({:.1}%)",
        share * 100.0
    );
    for failure in &failures {
        println!("FAILED {failure}");
    }

    assert!(
        leaked_quotes.is_empty(),
        "quoted history left in the visible text:\n{}",
        leaked_quotes.join("\n")
    );
    assert!(
        share >= REQUIRED_SHARE,
        "only {kept} of {total} replies ({:.1}%) keep the expected visible text; at least {:.0}% must",
        share * 100.0,
        REQUIRED_SHARE * 100.0
    );
}

/// Every `NAME.txt` / `NAME.eml` under `root` with its `NAME.expected.txt`, sorted by name.
fn load_fixtures(root: &Path) -> Vec<Fixture> {
    let mut paths = Vec::new();
    common::collect_files(root, &mut paths);
    paths.sort();
    let limits = IngestLimits::default();
    let mut fixtures = Vec::new();
    for path in paths {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let (stem, is_eml) = if let Some(stem) = file_name.strip_suffix(".eml") {
            (stem, true)
        } else if let Some(stem) = file_name.strip_suffix(".txt") {
            if stem.ends_with(".expected") {
                continue;
            }
            (stem, false)
        } else {
            continue;
        };
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let raw = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        let body = if is_eml {
            let parsed = parse(&raw, &limits);
            assert!(
                parsed.unparsed.is_none(),
                "{name} did not parse: {:?}",
                parsed.unparsed
            );
            parsed.text
        } else {
            String::from_utf8(raw).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"))
        };
        let expected_path = path.with_file_name(format!("{stem}.expected.txt"));
        let expected = fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{name} has no expected text at {}: {e}",
                expected_path.display()
            )
        });
        fixtures.push(Fixture {
            name,
            body,
            expected,
        });
    }
    fixtures
}

/// Only trailing whitespace on each line and blank lines around the text are ignored.
fn normalise(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

/// The first differing line with a little context, and the line counts.
fn short_diff(expected: &str, got: &str) -> String {
    let expected_lines: Vec<&str> = expected.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    let first_difference = expected_lines
        .iter()
        .zip(&got_lines)
        .position(|(e, g)| e != g)
        .unwrap_or(expected_lines.len().min(got_lines.len()));
    let excerpt = |lines: &[&str]| {
        lines
            .iter()
            .skip(first_difference)
            .take(3)
            .map(|l| format!("      {l:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "  first difference at line {} (expected {} lines, got {}):\n    expected:\n{}\n    got:\n{}",
        first_difference + 1,
        expected_lines.len(),
        got_lines.len(),
        excerpt(&expected_lines),
        excerpt(&got_lines)
    )
}
