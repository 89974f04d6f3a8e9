//! The command line as a shell user meets it: a closed pipe ends the output quietly, every
//! option says what it is for, the man pages refer only to pages that exist, completion
//! offers the values a flag takes, and times and people read as an agent expects.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use clap::CommandFactory;
use serde_json::Value;

struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    /// The fixture mail filed with the fixture config (`[calendar] timezone = "Europe/Kyiv"`).
    fn with_tickets() -> Desk {
        let desk = Desk {
            dir: tempfile::tempdir().unwrap(),
        };
        let mail = fixtures().join("mail");
        let out = desk.run(&["ingest", mail.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        desk
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
        cmd.env_remove("POSTDESK_CONFIG")
            .env_remove("POSTDESK_DB")
            .env("POSTDESK_LOG", "warn")
            .arg("--config")
            .arg(fixtures().join("postdesk.toml"))
            .arg("--db")
            .arg(self.dir.path().join("desk.db"))
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn text(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.text(args)).unwrap()
    }

    /// Bob's ticket (four messages, a name in his From:) as JSON.
    fn bobs_ticket(&self) -> Value {
        let tickets = self.json(&["tickets", "--all", "--json"]);
        let bob = tickets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["customer"] == "bob@client.example")
            .unwrap()
            .clone();
        self.json(&["ticket", &bob["ref"].to_string(), "--json"])
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `at` (RFC 3339) as the CLI shows it in `zone`: `2026-03-02 10:00 EET`.
fn shown(at: &Value, zone: &str) -> String {
    let at: jiff::Timestamp = at.as_str().unwrap().parse().unwrap();
    at.in_tz(zone)
        .unwrap()
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The command with its stdout a pipe whose reader is gone before the first write: every
/// write fails with EPIPE, as when `head -1` has exited.
fn into_closed_pipe(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_and_successfully() {
    let desk = Desk::with_tickets();
    let bob = desk.bobs_ticket();
    let reference = bob["ref"].to_string();
    let mail = fixtures().join("mail/06-request-en.eml");
    let commands: Vec<Vec<&str>> = vec![
        vec!["tickets"],
        vec!["tickets", "--json"],
        vec!["ticket", &reference],
        vec!["ticket", &reference, "--json"],
        vec!["ticket", &reference, "--mbox"],
        vec!["customer", "bob@client.example"],
        vec!["customer", "bob@client.example", "--json"],
        vec!["search", "printer"],
        vec!["report"],
        vec!["report", "--json"],
        vec!["ingest", mail.to_str().unwrap()],
        vec!["explain", mail.to_str().unwrap()],
        vec!["outbox", "--all"],
        vec!["outbox", "--json"],
        vec!["completions", "bash"],
        vec!["man"],
    ];
    for args in commands {
        let out = into_closed_pipe(desk.command(&args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?} said something on stderr");
    }
}

/// The same through a real shell pipeline, on a listing longer than a pipe holds.
#[test]
fn tickets_into_head_prints_one_line_and_no_broken_pipe() {
    let desk = Desk::with_tickets();
    for n in 0..40 {
        let path = desk.dir.path().join(format!("{n}.eml"));
        let long = "word ".repeat(400);
        std::fs::write(
            &path,
            format!(
                "From: Customer {n} <c{n}@example.org>\r\nTo: support@example.com\r\n\
                 Subject: Request {n} {long}\r\nMessage-ID: <pipe-{n}@example.org>\r\n\r\nHelp.\r\n"
            ),
        )
        .unwrap();
        desk.text(&["ingest", path.to_str().unwrap()]);
    }
    let cmd = desk.command(&["tickets", "--json"]);
    let args: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_str().unwrap()))
        .collect();
    let script = format!(
        "{} | head -c 10; echo; echo \"status ${{PIPESTATUS[0]}}\"",
        args.join(" ")
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("POSTDESK_LOG", "warn")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.ends_with("status 0\n"), "{text}");
    assert!(!stderr(&out).contains("Broken pipe"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_write_error_other_than_a_closed_pipe_still_fails() {
    let desk = Desk::with_tickets();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = desk.command(&["tickets"]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
}

#[test]
fn every_option_and_argument_says_what_it_is_for() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let path = format!("{path} {}", cmd.get_name());
        if cmd
            .get_about()
            .is_none_or(|a| a.to_string().trim().is_empty())
        {
            missing.push(path.clone());
        }
        for arg in cmd.get_arguments() {
            let help = arg.get_help().or(arg.get_long_help());
            if help.is_none_or(|h| h.to_string().trim().is_empty()) {
                missing.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &path, missing);
        }
    }
    let mut cmd = postdesk::cli::Cli::command();
    cmd.build();
    let mut missing = Vec::new();
    walk(&cmd, "", &mut missing);
    assert!(missing.is_empty(), "without help text: {missing:#?}");

    // And as a user sees it: no option line in `--help` ends at its name.
    for command in [
        "tickets",
        "ticket",
        "customer",
        "search",
        "outbox",
        "completions",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .args([command, "-h"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let help = stdout(&out);
        for line in help.lines().filter(|l| l.trim_start().starts_with('-')) {
            let words = line.split_whitespace().count();
            assert!(words > 2, "{command}: {line:?} says nothing");
        }
    }
}

#[test]
fn man_pages_refer_only_to_pages_that_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::with_tickets();
    desk.text(&["man", "--dir", dir.path().to_str().unwrap()]);
    let reference = regex::Regex::new(r"(postdesk(?:\\-[a-z]+)*)\((\d)\)").unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let page = entry.unwrap().path();
        let text = std::fs::read_to_string(&page).unwrap();
        for found in reference.captures_iter(&text) {
            let name = format!("{}.{}", found[1].replace("\\-", "-"), &found[2]);
            assert!(
                dir.path().join(&name).exists(),
                "{} refers to {name}, which is not written",
                page.display()
            );
            seen += 1;
        }
        assert!(!text.contains("postdesk\\-help"), "{}", page.display());
    }
    assert!(seen >= 10, "only {seen} references checked");
    // The printed page is the same one, and `man` renders it.
    let printed = desk.text(&["man"]);
    assert!(!printed.contains("postdesk\\-help"));
    let rendered = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("postdesk.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    assert!(stdout(&rendered).contains("postdesk-tickets(1)"));
}

/// Bash's own completion machinery, on the script `postdesk completions bash` prints.
fn bash_completes(script: &Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let (cur, prev) = (words[words.len() - 1], words[words.len() - 2]);
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    // As bash calls a completion function: the command, the word under the cursor, the one
    // before it.
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _postdesk postdesk '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut offered: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    offered.sort();
    offered
}

#[test]
fn completion_offers_the_values_a_flag_takes() {
    let desk = Desk::with_tickets();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("postdesk.bash");
    std::fs::write(&script, desk.text(&["completions", "bash"])).unwrap();
    let statuses = [
        "acknowledged",
        "answered",
        "closed",
        "ignored",
        "new",
        "pending",
    ];
    assert_eq!(
        bash_completes(&script, &["postdesk", "tickets", "--status", ""]),
        statuses
    );
    assert_eq!(
        bash_completes(&script, &["postdesk", "tickets", "--status", "a"]),
        ["acknowledged", "answered"]
    );
    assert_eq!(
        bash_completes(&script, &["postdesk", "--log-format", ""]),
        ["json", "text"]
    );
    let shells = bash_completes(&script, &["postdesk", "completions", ""]);
    for shell in ["bash", "fish", "zsh"] {
        assert!(shells.contains(&shell.to_string()), "{shells:?}");
    }
    for shell in ["zsh", "fish"] {
        let script = desk.text(&["completions", shell]);
        assert!(script.contains("acknowledged"), "{shell}");
    }

    // The spellings accepted before still work; others are refused with the list.
    let ignored = desk.json(&["tickets", "--status", "ignored", "--json"]);
    assert_eq!(ignored.as_array().unwrap().len(), 8);
    let refused = desk.run(&["tickets", "--status", "sleeping"]);
    assert_eq!(refused.status.code(), Some(2));
    for status in statuses {
        assert!(stderr(&refused).contains(status), "{}", stderr(&refused));
    }
}

#[test]
fn times_are_in_the_desks_zone_with_its_name_or_in_utc() {
    let desk = Desk::with_tickets();
    let bob = desk.bobs_ticket();
    let reference = bob["ref"].to_string();

    let list = desk.text(&["tickets"]);
    let row = list
        .lines()
        .find(|l| l.starts_with(&format!("#{reference} ")))
        .unwrap();
    assert!(row.contains(&shown(&bob["due_at"], "Europe/Kyiv")), "{row}");
    let list = desk.text(&["tickets", "--utc"]);
    let row = list
        .lines()
        .find(|l| l.starts_with(&format!("#{reference} ")))
        .unwrap();
    assert!(row.contains(&shown(&bob["due_at"], "UTC")), "{row}");
    assert!(shown(&bob["due_at"], "UTC").ends_with(" UTC"));

    let ticket = desk.text(&["ticket", &reference]);
    for at in [&bob["created_at"], &bob["due_at"], &bob["events"][0]["at"]] {
        assert!(
            ticket.contains(&shown(at, "Europe/Kyiv")),
            "{at} in {ticket}"
        );
    }
    let received = &bob["messages"][0]["received_at"];
    let first = format!(
        "from Bob Stone <bob@client.example> at {}",
        shown(received, "Europe/Kyiv")
    );
    assert!(ticket.contains(&first), "{first} in {ticket}");
    let ticket = desk.text(&["--utc", "ticket", &reference]);
    assert!(ticket.contains(&shown(&bob["due_at"], "UTC")), "{ticket}");
    assert!(!ticket.contains(&shown(&bob["due_at"], "Europe/Kyiv")));

    let customer = desk.json(&["customer", "bob@client.example", "--json"]);
    let text = desk.text(&["customer", "bob@client.example"]);
    let first = shown(&customer["first_contact_at"], "Europe/Kyiv");
    assert!(
        text.starts_with("Bob Stone <bob@client.example>: 4 message(s)"),
        "{text}"
    );
    assert!(text.contains(&format!("first contact {first}")), "{text}");

    // JSON stays RFC 3339 in UTC.
    assert!(bob["due_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn customers_are_named_beside_their_addresses() {
    let desk = Desk::with_tickets();
    let bob = desk.bobs_ticket();
    let list = desk.text(&["tickets"]);
    let row = list
        .lines()
        .find(|l| l.starts_with(&format!("#{} ", bob["ref"])))
        .unwrap();
    assert!(row.contains("Bob Stone <bob@client.example>"), "{row}");
    let ticket = desk.text(&["ticket", &bob["ref"].to_string()]);
    assert!(
        ticket.contains("customer Bob Stone <bob@client.example>  created"),
        "{ticket}"
    );
}
