//! Text from mail on a terminal. A subject, a sender's name, an attachment's file name or a
//! body is written by whoever sent the mail; printed as it is, an escape sequence in it
//! could move the cursor and overwrite what the agent reads, retitle the window or, through
//! OSC 52, put text on the clipboard. [`visible`] (for a body's lines) and [`visible_line`]
//! (for a value on a line of its own) are the one way such text reaches a terminal from
//! postdesk's human-readable output.
//!
//! [`stdout`] is where a command's results go, and [`closed_pipe`] tells its caller that
//! the reader went away (`postdesk tickets | head -1`): the end of the output, not a failure.

use std::borrow::Cow;
use std::fmt::Write;
use std::io::{BufWriter, ErrorKind, StdoutLock};

/// Standard output for a command's results, buffered (a listing of thousands of tickets is
/// a few writes, not one per line). Write through it with `writeln!` and `?`, never with
/// `println!`, which panics when the reader has gone; end with `flush()?`.
pub fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::new(std::io::stdout().lock())
}

/// Whether `error` (or one of its causes) is a write into a pipe or socket whose reader has
/// gone: for output on stdout the quiet end of a command, as for `ls` or `git log`.
pub fn closed_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The text with every character that can steer a terminal shown as a visible escape
/// (`\u{1b}`): C0 controls but tab and newline (so also a bare CR), DEL, the C1 controls
/// U+0080–U+009F (U+009B is a one-character CSI for some terminals), and the bidirectional
/// overrides, embeddings, isolates and marks that reorder what is shown (the "Trojan
/// Source" trick), plus the Unicode line and paragraph separators. Borrowed when there is
/// nothing to escape.
pub fn visible(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\t' || c == '\n')
}

/// [`visible`] for one cell of a table line: tab and newline escaped as well.
pub fn visible_line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

fn escape(text: &str, layout: fn(char) -> bool) -> Cow<'_, str> {
    let hidden = |c: char| steers(c) && !layout(c);
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden(c) {
            // Writing into a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn steers(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_found_among_the_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("writing the listing")]
        struct Listing(#[source] std::io::Error);
        let gone = std::io::Error::from(ErrorKind::BrokenPipe);
        assert!(closed_pipe(&Listing(gone)));
        let full = std::io::Error::from(ErrorKind::StorageFull);
        assert!(!closed_pipe(&Listing(full)));
        assert!(!closed_pipe(&std::fmt::Error));
    }

    #[test]
    fn osc_52_and_cursor_movement_are_shown_not_run() {
        // OSC 52: put "rm -rf ~" (base64) on the clipboard, ended by BEL and by ST.
        let osc52 = "Invoice\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}]52;c;eA==\u{1b}\\ due";
        assert_eq!(
            visible(osc52),
            "Invoice\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}]52;c;eA==\\u{1b}\\ due"
        );
        // Cursor up two lines, clear the line, and a C1 CSI (U+009B) doing the same.
        let cursor = "ok\u{1b}[2A\u{1b}[2K\u{9b}2Jforged";
        assert_eq!(visible(cursor), "ok\\u{1b}[2A\\u{1b}[2K\\u{9b}2Jforged");
        for text in [osc52, cursor] {
            assert!(!visible(text).chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn carriage_return_del_and_bidi_overrides_are_escaped() {
        assert_eq!(visible("paid\rUNPAID"), "paid\\u{d}UNPAID");
        assert_eq!(visible("a\u{7f}b"), "a\\u{7f}b");
        assert_eq!(
            visible("invoice\u{202e}fdp.exe\u{2066}x\u{2069}"),
            "invoice\\u{202e}fdp.exe\\u{2066}x\\u{2069}"
        );
        assert_eq!(
            visible("\u{0}\u{1f}\u{80}\u{9f}"),
            "\\u{0}\\u{1f}\\u{80}\\u{9f}"
        );
    }

    #[test]
    fn tabs_newlines_and_ordinary_text_pass_as_they_are() {
        let text = "Hello\tworld\nПривет, 世界 — naïve café 🙂 \\u{1b}";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
        assert_eq!(visible(""), "");
        assert_eq!(
            visible_line(text),
            "Hello\\u{9}world\\u{a}Привет, 世界 — naïve café 🙂 \\u{1b}"
        );
        assert_eq!(visible_line("a\u{1b}[1Ab"), visible("a\u{1b}[1Ab"));
    }
}
