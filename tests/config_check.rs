//! A config that explains itself, through the `postdesk` binary: `check-config` names every
//! mistake at once, one line each with its place in the file; `config show` prints what
//! postdesk makes of the file; `run` refuses to watch nothing.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    fn new() -> Desk {
        Desk {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `postdesk.toml`; `{dir}` in `text` is the test's folder.
    fn config(&self, text: &str) -> PathBuf {
        let path = self.path("postdesk.toml");
        let dir = self.dir.path().display().to_string();
        std::fs::write(&path, text.replace("{dir}", &dir)).unwrap();
        path
    }

    fn secret(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn command(&self, config: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
        cmd.env_remove("POSTDESK_CONFIG")
            .env_remove("POSTDESK_DB")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("NOTIFY_SOCKET")
            .env("POSTDESK_LOG", "info")
            .arg("--config")
            .arg(config)
            .args(args);
        cmd
    }

    fn run(&self, config: &Path, args: &[&str]) -> Output {
        self.command(config, args).output().unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The six mistakes an admin typically makes, in one file.
const SIX_MISTAKES: &str = r#"database = "{dir}/desk.db"

[defaults]
respone_target = "1d"
ack_delay = "15m"

[calendar]
timezone = "Europe/Kiev2"

[[queue]]
name = "support"
response_target = "0s"

[[mailbox]]
name = "support"
address = "support@example.com"
imap = { host = "imap.example.com", user = "support", password_file = "{dir}/imap.pass" }

[[rule]]
subject = "(?i)invoice|refund("
queue = "support"

[[rule]]
from = "@bigclient\\.example$"
queue = "biling"
"#;

#[test]
fn six_mistakes_are_six_lines_with_their_place_in_one_run() {
    let desk = Desk::new();
    let config = desk.config(SIX_MISTAKES);
    let out = desk.run(&config, &["check-config"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!stdout(&out).contains("OK"), "{}", stdout(&out));
    let file = config.display().to_string();
    let dir = desk.dir.path().display().to_string();
    let expected = [
        format!(
            "{file}:4:1: defaults.respone_target: unknown key; did you mean `response_target`?"
        ),
        format!(
            "{file}:8:12: calendar.timezone: unknown time zone \"Europe/Kiev2\" (use an IANA name like \"Europe/Kyiv\")"
        ),
        format!(
            "{file}:12:19: queue[1].response_target: \"0s\" is no time at all: give a non-zero duration, e.g. \"1d\""
        ),
        format!(
            "{file}:17:71: mailbox[1].imap.password_file: {dir}/imap.pass does not exist: create it (mode 0600, owned by the user postdesk runs as) or fix the path"
        ),
        format!(
            "{file}:20:11: rule[1].subject: invalid regular expression: unclosed group at character 19 of \"(?i)invoice|refund(\""
        ),
        format!(
            "{file}:25:9: rule[2].queue: unknown queue \"biling\" (declare it in a [[queue]] section)"
        ),
    ];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[..6],
        expected.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "{err}"
    );
    assert_eq!(
        lines[6..],
        [format!(
            "postdesk: config file {file} has 6 problem(s): fix each line above and check again"
        )]
    );
    // Fixed, the same file checks OK; a password file its group can read is a warning only.
    let fixed = SIX_MISTAKES
        .replace("respone_target", "response_target")
        .replace("Kiev2", "Kyiv")
        .replace("\"0s\"", "\"4h\"")
        .replace("refund(", "refund")
        .replace("biling", "support");
    let config = desk.config(&fixed);
    desk.secret("imap.pass", "s3cret\n", 0o640);
    let out = desk.run(&config, &["check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!(
            "{file}: OK — 1 mailbox(es), 1 queue(s), 2 rule(s)"
        )),
        "{}",
        stdout(&out)
    );
    let warnings: Vec<String> = stderr(&out).lines().map(str::to_string).collect();
    assert_eq!(
        warnings,
        [format!(
            "{file}:17:71: mailbox[1].imap.password_file: warning: {dir}/imap.pass holds a secret but is readable by its group (mode 640): run `chmod 600 {dir}/imap.pass`"
        )]
    );
}

#[test]
fn a_missing_config_file_is_said_once() {
    let desk = Desk::new();
    let missing = desk.path("nowhere.toml");
    for args in [&["check-config"][..], &["tickets"], &["config", "show"]] {
        let out = desk.run(&missing, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out),
            format!(
                "postdesk: cannot read config file {}: No such file or directory (os error 2)\n",
                missing.display()
            ),
            "{args:?}"
        );
    }
}

#[test]
fn a_file_that_is_not_toml_fails_the_check_with_exit_1_and_every_other_command_with_2() {
    let desk = Desk::new();
    let config = desk.config("[defaults\nresponse_target = \"1d\"\n");
    let check = desk.run(&config, &["check-config"]);
    let said = stderr(&check);
    assert_eq!(check.status.code(), Some(1), "{said}");
    assert!(
        said.starts_with(&format!(
            "postdesk: config file {} is not valid TOML:\n{}:1:",
            config.display(),
            config.display()
        )),
        "{said}"
    );
    assert_eq!(stdout(&check), "");
    let tickets = desk.run(&config, &["tickets"]);
    assert_eq!(tickets.status.code(), Some(2), "{}", stderr(&tickets));
    assert_eq!(stderr(&tickets), said, "the same words from every command");
}

const SHOWN: &str = r#"database = "{dir}/desk.db"

[defaults]
response_target = "8h business"
warn_at = 0.5

[calendar]
timezone = "Europe/Kyiv"

[smtp]
host = "smtp.example.com"
tls = "starttls"
user = "support@example.com"
password_file = "{dir}/smtp.pass"

[[mailbox]]
name = "support"
address = "Support@Example.com"
maildir = "{dir}/Maildir"

[[queue]]
name = "support"

[[queue]]
name = "billing"
ack_delay = "1h"
calendar = { timezone = "America/New_York", hours = { mon = "08:00-12:00" } }
"#;

#[test]
fn config_show_prints_the_effective_config_without_secrets() {
    let desk = Desk::new();
    let password = "correct-horse-battery-staple";
    desk.secret("smtp.pass", password, 0o600);
    let config = desk.config(SHOWN);
    let out = desk.run(&config, &["config", "show"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains(password), "the password is shown:\n{text}");
    let shown: toml::Table = toml::from_str(&text).unwrap();
    let dir = desk.dir.path().display().to_string();
    // defaults filled in
    assert_eq!(shown["defaults"]["ack_delay"].as_str(), Some("15m"));
    assert_eq!(
        shown["defaults"]["estimate_min_samples"].as_integer(),
        Some(20)
    );
    assert_eq!(shown["ingest"]["thread_window"].as_str(), Some("2w"));
    assert_eq!(shown["smtp"]["port"].as_integer(), Some(587));
    assert_eq!(shown["report"]["weekly"].as_str(), Some("mon 08:00"));
    assert_eq!(
        shown["mailbox"][0]["address"].as_str(),
        Some("support@example.com")
    );
    assert_eq!(shown["mailbox"][0]["folders"].as_array().unwrap().len(), 1);
    // the secret named by where it is kept
    assert_eq!(
        shown["smtp"]["password_file"].as_str(),
        Some(format!("{dir}/smtp.pass").as_str())
    );
    // each queue as it really works: its own keys over [defaults] and [calendar]
    let queues = shown["queue"].as_array().unwrap();
    let (support, billing) = (&queues[0], &queues[1]);
    assert_eq!(support["response_target"].as_str(), Some("8h business"));
    assert_eq!(support["ack_delay"].as_str(), Some("15m"));
    assert_eq!(
        support["calendar"]["timezone"].as_str(),
        Some("Europe/Kyiv")
    );
    assert_eq!(
        support["calendar"]["hours"]["fri"].as_str(),
        Some("09:00-18:00")
    );
    assert_eq!(billing["response_target"].as_str(), Some("8h business"));
    assert_eq!(billing["warn_at"].as_float(), Some(0.5));
    assert_eq!(billing["ack_delay"].as_str(), Some("1h"));
    assert_eq!(
        billing["calendar"]["timezone"].as_str(),
        Some("America/New_York")
    );
    let billing_hours = billing["calendar"]["hours"].as_table().unwrap();
    assert_eq!(billing_hours.keys().collect::<Vec<_>>(), ["mon"]);

    // what it prints is a config postdesk reads as the same one
    let again = desk.path("shown.toml");
    std::fs::write(&again, &text).unwrap();
    let out = desk.run(&again, &["check-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = desk.run(&again, &["config", "show"]);
    let reshown = stdout(&out);
    assert_eq!(
        reshown.lines().skip(2).collect::<Vec<_>>(),
        text.lines().skip(2).collect::<Vec<_>>()
    );

    let out = desk.run(&config, &["config", "show", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["queue"][1]["response_target"], "8h business");
    assert!(!stdout(&out).contains(password));
}

#[test]
fn run_refuses_to_watch_nothing_unless_told() {
    let desk = Desk::new();
    let config = desk.config("database = \"{dir}/desk.db\"\n[[queue]]\nname = \"support\"\n");
    let out = desk.run(&config, &["run"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no [[mailbox]] is configured"), "{err}");
    assert!(err.contains("postdesk run --no-mailboxes"), "{err}");
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(
        !desk.path("desk.db").exists(),
        "it opened the database before refusing"
    );

    // told, it starts, watching nothing, and stops on SIGTERM
    let mut child = desk
        .command(&config, &["run", "--no-mailboxes"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "the daemon ended before it was ready"
        );
        if line.contains("watching 0 mailbox(es)") {
            break;
        }
        assert!(Instant::now() < deadline, "not ready after 30 s");
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
