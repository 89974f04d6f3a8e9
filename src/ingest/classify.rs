//! Step 3a: who or what wrote this message. Automatic mail is recognised from its headers
//! first (RFC 3834, RFC 3464, RFC 2919) and only then from out-of-office subjects.

use std::sync::LazyLock;

use regex::Regex;

use super::parse::Parsed;
use crate::config::Config;

/// Header that marks mail postdesk itself sent; seeing it come back in is a loop.
pub const LOOP_HEADER: &str = "X-Postdesk-Loop";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    /// A person outside the team: a customer.
    Customer,
    /// One of the configured agents, or the mailbox's own address answering.
    Agent,
    /// Automatic mail, with the reason it was recognised.
    Automatic(AutoKind, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoKind {
    Loop,
    Spam,
    Bounce,
    List,
    AutoReply,
}

static OUT_OF_OFFICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)^\s*(
            auto(matic|matische)?[\s_-]*(reply|response|answer|antwort|respuesta|réponse)
          | automatische\s+antwort | abwesenheit(snotiz)? | out\s+of\s+(the\s+)?office | ooo\b
          | autoresponder | autoreply | auto: | urlaub | vacation\s*(reply|message)?\b
          | away\s+from\s+(the\s+)?office | i\s+am\s+(currently\s+)?out\s+of
          | réponse\s+automatique | absence | respuesta\s+automática
          | автоответ | автоматический\s+ответ | автовідповідь | автоматична\s+відповідь
          | нет\s+на\s+месте | в\s+отпуске
          | odpowied[źz]\s+automatyczna | automatyczna\s+odpowied[źz] | nieobecno[śs][ćc]
          | risposta\s+automatica | fuori\s+ufficio | automatisch\s+antwoord | afwezig
        )",
    )
    .expect("out-of-office pattern is valid")
});

static BOUNCE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(undeliver(ed|able)|delivery\s+(status\s+notification|failure|has\s+failed)|failure\s+notice|returned\s+mail|mail\s+delivery\s+(failed|system)|non[- ]?delivery|unzustellbar|nicht\s+zustellbar|недоставленное|не\s+доставлено)",
    )
    .expect("bounce pattern is valid")
});

pub fn classify(parsed: &Parsed, config: &Config) -> Author {
    if let Some(stamp) = parsed.header(LOOP_HEADER) {
        return Author::Automatic(AutoKind::Loop, format!("{LOOP_HEADER}: {stamp}"));
    }
    let from = parsed.from.as_deref().unwrap_or("");
    if let Some(flag) = parsed.header("X-Spam-Flag")
        && flag.trim().eq_ignore_ascii_case("yes")
    {
        return Author::Automatic(AutoKind::Spam, "X-Spam-Flag: YES".into());
    }
    if let Some(status) = parsed.header("X-Spam-Status")
        && status.trim_start().to_ascii_lowercase().starts_with("yes")
    {
        return Author::Automatic(AutoKind::Spam, "X-Spam-Status: Yes".into());
    }
    if parsed.is_report {
        return Author::Automatic(AutoKind::Bounce, "multipart/report".into());
    }
    let local = from.split('@').next().unwrap_or("");
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        return Author::Automatic(AutoKind::Bounce, format!("sender {from}"));
    }
    if let Some(reason) = super::bounce::evidence(parsed) {
        return Author::Automatic(AutoKind::Bounce, reason);
    }
    if parsed
        .header("Return-Path")
        .is_some_and(|p| p.trim() == "<>")
        && BOUNCE_SUBJECT.is_match(&parsed.subject)
    {
        return Author::Automatic(AutoKind::Bounce, "null sender and bounce subject".into());
    }
    if let Some(list) = parsed.header("List-Id") {
        return Author::Automatic(AutoKind::List, format!("List-Id: {list}"));
    }
    if let Some(auto) = parsed.header("Auto-Submitted")
        && !auto.trim().eq_ignore_ascii_case("no")
    {
        return Author::Automatic(AutoKind::AutoReply, format!("Auto-Submitted: {auto}"));
    }
    for name in [
        "X-Autoreply",
        "X-Autorespond",
        "X-Autoresponder",
        "X-Auto-Reply",
    ] {
        if parsed.header(name).is_some() {
            return Author::Automatic(AutoKind::AutoReply, format!("{name} header"));
        }
    }
    if let Some(precedence) = parsed.header("Precedence") {
        let precedence = precedence.trim().to_ascii_lowercase();
        match precedence.as_str() {
            "list" => return Author::Automatic(AutoKind::List, "Precedence: list".into()),
            "bulk" | "junk" | "auto_reply" => {
                return Author::Automatic(AutoKind::AutoReply, format!("Precedence: {precedence}"));
            }
            _ => {}
        }
    }
    if OUT_OF_OFFICE.is_match(&parsed.subject) {
        return Author::Automatic(AutoKind::AutoReply, "out-of-office subject".into());
    }
    if config.is_agent(from) {
        return Author::Agent;
    }
    if config.is_own_address(from) {
        return Author::Agent;
    }
    Author::Customer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IngestLimits;
    use crate::ingest::parse::parse;

    fn author(headers: &str) -> Author {
        let raw = format!("{headers}\r\nMessage-ID: <t@x>\r\n\r\nhello");
        classify(
            &parse(raw.as_bytes(), &IngestLimits::default()),
            &Config::builtin(),
        )
    }

    fn auto_kind(headers: &str) -> Option<AutoKind> {
        match author(headers) {
            Author::Automatic(kind, _) => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn rfc3834_and_vendor_headers() {
        let base = "From: a@b.example\r\nSubject: hi";
        assert_eq!(
            auto_kind(&format!("{base}\r\nAuto-Submitted: auto-replied")),
            Some(AutoKind::AutoReply)
        );
        assert_eq!(auto_kind(&format!("{base}\r\nAuto-Submitted: no")), None);
        assert_eq!(
            auto_kind(&format!("{base}\r\nX-Autoreply: yes")),
            Some(AutoKind::AutoReply)
        );
        assert_eq!(
            auto_kind(&format!("{base}\r\nX-Autorespond: x")),
            Some(AutoKind::AutoReply)
        );
        assert_eq!(
            auto_kind(&format!("{base}\r\nPrecedence: bulk")),
            Some(AutoKind::AutoReply)
        );
        assert_eq!(
            auto_kind(&format!("{base}\r\nPrecedence: list")),
            Some(AutoKind::List)
        );
        assert_eq!(
            auto_kind(&format!("{base}\r\nList-Id: <a.b.c>")),
            Some(AutoKind::List)
        );
        assert_eq!(
            auto_kind(&format!("{base}\r\nX-Spam-Flag: YES")),
            Some(AutoKind::Spam)
        );
        assert_eq!(
            auto_kind(&format!("{base}\r\nX-Postdesk-Loop: support@example.com")),
            Some(AutoKind::Loop)
        );
    }

    #[test]
    fn out_of_office_subjects_in_many_languages() {
        for subject in [
            "Out of Office: back Monday",
            "Automatic reply: Your request",
            "Abwesenheitsnotiz: Urlaub",
            "Автоответ: в отпуске",
            "Автовідповідь: відпустка",
            "Odpowiedź automatyczna: urlop",
            "Réponse automatique : absent",
        ] {
            assert_eq!(
                auto_kind(&format!("From: a@b.example\r\nSubject: {subject}")),
                Some(AutoKind::AutoReply),
                "{subject}"
            );
        }
        assert_eq!(
            auto_kind("From: a@b.example\r\nSubject: My office printer is out of toner"),
            None
        );
    }

    #[test]
    fn mailer_daemon_is_a_bounce() {
        assert_eq!(
            auto_kind("From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered Mail"),
            Some(AutoKind::Bounce)
        );
    }
}
