use super::*;

fn limits() -> IngestLimits {
    IngestLimits::default()
}

#[test]
fn koi8r_subject_and_body() {
    let mut raw = b"From: a@b.example\r\nSubject: =?koi8-r?B?8NLJ18XU?=\r\nMessage-ID: <x@y>\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    raw.extend_from_slice(&[0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]);
    let parsed = parse(&raw, &limits());
    assert_eq!(parsed.subject, "Привет");
    assert_eq!(parsed.text.trim(), "Привет");
    assert_eq!(parsed.message_id.as_deref(), Some("x@y"));
}

#[test]
fn header_values_lose_line_breaks() {
    let raw = b"From: \"Evil\r\n Name\" <EVIL@Example.COM>\r\nSubject: a\r\n b\r\n\r\nbody";
    let parsed = parse(raw, &limits());
    assert_eq!(parsed.from.as_deref(), Some("evil@example.com"));
    assert_eq!(parsed.subject, "a b");
    assert!(
        parsed
            .headers
            .iter()
            .all(|(_, v)| !v.contains(['\r', '\n']))
    );
}

#[test]
fn one_line_folds_whitespace_and_control_characters() {
    for (text, want) in [
        ("plain words", "plain words"),
        ("", ""),
        ("  two  spaces\t\r\n tab ", "two spaces tab"),
        ("bell\u{7}inside", "bell inside"),
        ("non\u{a0}breaking  Привет", "non breaking Привет"),
    ] {
        assert_eq!(one_line(text), want, "{text:?}");
    }
}

#[test]
fn quoted_local_parts_are_whole_addresses() {
    let raw = b"From: \"<x>\"@Example.test\r\nTo: \"a b\"@example.test, Name <\"<y>\"@example.test>, c@example.test\r\nCc: \"John\"@example.test\r\nSubject: hi\r\n\r\nbody";
    let parsed = parse(raw, &limits());
    assert_eq!(parsed.from.as_deref(), Some("\"<x>\"@example.test"));
    assert_eq!(parsed.from_name, None);
    assert_eq!(
        parsed.to,
        [
            "\"a b\"@example.test",
            "\"<y>\"@example.test",
            "c@example.test"
        ]
    );
    assert_eq!(parsed.cc, ["john@example.test"]);
    let other = parse(
        b"From: \"<z>\"@example.test\r\nSubject: hi\r\n\r\nbody",
        &limits(),
    );
    assert_ne!(other.from, parsed.from, "two senders, two identities");
    // The ordinary forms are read as mail-parser reads them, encoded names decoded.
    let plain = parse(
        b"From: =?utf-8?B?0JjQstCw0L0=?= <Ivan@Example.test>\r\nTo: \"Doe, Jane\" <jane@example.test>\r\n\r\nbody",
        &limits(),
    );
    assert_eq!(plain.from.as_deref(), Some("ivan@example.test"));
    assert_eq!(plain.from_name.as_deref(), Some("Иван"));
    assert_eq!(plain.to, ["jane@example.test"]);
}

#[test]
fn the_last_hundred_references_are_kept_parent_last() {
    let ids: Vec<String> = (0..150).map(|n| format!("<r{n}@x.example>")).collect();
    let raw = format!(
        "From: a@b.example\r\nReferences: {}\r\nSubject: hi\r\n\r\nbody",
        ids.join("\r\n ")
    );
    let parsed = parse(raw.as_bytes(), &limits());
    assert_eq!(parsed.references.len(), MAX_REFERENCES);
    assert_eq!(parsed.references.first().unwrap(), "r50@x.example");
    assert_eq!(parsed.references.last().unwrap(), "r149@x.example");
}

#[test]
fn derived_fields_are_bounded() {
    let subject = "Привет ".repeat(1_000);
    let long_header = "v".repeat(10_000);
    let mut raw = format!(
        "From: {} <a@b.example>\r\nTo: {}@b.example, ok@b.example\r\nSubject: {subject}\r\nX-Long: {long_header}\r\n",
        "n".repeat(5_000),
        "l".repeat(400)
    );
    for i in 0..100 {
        raw.push_str(&format!("X-Fill-{i}: {long_header}\r\n"));
    }
    raw.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    raw.push_str(&"ж".repeat(MAX_TEXT_BYTES));
    let parsed = parse(raw.as_bytes(), &limits());
    assert_eq!(parsed.unparsed, None);
    assert_eq!(parsed.subject.chars().count(), MAX_SUBJECT_CHARS);
    assert!(subject.starts_with(&parsed.subject));
    assert!(parsed.text.len() <= MAX_TEXT_BYTES && parsed.text.len() > MAX_TEXT_BYTES - 4);
    assert!(parsed.text.chars().all(|c| c == 'ж'));
    assert_eq!(
        parsed.from_name.as_deref().map(|n| n.chars().count()),
        Some(MAX_NAME_CHARS)
    );
    assert_eq!(parsed.to, ["ok@b.example"]);
    assert_eq!(
        parsed.header("X-Long").map(|v| v.chars().count()),
        Some(MAX_HEADER_VALUE_CHARS)
    );
    let kept: usize = parsed.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    assert!(kept <= MAX_HEADERS_BYTES, "{kept}");
    assert!(parsed.headers.len() < 100, "{}", parsed.headers.len());
    assert!(parsed.header("From").is_some());
}

#[test]
fn the_raw_message_is_stored_whole_and_the_derived_fields_cut() {
    use crate::ingest::Origin;
    use crate::store::{Incoming, Ingester, Summary};
    let config = crate::config::Config::builtin();
    let clock = crate::clock::ManualClock::new("2026-11-16T08:00:00Z".parse().unwrap());
    let mut store = crate::store::Store::open_in_memory().unwrap();
    let raw = format!(
        "From: a@b.example\r\nSubject: {}\r\nX-Pad: {}\r\n\r\n{}",
        "Re: ".repeat(250_000),
        "p".repeat(100_000),
        "body ".repeat(400_000)
    )
    .into_bytes();
    let batch = [Incoming {
        raw: raw.clone(),
        origin: Origin {
            mailbox: None,
            location: "test".into(),
            imap: None,
            sent: false,
        },
    }];
    let ingester = Ingester {
        config: &config,
        clock: &clock,
    };
    ingester
        .ingest_batch(&mut store, &batch, &mut Summary::default())
        .unwrap();
    let (row, subject, text, headers): (i64, i64, i64, i64) = store
        .connection()
        .query_row(
            "SELECT id, length(subject), length(CAST(text AS BLOB)), length(headers) FROM messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let stored = crate::store::raw::read(store.connection(), row)
        .unwrap()
        .unwrap();
    assert_eq!(stored, raw);
    assert_eq!(subject, MAX_SUBJECT_CHARS as i64);
    assert!(text <= MAX_TEXT_BYTES as i64, "{text}");
    assert!(
        headers < 2 * (MAX_SUBJECT_CHARS + MAX_HEADER_VALUE_CHARS) as i64,
        "{headers}"
    );
}

#[test]
fn one_line_max_is_one_line_cut() {
    for text in ["", "  a  bb ccc\r\n dddd ", "é ü\tжжж  ", "x", "   "] {
        for max in 0..12 {
            assert_eq!(
                one_line_max(text, max),
                cut_chars(one_line(text), max),
                "{text:?} {max}"
            );
        }
    }
}

#[test]
fn arrival_is_the_topmost_received_date() {
    let raw = b"Received: from b by c; Tue, 17 Nov 2026 10:00:00 +0000\r\n\
        Received: from a by b; Mon, 2 Nov 2026 10:00:00 +0000\r\n\
        Date: Sun, 1 Nov 2026 10:00:00 +0000\r\nFrom: a@b.example\r\n\r\nhi\r\n";
    let parsed = parse(raw, &IngestLimits::default());
    assert_eq!(
        arrival_time(&parsed),
        Some(
            "2026-11-17T10:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second()
        )
    );
    let local = parse(
        b"Date: Sun, 1 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n",
        &IngestLimits::default(),
    );
    assert_eq!(arrival_time(&local), None);
    let garbage = parse(
        b"Received: from a; not a date\r\n\r\nhi\r\n",
        &IngestLimits::default(),
    );
    assert_eq!(arrival_time(&garbage), None);
}

#[test]
fn message_ids_are_one_word() {
    // found by fuzzing: an unterminated msg-id runs into the next, folded line
    let raw = b"From: a@b.example\r\nMessage-ID: <NZ2\n\tfor <support@example.com>; Mon\r\nReferences: <r 1@x>\r\n\r\nhi";
    let parsed = parse(raw, &limits());
    let id = parsed.message_id.unwrap();
    assert_eq!(id, "NZ2forsupport@example.com");
    assert!(
        parsed
            .references
            .iter()
            .all(|r| !r.contains(char::is_whitespace)),
        "{:?}",
        parsed.references
    );
}

#[test]
fn a_message_nested_ten_thousand_deep_is_parsed_without_overflowing_the_stack() {
    let mut raw = String::new();
    for level in 0..10_000 {
        raw.push_str(&format!(
            "From: a@b.example\r\nSubject: level {level}\r\nContent-Type: message/rfc822\r\n\r\n"
        ));
    }
    raw.push_str("From: core@b.example\r\nSubject: core\r\n\r\nThe core.\r\n");
    let parsed = parse(raw.as_bytes(), &limits());
    assert_eq!(parsed.unparsed, None);
    assert_eq!(parsed.subject, "level 0");
}

#[test]
fn refuses_nul_bytes_and_header_floods() {
    let parsed = parse(b"From: a@b.c\r\nSubject: x\0y\r\n\r\nhi", &limits());
    assert!(parsed.unparsed.unwrap().contains("NUL"));
    let mut flood = String::new();
    for i in 0..10_000 {
        flood.push_str(&format!("X-H{i}: v\r\n"));
    }
    flood.push_str("\r\nbody");
    let parsed = parse(flood.as_bytes(), &limits());
    assert!(
        parsed
            .unparsed
            .unwrap()
            .contains("more than 2000 header lines")
    );
}

#[test]
fn refuses_oversized() {
    let small = IngestLimits {
        max_message_bytes: 10,
        ..limits()
    };
    let parsed = parse(b"From: a@b.c\r\n\r\nmore than ten", &small);
    assert!(parsed.unparsed.unwrap().contains("over the limit"));
}

#[test]
fn same_message_same_key_despite_trace_headers() {
    let a = parse(b"Received: by a\r\nFrom: a@b.c\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m@b.c>\r\n\r\nx", &limits());
    let b = parse(b"Received: by b\r\nReceived: by a\r\nFrom: a@b.c\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m@b.c>\r\n\r\nx", &limits());
    assert_eq!(a.dedup_key, b.dedup_key);
    let other = parse(
        b"From: z@b.c\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\nMessage-ID: <m@b.c>\r\n\r\nx",
        &limits(),
    );
    assert_ne!(a.dedup_key, other.dedup_key);
}
