//! `postdesk explain`: what would happen to a message, through the real pipeline, with
//! nothing stored and nothing queued.

mod common;

use std::process::Command;

use common::{Desk, fixture, fixture_path, mail};
use postdesk::cli::explain::explain;

fn counts(desk: &Desk) -> (i64, i64, i64, i64) {
    (
        desk.count("SELECT count(*) FROM tickets"),
        desk.count("SELECT count(*) FROM messages"),
        desk.count("SELECT count(*) FROM events"),
        desk.count("SELECT count(*) FROM outbox"),
    )
}

#[test]
fn explains_a_request_a_follow_up_and_a_bounce_and_stores_nothing() {
    let mut desk = Desk::new();
    let request = desk.ingest_fixture("06-request-en.eml");
    let before = counts(&desk);

    // Written now: explain runs on the real clock.
    let now = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    let new = String::from_utf8(mail(
        "zoe@customer.example",
        "Invoice 12 is wrong",
        "",
        "Please fix it.",
    ))
    .unwrap()
    .replacen(
        "Date: Tue, 17 Nov 2026 10:00:00 +0000",
        &format!("Date: {now}"),
        1,
    )
    .into_bytes();
    let what = explain(&desk.config, &mut desk.store, new, None, "test".into()).unwrap();
    assert_eq!(what.outcome, "new ticket");
    let ticket = what.ticket.as_ref().unwrap();
    assert_eq!(
        (ticket.queue.as_str(), ticket.status.as_str()),
        ("billing", "new")
    );
    assert!(ticket.due_at.is_some());
    assert!(
        what.mails
            .iter()
            .any(|(kind, to, _)| kind == "acknowledgement" && to == "zoe@customer.example"),
        "{what:?}"
    );

    let follow_up = fixture("07-followup-en.eml");
    let what = explain(
        &desk.config,
        &mut desk.store,
        follow_up,
        None,
        "test".into(),
    )
    .unwrap();
    assert_eq!(what.outcome, "joins ticket");
    assert_eq!(what.ticket.unwrap().reference, request);
    assert_eq!(what.threaded_by.as_deref(), Some("In-Reply-To"));

    let bounce = fixture("12-bounce-dsn.eml");
    let what = explain(&desk.config, &mut desk.store, bounce, None, "test".into()).unwrap();
    assert_eq!(what.kind.as_deref(), Some("bounce"));
    assert!(what.mails.is_empty());

    assert_eq!(counts(&desk), before, "explain stored something");
}

#[test]
fn the_command_prints_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("postdesk.db");
    let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--config")
        .arg(fixture_path("postdesk.toml"))
        .arg("--db")
        .arg(&db)
        .arg("explain")
        .arg(fixture_path("mail/19-request-invoice.eml"))
        .env("POSTDESK_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("outcome: new ticket"), "{text}");
    assert!(text.contains("queue billing"), "{text}");
    assert!(text.contains("nothing was stored or sent"), "{text}");
}
