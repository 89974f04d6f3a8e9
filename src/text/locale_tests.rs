//! Durations, dates and working hours as each language writes them.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::config::Config;

/// The Kyiv calendar the template tests use too: Mon–Thu 09–18, Fri 09–17, a Christmas holiday.
pub(in crate::text) fn calendar() -> Calendar {
    Config::from_toml(
        r#"
[calendar]
timezone = "Europe/Kyiv"
hours = { mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = "09:00-17:00" }
holidays = ["2026-12-25"]
"#,
        Path::new("t.toml"),
    )
    .unwrap()
    .calendar
}

/// A local time with its zone, e.g. "2026-11-20T17:30[Europe/Kyiv]", as an instant.
pub(in crate::text) fn at(s: &str) -> Timestamp {
    s.parse::<jiff::Zoned>().unwrap().timestamp()
}

#[test]
fn english_plurals() {
    let h = |s: u64| human_duration(Duration::from_secs(s), "en");
    assert_eq!(h(60), "1 minute");
    assert_eq!(h(45 * 60), "45 minutes");
    assert_eq!(h(3600), "1 hour");
    assert_eq!(h(4 * 3600), "4 hours");
    assert_eq!(h(90 * 60), "1 hour 30 minutes");
    assert_eq!(h(24 * 3600), "1 day");
    assert_eq!(h(50 * 3600), "2 days 2 hours");
    // Rounded up: a promise is never shorter than the estimate.
    assert_eq!(h(1), "1 minute");
    assert_eq!(h(61), "2 minutes");
    assert_eq!(h(3600 * 24 - 10), "1 day");
    assert_eq!(h(3600 * 24 + 60), "1 day 1 hour");
    assert_eq!(human_duration(Duration::from_secs(7200), "xx"), "2 hours");
}

#[test]
fn russian_plurals() {
    let h = |s: u64| human_duration(Duration::from_secs(s), "ru");
    assert_eq!(h(60), "1 минута");
    assert_eq!(h(2 * 60), "2 минуты");
    assert_eq!(h(5 * 60), "5 минут");
    assert_eq!(h(11 * 60), "11 минут");
    assert_eq!(h(21 * 60), "21 минута");
    assert_eq!(h(22 * 60), "22 минуты");
    assert_eq!(h(3600), "1 час");
    assert_eq!(h(4 * 3600), "4 часа");
    assert_eq!(h(12 * 3600), "12 часов");
    assert_eq!(h(21 * 3600), "21 час");
    assert_eq!(h(2 * 86_400), "2 дня");
    assert_eq!(h(5 * 86_400), "5 дней");
    assert_eq!(h(11 * 86_400), "11 дней");
    assert_eq!(h(21 * 86_400), "21 день");
    assert_eq!(h(111 * 86_400), "111 дней");
    assert_eq!(h(86_400 + 3 * 3600), "1 день 3 часа");
}

#[test]
fn ukrainian_plurals() {
    let h = |s: u64| human_duration(Duration::from_secs(s), "uk");
    assert_eq!(h(60), "1 хвилина");
    assert_eq!(h(3 * 60), "3 хвилини");
    assert_eq!(h(15 * 60), "15 хвилин");
    assert_eq!(h(3600), "1 година");
    assert_eq!(h(4 * 3600), "4 години");
    assert_eq!(h(14 * 3600), "14 годин");
    assert_eq!(h(2 * 86_400), "2 дні");
    assert_eq!(h(7 * 86_400), "7 днів");
    assert_eq!(h(21 * 86_400), "21 день");
    assert_eq!(h(2 * 86_400 + 3 * 3600), "2 дні 3 години");
}

#[test]
fn polish_plurals() {
    let h = |s: u64| human_duration(Duration::from_secs(s), "pl");
    assert_eq!(h(60), "1 minuta");
    assert_eq!(h(2 * 60), "2 minuty");
    assert_eq!(h(5 * 60), "5 minut");
    assert_eq!(h(12 * 60), "12 minut");
    assert_eq!(h(21 * 60), "21 minut");
    assert_eq!(h(22 * 60), "22 minuty");
    assert_eq!(h(3600), "1 godzina");
    assert_eq!(h(4 * 3600), "4 godziny");
    assert_eq!(h(5 * 3600), "5 godzin");
    assert_eq!(h(22 * 3600), "22 godziny");
    assert_eq!(h(86_400), "1 dzień");
    assert_eq!(h(3 * 86_400), "3 dni");
    assert_eq!(h(90 * 60), "1 godzina 30 minut");
}

#[test]
fn expected_by_shows_the_date_when_a_week_or_more_away() {
    let tz = calendar().timezone;
    let now = at("2026-11-20T17:30[Europe/Kyiv]");
    let soon = at("2026-11-23T10:00[Europe/Kyiv]");
    let far = at("2026-11-30T10:00[Europe/Kyiv]");
    assert_eq!(expected_by(soon, now, &tz, "en"), "Monday 10:00");
    assert_eq!(expected_by(soon, now, &tz, "ru"), "понедельник, 10:00");
    assert_eq!(expected_by(soon, now, &tz, "uk"), "понеділок, 10:00");
    assert_eq!(expected_by(soon, now, &tz, "pl"), "poniedziałek, 10:00");
    assert_eq!(
        expected_by(far, now, &tz, "en"),
        "Monday 30 November, 10:00"
    );
    assert_eq!(
        expected_by(far, now, &tz, "ru"),
        "понедельник, 30 ноября, 10:00"
    );
    assert_eq!(
        expected_by(far, now, &tz, "pl"),
        "poniedziałek, 30 listopada, 10:00"
    );
}

#[test]
fn business_hours_are_grouped() {
    let cal = calendar();
    assert_eq!(
        business_hours_text(&cal, "en"),
        "Mon–Thu 09:00–18:00, Fri 09:00–17:00 (Europe/Kyiv)"
    );
    assert_eq!(
        business_hours_text(&cal, "uk"),
        "пн–чт 09:00–18:00, пт 09:00–17:00 (Europe/Kyiv)"
    );
    assert_eq!(
        business_hours_text(&Calendar::default(), "en"),
        "Mon–Fri 09:00–18:00 (UTC)"
    );
    let mut none = cal.clone();
    none.hours.clear();
    assert_eq!(
        business_hours_text(&none, "ru"),
        "круглосуточно (Europe/Kyiv)"
    );
}
