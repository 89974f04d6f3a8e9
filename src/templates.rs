//! Texts of outgoing mail: handlebars plain-text templates, one file per kind and language
//! (`acknowledgement.ru.hbs`, `warning.en.hbs`, ...), plus the language-aware formatting of
//! the values they show (durations with the right plural forms, local dates, working hours).
//!
//! A template file starts with a `Subject: ...` line (itself a template), then a blank line,
//! then the body. The files under `templates/` are built into the binary; a configured
//! directory overrides or extends them file by file. Every template is compiled and rendered
//! once with sample values when loaded, so a broken one is reported by `check-config`, not
//! when the first customer writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use handlebars::Handlebars;
use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::config::{Calendar, WeekdayKey};

/// The language every kind of template must exist in; used when the wanted one is missing.
pub const FALLBACK_LANGUAGE: &str = "en";

/// The built-in set: the files shipped in `templates/`.
const BUILTIN: &[(&str, &str)] = &[
    (
        "acknowledgement.en.hbs",
        include_str!("../templates/acknowledgement.en.hbs"),
    ),
    (
        "acknowledgement.ru.hbs",
        include_str!("../templates/acknowledgement.ru.hbs"),
    ),
    (
        "acknowledgement.uk.hbs",
        include_str!("../templates/acknowledgement.uk.hbs"),
    ),
    (
        "acknowledgement.pl.hbs",
        include_str!("../templates/acknowledgement.pl.hbs"),
    ),
    (
        "warning.en.hbs",
        include_str!("../templates/warning.en.hbs"),
    ),
    ("breach.en.hbs", include_str!("../templates/breach.en.hbs")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template directory {path}: {source}")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read template {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A template file that cannot be used: bad name, layout, syntax, or it fails to render.
    #[error("template {file}: {message}")]
    Invalid { file: String, message: String },
    #[error("no \"{kind}\" template, neither for language \"{language}\" nor for \"en\"")]
    Missing { kind: String, language: String },
}

/// The values a template can show. Every field is always present (strict mode makes a
/// misspelt name an error); the texts are already formatted in the template's language
/// (see [`Templates::language_for`], [`human_duration`], [`expected_by`],
/// [`local_date_time`] and [`business_hours_text`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TemplateVars {
    /// `{{ref}}`: the ticket number, e.g. 1042.
    #[serde(rename = "ref")]
    pub reference: i64,
    /// `{{tag}}`: the ticket tag as it appears in subjects, e.g. "[#1042]".
    pub tag: String,
    /// `{{subject}}`: the customer's subject (without our tag); may be empty.
    pub subject: String,
    /// `{{customer}}`: the customer, e.g. "Anna Kovalenko <anna@client.example>".
    pub customer: String,
    /// `{{received}}`: when the customer's message arrived, local date and time, e.g.
    /// "Friday 20 November 2026, 17:30".
    pub received: String,
    /// `{{expected_duration}}`: the realistic answer time, e.g. "4 hours", "2 дня".
    pub expected_duration: String,
    /// `{{expected_by}}`: when the answer is expected, local, e.g. "Monday 10:00",
    /// "понедельник, 10:00".
    pub expected_by: String,
    /// `{{queue}}`: the ticket's queue.
    pub queue: String,
    /// `{{business_hours}}`: the working hours, e.g. "Mon–Thu 09:00–18:00, Fri 09:00–17:00
    /// (Europe/Kyiv)".
    pub business_hours: String,
    /// `{{due}}`: the response-target deadline, local date and time (warning and breach).
    pub due: String,
    /// `{{ticket_url}}`: a link to the ticket, or null (use `{{#if ticket_url}}`).
    pub ticket_url: Option<String>,
}

/// A rendered message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line: no CR, LF or other control characters, whatever the values held.
    pub subject: String,
    /// Lines end with `\n`; the text ends with one `\n`.
    pub body: String,
    /// The language of the template used (after fallback).
    pub language: String,
}

/// The loaded, checked templates.
#[derive(Debug, Clone)]
pub struct Templates {
    registry: Handlebars<'static>,
    /// (kind, language) → the file it came from, for messages.
    files: BTreeMap<(String, String), String>,
}

impl Templates {
    /// The built-in templates, overridden or extended by the `*.hbs` files of `dir`
    /// (named `KIND.LANGUAGE.hbs`). Each template is compiled and rendered with sample
    /// values; the first problem is returned, naming its file.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut sources: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
        for (name, text) in BUILTIN {
            let key = parse_file_name(name).expect("built-in template names are valid");
            sources.insert(key, (format!("{name} (built-in)"), (*text).to_string()));
        }
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir).map_err(|source| TemplateError::ReadDir {
                path: dir.to_path_buf(),
                source,
            })?;
            let mut paths = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|source| TemplateError::ReadDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".hbs") && !name.starts_with('.') && path.is_file() {
                    paths.push(path);
                }
            }
            paths.sort();
            for path in paths {
                let file = path.display().to_string();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let key = parse_file_name(&name).ok_or_else(|| TemplateError::Invalid {
                    file: file.clone(),
                    message: "the name must be KIND.LANGUAGE.hbs, e.g. acknowledgement.de.hbs"
                        .into(),
                })?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| TemplateError::Read { path, source })?;
                sources.insert(key, (file, text));
            }
        }

        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        let mut files = BTreeMap::new();
        for ((kind, language), (file, text)) in sources {
            let invalid = |message: String| TemplateError::Invalid {
                file: file.clone(),
                message,
            };
            let (subject, body) = split_template(&text).map_err(|m| invalid(m.into()))?;
            let name = format!("{kind}.{language}");
            registry
                .register_template_string(&format!("{name}/subject"), subject)
                .map_err(|e| invalid(format!("in the Subject line: {e}")))?;
            registry
                .register_template_string(&format!("{name}/body"), body)
                .map_err(|e| invalid(format!("in the body: {e}")))?;
            files.insert((kind, language), file);
        }
        let templates = Templates { registry, files };

        let kinds: BTreeSet<&str> = templates.files.keys().map(|(k, _)| k.as_str()).collect();
        for kind in kinds {
            if !templates.has(kind, FALLBACK_LANGUAGE) {
                let (_, file) = templates
                    .files
                    .iter()
                    .find(|((k, _), _)| k == kind)
                    .expect("the kind has a file");
                return Err(TemplateError::Invalid {
                    file: file.clone(),
                    message: format!(
                        "there is no {kind}.{FALLBACK_LANGUAGE}.hbs to fall back on for other languages"
                    ),
                });
            }
        }
        for (kind, language) in templates.files.keys() {
            for url in [None, Some("https://support.example.com/t/1042")] {
                templates.render_exact(kind, language, &sample_vars(language, url))?;
            }
        }
        Ok(templates)
    }

    /// The language `render` would use for `kind`: the wanted one (its primary subtag,
    /// so "ru-RU" → "ru") when that template exists, else "en"; `None` when there is no
    /// such kind. Format the values with this language.
    pub fn language_for(&self, kind: &str, language: Option<&str>) -> Option<String> {
        let wanted = language.map(primary_language).unwrap_or_default();
        if !wanted.is_empty() && self.has(kind, &wanted) {
            Some(wanted)
        } else if self.has(kind, FALLBACK_LANGUAGE) {
            Some(FALLBACK_LANGUAGE.to_string())
        } else {
            None
        }
    }

    /// Renders the `kind` template ("acknowledgement", "warning", "breach") in `language`,
    /// falling back to English.
    pub fn render(
        &self,
        kind: &str,
        language: Option<&str>,
        vars: &TemplateVars,
    ) -> Result<Rendered, TemplateError> {
        let chosen = self
            .language_for(kind, language)
            .ok_or_else(|| TemplateError::Missing {
                kind: kind.to_string(),
                language: language.unwrap_or(FALLBACK_LANGUAGE).to_string(),
            })?;
        self.render_exact(kind, &chosen, vars)
    }

    fn has(&self, kind: &str, language: &str) -> bool {
        self.files
            .contains_key(&(kind.to_string(), language.to_string()))
    }

    fn render_exact(
        &self,
        kind: &str,
        language: &str,
        vars: &TemplateVars,
    ) -> Result<Rendered, TemplateError> {
        let file = self
            .files
            .get(&(kind.to_string(), language.to_string()))
            .ok_or_else(|| TemplateError::Missing {
                kind: kind.to_string(),
                language: language.to_string(),
            })?;
        let invalid = |part: &str, e: handlebars::RenderError| TemplateError::Invalid {
            file: file.clone(),
            message: format!("in the {part}: {e}"),
        };
        let subject = self
            .registry
            .render(&format!("{kind}.{language}/subject"), vars)
            .map_err(|e| invalid("Subject line", e))?;
        let body = self
            .registry
            .render(&format!("{kind}.{language}/body"), vars)
            .map_err(|e| invalid("body", e))?;
        Ok(Rendered {
            subject: one_line(&subject),
            body: clean_body(&body),
            language: language.to_string(),
        })
    }
}

/// "acknowledgement.ru.hbs" → ("acknowledgement", "ru").
fn parse_file_name(name: &str) -> Option<(String, String)> {
    let stem = name.strip_suffix(".hbs")?;
    let (kind, language) = stem.rsplit_once('.')?;
    let kind_ok = !kind.is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let language_ok =
        (2..=8).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
    (kind_ok && language_ok).then(|| (kind.to_string(), language.to_ascii_lowercase()))
}

/// "ru-RU" / "uk_UA" / " PL " → "ru" / "uk" / "pl".
fn primary_language(tag: &str) -> String {
    tag.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Splits a template file into its subject and body templates.
fn split_template(text: &str) -> Result<(String, String), &'static str> {
    const LAYOUT: &str =
        "the first line must be \"Subject: ...\", followed by a blank line and the body";
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n");
    let (first, rest) = text.split_once('\n').ok_or(LAYOUT)?;
    let subject = first
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("subject:"))
        .map(|_| first[8..].trim())
        .ok_or(LAYOUT)?;
    let (blank, body) = rest.split_once('\n').unwrap_or((rest, ""));
    if !blank.trim().is_empty() {
        return Err(LAYOUT);
    }
    if subject.is_empty() {
        return Err("the Subject line is empty");
    }
    if body.trim().is_empty() {
        return Err("the body is empty");
    }
    Ok((subject.to_string(), body.to_string()))
}

/// Control characters and line separators become spaces; runs of white space one space.
fn one_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `\n` line ends, no control characters but tabs, no trailing blank lines, one final `\n`.
fn clean_body(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut body: String = text
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect();
    let end = body.trim_end().len();
    body.truncate(end);
    body.push('\n');
    body
}

/// Values for the check at load time, formatted in `language`.
fn sample_vars(language: &str, ticket_url: Option<&str>) -> TemplateVars {
    let tz = TimeZone::UTC;
    let now: Timestamp = "2026-11-20T15:30:00Z".parse().expect("valid sample time");
    let due: Timestamp = "2026-11-23T10:00:00Z".parse().expect("valid sample time");
    TemplateVars {
        reference: 1042,
        tag: "[#1042]".into(),
        subject: "Printer {{does not}} print <again> & \"again\"".into(),
        customer: "Anna Kovalenko <anna@client.example>".into(),
        received: local_date_time(now, &tz, language),
        expected_duration: human_duration(Duration::from_secs(4 * 3600), language),
        expected_by: expected_by(due, now, &tz, language),
        queue: "support".into(),
        business_hours: business_hours_text(&Calendar::default(), language),
        due: local_date_time(due, &tz, FALLBACK_LANGUAGE),
        ticket_url: ticket_url.map(str::to_string),
    }
}

/// Plural category of `n` for the languages we know: 0 = one, 1 = few, 2 = many/other.
fn plural(n: u64, language: &str) -> usize {
    let (ones, tens) = (n % 10, n % 100);
    match language {
        "ru" | "uk" => {
            if ones == 1 && tens != 11 {
                0
            } else if (2..=4).contains(&ones) && !(12..=14).contains(&tens) {
                1
            } else {
                2
            }
        }
        "pl" => {
            if n == 1 {
                0
            } else if (2..=4).contains(&ones) && !(12..=14).contains(&tens) {
                1
            } else {
                2
            }
        }
        _ => {
            if n == 1 {
                0
            } else {
                2
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

/// A duration as people say it in `language` (en, ru, uk, pl; others get English), with
/// at most two units and rounded up: "45 minutes", "4 часа", "1 godzina 30 minut",
/// "2 дні 3 години". Under an hour counts minutes, under a day hours and minutes, else days
/// and hours.
pub fn human_duration(d: Duration, language: &str) -> String {
    let language = primary_language(language);
    let forms = unit_forms(&language);
    let word = |n: u64, unit: usize| format!("{n} {}", forms[unit][plural(n, &language)]);
    let minutes = d.as_secs().div_ceil(60);
    if minutes < 60 {
        return word(minutes, 0);
    }
    if minutes < 24 * 60 {
        let (h, m) = (minutes / 60, minutes % 60);
        return if m == 0 {
            word(h, 1)
        } else {
            format!("{} {}", word(h, 1), word(m, 0))
        };
    }
    let hours = minutes.div_ceil(60);
    let (days, h) = (hours / 24, hours % 24);
    if h == 0 {
        word(days, 2)
    } else {
        format!("{} {}", word(days, 2), word(h, 1))
    }
}

fn weekday_name(day: Weekday, language: &str) -> &'static str {
    let i = usize::try_from(day.to_monday_zero_offset()).unwrap_or(0);
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
    names[i]
}

/// "7 December" / "7 декабря" / "7 грудня" / "7 grudnia" (the genitive month after a day).
fn day_and_month(date: Date, language: &str) -> String {
    let i = usize::try_from(date.month() - 1).unwrap_or(0);
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
    format!("{} {}", date.day(), months[i])
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
    let name = |key: WeekdayKey| days[usize::try_from(key.0 - 1).unwrap_or(0).min(6)];
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
mod tests {
    use super::*;
    use crate::config::Config;

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
        s.parse::<jiff::Zoned>().unwrap().timestamp()
    }

    /// Values as the acknowledgement code would build them: Friday-evening mail, 4 business
    /// hours promised, due Monday 13:00 in Kyiv.
    fn vars(language: &str) -> TemplateVars {
        let cal = calendar();
        let now = at("2026-11-20T17:30[Europe/Kyiv]");
        let due = at("2026-11-23T13:00[Europe/Kyiv]");
        TemplateVars {
            reference: 1042,
            tag: "[#1042]".into(),
            subject: "Printer broken".into(),
            customer: "anna@client.example".into(),
            received: local_date_time(now, &cal.timezone, language),
            expected_duration: human_duration(Duration::from_secs(4 * 3600), language),
            expected_by: expected_by(due, now, &cal.timezone, language),
            queue: "support".into(),
            business_hours: business_hours_text(&cal, language),
            due: local_date_time(due, &cal.timezone, "en"),
            ticket_url: None,
        }
    }

    fn builtin() -> Templates {
        Templates::load(None).unwrap()
    }

    #[test]
    fn english_acknowledgement() {
        let r = builtin()
            .render("acknowledgement", Some("en"), &vars("en"))
            .unwrap();
        assert_eq!(r.language, "en");
        assert_eq!(
            r.subject,
            "[#1042] We have received your request: Printer broken"
        );
        assert!(r.body.contains("within about 4 hours,"), "{}", r.body);
        assert!(r.body.contains("by Monday 13:00."), "{}", r.body);
        assert!(
            r.body.contains("Friday 20 November 2026, 17:30"),
            "{}",
            r.body
        );
        assert!(
            r.body
                .contains("Mon–Thu 09:00–18:00, Fri 09:00–17:00 (Europe/Kyiv)"),
            "{}",
            r.body
        );
        assert!(!r.body.contains("follow your request"), "{}", r.body);
        assert!(!r.body.contains('\r') && r.body.ends_with("Customer Support\n"));
    }

    #[test]
    fn russian_acknowledgement() {
        let r = builtin()
            .render("acknowledgement", Some("ru-RU"), &vars("ru"))
            .unwrap();
        assert_eq!(r.language, "ru");
        assert_eq!(r.subject, "[#1042] Ваше обращение получено: Printer broken");
        assert!(r.body.contains("Ориентировочное время ответа: 4 часа\n"));
        assert!(
            r.body
                .contains("Ожидаемый срок ответа: понедельник, 13:00\n")
        );
        assert!(
            r.body
                .contains("Получено: пятница, 20 ноября 2026 г., 17:30\n")
        );
        assert!(
            r.body
                .contains("пн–чт 09:00–18:00, пт 09:00–17:00 (Europe/Kyiv)")
        );
    }

    #[test]
    fn ukrainian_acknowledgement() {
        let r = builtin()
            .render("acknowledgement", Some("uk"), &vars("uk"))
            .unwrap();
        assert_eq!(r.language, "uk");
        assert_eq!(r.subject, "[#1042] Ваше звернення отримано: Printer broken");
        assert!(r.body.contains("Орієнтовний час відповіді: 4 години\n"));
        assert!(
            r.body
                .contains("Очікуваний термін відповіді: понеділок, 13:00\n")
        );
        assert!(
            r.body
                .contains("Отримано: п’ятниця, 20 листопада 2026 р., 17:30\n")
        );
    }

    #[test]
    fn polish_acknowledgement() {
        let r = builtin()
            .render("acknowledgement", Some("pl"), &vars("pl"))
            .unwrap();
        assert_eq!(r.language, "pl");
        assert_eq!(
            r.subject,
            "[#1042] Potwierdzenie przyjęcia zgłoszenia: Printer broken"
        );
        assert!(r.body.contains("Przewidywany czas odpowiedzi: 4 godziny\n"));
        assert!(
            r.body
                .contains("Planowany termin odpowiedzi: poniedziałek, 13:00\n")
        );
        assert!(r.body.contains("pon.–czw. 09:00–18:00, pt. 09:00–17:00"));
    }

    #[test]
    fn unknown_language_falls_back_to_english() {
        let t = builtin();
        assert_eq!(t.language_for("acknowledgement", Some("de")).unwrap(), "en");
        assert_eq!(t.language_for("acknowledgement", None).unwrap(), "en");
        assert_eq!(t.language_for("warning", Some("ru")).unwrap(), "en");
        assert_eq!(t.language_for("nonsense", Some("en")), None);
        let r = t
            .render("acknowledgement", Some("de"), &vars("de"))
            .unwrap();
        assert_eq!(r.language, "en");
        assert!(
            r.subject
                .starts_with("[#1042] We have received your request")
        );
        assert!(matches!(
            t.render("nonsense", Some("en"), &vars("en")),
            Err(TemplateError::Missing { .. })
        ));
    }

    #[test]
    fn warning_and_breach() {
        let t = builtin();
        let v = TemplateVars {
            ticket_url: Some("https://desk.example.com/t/1042".into()),
            ..vars("en")
        };
        let w = t.render("warning", None, &v).unwrap();
        assert_eq!(
            w.subject,
            "[#1042] Reply due Monday 23 November 2026, 13:00: Printer broken"
        );
        assert!(
            w.body
                .contains("Ticket:   https://desk.example.com/t/1042\n")
        );
        assert!(w.body.contains("\n-- \npostdesk\n"), "{}", w.body);
        let b = t.render("breach", Some("en"), &v).unwrap();
        assert_eq!(b.subject, "[#1042] Response target missed: Printer broken");
        assert!(
            b.body
                .contains("Due:      Monday 23 November 2026, 13:00\n")
        );
    }

    #[test]
    fn empty_subject_leaves_no_dangling_colon() {
        let v = TemplateVars {
            subject: String::new(),
            ..vars("en")
        };
        let r = builtin().render("acknowledgement", None, &v).unwrap();
        assert_eq!(r.subject, "[#1042] We have received your request");
    }

    #[test]
    fn subject_stays_on_one_line() {
        let v = TemplateVars {
            subject: "Help\r\nBcc: victim@example.com\n\tX\u{0}\u{2028}Y".into(),
            ..vars("en")
        };
        let t = builtin();
        for lang in ["en", "ru", "uk", "pl"] {
            let r = t.render("acknowledgement", Some(lang), &v).unwrap();
            assert!(!r.subject.chars().any(char::is_control), "{:?}", r.subject);
            assert!(
                r.subject.ends_with(": Help Bcc: victim@example.com X Y"),
                "{:?}",
                r.subject
            );
        }
        let w = t.render("warning", None, &v).unwrap();
        assert!(!w.subject.contains(['\r', '\n']));
        assert!(!w.body.contains('\r') && !w.body.contains('\0'));
    }

    #[test]
    fn template_syntax_in_values_is_printed_literally() {
        let v = TemplateVars {
            subject: "{{ref}} <b>&amp;</b> {{{tag}}}".into(),
            ..vars("en")
        };
        let r = builtin().render("warning", None, &v).unwrap();
        assert!(r.subject.ends_with(": {{ref}} <b>&amp;</b> {{{tag}}}"));
        assert!(
            r.body
                .contains("Subject:  {{ref}} <b>&amp;</b> {{{tag}}}\n")
        );
    }

    #[test]
    fn directory_overrides_and_extends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("acknowledgement.de.hbs"),
            "Subject: {{tag}} Ihre Anfrage ist eingegangen\r\n\r\nGuten Tag,\r\nAntwort erwartet: {{expected_by}}.\r\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("warning.en.hbs"),
            "Subject: Hurry {{tag}}\n\nDue {{due}}.\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.txt"), "not a template").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let de = t
            .render("acknowledgement", Some("de"), &vars("de"))
            .unwrap();
        assert_eq!(de.language, "de");
        assert_eq!(de.subject, "[#1042] Ihre Anfrage ist eingegangen");
        assert_eq!(de.body, "Guten Tag,\nAntwort erwartet: Monday 13:00.\n");
        let w = t.render("warning", None, &vars("en")).unwrap();
        assert_eq!(w.subject, "Hurry [#1042]");
        // The others are still the built-in ones.
        assert!(
            t.render("acknowledgement", Some("ru"), &vars("ru"))
                .unwrap()
                .body
                .contains("Здравствуйте!")
        );
    }

    fn load_error(name: &str, text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), text).unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
        err
    }

    #[test]
    fn broken_override_names_the_file() {
        let err = load_error(
            "acknowledgement.ru.hbs",
            "Subject: {{tag}}\n\nЗдравствуйте, {{#if subject}}без конца\n",
        );
        assert!(err.contains("body"), "{err}");
        // A misspelt variable fails at load thanks to strict mode.
        let err = load_error("breach.en.hbs", "Subject: {{tag}} missed\n\nDue {{deu}}.\n");
        assert!(err.contains("deu"), "{err}");
        let err = load_error("warning.en.hbs", "Due {{due}}.\n");
        assert!(err.contains("Subject"), "{err}");
        let err = load_error("warning.en.hbs", "Subject: x\nDue {{due}}.\n");
        assert!(err.contains("blank line"), "{err}");
        let err = load_error("warning.hbs", "Subject: x\n\nDue {{due}}.\n");
        assert!(err.contains("KIND.LANGUAGE.hbs"), "{err}");
        let err = load_error("reminder.de.hbs", "Subject: x\n\nHallo.\n");
        assert!(err.contains("reminder.en.hbs"), "{err}");
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = Templates::load(Some(Path::new("/nonexistent/postdesk-templates")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/postdesk-templates"), "{err}");
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

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("acknowledgement.ru.hbs"),
            Some(("acknowledgement".into(), "ru".into()))
        );
        assert_eq!(parse_file_name("acknowledgement.hbs"), None);
        assert_eq!(parse_file_name(".ru.hbs"), None);
        assert_eq!(parse_file_name("a.b.r1.hbs"), None);
        assert_eq!(primary_language("uk_UA"), "uk");
    }
}
