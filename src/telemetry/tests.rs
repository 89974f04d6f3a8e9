use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

use super::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the subscriber postdesk sets up writes for these events under `POSTDESK_LOG=spec`.
fn logged(spec: &str) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(env_filter(Some(spec)))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
        .with(caps());
    tracing::subscriber::with_default(subscriber, || {
        // As async-imap's `log::trace!` reaches tracing through tracing-log.
        tracing::trace!(target: "async_imap::imap_stream", "encode: input: a1 LOGIN support hunter2");
        tracing::debug!(target: "imap_proto::parser", "parsed LOGIN support hunter2");
        tracing::debug!(target: "lettre::transport::smtp", "AUTH PLAIN aHVudGVyMg==");
        tracing::debug!(target: "rustls::client", "session key 0xdeadbeef");
        tracing::info!(target: "async_imap::client", "greeting received");
        tracing::warn!(target: "rustls::conn", "peer sent close_notify");
        tracing::trace!(target: "postdesk::sources::imap::sync", "own trace line");
    });
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn no_secret_at_any_level() {
    for spec in [
        "trace",
        "postdesk=trace,async_imap=trace,imap_proto=trace,lettre=trace,rustls=trace",
        "async_imap::imap_stream=trace,imap_proto::parser=trace,trace",
    ] {
        let out = logged(spec);
        for secret in ["hunter2", "aHVudGVyMg==", "0xdeadbeef"] {
            assert!(!out.contains(secret), "{spec}: {out}");
        }
        assert!(out.contains("own trace line"), "{spec}: {out}");
        assert!(out.contains("greeting received"), "{spec}: {out}");
        assert!(out.contains("peer sent close_notify"), "{spec}: {out}");
    }
}

#[test]
fn the_default_and_a_bad_spec_log_info() {
    for spec in ["", "not a [valid filter"] {
        let out = logged(spec);
        assert!(out.contains("greeting received"), "{spec:?}: {out}");
        assert!(!out.contains("own trace line"), "{spec:?}: {out}");
    }
}

/// What a subscriber with `filter` and the caps writes for a postdesk debug line, a
/// template engine's debug line, a dependency's info and debug lines and a postdesk warning.
fn filtered(filter: EnvFilter) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
        .with(caps());
    tracing::subscriber::with_default(subscriber, || {
        tracing::debug!(target: "postdesk::store::file", "own debug line");
        tracing::trace!(target: "postdesk", "own trace line");
        tracing::debug!(target: "handlebars::render", "template internals");
        tracing::info!(target: "mail_parser::parsers", "dependency info line");
        tracing::debug!(target: "mail_parser::parsers", "dependency debug line");
        tracing::info!(target: "rusqlite_migration", "database schema is current");
        tracing::info!(target: "postdesk::daemon", "own info line");
        tracing::warn!(target: "postdesk::daemon", "own warning");
        tracing::error!(target: "postdesk::daemon", "own error");
    });
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

fn lines_of(out: &str) -> Vec<&str> {
    [
        "own trace line",
        "own debug line",
        "template internals",
        "dependency debug line",
        "dependency info line",
        "database schema is current",
        "own info line",
        "own warning",
        "own error",
    ]
    .into_iter()
    .filter(|line| out.contains(line))
    .collect()
}

#[test]
fn a_level_is_postdesks_own_and_dependencies_stay_at_info() {
    let cases = [
        (
            LogLevel::Trace,
            &[
                "own trace line",
                "own debug line",
                "dependency info line",
                "own info line",
                "own warning",
                "own error",
            ][..],
        ),
        (
            LogLevel::Debug,
            &[
                "own debug line",
                "dependency info line",
                "own info line",
                "own warning",
                "own error",
            ][..],
        ),
        (
            LogLevel::Info,
            &[
                "dependency info line",
                "own info line",
                "own warning",
                "own error",
            ][..],
        ),
        (LogLevel::Warn, &["own warning", "own error"][..]),
        (LogLevel::Error, &["own error"][..]),
    ];
    for (level, expected) in cases {
        let out = filtered(level.env_filter());
        assert_eq!(lines_of(&out), expected, "{level}: {out}");
    }
}

#[test]
fn postdesk_log_a_level_word_is_the_same_as_the_level_a_spec_is_literal() {
    for word in ["debug", " DEBUG "] {
        let out = filtered(spec_filter(word).unwrap());
        assert_eq!(
            lines_of(&out),
            lines_of(&filtered(LogLevel::Debug.env_filter())),
            "{word:?}"
        );
    }
    let out = filtered(spec_filter("info,mail_parser=debug,handlebars=debug").unwrap());
    assert!(out.contains("dependency debug line"), "{out}");
    // Asked for, the template engine is still held at its cap.
    assert!(!out.contains("template internals"), "{out}");
    assert!(!out.contains("own debug line"), "{out}");
    assert!(spec_filter("").is_err());
    assert!(spec_filter("postdesk=[").is_err());
}

#[test]
fn log_levels_read_and_print() {
    for (text, level) in [
        ("error", LogLevel::Error),
        ("warn", LogLevel::Warn),
        ("Warning", LogLevel::Warn),
        ("INFO", LogLevel::Info),
        ("debug", LogLevel::Debug),
        ("trace", LogLevel::Trace),
    ] {
        assert_eq!(LogLevel::parse(text), Ok(level), "{text}");
    }
    for level in [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
    ] {
        assert_eq!(LogLevel::parse(&level.to_string()), Ok(level));
    }
    let error = LogLevel::parse("verbose").unwrap_err();
    assert_eq!(
        error,
        "\"verbose\" is not a log level: give one of error, warn, info, debug, trace"
    );
}

#[test]
fn flags_count_steps_from_info() {
    assert_eq!(LogLevel::from_flags(0, 0), None);
    assert_eq!(LogLevel::from_flags(1, 0), Some(LogLevel::Debug));
    assert_eq!(LogLevel::from_flags(2, 0), Some(LogLevel::Trace));
    assert_eq!(LogLevel::from_flags(5, 0), Some(LogLevel::Trace));
    assert_eq!(LogLevel::from_flags(0, 1), Some(LogLevel::Warn));
    assert_eq!(LogLevel::from_flags(0, 2), Some(LogLevel::Error));
    assert_eq!(LogLevel::from_flags(0, 3), Some(LogLevel::Error));
}
