use std::path::Path;
use std::time::Duration;

use jiff::civil::{Time, Weekday};

use super::*;
use crate::secret::PasswordSource;

fn load(text: &str) -> Result<Config, Vec<Problem>> {
    match Config::from_toml(text, Path::new("test.toml")) {
        Ok(c) => Ok(c),
        Err(ConfigError::Invalid { problems, .. }) => Err(problems),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[test]
fn durations() {
    assert_eq!(Span::parse("2s").unwrap().length, Duration::from_secs(2));
    assert_eq!(Span::parse("15m").unwrap().length, Duration::from_secs(900));
    assert_eq!(
        Span::parse("1d").unwrap().length,
        Duration::from_secs(86_400)
    );
    assert_eq!(
        Span::parse("1h30m").unwrap().length,
        Duration::from_secs(5400)
    );
    let business = Span::parse("8h business").unwrap();
    assert!(business.business);
    assert_eq!(business.length, Duration::from_secs(8 * 3600));
    assert!(Span::parse("15").is_err());
    assert!(Span::parse("soon").is_err());
    assert!(Span::parse("").is_err());
}

#[test]
fn empty_file_gives_builtin_queue() {
    let config = load("").unwrap();
    assert_eq!(config.queues.len(), 1);
    assert_eq!(config.default_queue(), "support");
    assert_eq!(config.defaults.ack_delay.length, Duration::from_secs(900));
}

#[test]
fn design_example_is_valid() {
    let text = r#"
database = "/var/lib/postdesk/postdesk.db"
[defaults]
ack_delay = "15m"
response_target = "1d"
warn_at = 0.75
estimate_quantile = 0.8
[calendar]
timezone = "Europe/Kyiv"
hours = { mon = "09:00-18:00", tue = "09:00-18:00", wed = "09:00-18:00", thu = "09:00-18:00", fri = "09:00-17:00" }
holidays = ["2026-12-25", "2027-01-01"]
[smtp]
host = "smtp.example.com"
port = 587
tls = "starttls"
user = "support@example.com"
password_file = "/etc/postdesk/smtp.pass"
[[mailbox]]
name = "support"
address = "support@example.com"
queue = "support"
folders = ["INBOX"]
sent_folders = ["Sent"]
imap = { host = "imap.example.com", port = 993, tls = "tls", user = "support@example.com", password_file = "/etc/postdesk/imap.pass" }
[[queue]]
name = "support"
[[queue]]
name = "billing"
agents = ["anna@example.com", "petro@example.com"]
escalation = "lead@example.com"
mode = "observe"
imap_folder = "Queues/Billing"
response_target = "1d"
[[rule]]
subject = "(?i)invoice|refund|сч[её]т|рахун|faktur"
queue = "billing"
category = "billing"
[vip]
domains = ["bigclient.example"]
"#;
    let config = load(text).unwrap();
    assert_eq!(config.queues.len(), 2);
    assert_eq!(config.calendar.holidays.len(), 2);
    assert_eq!(config.calendar.hours.len(), 5);
    assert!(config.is_agent("Anna@example.com"));
    assert!(config.is_own_address("support+t.abc@example.com"));
    assert!(config.vip.contains("ceo@bigclient.example"));
}

#[test]
fn every_problem_names_its_key() {
    let text = r#"
[defaults]
ack_delay = "soon"
[[queue]]
name = "support"
mode = "shout"
[[rule]]
subject = "(unclosed"
queue = "support"
[[rule]]
from = "x"
queue = "nowhere"
[[mailbox]]
name = "m"
address = "support@example.com"
imap = { host = "imap.example.com", tls = "none", user = "u", password_env = "PW" }
"#;
    let problems = load(text).unwrap_err();
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "defaults.ack_delay",
            "queue[1].mode",
            "mailbox[1].imap.tls",
            "rule[1].subject",
            "rule[2].queue"
        ]
    );
    assert!(problems[3].message.contains("invalid regular expression"));
    assert!(problems[4].message.contains("unknown queue \"nowhere\""));
}

#[test]
fn an_empty_folder_list_is_refused() {
    let err = Config::from_toml(
        "[[mailbox]]\nname = \"s\"\naddress = \"s@example.com\"\nmaildir = \"m\"\nfolders = []\n",
        Path::new("x.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("folders") && err.contains("empty"), "{err}");
}

#[test]
fn unknown_key_is_a_syntax_error_naming_it() {
    let err = Config::from_toml("[defaults]\nack_dealy = \"1m\"\n", Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ack_dealy"), "{err}");
}

#[test]
fn estimate_keys_default_and_inherit() {
    let config = load("").unwrap();
    assert_eq!(
        config.defaults.estimate_default,
        Span::calendar(Duration::from_secs(4 * 3600))
    );
    assert_eq!(config.defaults.estimate_min_samples, 20);
    assert_eq!(config.queues[0].policy.estimate_min_samples, 20);

    let config = load(
        r#"
[defaults]
estimate_default = "2h business"
estimate_min_samples = 5
[[queue]]
name = "support"
[[queue]]
name = "billing"
estimate_default = "1d"
estimate_min_samples = 50
"#,
    )
    .unwrap();
    let support = &config.queues[0].policy;
    assert_eq!(
        support.estimate_default,
        Span::parse("2h business").unwrap()
    );
    assert_eq!(support.estimate_min_samples, 5);
    let billing = &config.queues[1].policy;
    assert_eq!(billing.estimate_default, Span::parse("1d").unwrap());
    assert_eq!(billing.estimate_min_samples, 50);
}

#[test]
fn estimate_keys_are_validated() {
    let problems = load(
        r#"
[defaults]
estimate_default = "soon"
[[queue]]
name = "support"
estimate_default = "0m"
"#,
    )
    .unwrap_err();
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["defaults.estimate_default", "queue[1].estimate_default"]
    );
    assert!(problems[1].message.contains("non-zero"), "{}", problems[1]);

    let err = Config::from_toml(
        "[defaults]\nestimate_min_samples = -1\n",
        Path::new("x.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("estimate_min_samples"), "{err}");
    let err = Config::from_toml(
        "[[queue]]\nname = \"q\"\nestimate_defualt = \"1h\"\n",
        Path::new("x.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("estimate_defualt"), "{err}");
}

#[test]
fn a_queue_may_keep_its_own_calendar() {
    let config = load(
        r#"
[calendar]
timezone = "Europe/Kyiv"
[[queue]]
name = "support"
[[queue]]
name = "night"
calendar = { timezone = "America/New_York", hours = { sat = "10:00-14:00" }, holidays = ["2026-12-26"] }
[[queue]]
name = "broken"
calendar = { timezone = "Mars/Olympus" }
"#,
    )
    .unwrap_err();
    assert_eq!(problems_keys(&config), ["queue[3].calendar.timezone"]);
    let config = load(
        r#"
[calendar]
timezone = "Europe/Kyiv"
[[queue]]
name = "support"
[[queue]]
name = "night"
calendar = { timezone = "America/New_York", hours = { sat = "10:00-14:00" } }
"#,
    )
    .unwrap();
    assert_eq!(
        config.queue("support").unwrap().calendar.timezone_name,
        "Europe/Kyiv"
    );
    let night = &config.queue("night").unwrap().calendar;
    assert_eq!(night.timezone_name, "America/New_York");
    assert_eq!(night.hours.len(), 1);
}

#[test]
fn passwords_come_from_exactly_one_source() {
    let config = load(
        r#"
[smtp]
host = "smtp.example.com"
user = "support@example.com"
password_credential = "smtp"
[[mailbox]]
name = "support"
address = "support@example.com"
imap = { host = "imap.example.com", user = "support", password_env = "IMAP_PASSWORD" }
"#,
    )
    .unwrap();
    let smtp = config.smtp.unwrap();
    assert_eq!(
        smtp.password,
        Some(PasswordSource::Credential("smtp".into()))
    );
    let MailboxSource::Imap(imap) = &config.mailboxes[0].source else {
        panic!("an IMAP mailbox");
    };
    assert_eq!(imap.password, PasswordSource::Env("IMAP_PASSWORD".into()));

    let problems = load(
        r#"
[smtp]
host = "smtp.example.com"
user = "support@example.com"
[[mailbox]]
name = "a"
address = "a@example.com"
imap = { host = "imap.example.com", user = "a" }
[[mailbox]]
name = "b"
address = "b@example.com"
imap = { host = "imap.example.com", user = "b", password_env = "B", password_file = "/b" }
"#,
    )
    .unwrap_err();
    assert_eq!(
        problems_keys(&problems),
        ["mailbox[1].imap", "mailbox[2].imap", "smtp.user"]
    );
    assert!(problems[0].message.contains("needs a password"));
    assert!(problems[1].message.contains("only one"));
    assert!(problems[2].message.contains("needs a password"));

    let problems =
        load("[smtp]\nhost = \"smtp.example.com\"\npassword_file = \"/p\"\n").unwrap_err();
    assert_eq!(problems_keys(&problems), ["smtp.user"]);
}

fn problems_keys(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.key.as_str()).collect()
}

#[test]
fn ticket_tag_round_trip() {
    let tag = TicketTag::parse("[#{ref}]").unwrap();
    assert_eq!(tag.format(1042), "[#1042]");
    let found: Vec<_> = tag.find_all("Re: [#1042] Printer").collect();
    assert_eq!(found, [1042]);
    assert_eq!(tag.strip("Re: [#1042] Printer"), "Re:  Printer");
    assert!(TicketTag::parse("{ref}").is_err());
    assert!(TicketTag::parse("#").is_err());
}
#[test]
fn report_section() {
    let config = load(
        r#"
[report]
recipients = ["lead@example.com", "head@example.com"]
weekly = "fri 17:30"
"#,
    )
    .unwrap();
    assert_eq!(
        config.report.recipients,
        ["lead@example.com", "head@example.com"]
    );
    assert_eq!(config.report.weekly.weekday, Weekday::Friday);
    assert_eq!(config.report.weekly.time, Time::constant(17, 30, 0, 0));
    let default = load("").unwrap().report;
    assert!(default.recipients.is_empty());
    assert_eq!(default.weekly.weekday, Weekday::Monday);
    let typo = Config::from_toml("[report]\nrecipient = []\n", Path::new("t.toml"));
    assert!(
        matches!(&typo, Err(ConfigError::Invalid { problems, .. }) if problems[0].key == "report.recipient"),
        "{typo:?}"
    );
    let problems =
        load("[report]\nrecipients = [\"nobody\"]\nweekly = \"someday 25:00\"\n").unwrap_err();
    assert_eq!(
        problems_keys(&problems),
        ["report.recipients[1]", "report.weekly"]
    );
}

#[test]
fn every_refused_key_is_named_at_its_place_in_one_run() {
    let text = "[defaults]\nrespone_target = \"1d\"\nwarn_at = \"high\"\n[[queue]]\nname = \"support\"\n\
                agnets = []\n[[rule]]\nsubject = \"x\"\nqueue = \"suport\"\n";
    let problems = load(text).unwrap_err();
    let found: Vec<(&str, usize, usize)> = problems
        .iter()
        .map(|p| {
            let at = p.at.expect("every problem has a place");
            (p.key.as_str(), at.line, at.column)
        })
        .collect();
    assert_eq!(
        found,
        [
            ("defaults.respone_target", 2, 1),
            ("defaults.warn_at", 3, 11),
            ("queue[1].agnets", 6, 1),
            ("rule[1].queue", 9, 9),
        ]
    );
    assert_eq!(
        problems[0].message,
        "unknown key; did you mean `response_target`?"
    );
    assert!(
        problems[1].message.contains("expected f64"),
        "{}",
        problems[1]
    );
    assert_eq!(problems[2].message, "unknown key; did you mean `agents`?");
    assert!(problems[3].message.ends_with("did you mean \"support\"?"));
    let shown = Config::from_toml(text, Path::new("desk.toml"))
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], "config file desk.toml has 4 problem(s):");
    assert_eq!(
        lines[1],
        "desk.toml:2:1: defaults.respone_target: unknown key; did you mean `response_target`?"
    );
    assert_eq!(lines.len(), 5);
}

#[test]
fn misspellings_are_matched_by_edits() {
    let known = ["ack_delay", "response_target", "warn_at"];
    assert_eq!(
        document::did_you_mean("respone_target", &known),
        Some("response_target")
    );
    assert_eq!(
        document::did_you_mean("ack_dealy", &known),
        Some("ack_delay")
    );
    assert_eq!(document::did_you_mean("Warn_At", &known), Some("warn_at"));
    assert_eq!(document::did_you_mean("colour", &known), None);
}

#[test]
fn key_paths_quote_what_toml_would() {
    assert_eq!(document::segment("X-Spam-Flag"), "X-Spam-Flag");
    assert_eq!(document::segment("X Spam"), "\"X Spam\"");
    let problems =
        load("[[rule]]\nheader = { \"X.Y\" = \"(\" }\nqueue = \"support\"\n").unwrap_err();
    assert_eq!(problems_keys(&problems), ["rule[1].header.\"X.Y\""]);
    let at = problems[0].at.unwrap();
    assert_eq!((at.line, at.column), (2, 20));
    assert!(!problems[0].message.contains('\n'), "{}", problems[0]);
    assert!(
        problems[0]
            .message
            .contains("unclosed group at character 1"),
        "{}",
        problems[0]
    );
}

#[test]
fn durations_of_nothing_are_refused_except_for_the_acknowledgement() {
    let problems = load(
        "[defaults]\nack_delay = \"0s\"\nresponse_target = \"0s\"\n[ingest]\nthread_window = \"0d\"\n\
         [[queue]]\nname = \"q\"\nresponse_target = \"-1h\"\n",
    )
    .unwrap_err();
    assert_eq!(
        problems_keys(&problems),
        [
            "defaults.response_target",
            "queue[1].response_target",
            "ingest.thread_window"
        ]
    );
    assert!(problems[0].message.contains("non-zero"), "{}", problems[0]);
    assert!(
        problems[1].message.contains("not a duration"),
        "{}",
        problems[1]
    );
    let config = load("[defaults]\nack_delay = \"0s\"\n").unwrap();
    assert!(config.defaults.ack_delay.length.is_zero());
}

#[test]
fn syntax_errors_are_each_located() {
    let err = Config::from_toml("a = 1\nb = = 2\n[c\n", Path::new("s.toml")).unwrap_err();
    let ConfigError::Syntax { problems, .. } = &err else {
        panic!("{err}");
    };
    assert!(problems.len() >= 2, "{problems:?}");
    assert_eq!(problems[0].at.map(|at| at.line), Some(2));
    assert!(
        err.to_string()
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("s.toml:2:"),
        "{err}"
    );
}

#[test]
fn spans_are_written_back_as_they_are_read() {
    for (text, seconds, shown) in [
        ("1d", 86_400, "1d"),
        ("90m", 5400, "1h30m"),
        ("8h business", 8 * 3600, "8h business"),
        ("30d", 30 * 86_400, "4w2d"),
        ("0s", 0, "0s"),
    ] {
        let span = Span::parse(text).unwrap();
        assert_eq!(span.length.as_secs(), seconds);
        assert_eq!(span.to_string(), shown);
        assert_eq!(Span::parse(shown).unwrap(), span);
    }
}

#[test]
fn the_effective_config_reads_back_as_itself() {
    let text = r#"
[defaults]
response_target = "8h business"
[calendar]
timezone = "Europe/Kyiv"
hours = { fri = "10:00-16:00", mon = "09:00-18:00" }
[smtp]
host = "smtp.example.com"
user = "support@example.com"
password_credential = "smtp"
[[mailbox]]
name = "support"
address = "support@example.com"
imap = { host = "imap.example.com", user = "support", password_file = "/etc/postdesk/imap.pass" }
[[queue]]
name = "support"
[[queue]]
name = "billing"
ack_delay = "1h"
calendar = { timezone = "America/New_York" }
[[rule]]
subject = "(?i)invoice"
header = { "X-Priority" = "1" }
queue = "billing"
"#;
    let config = load(text).unwrap();
    let shown = toml::to_string(&show::Effective::of(&config)).unwrap();
    let again = load(&shown).unwrap_or_else(|p| panic!("{p:?}\n{shown}"));
    assert_eq!(
        toml::to_string(&show::Effective::of(&again)).unwrap(),
        shown
    );
    // billing inherits the business-time target and keeps its own delay and calendar
    let billing: toml::Table = toml::from_str(&shown).unwrap();
    let billing = &billing["queue"].as_array().unwrap()[1];
    assert_eq!(billing["response_target"].as_str(), Some("8h business"));
    assert_eq!(billing["ack_delay"].as_str(), Some("1h"));
    assert_eq!(
        billing["calendar"]["timezone"].as_str(),
        Some("America/New_York")
    );
    assert_eq!(billing["warn_at"].as_float(), Some(0.75));
    assert!(
        shown.contains("password_file = \"/etc/postdesk/imap.pass\""),
        "{shown}"
    );
    assert!(shown.contains("password_credential = \"smtp\""), "{shown}");
}

#[test]
fn secret_files_must_exist_and_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pass");
    let open = dir.path().join("open.pass");
    for (path, mode) in [(&private, 0o600), (&open, 0o644)] {
        std::fs::write(path, "pw\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mailbox = |name: &str, file: &Path| {
        format!(
            "[[mailbox]]\nname = \"{name}\"\naddress = \"{name}@example.com\"\n\
             imap = {{ host = \"imap.example.com\", user = \"u\", password_file = {:?} }}\n",
            file.display().to_string()
        )
    };
    let text = format!(
        "token_key_file = {:?}\n{}{}{}",
        dir.path().join("missing.key").display().to_string(),
        mailbox("a", &private),
        mailbox("b", &open),
        mailbox("c", &dir.path().join("missing.pass")),
    );
    let path = dir.path().join("postdesk.toml");
    std::fs::write(&path, text).unwrap();
    let checked = Config::check(&path).unwrap();
    assert_eq!(
        problems_keys(&checked.problems),
        ["mailbox[3].imap.password_file", "token_key_file"]
    );
    assert!(checked.problems[0].message.contains("does not exist"));
    assert_eq!(checked.problems[0].at.map(|at| at.line), Some(13));
    assert_eq!(
        problems_keys(&checked.warnings),
        ["mailbox[2].imap.password_file"]
    );
    assert!(
        checked.warnings[0]
            .message
            .contains("readable by its group and everyone")
    );
    let lines = checked.lines();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains(":1:18: token_key_file: "), "{lines:?}");
    assert!(lines[1].contains(": warning: "), "{lines:?}");
}
