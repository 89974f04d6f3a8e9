//! Logging: which events are written ([`LogLevel`], `POSTDESK_LOG`, the [`caps`] on
//! dependencies) and where to ([`output`]: the journal's native protocol under systemd, plain
//! lines elsewhere).
//!
//! The level is chosen by, first to last: `-v`/`-q` on the command line, `POSTDESK_LOG`, the
//! config's `log_level`, `info`. A level names postdesk's own level; dependencies stay at
//! `info` or quieter (`-v` shows postdesk's debug lines, not the template engine's or the TLS
//! library's). Only a `POSTDESK_LOG` filter spec (EnvFilter syntax, such as
//! `debug,lettre=debug`) reaches dependencies' own debug lines, and even then some
//! dependencies write secrets below a certain level — async-imap traces every line it sends,
//! the IMAP `LOGIN` with its password included, and imap-proto the lines it parses — so
//! [`caps`] holds them at a level that carries no secret, whatever `POSTDESK_LOG` says
//! (`POSTDESK_LOG=trace`, or `async_imap=trace`, or a deeper module path alike).

mod output;

#[cfg(test)]
mod tests;

use std::fmt;

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};

pub use output::{LogFormat, Settings, apply_config_level, init};

/// Without `POSTDESK_LOG`, or when it does not parse: [`LogLevel::Info`].
pub const DEFAULT_LOG: &str = "info,rusqlite_migration=warn";

/// Dependencies and the most detailed level they may log at: each logs credentials, keys
/// or whole protocol lines (or may, in a later version) below it.
pub const CAPPED: &[(&str, Level)] = &[
    ("async_imap", Level::INFO),
    ("imap_proto", Level::INFO),
    ("lettre", Level::INFO),
    ("rustls", Level::WARN),
    ("tokio_rustls", Level::WARN),
    ("rustls_platform_verifier", Level::WARN),
    ("handlebars", Level::INFO),
];

/// postdesk's own log level: `log_level` in the config, `-v`/`-q`, or a bare level word in
/// `POSTDESK_LOG`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub const NAMES: &[&str] = &["error", "warn", "info", "debug", "trace"];

    /// `"warn"`, `"INFO"`, `"warning"`: one of [`Self::NAMES`] in any case.
    pub fn parse(text: &str) -> Result<LogLevel, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(LogLevel::Error),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            "trace" => Ok(LogLevel::Trace),
            _ => Err(format!(
                "\"{text}\" is not a log level: give one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }

    /// The level `-v` (`verbose` times) or `-q` (`quiet` times) ask for: each `-v` one step
    /// more detailed than `info`, each `-q` one step quieter; `None` without either.
    pub fn from_flags(verbose: u8, quiet: u8) -> Option<LogLevel> {
        match (verbose, quiet) {
            (0, 0) => None,
            (1, _) => Some(LogLevel::Debug),
            (2.., _) => Some(LogLevel::Trace),
            (0, 1) => Some(LogLevel::Warn),
            (0, 2..) => Some(LogLevel::Error),
        }
    }

    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }

    /// The filter for this level: postdesk (the library and the binary) at it, dependencies
    /// at it or `info` if that is quieter, and the migration library's per-start notes at
    /// `warn`. `Info` gives [`DEFAULT_LOG`].
    pub fn env_filter(self) -> EnvFilter {
        let own = self.filter();
        let dependencies = own.min(LevelFilter::INFO);
        let migrations = own.min(LevelFilter::WARN);
        let spec = format!("{dependencies},rusqlite_migration={migrations},postdesk={own}");
        EnvFilter::new(spec.to_lowercase())
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        })
    }
}

/// `POSTDESK_LOG`'s value as a filter: a bare level word (`debug`) is that [`LogLevel`] for
/// postdesk alone; anything else is an EnvFilter spec taken as it is written, which may
/// name dependencies (`debug,lettre=debug`).
pub fn spec_filter(spec: &str) -> Result<EnvFilter, String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err("empty".into());
    }
    if let Ok(level) = LogLevel::parse(spec) {
        return Ok(level.env_filter());
    }
    EnvFilter::try_new(spec).map_err(|e| e.to_string())
}

/// The levels asked for: `spec` (the value of `POSTDESK_LOG`) or [`DEFAULT_LOG`].
pub fn env_filter(spec: Option<&str>) -> EnvFilter {
    spec.and_then(|spec| spec_filter(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG))
}

/// A filter layer that lets everything through but the [`CAPPED`] targets above their cap.
/// Layered over the subscriber, it decides before the [`env_filter`] can let an event in.
pub fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED.iter().copied())
}
