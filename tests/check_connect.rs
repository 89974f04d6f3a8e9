//! `postdesk check-config --connect` against the suite's real Dovecot and Postfix: a good
//! config logs in everywhere (exit 0); each wrong password or missing folder is named
//! with its mailbox and the server's reason (exit 1); no password ever reaches the output.

#[path = "support/mailstack.rs"]
mod mailstack;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailstack::{Dovecot, Postfix};

const DOMAIN: &str = "desk.example";

/// Postfix first, so that it is dropped before the Dovecot it delivers to.
struct Stack {
    postfix: Postfix,
    dovecot: Dovecot,
}

impl Stack {
    fn start() -> Stack {
        let dovecot = Dovecot::start(&["support", "billing"]);
        let postfix = Postfix::start(&dovecot, DOMAIN);
        Stack { postfix, dovecot }
    }
}

/// Where each password comes from in a test config; every way the daemon reads one is used.
struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    fn new() -> Secrets {
        Secrets {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A password file (for `password_file`).
    fn file(&self, name: &str, password: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("{password}\n")).unwrap();
        path
    }

    /// The systemd credentials folder (`$CREDENTIALS_DIRECTORY`), with one credential.
    fn credential(&self, name: &str, password: &str) -> PathBuf {
        let dir = self.dir.path().join("credentials");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), password).unwrap();
        dir
    }
}

struct Passwords<'a> {
    support: &'a str,
    billing: &'a str,
    smtp: &'a str,
}

fn config(
    stack: &Stack,
    secrets: &Secrets,
    passwords: &Passwords,
    billing_folder: &str,
) -> PathBuf {
    let imap = stack.dovecot.imap_port();
    let smtp = stack.postfix.smtp_port();
    let billing_file = secrets.file("billing.pass", passwords.billing);
    secrets.credential("smtp", passwords.smtp);
    let text = format!(
        r#"database = "{db}"

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
user = "support"
password_credential = "smtp"

[[mailbox]]
name = "support"
address = "support@{DOMAIN}"
folders = ["INBOX"]
sent_folders = ["Sent"]
imap = {{ host = "127.0.0.1", port = {imap}, tls = "none", user = "support", password_env = "SUPPORT_IMAP_PASSWORD" }}

[[mailbox]]
name = "billing"
address = "billing@{DOMAIN}"
folders = ["{billing_folder}"]
imap = {{ host = "127.0.0.1", port = {imap}, tls = "none", user = "billing", password_file = "{billing}" }}
"#,
        db = secrets.dir.path().join("desk.db").display(),
        billing = billing_file.display(),
    );
    let path = secrets.dir.path().join("postdesk.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check_connect(config: &Path, secrets: &Secrets, passwords: &Passwords) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .env_remove("POSTDESK_CONFIG")
        .env_remove("POSTDESK_DB")
        .env("POSTDESK_LOG", "warn")
        .env("SUPPORT_IMAP_PASSWORD", passwords.support)
        .env(
            "CREDENTIALS_DIRECTORY",
            secrets.dir.path().join("credentials"),
        )
        .arg("--config")
        .arg(config)
        .args(["check-config", "--connect"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for password in [passwords.support, passwords.billing, passwords.smtp] {
        assert!(
            !all.contains(password),
            "password {password:?} shown in the output:\n{all}"
        );
    }
    out
}

/// The output line about one endpoint (they start with e.g. `imap billing (`).
fn line<'a>(stdout: &'a str, endpoint: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{endpoint} (")))
        .unwrap_or_else(|| panic!("no line for {endpoint} in:\n{stdout}"))
}

#[test]
fn good_config_logs_in_to_every_mailbox_and_smtp() {
    let stack = Stack::start();
    stack.dovecot.append(
        "support",
        "INBOX",
        b"From: a@customer.example\r\nTo: support@desk.example\r\nSubject: one\r\nMessage-ID: <c1@customer.example>\r\n\r\nHello\r\n",
    );
    stack.dovecot.append(
        "support",
        "INBOX",
        b"From: b@customer.example\r\nTo: support@desk.example\r\nSubject: two\r\nMessage-ID: <c2@customer.example>\r\n\r\nHello\r\n",
    );
    let secrets = Secrets::new();
    let passwords = Passwords {
        support: &stack.dovecot.password("support"),
        billing: &stack.dovecot.password("billing"),
        smtp: &stack.dovecot.password("support"),
    };
    let config = config(&stack, &secrets, &passwords, "INBOX");
    let out = check_connect(&config, &secrets, &passwords);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imap = stack.dovecot.imap_port();
    let smtp = stack.postfix.smtp_port();
    assert_eq!(
        line(&stdout, "imap support"),
        format!(
            "imap support (127.0.0.1:{imap} none, user support): login OK, INBOX has 2 message(s), Sent has 0 message(s)"
        )
    );
    assert_eq!(
        line(&stdout, "imap billing"),
        format!(
            "imap billing (127.0.0.1:{imap} none, user billing): login OK, INBOX has 0 message(s)"
        )
    );
    assert_eq!(
        line(&stdout, "smtp"),
        format!("smtp (127.0.0.1:{smtp} none, user support): login OK")
    );
    // The check only looked: the messages are still unseen and untouched.
    for (_, flags) in stack.dovecot.imap_fetch_flags("support", "INBOX") {
        assert!(flags.is_empty(), "flags changed by the check: {flags:?}");
    }
}

#[test]
fn wrong_imap_password_names_the_mailbox_and_the_reason() {
    let stack = Stack::start();
    let secrets = Secrets::new();
    let passwords = Passwords {
        support: &stack.dovecot.password("support"),
        billing: "not-the-billing-password",
        smtp: &stack.dovecot.password("support"),
    };
    let config = config(&stack, &secrets, &passwords, "INBOX");
    let out = check_connect(&config, &secrets, &passwords);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let billing = line(&stdout, "imap billing");
    assert!(
        billing.ends_with(
            "user billing): cannot log in as billing: NO [AUTHENTICATIONFAILED] Authentication failed."
        ),
        "{billing}"
    );
    assert!(
        line(&stdout, "imap support").contains("login OK, INBOX has 0 message(s)"),
        "{stdout}"
    );
    assert!(line(&stdout, "smtp").ends_with("login OK"), "{stdout}");
    assert!(stdout.contains("1 of 3 endpoint(s) failed"), "{stdout}");
}

#[test]
fn wrong_smtp_password_and_missing_folder_are_each_named() {
    let stack = Stack::start();
    let secrets = Secrets::new();
    let passwords = Passwords {
        support: &stack.dovecot.password("support"),
        billing: &stack.dovecot.password("billing"),
        smtp: "not-the-smtp-password",
    };
    let config = config(&stack, &secrets, &passwords, "Invoices");
    let out = check_connect(&config, &secrets, &passwords);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let smtp = line(&stdout, "smtp");
    assert!(
        smtp.contains("cannot log in: permanent error (535)"),
        "{smtp}"
    );
    let billing = line(&stdout, "imap billing");
    assert!(
        billing
            .contains("login OK, cannot open folder Invoices: NO Mailbox doesn't exist: Invoices"),
        "{billing}"
    );
    assert!(
        line(&stdout, "imap support").contains("login OK"),
        "{stdout}"
    );
    assert!(stdout.contains("2 of 3 endpoint(s) failed"), "{stdout}");
}
