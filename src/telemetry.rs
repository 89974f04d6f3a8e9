//! The log filter. `POSTDESK_LOG` picks the levels (EnvFilter syntax), but some
//! dependencies write secrets below a certain level — async-imap traces every line it sends,
//! the IMAP `LOGIN` with its password included, and imap-proto the lines it parses — so
//! [`caps`] holds them at a level that carries no secret, whatever `POSTDESK_LOG` says
//! (`POSTDESK_LOG=trace`, or `async_imap=trace`, or a deeper module path alike).

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};

/// Without `POSTDESK_LOG`, or when it does not parse.
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

/// The levels asked for: `spec` (the value of `POSTDESK_LOG`) or [`DEFAULT_LOG`].
pub fn env_filter(spec: Option<&str>) -> EnvFilter {
    spec.filter(|spec| !spec.trim().is_empty())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG))
}

/// A filter layer that lets everything through but the [`CAPPED`] targets above their cap.
/// Layered over the subscriber, it decides before the [`env_filter`] can let an event in.
pub fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED.iter().copied())
}

#[cfg(test)]
mod tests {
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
}
