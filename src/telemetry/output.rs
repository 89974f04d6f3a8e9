//! Where log events go. Under systemd, when `JOURNAL_STREAM` names the stream stderr is
//! connected to, each event is one journal entry sent over the journal's native protocol:
//! `PRIORITY` from its level (error 3, warn 4, info 6, debug and trace 7), the message as
//! `MESSAGE` whatever lines it has, and its fields as `POSTDESK_TICKET=`, `POSTDESK_MAILBOX=`,
//! `POSTDESK_SOURCE=`… If the journal's socket cannot be reached, the lines go to stderr
//! with a `<N>` priority prefix, which the journal reads on its stream too. Elsewhere: plain
//! lines on stderr with a timestamp, coloured only on a terminal and never with `NO_COLOR`.

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing::{Event, Level, Subscriber};
use tracing_journald::{Priority, PriorityMappings};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use super::{LogLevel, caps, spec_filter};

#[cfg(test)]
mod tests;

/// `--log-format`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// What the process was started with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `-v`/`-q`: see [`LogLevel::from_flags`].
    pub flags: Option<LogLevel>,
    /// `POSTDESK_LOG`.
    pub spec: Option<String>,
    pub format: LogFormat,
}

/// The filter in force, replaced by [`apply_config_level`] when neither the command line
/// nor `POSTDESK_LOG` chose one.
struct Installed {
    handle: reload::Handle<EnvFilter, Registry>,
    config_decides: bool,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The journal's priorities for postdesk's levels: `info` is informational (6), not
/// notice (5), so that `journalctl -p notice` shows what needs a look.
fn priorities() -> PriorityMappings {
    PriorityMappings {
        error: Priority::Error,
        warn: Priority::Warning,
        info: Priority::Informational,
        debug: Priority::Debug,
        trace: Priority::Debug,
    }
}

fn priority_digit(level: &Level) -> u8 {
    let priorities = priorities();
    let priority = match *level {
        Level::ERROR => priorities.error,
        Level::WARN => priorities.warn,
        Level::INFO => priorities.info,
        Level::DEBUG => priorities.debug,
        Level::TRACE => priorities.trace,
    };
    priority as u8 - b'0'
}

/// Sets up logging for the process, once, before anything logs.
pub fn init(settings: Settings) {
    let (filter, config_decides, refused) = first_filter(&settings);
    let (filter, handle) = reload::Layer::new(filter);
    let destination = destination(settings.format, &Environment::current());
    let mut journal = None;
    let mut journal_error = None;
    if destination == Destination::Journal {
        match tracing_journald::layer() {
            Ok(layer) => {
                journal = Some(
                    layer
                        .with_field_prefix(Some("POSTDESK".into()))
                        .with_priority_mappings(priorities())
                        .with_syslog_identifier("postdesk".into()),
                );
            }
            Err(error) => journal_error = Some(error),
        }
    }
    let stream = (journal.is_none() && destination == Destination::Journal).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(PriorityPrefix(format::format().without_time()))
    });
    let text = match destination {
        Destination::Text { colour } => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour),
        ),
        _ => None,
    };
    let json = (destination == Destination::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
    });
    // Whatever the filter lets in, dependencies that log secrets stay at their cap.
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(caps())
        .with(journal)
        .with(stream)
        .with(text)
        .with(json)
        .try_init()
        .is_ok();
    if installed {
        let _ = INSTALLED.set(Installed {
            handle,
            config_decides,
        });
    }
    if let Some(error) = journal_error {
        tracing::warn!("cannot write to the journal's socket ({error}); logging to stderr instead");
    }
    if let Some((spec, reason)) = refused {
        tracing::warn!(
            "POSTDESK_LOG={spec:?} is not a log filter ({reason}); give a level ({}) or a filter such as \"debug,lettre=debug\"",
            LogLevel::NAMES.join(", ")
        );
    }
}

/// The filter from the flags, else from `POSTDESK_LOG`, else `info` until the config is
/// read; whether the config's `log_level` may still replace it; and a `POSTDESK_LOG` that
/// does not parse, with the reason.
fn first_filter(settings: &Settings) -> (EnvFilter, bool, Option<(String, String)>) {
    if let Some(level) = settings.flags {
        return (level.env_filter(), false, None);
    }
    match settings.spec.as_deref().map(str::trim) {
        None | Some("") => (LogLevel::Info.env_filter(), true, None),
        Some(spec) => match spec_filter(spec) {
            Ok(filter) => (filter, false, None),
            Err(reason) => (
                LogLevel::Info.env_filter(),
                true,
                Some((spec.to_string(), reason)),
            ),
        },
    }
}

/// The config's `log_level`, in force unless `-v`/`-q` or `POSTDESK_LOG` chose the level.
pub fn apply_config_level(level: LogLevel) {
    if let Some(installed) = INSTALLED.get()
        && installed.config_decides
    {
        let _ = installed.handle.reload(level.env_filter());
    }
}

/// What decides where the log goes.
pub(super) struct Environment {
    /// `JOURNAL_STREAM`: `DEVICE:INODE` of the stream systemd connected stdout/stderr to.
    pub(super) journal_stream: Option<String>,
    /// Device and inode number of stderr.
    pub(super) stderr: Option<(u64, u64)>,
    pub(super) stderr_is_terminal: bool,
    /// `NO_COLOR`; set and not empty, it turns colours off.
    pub(super) no_color: Option<String>,
}

impl Environment {
    fn current() -> Environment {
        Environment {
            journal_stream: std::env::var("JOURNAL_STREAM").ok(),
            stderr: stderr_identity(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").map(|v| v.to_string_lossy().into_owned()),
        }
    }

    /// Is stderr the stream systemd connected to the journal? A child that inherited
    /// `JOURNAL_STREAM` but writes elsewhere (`postdesk tickets 2>file` from a unit's
    /// shell) is not.
    pub(super) fn stderr_is_journal(&self) -> bool {
        let named = self
            .journal_stream
            .as_deref()
            .and_then(parse_journal_stream);
        named.is_some() && named == self.stderr
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Destination {
    Journal,
    Json,
    Text { colour: bool },
}

pub(super) fn destination(format: LogFormat, env: &Environment) -> Destination {
    match format {
        LogFormat::Json => Destination::Json,
        LogFormat::Text if env.stderr_is_journal() => Destination::Journal,
        LogFormat::Text => Destination::Text {
            colour: env.stderr_is_terminal && env.no_color.as_deref().unwrap_or("").is_empty(),
        },
    }
}

/// `"8:12345"` → `(8, 12345)`, as systemd writes `st_dev` and `st_ino` in decimal.
pub(super) fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.trim().split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// `fstat(2)` of fd 2, through a duplicate of it.
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// A line format with the syslog `<N>` priority in front, which the journal takes off a
/// stream line and files as its `PRIORITY`.
pub(super) struct PriorityPrefix<F>(pub(super) F);

impl<S, N, F> FormatEvent<S, N> for PriorityPrefix<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority_digit(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}
