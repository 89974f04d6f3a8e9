//! Deadlines: a span added to a moment, in wall-clock time or in the business hours of a
//! calendar (its time zone, working hours per weekday and holidays).

use std::time::Duration;

use jiff::{Timestamp, ToSpan, Zoned};

use crate::config::{Calendar, QueuePolicy, Span};

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

/// The shortest answer time ever promised.
const MIN_ESTIMATE: Duration = Duration::from_secs(60);

/// Wall-clock time from `start` to `end`; zero when `end` is not after `start`.
fn wall_duration(start: Timestamp, end: Timestamp) -> Duration {
    if end <= start {
        return Duration::ZERO;
    }
    Duration::try_from(end.duration_since(start)).unwrap_or(Duration::ZERO)
}

/// Working time of `calendar` between two instants: the parts of `start..end` that fall in
/// the opening hours (local time of the calendar's zone, so a DST change keeps 09:00 at
/// 09:00) of working days that are not holidays. Zero when `end <= start`.
///
/// The inverse of [`add`]: `business_duration(c, t, add(c, t, span)) == span.length` for a
/// business span. Like `add`, a calendar without any working hours counts wall-clock time.
pub fn business_duration(calendar: &Calendar, start: Timestamp, end: Timestamp) -> Duration {
    if end <= start {
        return Duration::ZERO;
    }
    if calendar.hours.is_empty() {
        return wall_duration(start, end);
    }
    let tz = &calendar.timezone;
    let last = end.to_zoned(tz.clone()).date();
    let mut date = start.to_zoned(tz.clone()).date();
    let mut total = Duration::ZERO;
    while date <= last {
        if let Some(&(open, close)) = calendar.hours.get(&date.weekday().into())
            && !calendar.holidays.contains(&date)
        {
            let opens = date.to_datetime(open).to_zoned(tz.clone());
            let closes = date.to_datetime(close).to_zoned(tz.clone());
            if let (Ok(opens), Ok(closes)) = (opens, closes) {
                let from = start.max(opens.timestamp());
                let to = end.min(closes.timestamp());
                total += wall_duration(from, to);
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    total
}

/// Time from `start` to `end` in business time of `calendar` or in wall-clock time.
pub fn elapsed(calendar: &Calendar, start: Timestamp, end: Timestamp, business: bool) -> Duration {
    if business {
        business_duration(calendar, start, end)
    } else {
        wall_duration(start, end)
    }
}

/// The answer time promised in an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// How long an answer is expected to take, counted as `business` says.
    pub duration: Duration,
    /// `duration` is business time of the calendar (else wall-clock time).
    pub business: bool,
    /// When the answer is expected: `now` + `duration`.
    pub due: Timestamp,
    /// The number of recent first responses the estimate came from; `None` when there were
    /// too few and the queue's `estimate_default` was used.
    pub from_history: Option<usize>,
}

/// A realistic answer time for a message arriving `now` in a queue with `policy`.
///
/// `samples` are recent first-response durations of the queue, already measured with
/// [`elapsed`] in the queue's kind of time (business when `policy.response_target.business`).
/// With at least `policy.estimate_min_samples` of them (and at least one), the estimate is
/// their `policy.estimate_quantile` by the **nearest-rank** method (the smallest sample with
/// at least that share of samples at or below it: always a time that really happened, never
/// interpolated); else `policy.estimate_default`. The result is capped at the response
/// target's length and is never below one minute.
pub fn estimate(
    calendar: &Calendar,
    policy: &QueuePolicy,
    now: Timestamp,
    samples: &[Duration],
) -> Estimate {
    let business = policy.response_target.business;
    let enough = !samples.is_empty()
        && samples.len() >= usize::try_from(policy.estimate_min_samples).unwrap_or(usize::MAX);
    let (raw, from_history) = if enough {
        (
            nearest_rank(samples, policy.estimate_quantile),
            Some(samples.len()),
        )
    } else {
        (policy.estimate_default.length, None)
    };
    let duration = raw.min(policy.response_target.length).max(MIN_ESTIMATE);
    let due = add(
        calendar,
        now,
        Span {
            length: duration,
            business,
        },
    );
    Estimate {
        duration,
        business,
        due,
        from_history,
    }
}

/// The `quantile` (0..=1) of non-empty `samples` by the nearest-rank method (zero of none).
pub fn nearest_rank(samples: &[Duration], quantile: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    // The epsilon keeps 0.7 × 10 = 7.000000000000001 at rank 7.
    let rank = (quantile.clamp(0.0, 1.0) * n as f64 - 1e-9).ceil() as usize;
    // Ranks count from 1; a rank past the end (quantile 1) is the largest sample.
    sorted
        .get(rank.saturating_sub(1))
        .or(sorted.last())
        .copied()
        .unwrap_or_default()
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

    const H: u64 = 3600;

    fn hours(h: u64) -> Duration {
        Duration::from_secs(h * H)
    }

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn policy(target: &str) -> QueuePolicy {
        QueuePolicy {
            response_target: Span::parse(target).unwrap(),
            ..QueuePolicy::default()
        }
    }

    #[test]
    fn business_duration_within_one_day() {
        let d = business_duration(
            &calendar(),
            at("2026-11-18T08:00[Europe/Kyiv]"),
            at("2026-11-18T10:30[Europe/Kyiv]"),
        );
        assert_eq!(d, minutes(90));
    }

    #[test]
    fn business_duration_across_a_weekend() {
        // Friday 16:00 → 17:00 (1h), Monday 09:00 → 10:00 (1h).
        let d = business_duration(
            &calendar(),
            at("2026-11-20T16:00[Europe/Kyiv]"),
            at("2026-11-23T10:00[Europe/Kyiv]"),
        );
        assert_eq!(d, hours(2));
    }

    #[test]
    fn business_duration_across_a_holiday() {
        // Thursday 24th 17:00 → 18:00, Friday 25th is a holiday, Monday 28th 09:00 → 09:30.
        let d = business_duration(
            &calendar(),
            at("2026-12-24T17:00[Europe/Kyiv]"),
            at("2026-12-28T09:30[Europe/Kyiv]"),
        );
        assert_eq!(d, minutes(90));
    }

    #[test]
    fn business_duration_across_dst_counts_local_hours() {
        // Friday 16:00 → 17:00 (1h) and Monday after the change 09:00 → 11:00 (2h): the extra
        // wall-clock hour of Sunday night is not working time.
        let d = business_duration(
            &calendar(),
            at("2026-10-23T16:00[Europe/Kyiv]"),
            at("2026-10-26T11:00[Europe/Kyiv]"),
        );
        assert_eq!(d, hours(3));
    }

    #[test]
    fn business_duration_is_the_inverse_of_add() {
        let cal = calendar();
        let start = at("2026-12-23T15:47[Europe/Kyiv]");
        for span in ["1m", "2h", "9h business", "20h business", "3d business"] {
            let span = Span::parse(span).unwrap();
            let span = Span {
                business: true,
                ..span
            };
            let end = add(&cal, start, span);
            assert_eq!(business_duration(&cal, start, end), span.length, "{span:?}");
        }
    }

    #[test]
    fn zero_and_negative_ranges_are_zero() {
        let cal = calendar();
        let t = at("2026-11-18T10:00[Europe/Kyiv]");
        let earlier = at("2026-11-17T10:00[Europe/Kyiv]");
        assert_eq!(business_duration(&cal, t, t), Duration::ZERO);
        assert_eq!(business_duration(&cal, t, earlier), Duration::ZERO);
        assert_eq!(elapsed(&cal, t, earlier, false), Duration::ZERO);
        assert_eq!(elapsed(&cal, t, t, true), Duration::ZERO);
        // Outside working hours only: zero business time, but wall-clock time passes.
        let sat = at("2026-11-21T10:00[Europe/Kyiv]");
        let sun = at("2026-11-22T10:00[Europe/Kyiv]");
        assert_eq!(elapsed(&cal, sat, sun, true), Duration::ZERO);
        assert_eq!(elapsed(&cal, sat, sun, false), hours(24));
    }

    #[test]
    fn no_working_hours_counts_wall_clock() {
        let mut cal = calendar();
        cal.hours.clear();
        let start = at("2026-11-21T10:00[Europe/Kyiv]");
        let end = at("2026-11-21T12:00[Europe/Kyiv]");
        assert_eq!(business_duration(&cal, start, end), hours(2));
    }

    #[test]
    fn friday_evening_estimate_lands_on_monday() {
        let policy = policy("1d business");
        let now = at("2026-11-20T17:30[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &[]);
        assert_eq!(e.duration, hours(4));
        assert!(e.business);
        assert_eq!(e.from_history, None);
        assert_eq!(local(e.due), "Mon 2026-11-23 13:00");
    }

    #[test]
    fn estimate_skips_holiday() {
        let policy = policy("1d business");
        let now = at("2026-12-24T16:00[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &[]);
        // 2h on Thursday, Friday the 25th is a holiday, 2h on Monday.
        assert_eq!(local(e.due), "Mon 2026-12-28 11:00");
    }

    #[test]
    fn estimate_across_dst_keeps_local_opening_hours() {
        let policy = policy("2d business");
        let now = at("2026-10-23T15:00[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &[]);
        assert_eq!(local(e.due), "Mon 2026-10-26 11:00");
    }

    #[test]
    fn thin_history_uses_the_default() {
        let policy = policy("1d business");
        let samples = vec![minutes(30); 19];
        let now = at("2026-11-18T10:00[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &samples);
        assert_eq!(e.from_history, None);
        assert_eq!(e.duration, hours(4));
        assert_eq!(local(e.due), "Wed 2026-11-18 14:00");
    }

    #[test]
    fn enough_history_uses_the_quantile() {
        let policy = policy("1d business");
        // 1h, 2h, ... 20h in shuffled order: nearest-rank p80 of 20 is the 16th, 16h.
        let mut samples: Vec<_> = (1..=20).map(hours).collect();
        samples.reverse();
        samples.swap(3, 11);
        let now = at("2026-11-18T10:00[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &samples);
        assert_eq!(e.from_history, Some(20));
        assert_eq!(e.duration, hours(16));
        // Wed 10:00 → 18:00 (8h), Thu 09:00 → 17:00 (8h).
        assert_eq!(local(e.due), "Thu 2026-11-19 17:00");

        let median = QueuePolicy {
            estimate_quantile: 0.5,
            estimate_min_samples: 3,
            ..policy
        };
        let e = estimate(&calendar(), &median, now, &[hours(3), hours(1), hours(2)]);
        assert_eq!((e.duration, e.from_history), (hours(2), Some(3)));
    }

    #[test]
    fn estimate_is_capped_at_the_response_target() {
        let policy = policy("8h business");
        let samples = vec![hours(30); 25];
        let now = at("2026-11-18T10:00[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &samples);
        assert_eq!(e.duration, hours(8));
        assert_eq!(local(e.due), "Wed 2026-11-18 18:00");

        // The default is capped too.
        let policy = QueuePolicy {
            estimate_default: Span::parse("2d").unwrap(),
            ..policy
        };
        assert_eq!(estimate(&calendar(), &policy, now, &[]).duration, hours(8));
    }

    #[test]
    fn estimate_is_never_below_a_minute() {
        let policy = QueuePolicy {
            estimate_min_samples: 1,
            ..policy("1d")
        };
        let now = at("2026-11-21T10:00[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &[Duration::from_secs(5)]);
        assert_eq!(e.duration, minutes(1));
        assert!(!e.business);
        // Wall-clock: a Saturday does not matter.
        assert_eq!(local(e.due), "Sat 2026-11-21 10:01");
    }

    #[test]
    fn wall_clock_estimate_ignores_working_hours() {
        let policy = policy("1d");
        let now = at("2026-11-20T17:30[Europe/Kyiv]");
        let e = estimate(&calendar(), &policy, now, &[]);
        assert!(!e.business);
        assert_eq!(local(e.due), "Fri 2026-11-20 21:30");
    }
}
