use jiff::tz::TimeZone;

use super::{LISTED_BREACHES, count_trend, render, share_trend, time_trend};
use crate::report::{
    Breach, Bucket, FirstResponse, QueueBacklog, QueueShare, Report, TargetShare, Topics,
};

const WEEK: i64 = 7 * 86_400;
/// Monday 16 November 2026 00:00 UTC.
const MONDAY: i64 = 1_794_787_200;

fn report(met: u64, missed: u64, p50: Option<u64>, breaches: usize) -> Report {
    let share = (met + missed > 0).then(|| met as f64 / (met + missed) as f64);
    Report {
        generated_at: MONDAY,
        since: MONDAY - WEEK,
        until: MONDAY,
        queue: None,
        timezone: "UTC".into(),
        tickets_opened: met + missed,
        acknowledgements_sent: 0,
        target: TargetShare {
            met,
            missed,
            share_met: share,
            open_not_due: 0,
            by_queue: vec![QueueShare {
                queue: "support".into(),
                met,
                missed,
                share_met: share,
            }],
        },
        first_response: FirstResponse {
            count: met,
            p50_seconds: p50,
            p90_seconds: p50.map(|s| s * 2),
            business_p50_seconds: p50,
            business_p90_seconds: p50,
            histogram: Vec::new(),
        },
        breaches: (0..breaches)
            .map(|i| Breach {
                reference: 1001 + i as i64,
                queue: "support".into(),
                subject: format!("Problem number {i}"),
                customer: "c@customer.example".into(),
                waiting_since: MONDAY - WEEK + i as i64 * 3600,
                due_at: MONDAY - WEEK + 86_400 + i as i64 * 3600,
                answered_at: None,
                late_seconds: 3600,
            })
            .collect(),
        breaches_per_day: Vec::new(),
        backlog: vec![QueueBacklog {
            queue: "support".into(),
            total: 4,
            ages: vec![
                Bucket {
                    label: "<1h",
                    count: 1,
                },
                Bucket {
                    label: "1-3d",
                    count: 2,
                },
                Bucket {
                    label: ">3d",
                    count: 1,
                },
            ],
        }],
        topics: Topics {
            categories: Vec::new(),
            terms: Vec::new(),
        },
    }
}

#[test]
fn headline_numbers_with_last_weeks_and_the_change() {
    let this = report(23, 2, Some(3600), 2);
    let last = report(22, 3, Some(7200), 3);
    let text = render(&this, &last, &TimeZone::UTC);
    assert!(
        text.starts_with(
            "postdesk report: 2026-11-09 00:00 to 2026-11-16 00:00 (UTC), all queues\n"
        ),
        "{text}"
    );
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} line in\n{text}"))
            .to_string()
    };
    assert!(
        line("Answered within target")
            .ends_with("92.0%   23 of 25 waiting periods (last week 88.0%, +4.0 points)"),
        "{text}"
    );
    assert!(
        line("Breaches").ends_with("2   (last week 3, -1)"),
        "{text}"
    );
    assert!(
        line("First response")
            .ends_with("p50 1h 00m (last week 2h 00m, 1h 00m faster), p90 2h 00m"),
        "{text}"
    );
    assert!(
        line("Backlog").ends_with("4   awaiting an agent now, 3 of them for over a day"),
        "{text}"
    );
    assert!(text.contains("  #1002   support"), "{text}");
    assert!(text.contains("Problem number 1"), "{text}");
}

#[test]
fn the_body_lists_only_the_latest_breaches() {
    let this = report(10, 12, None, 12);
    let text = render(&this, &report(0, 0, None, 0), &TimeZone::UTC);
    assert!(
        text.contains(&format!(
            "The {LISTED_BREACHES} latest of 12 breaches (the attached page lists them all):"
        )),
        "{text}"
    );
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  #")).collect();
    assert_eq!(listed.len(), LISTED_BREACHES, "{text}");
    assert!(listed[0].starts_with("  #1012 "), "{text}");
    assert!(!text.contains("#1007 "), "{text}");
}

#[test]
fn trends_without_last_weeks_numbers_or_without_change() {
    assert_eq!(share_trend(Some(0.5), None), "(last week: none settled)");
    assert_eq!(share_trend(Some(0.5), Some(0.5)), "(last week 50.0%, same)");
    assert_eq!(
        share_trend(Some(0.4), Some(0.5)),
        "(last week 50.0%, -10.0 points)"
    );
    assert_eq!(count_trend(3, 3), "(last week 3, same)");
    assert_eq!(count_trend(5, 2), "(last week 2, +3)");
    assert_eq!(time_trend(Some(60), None), "(last week -)");
    assert_eq!(
        time_trend(Some(7200), Some(3600)),
        "(last week 1h 00m, 1h 00m slower)"
    );
}
