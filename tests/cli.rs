//! The `postdesk` binary as an admin uses it: exit codes, summaries and the JSON contract.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("desk.db")
    }

    fn command(&self, config: Option<&Path>, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postdesk"));
        cmd.env_remove("POSTDESK_CONFIG")
            .env_remove("POSTDESK_DB")
            .env("POSTDESK_LOG", "warn");
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        cmd.arg("--db").arg(self.db()).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(Some(&fixtures().join("postdesk.toml")), args)
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
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

#[test]
fn ingest_fixtures_then_list_with_the_json_contract() {
    let cli = Cli::new();
    let mail = fixtures().join("mail");
    let out = cli.run(&["ingest", mail.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "ingested 24, duplicates 0, quarantined 0, failed 0"
    );
    let again = cli.run(&["ingest", mail.to_str().unwrap()]);
    assert_eq!(
        stdout(&again).trim(),
        "ingested 0, duplicates 24, quarantined 0, failed 0"
    );

    let tickets = cli.json(&["tickets", "--all", "--json"]);
    let tickets = tickets.as_array().unwrap();
    // 24 messages: Alice's two and Bob's four share tickets, the rest are one each.
    assert_eq!(tickets.len(), 20);
    for field in [
        "ref",
        "status",
        "queue",
        "category",
        "priority",
        "language",
        "customer",
        "subject",
        "created_at",
        "ack_sent_at",
        "first_response_at",
        "due_at",
        "breached",
        "unparsed",
        "message_count",
    ] {
        assert!(
            tickets.iter().all(|t| t.get(field).is_some()),
            "field {field} missing"
        );
    }
    let bob = tickets
        .iter()
        .find(|t| t["customer"] == "bob@client.example")
        .unwrap();
    assert_eq!(bob["message_count"], 4);
    assert_eq!(bob["status"], "new");
    assert!(bob["due_at"].as_str().unwrap().ends_with('Z'));

    let billing = cli.json(&["tickets", "--all", "--queue", "billing", "--json"]);
    assert_eq!(billing.as_array().unwrap().len(), 3);
    let ignored = cli.json(&["tickets", "--status", "ignored", "--json"]);
    assert_eq!(ignored.as_array().unwrap().len(), 8);

    let detail = cli.json(&["ticket", &format!("#{}", bob["ref"]), "--json"]);
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    for field in [
        "message_id",
        "kind",
        "from",
        "subject",
        "date",
        "received_at",
        "language",
        "text",
    ] {
        assert!(
            messages.iter().all(|m| m.get(field).is_some()),
            "message field {field}"
        );
    }
    assert_eq!(messages[1]["kind"], "follow_up");
    let events = detail["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .all(|e| e["at"].is_string() && e["type"].is_string() && e["detail"].is_string())
    );
    assert_eq!(events[0]["type"], "created");

    let human = cli.run(&["tickets", "--all"]);
    assert!(stdout(&human).contains("Printer driver crashes on startup"));
    assert!(stdout(&human).contains("20 ticket(s)"));

    let customer = cli.json(&["customer", "Bob@Client.example", "--json"]);
    assert_eq!(customer["message_count"], 4);
    assert_eq!(customer["open_tickets"], 1);
    assert_eq!(customer["name"], "Bob Stone");
}

#[test]
fn stdin_and_mbox_go_through_the_same_pipeline() {
    let cli = Cli::new();
    let mut child = cli
        .command(None, &["ingest", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut piped = b"From MAILER-DAEMON Tue Nov 17 10:00:00 2026\n".to_vec();
    piped.extend(std::fs::read(fixtures().join("mail/06-request-en.eml")).unwrap());
    child.stdin.take().unwrap().write_all(&piped).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("ingested 1,"));

    let mbox = cli.dir.path().join("archive.mbox");
    let mut text = Vec::new();
    for name in [
        "20-thread-root.eml",
        "21-thread-reply-inreplyto.eml",
        "06-request-en.eml",
    ] {
        text.extend_from_slice(b"From someone@example Tue Nov 17 10:00:00 2026\n");
        text.extend(std::fs::read(fixtures().join("mail").join(name)).unwrap());
        text.push(b'\n');
    }
    std::fs::write(&mbox, text).unwrap();
    let out = cli
        .command(None, &["ingest", mbox.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        "ingested 2, duplicates 1, quarantined 0, failed 0"
    );
    // Built-in defaults: everything in the one queue `support`.
    let out = cli
        .command(None, &["tickets", "--all", "--json"])
        .output()
        .unwrap();
    let tickets: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tickets.as_array().unwrap().len(), 2);
    assert!(
        tickets
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["queue"] == "support")
    );
}

/// `ticket --mbox` gives back every message of the ticket exactly as it arrived, oldest
/// first, in an mbox the project's own reader (and any mail client) splits correctly, even
/// when a body line starts with "From ".
#[test]
fn a_ticket_exports_as_an_mbox_of_its_original_messages() {
    let cli = Cli::new();
    let mail = fixtures().join("mail");
    let mut originals: Vec<Vec<u8>> = ["20-thread-root.eml", "21-thread-reply-inreplyto.eml"]
        .iter()
        .map(|name| std::fs::read(mail.join(name)).unwrap())
        .collect();
    originals.push(
        b"From: Bob Stone <bob@client.example>\r\nTo: support@example.com\r\n\
          Subject: Re: more\r\nMessage-ID: <thread-r9@client.example>\r\n\
          In-Reply-To: <thread-root@client.example>\r\n\r\n\
          From now on it works.\r\n>From the log:\r\n\r\nFrom Bob\r\n"
            .to_vec(),
    );
    for (n, raw) in originals.iter().enumerate() {
        let path = cli.dir.path().join(format!("{n}.eml"));
        std::fs::write(&path, raw).unwrap();
        let out = cli.run(&["ingest", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let tickets = cli.json(&["tickets", "--all", "--json"]);
    assert_eq!(tickets.as_array().unwrap().len(), 1, "{tickets:#}");
    let reference = tickets[0]["ref"].as_i64().unwrap().to_string();

    let out = cli.run(&["ticket", &reference, "--mbox"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("From bob@client.example "));
    let mbox = cli.dir.path().join("ticket.mbox");
    std::fs::write(&mbox, &out.stdout).unwrap();
    let mut read = Vec::new();
    postdesk::sources::files::read_path(&mbox, &mut |item| read.push(item.raw.unwrap())).unwrap();
    assert_eq!(read.len(), originals.len());
    for (n, (got, want)) in read.iter().zip(&originals).enumerate() {
        assert!(
            got == want,
            "message {n} differs:\n{}",
            String::from_utf8_lossy(got)
        );
    }

    let out = cli.run(&["ticket", "999999", "--mbox"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no ticket #999999"),
        "{}",
        stderr(&out)
    );
    let out = cli.run(&["ticket", &reference, "--mbox", "--json"]);
    assert_eq!(out.status.code(), Some(2), "--mbox and --json together");
}

#[test]
fn unreadable_path_fails_the_run_but_not_the_others() {
    let cli = Cli::new();
    let good = fixtures().join("mail/06-request-en.eml");
    let out = cli.run(&["ingest", "/nonexistent/mail.eml", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out).trim(),
        "ingested 1, duplicates 0, quarantined 0, failed 1"
    );
    assert!(stderr(&out).contains("/nonexistent/mail.eml"));
}

#[test]
fn quarantined_mail_does_not_fail_the_run() {
    let cli = Cli::new();
    let bad = cli.dir.path().join("bad.eml");
    std::fs::write(&bad, b"From: a@b.example\r\nSubject: x\0y\r\n\r\nbody").unwrap();
    let out = cli.run(&["ingest", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).trim(),
        "ingested 0, duplicates 0, quarantined 1, failed 0"
    );
    assert!(stderr(&out).contains("stored unparsed"), "{}", stderr(&out));
    let tickets = cli.json(&["tickets", "--all", "--json"]);
    assert_eq!(tickets[0]["unparsed"], true);
}

#[test]
fn bad_config_is_named_key_by_key_check_config_exits_1_every_other_command_2() {
    let cli = Cli::new();
    let config = cli.dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[defaults]\nack_delay = \"fifteen\"\n[[rule]]\nsubject = \"(broken\"\nqueue = \"support\"\n[[rule]]\nfrom = \"x\"\nqueue = \"nowhere\"\n",
    )
    .unwrap();
    let out = cli
        .command(Some(&config), &["check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "check-config found problems");
    let err = stderr(&out);
    for needle in [
        "defaults.ack_delay",
        "rule[1].subject",
        "invalid regular expression",
        "rule[2].queue",
        "unknown queue \"nowhere\"",
    ] {
        assert!(err.contains(needle), "{needle} not in {err}");
    }
    let out = cli.command(Some(&config), &["tickets"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "every command refuses a broken config"
    );

    let ok = cli.run(&["check-config"]);
    assert!(ok.status.success());
    assert!(stdout(&ok).contains("1 mailbox(es), 3 queue(s), 2 rule(s)"));
}

#[test]
fn bad_usage_exits_2() {
    let cli = Cli::new();
    assert_eq!(
        cli.run(&["tickets", "--status", "sleeping"]).status.code(),
        Some(2)
    );
    let unknown_queue = cli.run(&["tickets", "--queue", "biling"]);
    assert_eq!(unknown_queue.status.code(), Some(2));
    let said = String::from_utf8_lossy(&unknown_queue.stderr);
    assert!(
        said.contains("no such queue") && said.contains("billing"),
        "{said}"
    );
    assert_eq!(cli.run(&["ticket", "abc"]).status.code(), Some(2));
    assert_eq!(cli.run(&["frobnicate"]).status.code(), Some(2));
    let missing = cli
        .command(Some(Path::new("/nonexistent/postdesk.toml")), &["tickets"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("/nonexistent/postdesk.toml"));
    assert_eq!(cli.run(&["ticket", "99999"]).status.code(), Some(1));
}
