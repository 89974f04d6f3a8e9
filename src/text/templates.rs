//! Texts of outgoing mail: handlebars plain-text templates, one file per kind and language
//! (`acknowledgement.ru.hbs`, `warning.en.hbs`, ...). The values they show are formatted in
//! the template's language by [`super::locale`].
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
use jiff::tz::TimeZone;
use serde::Serialize;

use super::locale::{
    business_hours_text, expected_by, human_duration, local_date_time, primary_language,
};
use crate::config::Calendar;

/// The language every kind of template must exist in; used when the wanted one is missing.
pub const FALLBACK_LANGUAGE: &str = "en";

/// The built-in set: the files shipped in `templates/`.
const BUILTIN: &[(&str, &str)] = &[
    (
        "acknowledgement.en.hbs",
        include_str!("../../templates/acknowledgement.en.hbs"),
    ),
    (
        "acknowledgement.ru.hbs",
        include_str!("../../templates/acknowledgement.ru.hbs"),
    ),
    (
        "acknowledgement.uk.hbs",
        include_str!("../../templates/acknowledgement.uk.hbs"),
    ),
    (
        "acknowledgement.pl.hbs",
        include_str!("../../templates/acknowledgement.pl.hbs"),
    ),
    (
        "warning.en.hbs",
        include_str!("../../templates/warning.en.hbs"),
    ),
    (
        "breach.en.hbs",
        include_str!("../../templates/breach.en.hbs"),
    ),
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
        let mut sources = builtin_sources();
        if let Some(dir) = dir {
            for path in template_paths(dir)? {
                let (key, file, text) = read_template(path)?;
                sources.insert(key, (file, text));
            }
        }
        let templates = Templates::compile(sources)?;
        templates.check_fallbacks()?;
        for (kind, language) in templates.files.keys() {
            for url in [None, Some("https://support.example.com/t/1042")] {
                templates.render_exact(kind, language, &sample_vars(language, url))?;
            }
        }
        Ok(templates)
    }

    /// Registers each source as two templates, `KIND.LANGUAGE/subject` and `.../body`.
    fn compile(sources: Sources) -> Result<Templates, TemplateError> {
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
        Ok(Templates { registry, files })
    }

    /// Every kind must exist in [`FALLBACK_LANGUAGE`], or `render` would have nothing to
    /// fall back on.
    fn check_fallbacks(&self) -> Result<(), TemplateError> {
        let kinds: BTreeSet<&str> = self.files.keys().map(|(k, _)| k.as_str()).collect();
        for kind in kinds {
            if !self.has(kind, FALLBACK_LANGUAGE) {
                let (_, file) = self
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
        Ok(())
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

/// (kind, language) → (the file it came from, for messages; its text).
type Sources = BTreeMap<(String, String), (String, String)>;

/// The files shipped in `templates/`.
fn builtin_sources() -> Sources {
    let mut sources = Sources::new();
    for (name, text) in BUILTIN {
        let key = parse_file_name(name).expect("built-in template names are valid");
        sources.insert(key, (format!("{name} (built-in)"), (*text).to_string()));
    }
    sources
}

/// The `*.hbs` files of `dir` (hidden ones and directories skipped), sorted.
fn template_paths(dir: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let read_dir_error = |source| TemplateError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
        let entry = entry.map_err(read_dir_error)?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".hbs") && !name.starts_with('.') && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// One overriding file: its (kind, language) from the name, the name for messages, the text.
fn read_template(path: PathBuf) -> Result<((String, String), String, String), TemplateError> {
    let file = path.display().to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = parse_file_name(&name).ok_or_else(|| TemplateError::Invalid {
        file: file.clone(),
        message: "the name must be KIND.LANGUAGE.hbs, e.g. acknowledgement.de.hbs".into(),
    })?;
    let text =
        std::fs::read_to_string(&path).map_err(|source| TemplateError::Read { path, source })?;
    Ok((key, file, text))
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

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
