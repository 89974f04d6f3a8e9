//! Deadlines: a span added to a moment, in wall-clock time or in the business hours of a
//! calendar (its time zone, working hours per weekday and holidays).

use jiff::{Timestamp, ToSpan, Zoned};

use crate::config::{Calendar, Span};

/// How many days ahead a business span may reach before we give up looking for working
/// hours (a calendar without any), falling back to wall-clock time.
const MAX_DAYS: i32 = 3 * 366;

pub fn add(calendar: &Calendar, start: Timestamp, span: Span) -> Timestamp {
    let wall = || {
        start
            .checked_add(
                jiff::SignedDuration::try_from(span.length).unwrap_or(jiff::SignedDuration::MAX),
            )
            .unwrap_or(Timestamp::MAX)
    };
    if !span.business {
        return wall();
    }
    let mut remaining =
        jiff::SignedDuration::try_from(span.length).unwrap_or(jiff::SignedDuration::MAX);
    let mut cursor: Zoned = start.to_zoned(calendar.timezone.clone());
    for _ in 0..MAX_DAYS {
        let date = cursor.date();
        if let Some(&(open, close)) = calendar.hours.get(&date.weekday().into())
            && !calendar.holidays.contains(&date)
        {
            let opens = date.to_datetime(open).to_zoned(calendar.timezone.clone());
            let closes = date.to_datetime(close).to_zoned(calendar.timezone.clone());
            if let (Ok(opens), Ok(closes)) = (opens, closes) {
                let from = if cursor.timestamp() > opens.timestamp() {
                    cursor.timestamp()
                } else {
                    opens.timestamp()
                };
                if from < closes.timestamp() {
                    let available = closes.timestamp().duration_since(from);
                    if remaining <= available {
                        return from.checked_add(remaining).unwrap_or(Timestamp::MAX);
                    }
                    remaining -= available;
                }
            }
        }
        let Ok(next) = date
            .checked_add(1.day())
            .and_then(|d| d.to_zoned(calendar.timezone.clone()))
        else {
            break;
        };
        cursor = next;
    }
    wall()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Span};
    use std::path::Path;

    fn calendar() -> Calendar {
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

    fn at(s: &str) -> Timestamp {
        s.parse::<Zoned>().unwrap().timestamp()
    }

    fn local(t: Timestamp) -> String {
        t.to_zoned(jiff::tz::TimeZone::get("Europe/Kyiv").unwrap())
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string()
    }

    #[test]
    fn calendar_span_is_wall_clock() {
        let span = Span::parse("1d").unwrap();
        let start = at("2026-11-20T17:30[Europe/Kyiv]");
        assert_eq!(local(add(&calendar(), start, span)), "Sat 2026-11-21 17:30");
    }

    #[test]
    fn friday_evening_waits_for_monday() {
        let span = Span::parse("8h business").unwrap();
        let start = at("2026-11-20T17:30[Europe/Kyiv]");
        assert_eq!(local(add(&calendar(), start, span)), "Mon 2026-11-23 17:00");
    }

    #[test]
    fn friday_afternoon_carries_over() {
        let span = Span::parse("2h business").unwrap();
        let start = at("2026-11-20T16:00[Europe/Kyiv]");
        assert_eq!(local(add(&calendar(), start, span)), "Mon 2026-11-23 10:00");
    }

    #[test]
    fn holidays_are_skipped() {
        let span = Span::parse("1h business").unwrap();
        let start = at("2026-12-24T17:30[Europe/Kyiv]");
        assert_eq!(local(add(&calendar(), start, span)), "Mon 2026-12-28 09:30");
    }

    #[test]
    fn dst_change_keeps_local_hours() {
        // Kyiv leaves summer time on Sunday 2026-10-25; Monday still opens at 09:00 local.
        let span = Span::parse("3h business").unwrap();
        let start = at("2026-10-23T16:00[Europe/Kyiv]");
        assert_eq!(local(add(&calendar(), start, span)), "Mon 2026-10-26 11:00");
    }

    #[test]
    fn no_working_hours_falls_back_to_wall_clock() {
        let mut cal = calendar();
        cal.hours.clear();
        let start = at("2026-11-20T10:00[Europe/Kyiv]");
        let end = add(&cal, start, Span::parse("2h business").unwrap());
        assert_eq!(local(end), "Fri 2026-11-20 12:00");
    }
}
