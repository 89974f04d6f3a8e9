//! Language-aware formatting of the values mail templates show: durations with the right
//! plural forms, weekday and month names, local dates and times, working hours. English,
//! Russian, Ukrainian and Polish; any other language gets English.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use crate::config::{Calendar, WeekdayKey};

/// "ru-RU" / "uk_UA" / " PL " → "ru" / "uk" / "pl".
pub(crate) fn primary_language(tag: &str) -> String {
    tag.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Plural category of a number (CLDR's one, few, many/other).
#[derive(Clone, Copy)]
enum Plural {
    One,
    Few,
    Many,
}

/// The units a duration is said in.
#[derive(Clone, Copy)]
enum Unit {
    Minute,
    Hour,
    Day,
}

/// Plural category of `n` for the languages we know.
fn plural(n: u64, language: &str) -> Plural {
    let (ones, tens) = (n % 10, n % 100);
    match language {
        "ru" | "uk" => {
            if ones == 1 && tens != 11 {
                Plural::One
            } else if (2..=4).contains(&ones) && !(12..=14).contains(&tens) {
                Plural::Few
            } else {
                Plural::Many
            }
        }
        "pl" => {
            if n == 1 {
                Plural::One
            } else if (2..=4).contains(&ones) && !(12..=14).contains(&tens) {
                Plural::Few
            } else {
                Plural::Many
            }
        }
        _ => {
            if n == 1 {
                Plural::One
            } else {
                Plural::Many
            }
        }
    }
}

/// Minutes, hours, days: the forms for one, few, many.
fn unit_forms(language: &str) -> [[&'static str; 3]; 3] {
    match language {
        "ru" => [
            ["минута", "минуты", "минут"],
            ["час", "часа", "часов"],
            ["день", "дня", "дней"],
        ],
        "uk" => [
            ["хвилина", "хвилини", "хвилин"],
            ["година", "години", "годин"],
            ["день", "дні", "днів"],
        ],
        "pl" => [
            ["minuta", "minuty", "minut"],
            ["godzina", "godziny", "godzin"],
            ["dzień", "dni", "dni"],
        ],
        _ => [
            ["minute", "minutes", "minutes"],
            ["hour", "hours", "hours"],
            ["day", "days", "days"],
        ],
    }
}

/// The word for `unit` in plural category `plural`, from [`unit_forms`].
fn unit_word(forms: [[&'static str; 3]; 3], unit: Unit, plural: Plural) -> &'static str {
    let [minute, hour, day] = forms;
    let [one, few, many] = match unit {
        Unit::Minute => minute,
        Unit::Hour => hour,
        Unit::Day => day,
    };
    match plural {
        Plural::One => one,
        Plural::Few => few,
        Plural::Many => many,
    }
}

/// A duration as people say it in `language` (en, ru, uk, pl; others get English), with
/// at most two units and rounded up: "45 minutes", "4 часа", "1 godzina 30 minut",
/// "2 дні 3 години". Under an hour counts minutes, under a day hours and minutes, else days
/// and hours.
pub fn human_duration(d: Duration, language: &str) -> String {
    let language = primary_language(language);
    let forms = unit_forms(&language);
    let word = |n: u64, unit: Unit| format!("{n} {}", unit_word(forms, unit, plural(n, &language)));
    let minutes = d.as_secs().div_ceil(60);
    if minutes < 60 {
        return word(minutes, Unit::Minute);
    }
    if minutes < 24 * 60 {
        let (h, m) = (minutes / 60, minutes % 60);
        return if m == 0 {
            word(h, Unit::Hour)
        } else {
            format!("{} {}", word(h, Unit::Hour), word(m, Unit::Minute))
        };
    }
    let hours = minutes.div_ceil(60);
    let (days, h) = (hours / 24, hours % 24);
    if h == 0 {
        word(days, Unit::Day)
    } else {
        format!("{} {}", word(days, Unit::Day), word(h, Unit::Hour))
    }
}

/// The one of `names` (Monday first) for `day`.
fn of_weekday<T>(names: [T; 7], day: Weekday) -> T {
    let [
        monday,
        tuesday,
        wednesday,
        thursday,
        friday,
        saturday,
        sunday,
    ] = names;
    match day {
        Weekday::Monday => monday,
        Weekday::Tuesday => tuesday,
        Weekday::Wednesday => wednesday,
        Weekday::Thursday => thursday,
        Weekday::Friday => friday,
        Weekday::Saturday => saturday,
        Weekday::Sunday => sunday,
    }
}

/// The weekday of a calendar key (1 = Monday … 7 = Sunday; keys outside are clamped).
fn weekday_of_key(key: WeekdayKey) -> Weekday {
    match key.0 {
        ..=1 => Weekday::Monday,
        2 => Weekday::Tuesday,
        3 => Weekday::Wednesday,
        4 => Weekday::Thursday,
        5 => Weekday::Friday,
        6 => Weekday::Saturday,
        _ => Weekday::Sunday,
    }
}

fn weekday_name(day: Weekday, language: &str) -> &'static str {
    let names: [&str; 7] = match language {
        "ru" => [
            "понедельник",
            "вторник",
            "среда",
            "четверг",
            "пятница",
            "суббота",
            "воскресенье",
        ],
        "uk" => [
            "понеділок",
            "вівторок",
            "середа",
            "четвер",
            "п’ятниця",
            "субота",
            "неділя",
        ],
        "pl" => [
            "poniedziałek",
            "wtorek",
            "środa",
            "czwartek",
            "piątek",
            "sobota",
            "niedziela",
        ],
        _ => [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ],
    };
    of_weekday(names, day)
}

/// "7 December" / "7 декабря" / "7 грудня" / "7 grudnia" (the genitive month after a day).
fn day_and_month(date: Date, language: &str) -> String {
    let months: [&str; 12] = match language {
        "ru" => [
            "января",
            "февраля",
            "марта",
            "апреля",
            "мая",
            "июня",
            "июля",
            "августа",
            "сентября",
            "октября",
            "ноября",
            "декабря",
        ],
        "uk" => [
            "січня",
            "лютого",
            "березня",
            "квітня",
            "травня",
            "червня",
            "липня",
            "серпня",
            "вересня",
            "жовтня",
            "листопада",
            "грудня",
        ],
        "pl" => [
            "stycznia",
            "lutego",
            "marca",
            "kwietnia",
            "maja",
            "czerwca",
            "lipca",
            "sierpnia",
            "września",
            "października",
            "listopada",
            "grudnia",
        ],
        _ => [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
    };
    let [jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec] = months;
    // jiff's months are 1..=12.
    let month = match date.month() {
        ..=1 => jan,
        2 => feb,
        3 => mar,
        4 => apr,
        5 => may,
        6 => jun,
        7 => jul,
        8 => aug,
        9 => sep,
        10 => oct,
        11 => nov,
        _ => dec,
    };
    format!("{} {month}", date.day())
}

/// Weekday and time, with the date too when `due` is a week or more after `now` (local
/// dates): "Monday 10:00", "понедельник, 10:00", "poniedziałek, 7 grudnia, 10:00".
pub fn expected_by(due: Timestamp, now: Timestamp, tz: &TimeZone, language: &str) -> String {
    let language = primary_language(language);
    let due = due.to_zoned(tz.clone());
    let today = now.to_zoned(tz.clone()).date();
    let far = today
        .until(due.date())
        .map(|span| span.get_days() >= 7)
        .unwrap_or(true);
    let weekday = weekday_name(due.weekday(), &language);
    let time = due.strftime("%H:%M");
    match (language.as_str(), far) {
        ("ru" | "uk" | "pl", false) => format!("{weekday}, {time}"),
        ("ru" | "uk" | "pl", true) => {
            format!(
                "{weekday}, {}, {time}",
                day_and_month(due.date(), &language)
            )
        }
        (_, false) => format!("{weekday} {time}"),
        (_, true) => format!("{weekday} {}, {time}", day_and_month(due.date(), &language)),
    }
}

/// A full local date and time: "Friday 20 November 2026, 17:30", "пятница, 20 ноября
/// 2026 г., 17:30", "п’ятниця, 20 листопада 2026 р., 17:30", "piątek, 20 listopada 2026 r.,
/// 17:30".
pub fn local_date_time(t: Timestamp, tz: &TimeZone, language: &str) -> String {
    let language = primary_language(language);
    let t = t.to_zoned(tz.clone());
    let weekday = weekday_name(t.weekday(), &language);
    let date = day_and_month(t.date(), &language);
    let (year, time) = (t.year(), t.strftime("%H:%M"));
    match language.as_str() {
        "ru" => format!("{weekday}, {date} {year} г., {time}"),
        "uk" => format!("{weekday}, {date} {year} р., {time}"),
        "pl" => format!("{weekday}, {date} {year} r., {time}"),
        _ => format!("{weekday} {date} {year}, {time}"),
    }
}

/// The calendar's working hours, consecutive days with equal hours joined: "Mon–Thu
/// 09:00–18:00, Fri 09:00–17:00 (Europe/Kyiv)", "пн–чт 09:00–18:00, пт 09:00–17:00
/// (Europe/Kyiv)".
pub fn business_hours_text(calendar: &Calendar, language: &str) -> String {
    let language = primary_language(language);
    let days: [&str; 7] = match language.as_str() {
        "ru" => ["пн", "вт", "ср", "чт", "пт", "сб", "вс"],
        "uk" => ["пн", "вт", "ср", "чт", "пт", "сб", "нд"],
        "pl" => ["pon.", "wt.", "śr.", "czw.", "pt.", "sob.", "niedz."],
        _ => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    };
    let zone = &calendar.timezone_name;
    if calendar.hours.is_empty() {
        let always = match language.as_str() {
            "ru" => "круглосуточно",
            "uk" => "цілодобово",
            "pl" => "całą dobę",
            _ => "around the clock",
        };
        return format!("{always} ({zone})");
    }
    let name = |key: WeekdayKey| of_weekday(days, weekday_of_key(key));
    // Runs of consecutive weekdays with the same hours.
    let mut runs: Vec<(
        WeekdayKey,
        WeekdayKey,
        (jiff::civil::Time, jiff::civil::Time),
    )> = Vec::new();
    for (&day, &hours) in &calendar.hours {
        match runs.last_mut() {
            Some((_, last, h)) if last.0 + 1 == day.0 && *h == hours => *last = day,
            _ => runs.push((day, day, hours)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|&(first, last, (open, close))| {
            let days = if first == last {
                name(first).to_string()
            } else {
                format!("{}–{}", name(first), name(last))
            };
            format!(
                "{days} {}–{}",
                open.strftime("%H:%M"),
                close.strftime("%H:%M")
            )
        })
        .collect();
    format!("{} ({zone})", parts.join(", "))
}

#[cfg(test)]
#[path = "locale_tests.rs"]
pub(super) mod tests;
