//! The raw message kept in its own table, compressed: a database made by the release before
//! (tests/fixtures/release-v6.db.zst, see tests/fixtures/README.md) migrates in place, and every
//! message comes back byte for byte, through `ticket --mbox` as that release printed it and
//! through the store as it was filed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::Connection;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn postdesk(db: &Path, log: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .env_remove("POSTDESK_CONFIG")
        .env_remove("POSTDESK_DB")
        .env("POSTDESK_LOG", log)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

/// A copy of the release's database to migrate.
fn release_database(dir: &Path) -> PathBuf {
    let db = dir.join("postdesk.db");
    let packed = std::fs::read(fixture("release-v6.db.zst")).unwrap();
    std::fs::write(&db, zstd::decode_all(packed.as_slice()).unwrap()).unwrap();
    db
}

/// Every message row with its raw bytes, read from a database of the release's schema.
fn release_messages(db: &Path) -> Vec<(i64, Vec<u8>)> {
    let conn = Connection::open(db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6, "the fixture is a database of schema version 6");
    conn.prepare("SELECT id, raw FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The release's `ticket REF --mbox` of every ticket: `#REF LENGTH` lines, each followed by
/// that many bytes.
fn release_mboxes() -> Vec<(String, Vec<u8>)> {
    let data = std::fs::read(fixture("release-v6.mbox-by-ticket")).unwrap();
    let mut rest = &data[..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap();
        let line = std::str::from_utf8(&rest[..end]).unwrap();
        let (reference, length) = line.split_once(' ').unwrap();
        let length: usize = length.parse().unwrap();
        out.push((
            reference.trim_start_matches('#').to_string(),
            rest[end + 1..end + 1 + length].to_vec(),
        ));
        rest = &rest[end + 1 + length..];
    }
    out
}

#[test]
fn a_release_database_migrates_in_place_and_keeps_every_message_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = release_database(dir.path());
    let before = release_messages(&db);
    let mboxes = release_mboxes();
    assert!(before.len() > 100, "{}", before.len());
    assert!(mboxes.len() > 50, "{}", mboxes.len());

    let first = postdesk(&db, "info", &["ticket", &mboxes[0].0, "--mbox"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(log.contains("moving the stored mail"), "{log}");
    assert!(log.contains("in its own table"), "{log}");
    for (reference, expected) in &mboxes {
        let out = postdesk(&db, "warn", &["ticket", reference, "--mbox"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == *expected,
            "ticket #{reference}: the mbox differs from the release's"
        );
    }

    let conn = Connection::open(&db).unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('messages')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!columns.iter().any(|c| c == "raw"), "{columns:?}");
    for (row, raw) in &before {
        let stored = postdesk::store::raw::read(&conn, *row).unwrap();
        assert!(
            stored.as_deref() == Some(&raw[..]),
            "message row {row} changed"
        );
    }
    let (zstd, stored, original): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE codec = 1), sum(length(bytes)), sum(m.size)
             FROM message_raw r JOIN messages m ON m.id = r.message_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(
        zstd * 2 > before.len() as i64,
        "{zstd} of {} compressed",
        before.len()
    );
    assert!(
        stored * 10 < original * 7,
        "{stored} bytes stored for {original}"
    );
}

/// Tens of thousands of messages move in batches, and the admin sees how far it has got.
#[test]
fn a_large_release_database_migrates_with_progress_shown() {
    let dir = tempfile::tempdir().unwrap();
    let db = release_database(dir.path());
    let conn = Connection::open(&db).unwrap();
    // Every stored message 200 times more, as the release would have stored them.
    conn.execute_batch(
        "WITH RECURSIVE copy (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM copy WHERE n < 200)
         INSERT INTO messages (ticket_id, dedup_key, message_id, kind, from_addr, from_name,
             to_addrs, cc_addrs, subject, date, received_at, language, text, headers, source,
             threaded_by, parse_error, size, raw)
         SELECT ticket_id, dedup_key || '-' || n, NULL, kind, from_addr, from_name, to_addrs,
             cc_addrs, subject, date, received_at, language, text, headers, source, threaded_by,
             parse_error, size, CAST(raw || n AS BLOB)
         FROM messages, copy;",
    )
    .unwrap();
    let before: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT id, raw FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(conn);
    assert!(before.len() > 20_000, "{}", before.len());

    let out = postdesk(&db, "info", &["tickets", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("moved=20000"), "{log}");

    let conn = Connection::open(&db).unwrap();
    let moved: i64 = conn
        .query_row("SELECT count(*) FROM message_raw", [], |r| r.get(0))
        .unwrap();
    assert_eq!(moved as usize, before.len());
    for (row, raw) in before.iter().step_by(97).chain(before.last()) {
        let stored = postdesk::store::raw::read(&conn, *row).unwrap();
        assert!(
            stored.as_deref() == Some(&raw[..]),
            "message row {row} changed"
        );
    }
}

/// New mail is stored compressed, and `ticket --mbox` gives it back as it arrived.
#[test]
fn new_mail_is_stored_compressed_and_given_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("postdesk.db");
    let mail = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mail/06-request-en.eml");
    let original = std::fs::read(&mail).unwrap();
    let out = postdesk(&db, "warn", &["ingest", mail.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = postdesk(&db, "warn", &["ticket", "1000", "--mbox"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One mbox message: the From_ line, the mail as it arrived (it has no line starting with
    // "From " to quote), a blank line.
    let from_line = out.stdout.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(out.stdout.starts_with(b"From "));
    let mut expected = original.clone();
    if !expected.ends_with(b"\n") {
        expected.push(b'\n');
    }
    expected.push(b'\n');
    assert!(
        out.stdout[from_line..] == expected[..],
        "the mbox differs from the mail"
    );

    let conn = Connection::open(&db).unwrap();
    let (codec, stored): (i64, i64) = conn
        .query_row("SELECT codec, length(bytes) FROM message_raw", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(codec, postdesk::store::raw::CODEC_ZSTD);
    assert!(
        (stored as usize) < original.len(),
        "{stored} of {}",
        original.len()
    );
}
