//! `postdesk search` over the filed fixtures: words, a ticket reference, an address, and
//! user input that FTS5 would otherwise read as syntax.

mod common;

use common::{Desk, fixture_path};
use postdesk::store::search::search;

fn filled() -> Desk {
    let mut desk = Desk::new();
    let mut names: Vec<String> = std::fs::read_dir(fixture_path("mail"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        desk.ingest_fixture(name);
    }
    desk
}

#[test]
fn words_references_and_addresses_find_their_tickets() {
    let desk = filled();
    let conn = desk.store.connection();
    let hits = search(conn, "printer crashes", 20).unwrap();
    assert_eq!(hits[0].customer, "bob@client.example", "{hits:#?}");
    assert!(hits[0].snippet.contains("[printer]"), "{}", hits[0].snippet);
    assert!(!hits[0].snippet.contains('\n'));

    let by_ref = search(conn, &format!("#{}", hits[0].reference), 20).unwrap();
    assert_eq!(by_ref.len(), 1);
    assert_eq!(by_ref[0].reference, hits[0].reference);

    let by_address = search(conn, "Bob@Client.example", 20).unwrap();
    assert_eq!(by_address.len(), 1);
    assert_eq!(by_address[0].reference, hits[0].reference);

    // Cyrillic words, and an invoice number that is no ticket reference.
    assert!(!search(conn, "оплата", 20).unwrap().is_empty());
    let invoice = search(conn, "INV-2026-118", 20).unwrap();
    assert_eq!(
        invoice[0].customer, "henry@smallbiz.example",
        "{invoice:#?}"
    );
}

#[test]
fn query_syntax_from_users_is_never_an_error() {
    let desk = filled();
    let conn = desk.store.connection();
    for query in [
        "\"",
        "NOT",
        "a OR",
        "*",
        "(printer",
        "printer AND NEAR(",
        "-x",
        "^",
        ":",
    ] {
        assert!(search(conn, query, 20).is_ok(), "{query}");
    }
    assert!(
        search(conn, "printer OR", 20).unwrap().is_empty(),
        "OR is a word, all required"
    );
}
