//! Time as the config writes it: spans ("8h business"), working-hour calendars and a
//! weekly moment ("mon 08:00").

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

/// A duration as written in the config: "2s", "15m", "8h", "1d", optionally "business".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub length: Duration,
    /// Counted in working hours of the calendar rather than wall-clock time.
    pub business: bool,
}

impl Span {
    pub fn calendar(length: Duration) -> Span {
        Span {
            length,
            business: false,
        }
    }

    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let (amount, business) = match text.strip_suffix("business") {
            Some(rest) => (rest.trim_end(), true),
            None => (text, false),
        };
        let mut total = 0u64;
        let mut digits = String::new();
        let mut any = false;
        for c in amount.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                ' ' if digits.is_empty() => continue,
                _ => {
                    return Err(format!(
                        "\"{text}\" is not a duration (use e.g. \"2s\", \"15m\", \"8h\", \"1d\", \"8h business\")"
                    ));
                }
            };
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("\"{text}\" needs a number before '{c}'"))?;
            total = total.saturating_add(n.saturating_mul(unit));
            digits.clear();
            any = true;
        }
        if !digits.is_empty() || !any {
            return Err(format!(
                "\"{text}\" is not a duration (use e.g. \"2s\", \"15m\", \"8h\", \"1d\", \"8h business\"; a unit is required)"
            ));
        }
        Ok(Span {
            length: Duration::from_secs(total),
            business,
        })
    }
}

/// As the config writes it, largest units first: "1d", "1h30m", "8h business", "0s".
impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.length.as_secs();
        if rest == 0 {
            write!(f, "0s")?;
        }
        for (unit, seconds) in [
            ("w", 7 * 86_400),
            ("d", 86_400),
            ("h", 3600),
            ("m", 60),
            ("s", 1),
        ] {
            if rest >= seconds {
                write!(f, "{}{unit}", rest / seconds)?;
                rest %= seconds;
            }
        }
        if self.business {
            write!(f, " business")?;
        }
        Ok(())
    }
}

/// Working hours and holidays that business-time spans are counted in.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub timezone: TimeZone,
    pub timezone_name: String,
    /// Working hours per weekday; a weekday missing here is a day off.
    pub hours: BTreeMap<WeekdayKey, (Time, Time)>,
    pub holidays: Vec<Date>,
}

/// Weekday as an ordered key (Monday first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WeekdayKey(pub i8);

impl From<Weekday> for WeekdayKey {
    fn from(day: Weekday) -> Self {
        WeekdayKey(day.to_monday_one_offset())
    }
}

impl Default for Calendar {
    fn default() -> Self {
        let nine = Time::constant(9, 0, 0, 0);
        let six = Time::constant(18, 0, 0, 0);
        Calendar {
            timezone: TimeZone::UTC,
            timezone_name: "UTC".into(),
            hours: (1..=5).map(|d| (WeekdayKey(d), (nine, six))).collect(),
            holidays: Vec::new(),
        }
    }
}

/// A moment of the week, written `"mon 08:00"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyAt {
    pub weekday: Weekday,
    pub time: Time,
}

impl WeeklyAt {
    pub fn parse(text: &str) -> Result<WeeklyAt, String> {
        let invalid = || format!("\"{text}\" is not a weekday and a time like \"mon 08:00\"");
        let (day, time) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(invalid)?;
        let weekday = parse_weekday(day).ok_or_else(invalid)?;
        let time = time.trim().parse::<Time>().map_err(|_| invalid())?;
        Ok(WeeklyAt { weekday, time })
    }
}

pub(super) fn parse_weekday(day: &str) -> Option<Weekday> {
    Some(match day.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}
