//! Loading, checking and rendering the built-in and overriding templates.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::text::locale::tests::{at, calendar};
use crate::text::locale::{
    business_hours_text, expected_by, human_duration, local_date_time, primary_language,
};

/// Values as the acknowledgement code would build them: Friday-evening mail, 4 business
/// hours promised, due Monday 13:00 in Kyiv.
fn vars(language: &str) -> TemplateVars {
    let cal = calendar();
    let now = at("2026-11-20T17:30[Europe/Kyiv]");
    let due = at("2026-11-23T13:00[Europe/Kyiv]");
    TemplateVars {
        reference: 1042,
        tag: "[#1042]".into(),
        subject: "Printer broken".into(),
        customer: "anna@client.example".into(),
        received: local_date_time(now, &cal.timezone, language),
        expected_duration: human_duration(Duration::from_secs(4 * 3600), language),
        expected_by: expected_by(due, now, &cal.timezone, language),
        queue: "support".into(),
        business_hours: business_hours_text(&cal, language),
        due: local_date_time(due, &cal.timezone, "en"),
        ticket_url: None,
    }
}

fn builtin() -> Templates {
    Templates::load(None).unwrap()
}

#[test]
fn english_acknowledgement() {
    let r = builtin()
        .render("acknowledgement", Some("en"), &vars("en"))
        .unwrap();
    assert_eq!(r.language, "en");
    assert_eq!(
        r.subject,
        "[#1042] We have received your request: Printer broken"
    );
    assert!(r.body.contains("within about 4 hours,"), "{}", r.body);
    assert!(r.body.contains("by Monday 13:00."), "{}", r.body);
    assert!(
        r.body.contains("Friday 20 November 2026, 17:30"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("Mon–Thu 09:00–18:00, Fri 09:00–17:00 (Europe/Kyiv)"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("follow your request"), "{}", r.body);
    assert!(!r.body.contains('\r') && r.body.ends_with("Customer Support\n"));
}

#[test]
fn russian_acknowledgement() {
    let r = builtin()
        .render("acknowledgement", Some("ru-RU"), &vars("ru"))
        .unwrap();
    assert_eq!(r.language, "ru");
    assert_eq!(r.subject, "[#1042] Ваше обращение получено: Printer broken");
    assert!(r.body.contains("Ориентировочное время ответа: 4 часа\n"));
    assert!(
        r.body
            .contains("Ожидаемый срок ответа: понедельник, 13:00\n")
    );
    assert!(
        r.body
            .contains("Получено: пятница, 20 ноября 2026 г., 17:30\n")
    );
    assert!(
        r.body
            .contains("пн–чт 09:00–18:00, пт 09:00–17:00 (Europe/Kyiv)")
    );
}

#[test]
fn ukrainian_acknowledgement() {
    let r = builtin()
        .render("acknowledgement", Some("uk"), &vars("uk"))
        .unwrap();
    assert_eq!(r.language, "uk");
    assert_eq!(r.subject, "[#1042] Ваше звернення отримано: Printer broken");
    assert!(r.body.contains("Орієнтовний час відповіді: 4 години\n"));
    assert!(
        r.body
            .contains("Очікуваний термін відповіді: понеділок, 13:00\n")
    );
    assert!(
        r.body
            .contains("Отримано: п’ятниця, 20 листопада 2026 р., 17:30\n")
    );
}

#[test]
fn polish_acknowledgement() {
    let r = builtin()
        .render("acknowledgement", Some("pl"), &vars("pl"))
        .unwrap();
    assert_eq!(r.language, "pl");
    assert_eq!(
        r.subject,
        "[#1042] Potwierdzenie przyjęcia zgłoszenia: Printer broken"
    );
    assert!(r.body.contains("Przewidywany czas odpowiedzi: 4 godziny\n"));
    assert!(
        r.body
            .contains("Planowany termin odpowiedzi: poniedziałek, 13:00\n")
    );
    assert!(r.body.contains("pon.–czw. 09:00–18:00, pt. 09:00–17:00"));
}

#[test]
fn unknown_language_falls_back_to_english() {
    let t = builtin();
    assert_eq!(t.language_for("acknowledgement", Some("de")).unwrap(), "en");
    assert_eq!(t.language_for("acknowledgement", None).unwrap(), "en");
    assert_eq!(t.language_for("warning", Some("ru")).unwrap(), "en");
    assert_eq!(t.language_for("nonsense", Some("en")), None);
    let r = t
        .render("acknowledgement", Some("de"), &vars("de"))
        .unwrap();
    assert_eq!(r.language, "en");
    assert!(
        r.subject
            .starts_with("[#1042] We have received your request")
    );
    assert!(matches!(
        t.render("nonsense", Some("en"), &vars("en")),
        Err(TemplateError::Missing { .. })
    ));
}

#[test]
fn warning_and_breach() {
    let t = builtin();
    let v = TemplateVars {
        ticket_url: Some("https://desk.example.com/t/1042".into()),
        ..vars("en")
    };
    let w = t.render("warning", None, &v).unwrap();
    assert_eq!(
        w.subject,
        "[#1042] Reply due Monday 23 November 2026, 13:00: Printer broken"
    );
    assert!(
        w.body
            .contains("Ticket:   https://desk.example.com/t/1042\n")
    );
    assert!(w.body.contains("\n-- \npostdesk\n"), "{}", w.body);
    let b = t.render("breach", Some("en"), &v).unwrap();
    assert_eq!(b.subject, "[#1042] Response target missed: Printer broken");
    assert!(
        b.body
            .contains("Due:      Monday 23 November 2026, 13:00\n")
    );
}

#[test]
fn empty_subject_leaves_no_dangling_colon() {
    let v = TemplateVars {
        subject: String::new(),
        ..vars("en")
    };
    let r = builtin().render("acknowledgement", None, &v).unwrap();
    assert_eq!(r.subject, "[#1042] We have received your request");
}

#[test]
fn subject_stays_on_one_line() {
    let v = TemplateVars {
        subject: "Help\r\nBcc: victim@example.com\n\tX\u{0}\u{2028}Y".into(),
        ..vars("en")
    };
    let t = builtin();
    for lang in ["en", "ru", "uk", "pl"] {
        let r = t.render("acknowledgement", Some(lang), &v).unwrap();
        assert!(!r.subject.chars().any(char::is_control), "{:?}", r.subject);
        assert!(
            r.subject.ends_with(": Help Bcc: victim@example.com X Y"),
            "{:?}",
            r.subject
        );
    }
    let w = t.render("warning", None, &v).unwrap();
    assert!(!w.subject.contains(['\r', '\n']));
    assert!(!w.body.contains('\r') && !w.body.contains('\0'));
}

#[test]
fn template_syntax_in_values_is_printed_literally() {
    let v = TemplateVars {
        subject: "{{ref}} <b>&amp;</b> {{{tag}}}".into(),
        ..vars("en")
    };
    let r = builtin().render("warning", None, &v).unwrap();
    assert!(r.subject.ends_with(": {{ref}} <b>&amp;</b> {{{tag}}}"));
    assert!(
        r.body
            .contains("Subject:  {{ref}} <b>&amp;</b> {{{tag}}}\n")
    );
}

#[test]
fn directory_overrides_and_extends() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("acknowledgement.de.hbs"),
        "Subject: {{tag}} Ihre Anfrage ist eingegangen\r\n\r\nGuten Tag,\r\nAntwort erwartet: {{expected_by}}.\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("warning.en.hbs"),
        "Subject: Hurry {{tag}}\n\nDue {{due}}.\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.txt"), "not a template").unwrap();
    let t = Templates::load(Some(dir.path())).unwrap();
    let de = t
        .render("acknowledgement", Some("de"), &vars("de"))
        .unwrap();
    assert_eq!(de.language, "de");
    assert_eq!(de.subject, "[#1042] Ihre Anfrage ist eingegangen");
    assert_eq!(de.body, "Guten Tag,\nAntwort erwartet: Monday 13:00.\n");
    let w = t.render("warning", None, &vars("en")).unwrap();
    assert_eq!(w.subject, "Hurry [#1042]");
    // The others are still the built-in ones.
    assert!(
        t.render("acknowledgement", Some("ru"), &vars("ru"))
            .unwrap()
            .body
            .contains("Здравствуйте!")
    );
}

fn load_error(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), text).unwrap();
    let err = Templates::load(Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains(name), "{err}");
    err
}

#[test]
fn broken_override_names_the_file() {
    let err = load_error(
        "acknowledgement.ru.hbs",
        "Subject: {{tag}}\n\nЗдравствуйте, {{#if subject}}без конца\n",
    );
    assert!(err.contains("body"), "{err}");
    // A misspelt variable fails at load thanks to strict mode.
    let err = load_error("breach.en.hbs", "Subject: {{tag}} missed\n\nDue {{deu}}.\n");
    assert!(err.contains("deu"), "{err}");
    let err = load_error("warning.en.hbs", "Due {{due}}.\n");
    assert!(err.contains("Subject"), "{err}");
    let err = load_error("warning.en.hbs", "Subject: x\nDue {{due}}.\n");
    assert!(err.contains("blank line"), "{err}");
    let err = load_error("warning.hbs", "Subject: x\n\nDue {{due}}.\n");
    assert!(err.contains("KIND.LANGUAGE.hbs"), "{err}");
    let err = load_error("reminder.de.hbs", "Subject: x\n\nHallo.\n");
    assert!(err.contains("reminder.en.hbs"), "{err}");
}

#[test]
fn missing_directory_is_an_error() {
    let err = Templates::load(Some(Path::new("/nonexistent/postdesk-templates")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/postdesk-templates"), "{err}");
}

#[test]
fn file_names() {
    assert_eq!(
        parse_file_name("acknowledgement.ru.hbs"),
        Some(("acknowledgement".into(), "ru".into()))
    );
    assert_eq!(parse_file_name("acknowledgement.hbs"), None);
    assert_eq!(parse_file_name(".ru.hbs"), None);
    assert_eq!(parse_file_name("a.b.r1.hbs"), None);
    assert_eq!(primary_language("uk_UA"), "uk");
}
