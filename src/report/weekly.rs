//! The weekly report mail (`[report] recipients`, `weekly = "mon 08:00"` in the `[calendar]`
//! time zone). The deadline scheduler calls `daemon::weekly::queue_due`: at each weekly slot it writes one
//! outbox row per recipient, together with the slot it reported, in one transaction — so a
//! slot is reported at most once, also across restarts, and a slot that passed while
//! postdesk was down is reported at the next start. The outbox worker builds the mail at
//! send time with `compose::weekly`: the text report as the body and the HTML page attached.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::config::WeeklyAt;

/// The latest weekly slot at or before `now`, and the one after it.
pub fn slots(at: WeeklyAt, tz: &TimeZone, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
    let today = now.to_zoned(tz.clone()).date();
    let back = i64::from(
        (today.weekday().to_monday_zero_offset() - at.weekday.to_monday_zero_offset())
            .rem_euclid(7),
    );
    let mut day = today.checked_sub(back.days()).ok()?;
    let mut slot = moment(day, at, tz)?;
    if slot > now {
        day = day.checked_sub(7.days()).ok()?;
        slot = moment(day, at, tz)?;
    }
    let next = moment(day.checked_add(7.days()).ok()?, at, tz)?;
    Some((slot, next))
}

/// `at` on `day`, local time of `tz` (a time skipped by a DST change moves forward).
fn moment(day: Date, at: WeeklyAt, tz: &TimeZone) -> Option<Timestamp> {
    Some(
        day.to_datetime(at.time)
            .to_zoned(tz.clone())
            .ok()?
            .timestamp(),
    )
}

/// The week a report of `slot` covers: the same local time seven days earlier.
pub fn week_before(slot: Timestamp, tz: &TimeZone) -> Timestamp {
    slot.to_zoned(tz.clone())
        .checked_sub(7.days())
        .map(|z| z.timestamp())
        .unwrap_or(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Time, Weekday};

    fn monday_eight() -> WeeklyAt {
        WeeklyAt {
            weekday: Weekday::Monday,
            time: Time::constant(8, 0, 0, 0),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn latest_and_next_slot_in_the_calendar_zone() {
        let kyiv = TimeZone::get("Europe/Kyiv").unwrap();
        // Wednesday 25 November 2026, 10:52 UTC: the last slot was Monday 23rd 08:00 Kyiv
        // (06:00 UTC), the next is Monday 30th.
        let (slot, next) = slots(monday_eight(), &kyiv, at("2026-11-25T10:52:00Z")).unwrap();
        assert_eq!(slot, at("2026-11-23T06:00:00Z"));
        assert_eq!(next, at("2026-11-30T06:00:00Z"));
        // On the slot itself, it is the latest; a second before, the week before is.
        let (slot, _) = slots(monday_eight(), &kyiv, at("2026-11-23T06:00:00Z")).unwrap();
        assert_eq!(slot, at("2026-11-23T06:00:00Z"));
        let (slot, next) = slots(monday_eight(), &kyiv, at("2026-11-23T05:59:59Z")).unwrap();
        assert_eq!(slot, at("2026-11-16T06:00:00Z"));
        assert_eq!(next, at("2026-11-23T06:00:00Z"));
        assert_eq!(week_before(slot, &kyiv), at("2026-11-09T06:00:00Z"));
    }

    #[test]
    fn a_week_across_a_dst_change_keeps_local_time() {
        let kyiv = TimeZone::get("Europe/Kyiv").unwrap();
        // Kyiv leaves summer time on Sunday 25 October 2026: Monday 08:00 is 05:00 UTC
        // before and 06:00 UTC after.
        let (slot, _) = slots(monday_eight(), &kyiv, at("2026-10-26T12:00:00Z")).unwrap();
        assert_eq!(slot, at("2026-10-26T06:00:00Z"));
        assert_eq!(week_before(slot, &kyiv), at("2026-10-19T05:00:00Z"));
    }
}
