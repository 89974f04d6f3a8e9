//! Where the log goes and what is in it, as the built binary writes it.
//!
//! Under systemd: the test binds a Unix datagram socket, runs `postdesk` in a private mount
//! namespace (`unshare`, root) with that socket bind-mounted over
//! `/run/systemd/journal/socket` and with stderr on a stream whose device and inode
//! `JOURNAL_STREAM` names, as systemd starts a service; then reads the datagrams and parses
//! them as the journal's native protocol does (`NAME=value` lines and the binary-length form
//! for values with a newline). Elsewhere: plain lines, coloured only on a terminal (`script`
//! gives the binary one) and never with `NO_COLOR`; the level from `-v`/`-q`, `POSTDESK_LOG`
//! and the config's `log_level`, in that order.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// One journal entry: each field with its values (a field may repeat).
type Entry = BTreeMap<String, Vec<Vec<u8>>>;

/// A desk in a temp dir (under the target dir, which the namespace's `/run` does not hide):
/// one mail stored unparsed (a NUL byte in its headers: a warning with its ticket) and a
/// path with a newline in its name that does not exist (an error whose message has two
/// lines).
struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    fn new() -> Desk {
        let dir = tempfile::Builder::new()
            .prefix("journald")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::write(
            dir.path().join("bad.eml"),
            b"From: a@b.example\r\nSubject: x\0y\r\n\r\nbody",
        )
        .unwrap();
        Desk { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn missing(&self) -> PathBuf {
        self.path("lost\nmail.eml")
    }

    /// `postdesk ARGS` on this desk's database, with no log setting from the caller.
    fn postdesk(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
        self.setup(&mut cmd);
        cmd.args(args);
        cmd
    }

    fn setup(&self, cmd: &mut Command) {
        cmd.env_remove("POSTDESK_CONFIG")
            .env_remove("POSTDESK_LOG")
            .env_remove("JOURNAL_STREAM")
            .env_remove("NO_COLOR")
            .env("POSTDESK_DB", self.path("desk.db"))
            .stdin(Stdio::null());
    }

    /// The ingest that logs the warning and the error, with `args` before it.
    fn ingest_args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.push("ingest".into());
        all.push(self.path("bad.eml").to_str().unwrap().into());
        all.push(self.missing().to_str().unwrap().into());
        all
    }

    /// The reference of the one ticket.
    fn ticket(&self) -> i64 {
        let out = self
            .postdesk(&["tickets", "--all", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let tickets: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(tickets.as_array().map(Vec::len), Some(1), "{tickets:#}");
        tickets[0]["ref"].as_i64().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a service under systemd gets: `ingest` run in a mount namespace where `journal`
/// (a socket path, or `None` for no journal socket at all) is `/run/systemd/journal/socket`,
/// stderr a stream socket named by `JOURNAL_STREAM`. Returns the run's output, with stderr
/// as read from the stream.
fn under_systemd(desk: &Desk, journal: Option<&Path>) -> Output {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let meta = std::fs::File::from(OwnedFd::from(theirs.try_clone().unwrap()))
        .metadata()
        .unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let script = "set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/journal; \
                  if [ -n \"$1\" ]; then : > /run/systemd/journal/socket; \
                  mount --bind \"$1\" /run/systemd/journal/socket; fi; shift; exec \"$@\"";
    let mut cmd = Command::new("unshare");
    desk.setup(&mut cmd);
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .arg(journal.map(|p| p.as_os_str()).unwrap_or_default())
    .arg(env!("CARGO_BIN_EXE_postdesk"))
    .args(desk.ingest_args(&[]))
    .env("JOURNAL_STREAM", &stream)
    .stdout(Stdio::piped())
    .stderr(Stdio::from(OwnedFd::from(theirs)));
    let child = cmd
        .spawn()
        .expect("unshare (util-linux) runs the binary in a mount namespace; needs root");
    let out = child.wait_with_output().unwrap();
    drop(cmd); // our copy of the child's stderr: the stream ends
    let mut stderr = Vec::new();
    ours.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (&ours).read_to_end(&mut stderr).unwrap();
    Output {
        status: out.status,
        stdout: out.stdout,
        stderr,
    }
}

/// Every datagram waiting on `socket`, parsed; the empty one a client sends to see that
/// the journal listens carries no entry.
fn entries(socket: &UnixDatagram) -> Vec<Entry> {
    socket.set_nonblocking(true).unwrap();
    let mut entries = Vec::new();
    let mut buf = vec![0u8; 1 << 17];
    loop {
        match socket.recv(&mut buf) {
            Ok(0) => {}
            Ok(n) => entries.push(parse_entry(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading the journal socket: {e}"),
        }
    }
    entries
}

/// The journal's native protocol: fields one after another, each `NAME=value\n`, or
/// `NAME\n`, the value's length as 64-bit little-endian, the value, `\n`.
fn parse_entry(mut data: &[u8]) -> Entry {
    let mut entry = Entry::new();
    while !data.is_empty() {
        let end = data
            .iter()
            .position(|&b| b == b'=' || b == b'\n')
            .unwrap_or_else(|| panic!("field without end: {:?}", text(data)));
        let name = text(&data[..end]);
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "not a journal field name: {name:?}"
        );
        let value;
        if data[end] == b'=' {
            let rest = &data[end + 1..];
            let line = rest.iter().position(|&b| b == b'\n').expect("value line");
            value = rest[..line].to_vec();
            data = &rest[line + 1..];
        } else {
            let rest = &data[end + 1..];
            let length = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            value = rest[8..8 + length].to_vec();
            assert_eq!(rest[8 + length], b'\n', "{name}: value not closed");
            data = &rest[8 + length + 1..];
        }
        entry.entry(name).or_default().push(value);
    }
    entry
}

fn field(entry: &Entry, name: &str) -> Option<String> {
    let values = entry.get(name)?;
    assert_eq!(values.len(), 1, "{name} given {} times", values.len());
    Some(text(&values[0]))
}

#[test]
fn under_systemd_each_event_is_one_journal_entry_with_priority_and_fields() {
    let desk = Desk::new();
    let socket_path = desk.path("journal.socket");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let out = under_systemd(&desk, Some(&socket_path));
    assert_eq!(
        text(&out.stdout).trim(),
        "ingested 0, duplicates 0, quarantined 1, failed 1",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
    let entries = entries(&socket);
    let ticket = desk.ticket();

    let warnings: Vec<&Entry> = entries
        .iter()
        .filter(|e| field(e, "PRIORITY").as_deref() == Some("4"))
        .collect();
    assert_eq!(warnings.len(), 1, "{entries:?}");
    let warning = warnings[0];
    assert_eq!(field(warning, "POSTDESK_TICKET"), Some(ticket.to_string()));
    assert_eq!(
        field(warning, "POSTDESK_SOURCE").map(PathBuf::from),
        Some(desk.path("bad.eml"))
    );
    assert_eq!(
        field(warning, "SYSLOG_IDENTIFIER").as_deref(),
        Some("postdesk")
    );
    let message = field(warning, "MESSAGE").unwrap();
    assert!(
        message.starts_with(&format!("#{ticket}: stored unparsed (")),
        "{message}"
    );

    // The error's message has two lines: one entry, the newline inside its MESSAGE.
    let errors: Vec<&Entry> = entries
        .iter()
        .filter(|e| field(e, "PRIORITY").as_deref() == Some("3"))
        .collect();
    assert_eq!(errors.len(), 1, "{entries:?}");
    let message = field(errors[0], "MESSAGE").unwrap();
    assert!(
        message.contains(&format!("{}: ", desk.missing().display())),
        "{message:?}"
    );
    assert_eq!(entries.len(), 2, "{entries:?}");
    // Nothing written to the stream as well.
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn under_systemd_without_the_journal_socket_stream_lines_carry_the_priority() {
    let desk = Desk::new();
    let out = under_systemd(&desk, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let ticket = desk.ticket();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with(
            "<4> WARN postdesk::telemetry::output: cannot write to the journal's socket"
        ),
        "{stderr}"
    );
    let warning = lines
        .iter()
        .find(|l| l.contains("stored unparsed"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        warning.starts_with(&format!(
            "<4> WARN postdesk::store::file: #{ticket}: stored unparsed"
        )),
        "{warning}"
    );
    assert!(warning.ends_with(&format!("ticket={ticket}")), "{warning}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<3>ERROR postdesk::cli::ingest: cannot read ")),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// A log line as written without systemd: `2026-…Z  WARN target: message fields`.
fn is_plain_line(line: &str) -> bool {
    let (time, rest) = line.split_once(' ').unwrap_or_default();
    time.len() > 20
        && time.ends_with('Z')
        && time.starts_with("20")
        && ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
            .iter()
            .any(|level| rest.trim_start().starts_with(level))
}

#[test]
fn elsewhere_plain_lines_without_escapes() {
    // No JOURNAL_STREAM, and one inherited that names another stream than stderr.
    for journal_stream in [None, Some("8:1")] {
        let desk = Desk::new();
        let mut cmd = desk.postdesk(&[]);
        cmd.args(desk.ingest_args(&[]));
        if let Some(value) = journal_stream {
            cmd.env("JOURNAL_STREAM", value);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(!stderr.contains('\u{1b}'), "{journal_stream:?}: {stderr:?}");
        assert!(!stderr.contains("<4>"), "{journal_stream:?}: {stderr}");
        let warning = stderr
            .lines()
            .find(|l| l.contains("stored unparsed"))
            .unwrap_or_else(|| panic!("{stderr}"));
        assert!(is_plain_line(warning), "{warning}");
        assert!(
            warning.contains(" WARN postdesk::store::file: #"),
            "{warning}"
        );
        assert!(
            stderr
                .lines()
                .any(|l| is_plain_line(l) && l.contains("ERROR")),
            "{stderr}"
        );
    }
}

/// `postdesk ingest` on a terminal (`script` gives it one): what the terminal showed.
fn on_a_terminal(desk: &Desk, no_color: Option<&str>) -> String {
    let command = desk
        .ingest_args(&[])
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    desk.setup(&mut cmd);
    cmd.args(["-qe", "-c"])
        .arg(format!("{} {command}", env!("CARGO_BIN_EXE_postdesk")))
        .arg("/dev/null");
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    let out = cmd
        .output()
        .expect("script (util-linux) gives the binary a terminal");
    text(&out.stdout)
}

#[test]
fn colours_on_a_terminal_unless_no_color() {
    let coloured = on_a_terminal(&Desk::new(), None);
    assert!(coloured.contains("stored unparsed"), "{coloured:?}");
    assert!(coloured.contains("\u{1b}["), "{coloured:?}");
    for value in ["1", "yes"] {
        let plain = on_a_terminal(&Desk::new(), Some(value));
        assert!(plain.contains("stored unparsed"), "{plain:?}");
        assert!(!plain.contains('\u{1b}'), "NO_COLOR={value}: {plain:?}");
    }
}

/// stderr of `postdesk [FLAGS] [--config log_level] ingest` of a good and a bad mail,
/// with `POSTDESK_LOG` if given.
fn logged(flags: &[&str], postdesk_log: Option<&str>, log_level: Option<&str>) -> String {
    let desk = Desk::new();
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mail/06-request-en.eml");
    let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    if let Some(level) = log_level {
        let config = desk.path("postdesk.toml");
        std::fs::write(&config, format!("log_level = \"{level}\"\n")).unwrap();
        args.push("--config".into());
        args.push(config.to_str().unwrap().into());
    }
    args.extend(["ingest".into(), good.to_str().unwrap().into()]);
    args.push(desk.path("bad.eml").to_str().unwrap().into());
    let mut cmd = desk.postdesk(&[]);
    cmd.args(&args);
    if let Some(spec) = postdesk_log {
        cmd.env("POSTDESK_LOG", spec);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stderr)
}

/// Which of postdesk's lines for that ingest appear: the debug line for the good mail
/// (`filed`), the warning for the bad one.
fn shown(stderr: &str) -> (bool, bool) {
    (
        stderr.contains("DEBUG postdesk::store::file: filed"),
        stderr.contains(" WARN postdesk::store::file: #"),
    )
}

#[test]
fn flags_then_postdesk_log_then_log_level_choose_the_level() {
    assert_eq!(shown(&logged(&[], None, None)), (false, true));
    assert_eq!(shown(&logged(&["-v"], None, None)), (true, true));
    assert_eq!(shown(&logged(&["-q"], None, None)), (false, true));
    assert_eq!(shown(&logged(&["-qq"], None, None)), (false, false));
    // The config's level, below POSTDESK_LOG, below the flags.
    assert_eq!(shown(&logged(&[], None, Some("debug"))), (true, true));
    assert_eq!(shown(&logged(&[], None, Some("error"))), (false, false));
    assert_eq!(
        shown(&logged(&[], Some("warn"), Some("debug"))),
        (false, true)
    );
    assert_eq!(
        shown(&logged(&["-v"], Some("error"), Some("error"))),
        (true, true)
    );
    assert_eq!(
        shown(&logged(&["-qq"], Some("debug"), Some("debug"))),
        (false, false)
    );
}

#[test]
fn verbose_is_postdesks_debug_not_its_dependencies() {
    let stderr = logged(&["-vv"], None, None);
    assert!(stderr.contains("DEBUG postdesk::"), "{stderr}");
    for line in stderr
        .lines()
        .filter(|l| l.contains("DEBUG") || l.contains("TRACE"))
    {
        assert!(line.contains(" postdesk::"), "a dependency's line: {line}");
    }
}

#[test]
fn a_bad_postdesk_log_or_log_level_says_what_to_give() {
    let stderr = logged(&[], Some("postdesk=loud"), None);
    assert!(
        stderr.contains("POSTDESK_LOG=\"postdesk=loud\" is not a log filter"),
        "{stderr}"
    );
    assert!(
        stderr.contains("give a level (error, warn, info, debug, trace)"),
        "{stderr}"
    );
    let desk = Desk::new();
    let config = desk.path("postdesk.toml");
    std::fs::write(&config, "log_level = \"loud\"\n").unwrap();
    let out = desk
        .postdesk(&["--config", config.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "log_level: \"loud\" is not a log level: give one of error, warn, info, debug, trace"
        ),
        "{stderr}"
    );
}
