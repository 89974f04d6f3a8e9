//! Instants as text: RFC 3339 UTC for machines (events, JSON) and local wall-clock time in a
//! queue's timezone for people.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// RFC 3339 in UTC (`2026-03-02T09:00:00Z`); a value outside jiff's range prints as seconds.
pub fn rfc3339(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// `2026-03-02 10:00` in `tz`, as reports and relay notes show it.
pub fn local(seconds: i64, tz: &TimeZone) -> String {
    Timestamp::from_second(seconds)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| seconds.to_string())
}
