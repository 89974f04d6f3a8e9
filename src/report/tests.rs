//! The report computed over a store filled through the real ingest pipeline, with a moved
//! clock: every kind of waiting period (met, answered late, still overdue, open and not yet
//! due, reopened after an answer, reopened after an ignore rule, settled before the window).

use jiff::Timestamp;
use std::path::Path;

use super::periods::{Outcome, Period, periods_of};
use super::{Params, Report, compute};
use crate::clock::ManualClock;
use crate::config::Config;
use crate::ingest::Origin;
use crate::store::reports::TicketHistory;
use crate::store::{self, Store};
use crate::store::{Incoming, Ingester, Summary};

const CONFIG: &str = r#"
[[mailbox]]
name = "support"
address = "support@example.com"
maildir = "/nonexistent"

[[queue]]
name = "support"
agents = ["anna@example.com"]

[[queue]]
name = "billing"
agents = ["anna@example.com"]

[[rule]]
subject = "(?i)invoice"
queue = "billing"
category = "billing"

[[rule]]
subject = "(?i)newsletter"
ignore = true
"#;

const HOUR: u64 = 3600;

struct Desk {
    config: Config,
    store: Store,
    clock: ManualClock,
    t0: Timestamp,
}

impl Desk {
    fn new() -> Desk {
        let t0: Timestamp = "2026-11-16T08:00:00Z".parse().unwrap();
        Desk {
            config: Config::from_toml(CONFIG, Path::new("report-test.toml")).unwrap(),
            store: Store::open_in_memory().unwrap(),
            clock: ManualClock::new(t0),
            t0,
        }
    }

    /// Unix seconds `hours` (and `minutes`) after T0 (negative: before).
    fn at(&self, hours: i64, minutes: i64) -> i64 {
        self.t0.as_second() + hours * 3600 + minutes * 60
    }

    /// Files a message arriving `hours`:`minutes` after T0; returns its ticket's reference.
    fn file(&mut self, hours: i64, minutes: i64, raw: String) -> i64 {
        self.clock
            .set(Timestamp::from_second(self.at(hours, minutes)).unwrap());
        let ingester = Ingester {
            config: &self.config,
            clock: &self.clock,
        };
        let batch = [Incoming {
            raw: raw.into_bytes(),
            origin: Origin {
                mailbox: Some("support".into()),
                location: "test".into(),
                imap: None,
                sent: false,
            },
        }];
        let mut filed = ingester
            .ingest_batch(&mut self.store, &batch, &mut Summary::default())
            .unwrap();
        match filed.pop().unwrap() {
            crate::store::Filed::Stored { ticket, .. } => store::reference(ticket),
            other => panic!("not stored: {other:?}"),
        }
    }

    fn report(&self, queue: Option<&str>) -> Report {
        let until = self.at(72, 0);
        compute(
            self.store.connection(),
            &self.config,
            &Params {
                since: self.at(-24, 0),
                until,
                now: until,
                queue,
            },
        )
        .unwrap()
    }
}

fn mail(from: &str, subject: &str, id: &str, in_reply_to: Option<&str>, extra: &str) -> String {
    let threading = in_reply_to
        .map(|parent| format!("In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Date: Mon, 16 Nov 2026 08:00:00 +0000\r\nMessage-ID: <{id}>\r\n{threading}{extra}\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello, this is about my account.\r\n"
    )
}

const AGENT: &str = "Anna <anna@example.com>";

/// The agent's answer to `customer`, the desk in copy (how an observed answer arrives).
fn answer(customer: &str, subject: &str, id: &str, parent: &str) -> String {
    mail(AGENT, subject, id, Some(parent), "").replacen(
        "To: support@example.com",
        &format!("To: {customer}\r\nCc: support@example.com"),
        1,
    )
}

/// The scenario described in the module doc; returns the references of the tickets.
fn scenario(desk: &mut Desk) -> [i64; 8] {
    let h = desk.file(
        -72,
        0,
        mail("hank@c.example", "Old question", "h1@c", None, ""),
    );
    let a = desk.file(
        0,
        0,
        mail(
            "alice@c.example",
            "Cannot log in to my account",
            "a1@c",
            None,
            "",
        ),
    );
    desk.file(
        2,
        0,
        answer("alice@c.example", "Re: Cannot log in", "a2@s", "a1@c"),
    );
    let b = desk.file(
        0,
        10,
        mail("bob@c.example", "Invoice 4471 is wrong", "b1@c", None, ""),
    );
    desk.file(
        30,
        0,
        answer("bob@c.example", "Re: Invoice", "b2@s", "b1@c"),
    );
    let c = desk.file(
        1,
        0,
        mail(
            "carol@c.example",
            "Password reset does not arrive",
            "c1@c",
            None,
            "",
        ),
    );
    let d = desk.file(
        70,
        0,
        mail(
            "dave@c.example",
            "Cannot log in after password reset",
            "d1@c",
            None,
            "",
        ),
    );
    let e = desk.file(
        2,
        0,
        mail("erin@c.example", "Delivery delayed", "e1@c", None, ""),
    );
    desk.file(
        3,
        0,
        answer("erin@c.example", "Re: Delivery", "e2@s", "e1@c"),
    );
    desk.file(
        4,
        0,
        mail("erin@c.example", "Re: Delivery", "e3@c", Some("e2@s"), ""),
    );
    desk.file(
        48,
        0,
        answer("erin@c.example", "Re: Delivery", "e4@s", "e3@c"),
    );
    let f = desk.file(
        4,
        30,
        mail("frank@c.example", "Weekly newsletter", "f1@c", None, ""),
    );
    desk.file(
        5,
        0,
        mail(
            "frank@c.example",
            "Re: Weekly newsletter",
            "f2@c",
            Some("f1@c"),
            "",
        ),
    );
    desk.file(
        6,
        0,
        answer("frank@c.example", "Re: newsletter", "f3@s", "f2@c"),
    );
    let g = desk.file(
        1,
        0,
        mail(
            "gina@c.example",
            "Away",
            "g1@c",
            None,
            "Auto-Submitted: auto-replied\r\n",
        ),
    );
    [a, b, c, d, e, f, g, h]
}

#[test]
fn share_within_target_counts_each_settled_period_once() {
    let mut desk = Desk::new();
    let [_, b, c, _, e, _, _, _] = scenario(&mut desk);
    let report = desk.report(None);
    let target = &report.target;
    // met: A, E's first period, F after its reopening; missed: B (late), C (overdue), E's
    // second period (late). D is open and not due; H was missed before the window.
    assert_eq!((target.met, target.missed), (3, 3), "{target:#?}");
    assert_eq!(target.share_met, Some(0.5));
    assert_eq!(target.open_not_due, 1);
    let queues: Vec<(&str, u64, u64)> = target
        .by_queue
        .iter()
        .map(|q| (q.queue.as_str(), q.met, q.missed))
        .collect();
    assert_eq!(queues, [("support", 3, 2), ("billing", 0, 1)]);

    let breaches: Vec<(i64, Option<i64>, u64)> = report
        .breaches
        .iter()
        .map(|b| (b.reference, b.answered_at, b.late_seconds))
        .collect();
    assert_eq!(
        breaches,
        [
            (b, Some(desk.at(30, 0)), 5 * HOUR + 50 * 60),
            (c, None, 47 * HOUR),
            (e, Some(desk.at(48, 0)), 20 * HOUR),
        ]
    );
    assert_eq!(report.breaches[1].due_at, desk.at(25, 0));
    assert_eq!(report.breaches[0].subject, "Invoice 4471 is wrong");
    let days: Vec<(&str, u64)> = report
        .breaches_per_day
        .iter()
        .map(|d| (d.date.as_str(), d.count))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-15", 0),
            ("2026-11-16", 0),
            ("2026-11-17", 3),
            ("2026-11-18", 0),
            ("2026-11-19", 0)
        ]
    );
}

#[test]
fn first_response_quantiles_and_histogram() {
    let mut desk = Desk::new();
    scenario(&mut desk);
    let response = desk.report(None).first_response;
    // A 2h, B 29h50m, E 1h, F 1h30m (from the newsletter to the answer)
    assert_eq!(response.count, 4);
    assert_eq!(response.p50_seconds, Some(90 * 60));
    assert_eq!(response.p90_seconds, Some(29 * HOUR + 50 * 60));
    let histogram: Vec<u64> = response.histogram.iter().map(|b| b.count).collect();
    assert_eq!(histogram, [0, 0, 3, 0, 0, 1]);
    // Monday 16 November, UTC working hours 09:00-18:00: A arrived 08:00, answered 10:00:
    // one business hour; the median is E's (10:00 to 11:00).
    assert_eq!(response.business_p50_seconds, Some(HOUR));
}

#[test]
fn backlog_by_age_and_the_rest() {
    let mut desk = Desk::new();
    scenario(&mut desk);
    let a_ticket = store::ticket_of_reference(1001);
    desk.store
        .connection()
        .execute(
            "UPDATE outbox SET status = 'done', done_at = ?1
             WHERE kind = 'acknowledgement' AND ticket_id = ?2",
            rusqlite::params![desk.at(0, 15), a_ticket],
        )
        .unwrap();
    let report = desk.report(None);
    let support = &report.backlog[0];
    assert_eq!(support.queue, "support");
    let ages: Vec<(&str, u64)> = support.ages.iter().map(|b| (b.label, b.count)).collect();
    // D waits 2h, C 71h, H 6 days
    assert_eq!(
        ages,
        [
            ("<1h", 0),
            ("1-4h", 1),
            ("4-24h", 0),
            ("1-3d", 1),
            (">3d", 1)
        ]
    );
    assert_eq!(support.total, 3);
    assert_eq!(report.backlog[1].total, 0);
    assert_eq!(report.acknowledgements_sent, 1);
    // A, B, C, D, E and F (reopened); not G (automatic) nor H (before the window)
    assert_eq!(report.tickets_opened, 6);
    let terms: Vec<(&str, u64)> = report
        .topics
        .terms
        .iter()
        .take(4)
        .map(|t| (t.term.as_str(), t.count))
        .collect();
    assert_eq!(
        terms,
        [("log", 2), ("password", 2), ("reset", 2), ("account", 1)]
    );
    let categories: Vec<(Option<&str>, u64)> = report
        .topics
        .categories
        .iter()
        .map(|c| (c.category.as_deref(), c.count))
        .collect();
    assert_eq!(categories, [(None, 5), (Some("billing"), 1)]);
}

#[test]
fn one_queue_only() {
    let mut desk = Desk::new();
    let [_, b, ..] = scenario(&mut desk);
    let report = desk.report(Some("billing"));
    assert_eq!((report.target.met, report.target.missed), (0, 1));
    assert_eq!(report.target.by_queue.len(), 1);
    assert_eq!(report.breaches.len(), 1);
    assert_eq!(report.breaches[0].reference, b);
    assert_eq!(report.first_response.count, 1);
    assert_eq!(report.tickets_opened, 1);
    assert_eq!(report.backlog.len(), 1);
    assert_eq!(report.backlog[0].queue, "billing");
}

#[test]
fn consecutive_windows_count_every_period_once() {
    let mut desk = Desk::new();
    scenario(&mut desk);
    let count = |since: i64, until: i64| {
        let r = compute(
            desk.store.connection(),
            &desk.config,
            &Params {
                since,
                until,
                now: until,
                queue: None,
            },
        )
        .unwrap();
        (r.target.met, r.target.missed)
    };
    let (first, second) = (
        count(desk.at(-24, 0), desk.at(26, 0)),
        count(desk.at(26, 0), desk.at(72, 0)),
    );
    assert_eq!(first.0 + second.0, 3);
    assert_eq!(first.1 + second.1, 3);
    // B, C were due on the 17th at 08:10 and 09:00; E's second period at 12:00 (28h).
    assert_eq!(first, (3, 2));
}

fn history(messages: &[(&str, i64)]) -> TicketHistory {
    TicketHistory {
        id: 1,
        messages: messages.iter().map(|(k, t)| (k.to_string(), *t)).collect(),
        ..TicketHistory::default()
    }
}

#[test]
fn periods_open_on_customer_mail_and_close_on_agent_replies() {
    let deadline = |start: i64| start + 100;
    let periods = periods_of(
        &history(&[
            ("request", 0),
            ("follow_up", 10),
            ("agent_reply", 50),
            ("agent_reply", 60),
            ("follow_up", 70),
            ("agent_reply", 300),
            ("follow_up", 400),
        ]),
        deadline,
    );
    assert_eq!(
        periods,
        [
            Period {
                ticket: 1,
                start: 0,
                due: 100,
                answered: Some(50)
            },
            Period {
                ticket: 1,
                start: 70,
                due: 170,
                answered: Some(300)
            },
            Period {
                ticket: 1,
                start: 400,
                due: 500,
                answered: None
            },
        ]
    );
    assert_eq!(periods[0].outcome(1000), Outcome::Met);
    assert_eq!(periods[0].decided_at(), 50);
    assert_eq!(periods[1].outcome(1000), Outcome::Missed);
    assert_eq!(periods[1].decided_at(), 170);
    assert_eq!(periods[2].outcome(450), Outcome::OpenNotDue);
    assert_eq!(periods[2].outcome(501), Outcome::Missed);
    // Answered exactly at the deadline is in time.
    let on_time = periods_of(&history(&[("request", 0), ("agent_reply", 100)]), deadline);
    assert_eq!(on_time[0].outcome(1000), Outcome::Met);
}

#[test]
fn the_open_period_keeps_the_deadline_the_store_holds() {
    let mut open = history(&[("request", 0), ("agent_reply", 10), ("follow_up", 20)]);
    open.waiting_since = Some(20);
    open.due_at = Some(999);
    let periods = periods_of(&open, |start| start + 100);
    assert_eq!(periods[0].due, 100);
    assert_eq!(periods[1].due, 999);
    let mut ignored = history(&[("request", 0), ("follow_up", 20), ("agent_reply", 30)]);
    ignored.created_ignored = true;
    let periods = periods_of(&ignored, |start| start + 100);
    assert_eq!(periods.len(), 1);
    assert_eq!(periods[0].start, 20);
}

#[test]
fn reports_render_as_text_json_and_html() {
    let mut desk = Desk::new();
    let [_, b, ..] = scenario(&mut desk);
    let report = desk.report(None);
    let tz = jiff::tz::TimeZone::UTC;
    let text = super::text::render(&report, &tz);
    assert!(
        text.contains(
            "Answered within target      50.0%   3 of 6 waiting periods (1 still open, not yet due)"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("#{b}")), "{text}");
    assert!(text.contains("Invoice 4471 is wrong"), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["target"]["share_met"], 0.5);
    assert_eq!(json["breaches"][0]["ref"], b);
    assert_eq!(json["breaches"][1]["answered_at"], serde_json::Value::Null);
    assert_eq!(json["since"], "2026-11-15T08:00:00Z");
    assert_eq!(json["backlog"][0]["ages"][4]["label"], ">3d");
    let page = super::html::render(&report, &tz);
    assert!(page.contains(&format!("<td>#{b}</td>")), "{page}");
    assert!(page.starts_with("<!DOCTYPE html>"));
}

#[test]
fn a_huge_stored_subject_is_read_cut_and_counted_as_one_ticket() {
    use crate::ingest::parse::MAX_SUBJECT_CHARS;
    let mut desk = Desk::new();
    let reference = desk.file(0, 0, mail("mallory@c.example", "Short", "m1@c", None, ""));
    // As a version without the subject cut stored it: 1.2 MB of distinct words.
    let words: Vec<String> = (0..200_000).map(|n| format!("w{n:05}x")).collect();
    let subject = format!("{}{}", "Re: ".repeat(10), words.join(" "));
    desk.store
        .connection()
        .execute(
            "UPDATE tickets SET subject = ?1 WHERE id = ?2",
            rusqlite::params![subject, store::ticket_of_reference(reference)],
        )
        .unwrap();
    let report = desk.report(None);
    let breach = report
        .breaches
        .iter()
        .find(|b| b.reference == reference)
        .expect("overdue");
    assert_eq!(breach.subject.chars().count(), MAX_SUBJECT_CHARS);
    assert!(subject.starts_with(&breach.subject));
    // Ties in alphabetical order: the subject's first words.
    let terms: Vec<&str> = report
        .topics
        .terms
        .iter()
        .map(|t| t.term.as_str())
        .collect();
    assert_eq!(terms, words[..super::TOP_TOPICS]);
    assert!(report.topics.terms.iter().all(|t| t.count == 1));
    let text = super::text::render(&report, &desk.config.calendar.timezone);
    assert!(text.len() < 10_000, "{} bytes", text.len());
}
