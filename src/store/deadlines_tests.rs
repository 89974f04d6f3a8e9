use jiff::tz::TimeZone;

use super::digest_period;
use crate::config::NoticeMode;

fn at(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_second()
}

#[test]
fn each_has_no_period() {
    assert_eq!(
        digest_period(NoticeMode::Each, &TimeZone::UTC, at("2026-11-16T10:20:00Z")),
        None
    );
}

#[test]
fn hours_follow_the_zone_offset() {
    let kyiv = TimeZone::get("Europe/Kyiv").unwrap();
    assert_eq!(
        digest_period(NoticeMode::Hourly, &kyiv, at("2026-11-16T10:20:00Z")),
        Some((at("2026-11-16T10:00:00Z"), at("2026-11-16T11:00:00Z")))
    );
    // The end of an hour belongs to the next one.
    assert_eq!(
        digest_period(NoticeMode::Hourly, &kyiv, at("2026-11-16T11:00:00Z")),
        Some((at("2026-11-16T11:00:00Z"), at("2026-11-16T12:00:00Z")))
    );
    let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
    assert_eq!(
        digest_period(NoticeMode::Hourly, &kolkata, at("2026-11-16T10:20:00Z")),
        Some((at("2026-11-16T09:30:00Z"), at("2026-11-16T10:30:00Z")))
    );
}

#[test]
fn days_run_from_local_midnight_also_across_a_dst_change() {
    let kyiv = TimeZone::get("Europe/Kyiv").unwrap();
    // 23:30 UTC on the 15th is already the 16th in Kyiv (+02:00).
    assert_eq!(
        digest_period(NoticeMode::Daily, &kyiv, at("2026-11-15T23:30:00Z")),
        Some((at("2026-11-15T22:00:00Z"), at("2026-11-16T22:00:00Z")))
    );
    // Sunday 25 October 2026 has 25 hours in Kyiv.
    let (since, until) =
        digest_period(NoticeMode::Daily, &kyiv, at("2026-10-25T12:00:00Z")).unwrap();
    assert_eq!(since, at("2026-10-24T21:00:00Z"));
    assert_eq!(until - since, 25 * 3600);
}
