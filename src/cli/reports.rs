//! `postdesk report`: is the one-day promise kept?

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{UsageError, open_reader, print_json};
use crate::config::{self, Config};

/// `postdesk report`: computed from the store, printed as text or JSON, optionally written
/// as an HTML page.
pub(super) fn print_report(
    config: &Config,
    since: &str,
    queue: Option<&str>,
    json: bool,
    html: Option<&Path>,
) -> Result<ExitCode> {
    if let Some(queue) = queue
        && config.queue(queue).is_none()
    {
        return Err(
            UsageError::Invalid(format!("--queue {queue}: no such queue in the config")).into(),
        );
    }
    let now = jiff::Timestamp::now();
    let tz = &config.calendar.timezone;
    let since = report_start(since, now, tz).map_err(UsageError::Invalid)?;
    let store = open_reader(config)?;
    let params = crate::report::Params {
        since,
        until: now.as_second(),
        now: now.as_second(),
        queue,
    };
    let report = crate::report::compute(store.connection(), config, &params)
        .context("cannot compute the report")?;
    if let Some(path) = html {
        std::fs::write(path, crate::report::html::render(&report, tz))
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
    }
    if json {
        print_json(&report)?;
    } else {
        let mut out = crate::terminal::stdout();
        write!(out, "{}", crate::report::text::render(&report, tz))?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: a wall-clock duration back from `now`, or a local date.
fn report_start(since: &str, now: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> Result<i64, String> {
    if let Ok(date) = since.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| format!("--since {since}: {e}"));
    }
    match config::Span::parse(since) {
        Ok(span) if !span.business => {
            Ok(now.as_second() - i64::try_from(span.length.as_secs()).unwrap_or(i64::MAX / 2))
        }
        _ => Err(format!(
            "--since {since}: use a duration like 7d, 24h, 4w or a date like 2026-11-01"
        )),
    }
}
