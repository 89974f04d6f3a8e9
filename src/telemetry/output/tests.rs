use std::io::Write;
use std::sync::{Arc, Mutex};

use super::*;

fn env(journal_stream: Option<&str>, stderr: (u64, u64), terminal: bool) -> Environment {
    Environment {
        journal_stream: journal_stream.map(str::to_string),
        stderr: Some(stderr),
        stderr_is_terminal: terminal,
        no_color: None,
    }
}

#[test]
fn the_journal_only_when_journal_stream_names_stderr() {
    let under_systemd = env(Some("8:12345"), (8, 12345), false);
    assert_eq!(
        destination(LogFormat::Text, &under_systemd),
        Destination::Journal
    );
    // Inherited by a command whose stderr goes elsewhere.
    let redirected = env(Some("8:12345"), (8, 777), false);
    assert_eq!(
        destination(LogFormat::Text, &redirected),
        Destination::Text { colour: false }
    );
    let garbled = env(Some("8-12345"), (8, 12345), false);
    assert_eq!(
        destination(LogFormat::Text, &garbled),
        Destination::Text { colour: false }
    );
    // Asked for JSON, JSON it is.
    assert_eq!(
        destination(LogFormat::Json, &under_systemd),
        Destination::Json
    );
}

#[test]
fn colours_only_on_a_terminal_without_no_color() {
    let terminal = env(None, (1, 2), true);
    assert_eq!(
        destination(LogFormat::Text, &terminal),
        Destination::Text { colour: true }
    );
    let pipe = env(None, (1, 2), false);
    assert_eq!(
        destination(LogFormat::Text, &pipe),
        Destination::Text { colour: false }
    );
    for (value, colour) in [("1", false), ("", true)] {
        let terminal = Environment {
            no_color: Some(value.into()),
            ..env(None, (1, 2), true)
        };
        assert_eq!(
            destination(LogFormat::Text, &terminal),
            Destination::Text { colour },
            "NO_COLOR={value:?}"
        );
    }
}

#[test]
fn journal_stream_is_device_colon_inode() {
    assert_eq!(parse_journal_stream("8:12345"), Some((8, 12345)));
    assert_eq!(parse_journal_stream("0:9\n"), Some((0, 9)));
    for bad in ["", "8", "8:", ":1", "a:1", "1:2:3"] {
        assert_eq!(parse_journal_stream(bad), None, "{bad:?}");
    }
}

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

#[test]
fn stream_lines_carry_the_journal_priority() {
    let captured = Captured::default();
    let writer = captured.clone();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .event_format(PriorityPrefix(format::format().without_time()));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(target: "postdesk", "e");
        tracing::warn!(target: "postdesk", ticket = 1042, "w");
        tracing::info!(target: "postdesk", "i");
        tracing::debug!(target: "postdesk", "d");
    });
    let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "<3>ERROR postdesk: e",
            "<4> WARN postdesk: w ticket=1042",
            "<6> INFO postdesk: i",
            "<7>DEBUG postdesk: d",
        ],
        "{out}"
    );
}
