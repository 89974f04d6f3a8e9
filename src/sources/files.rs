//! Local sources for `postdesk ingest`: .eml files, Maildir folders, mbox files and stdin.
//! Each yields raw messages with a location; a file that cannot be read is reported and the
//! rest carry on. The mbox writer of `postdesk ticket --mbox` is here too, beside the reader
//! whose quoting it mirrors.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// One message read from a source, or why it could not be read.
pub struct Item {
    pub location: String,
    pub raw: Result<Vec<u8>, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

/// Reads every message under `path` (`-` is stdin) and hands each to `sink` in order.
pub fn read_path(path: &Path, sink: &mut dyn FnMut(Item)) -> Result<(), SourceError> {
    let read_error = |source| SourceError::Read {
        path: path.into(),
        source,
    };
    if path == Path::new("-") {
        let mut raw = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut raw)
            .map_err(read_error)?;
        sink(Item {
            location: "stdin".into(),
            raw: Ok(strip_envelope_line(raw)),
        });
        return Ok(());
    }
    let meta = fs::metadata(path).map_err(read_error)?;
    if meta.is_dir() {
        if path.join("cur").is_dir() || path.join("new").is_dir() {
            for sub in ["new", "cur"] {
                let dir = path.join(sub);
                if dir.is_dir() {
                    for file in super::maildir::list(&dir).map_err(read_error)? {
                        sink(read_file(&file, "maildir:"));
                    }
                }
            }
        } else {
            for entry in sorted_entries(path).map_err(read_error)? {
                let hidden = entry
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if !hidden {
                    read_path(&entry, sink)?;
                }
            }
        }
        return Ok(());
    }
    if is_mbox(path).map_err(read_error)? {
        return read_mbox(path, sink).map_err(read_error);
    }
    sink(read_file(path, ""));
    Ok(())
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

fn read_file(path: &Path, prefix: &str) -> Item {
    Item {
        location: format!("{prefix}{}", path.display()),
        raw: fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display())),
    }
}

fn is_mbox(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 5];
    let mut file = fs::File::open(path)?;
    let n = file.read(&mut head)?;
    Ok(n == 5 && &head == b"From ")
}

/// Splits an mbox (mboxo/mboxrd) at its `From ` separator lines and undoes `>From ` quoting.
fn read_mbox(path: &Path, sink: &mut dyn FnMut(Item)) -> io::Result<()> {
    let mut reader = BufReader::new(fs::File::open(path)?);
    let mut line = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut index = 0usize;
    let mut emit = |raw: Vec<u8>, index: &mut usize| {
        *index += 1;
        sink(Item {
            location: format!("mbox:{}#{}", path.display(), index),
            raw: Ok(raw),
        });
    };
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.starts_with(b"From ") {
            if let Some(mut raw) = current.take() {
                trim_separator_blank(&mut raw);
                emit(raw, &mut index);
            }
            current = Some(Vec::new());
            continue;
        }
        let body = current.get_or_insert_with(Vec::new);
        // mboxrd: a line that is `From ` behind `>`s gained one more `>` when it was
        // written; reading takes that one off.
        match line.strip_prefix(b">") {
            Some(unquoted) if without_quotes(unquoted).starts_with(b"From ") => {
                body.extend_from_slice(unquoted)
            }
            _ => body.extend_from_slice(&line),
        }
    }
    if let Some(mut raw) = current {
        trim_separator_blank(&mut raw);
        emit(raw, &mut index);
    }
    Ok(())
}

/// Appends one message to an mbox in the mboxrd form [`read_mbox`] reads: a `From ` line
/// with the envelope sender and the time in UTC, the message with every line that starts
/// with `From ` after any number of `>` quoted by one more `>`, and a blank line. A message
/// read back is byte for byte the one written, except that one not ending in a line break
/// gains one.
pub fn write_mbox_message(
    out: &mut dyn Write,
    sender: Option<&str>,
    at: jiff::Timestamp,
    raw: &[u8],
) -> io::Result<()> {
    // The separator line is ours: an address with a space or line break cannot break it.
    let sender = sender
        .filter(|s| !s.is_empty() && !s.bytes().any(|b| b.is_ascii_whitespace()))
        .unwrap_or("MAILER-DAEMON");
    writeln!(out, "From {sender} {}", at.strftime("%a %b %e %H:%M:%S %Y"))?;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if without_quotes(line).starts_with(b"From ") {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    if !raw.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

/// `line` after the `>` that quote a `From ` line in an mbox.
fn without_quotes(line: &[u8]) -> &[u8] {
    let mut rest = line;
    while let Some(unquoted) = rest.strip_prefix(b">") {
        rest = unquoted;
    }
    rest
}

/// The blank line before the next `From ` belongs to the mbox, not the message.
fn trim_separator_blank(raw: &mut Vec<u8>) {
    if raw.ends_with(b"\r\n\r\n") {
        raw.truncate(raw.len() - 2);
    } else if raw.ends_with(b"\n\n") {
        raw.truncate(raw.len() - 1);
    }
}

/// An MTA piping a message may prefix it with its mbox-style envelope line.
fn strip_envelope_line(raw: Vec<u8>) -> Vec<u8> {
    if raw.starts_with(b"From ")
        && let Some(end) = raw.iter().position(|&b| b == b'\n')
        && let Some(message) = raw.get(end + 1..)
    {
        return message.to_vec();
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(path: &Path) -> Vec<Item> {
        let mut items = Vec::new();
        read_path(path, &mut |item| items.push(item)).unwrap();
        items
    }

    #[test]
    fn mbox_is_split_and_unquoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.mbox");
        fs::write(
            &path,
            "From a@b Mon Nov 16 09:00:00 2026\nSubject: one\n\n>From the start\nbody\n\nFrom c@d Mon Nov 16 10:00:00 2026\nSubject: two\n\nsecond\n",
        )
        .unwrap();
        let items = collect(&path);
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].raw.as_ref().unwrap(),
            b"Subject: one\n\nFrom the start\nbody\n"
        );
        assert_eq!(items[1].raw.as_ref().unwrap(), b"Subject: two\n\nsecond\n");
        assert!(items[1].location.ends_with("#2"));
    }

    #[test]
    fn mbox_written_reads_back_byte_for_byte() {
        let messages: [&[u8]; 5] = [
            b"Subject: one\n\nFrom the start\n>From once quoted\n>>From twice\nFromage\n",
            b"Subject: crlf\r\n\r\nFrom here\r\nlast line\r\n",
            b"Subject: ends in a blank line\n\nbody\n\n",
            b"From: sender line that is a header\nSubject: x\n\n>From\n",
            b"Subject: no final line break\n\nbody",
        ];
        let at = jiff::Timestamp::from_second(1_763_283_600).unwrap();
        let mut mbox = Vec::new();
        for (i, raw) in messages.iter().enumerate() {
            let sender = ["a@b.example", "", "spaced name@x", "c@d.example", "e@f"][i];
            write_mbox_message(&mut mbox, Some(sender), at, raw).unwrap();
        }
        let text = String::from_utf8(mbox.clone()).unwrap();
        assert!(
            text.starts_with("From a@b.example Sun Nov 16 09:00:00 2025\n"),
            "{text}"
        );
        assert!(text.contains("\nFrom MAILER-DAEMON Sun Nov 16 09:00:00 2025\n"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ticket.mbox");
        fs::write(&path, &mbox).unwrap();
        let read: Vec<Vec<u8>> = collect(&path)
            .into_iter()
            .map(|item| item.raw.unwrap())
            .collect();
        assert_eq!(read.len(), messages.len());
        for (i, raw) in messages.iter().enumerate().take(4) {
            assert_eq!(
                read[i],
                *raw,
                "message {i}: {:?}",
                String::from_utf8_lossy(&read[i])
            );
        }
        assert_eq!(read[4], b"Subject: no final line break\n\nbody\n");
    }

    #[test]
    fn maildir_reads_new_then_cur() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["new", "cur", "tmp"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        fs::write(dir.path().join("cur/1.host:2,S"), "Subject: old\n\nx").unwrap();
        fs::write(dir.path().join("new/2.host"), "Subject: new\n\nx").unwrap();
        fs::write(dir.path().join("tmp/3.host"), "Subject: partial\n\nx").unwrap();
        let items = collect(dir.path());
        let locations: Vec<_> = items.iter().map(|i| i.location.clone()).collect();
        assert_eq!(items.len(), 2, "{locations:?}");
        assert!(locations[0].contains("new/2.host"));
        assert!(locations[1].contains("cur/1.host"));
    }

    #[test]
    fn missing_path_is_an_error() {
        let err = read_path(Path::new("/nonexistent/x.eml"), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.eml"));
    }
}
