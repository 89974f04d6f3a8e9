use super::tickets::write_ticket;
use crate::store::views::{AttachmentView, EventView, MessageView, TicketDetail, TicketView};

#[test]
fn each_cause_is_said_once() {
    let io = std::io::Error::other("permission denied");
    let store = crate::store::StoreError::CreateDir {
        path: "/x".into(),
        source: io,
    };
    let error = anyhow::Error::new(store).context("opening the store");
    assert_eq!(
        super::error_text(&error),
        "opening the store: cannot create the directory for database /x: permission denied"
    );
}

#[test]
fn a_ticket_prints_no_terminal_control_from_its_mail() {
    let esc = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2A\u{1b}[2K\r\u{9b}31m\u{202e}";
    let hostile = |what: &str| format!("{what}{esc}");
    let ticket = TicketView {
        reference: 1042,
        status: "new".into(),
        queue: hostile("queue"),
        category: Some(hostile("category")),
        priority: "normal".into(),
        labels: Vec::new(),
        language: Some(hostile("language")),
        customer: hostile("customer"),
        customer_name: Some(hostile("name")),
        subject: hostile("subject"),
        created_at: None,
        last_message_at: None,
        ack_sent_at: None,
        first_response_at: None,
        due_at: None,
        breached: false,
        unparsed: false,
        message_count: 1,
        assignee: None,
    };
    let detail = TicketDetail {
        ticket,
        participants: vec![hostile("participant")],
        messages: vec![MessageView {
            message_id: None,
            kind: "request".into(),
            from: Some(hostile("from")),
            from_name: Some(hostile("from name")),
            to: Vec::new(),
            cc: Vec::new(),
            subject: hostile("message subject"),
            date: None,
            received_at: None,
            language: None,
            text: format!("first line{esc}\nsecond\tline\r\nthird\rline"),
            threaded_by: Some(hostile("via")),
            parse_error: Some(hostile("error")),
            source: "test".into(),
            size: 10,
            attachments: vec![AttachmentView {
                name: Some(hostile("file.txt")),
                content_type: hostile("text/plain"),
                size: 3,
            }],
        }],
        events: vec![EventView {
            at: None,
            kind: hostile("event"),
            detail: hostile("detail"),
        }],
    };
    let mut out = Vec::new();
    let utc = super::tickets::Shown::new(&crate::config::Config::builtin(), true);
    write_ticket(&mut out, &detail, &utc).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        !out.chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t')
                || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{out:?}"
    );
    for shown in [
        "#1042 subject\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}[2A\\u{1b}[2K\\u{d}\\u{9b}31m\\u{202e}\n",
        "[attachment file.txt\\u{1b}]52",
        "  third\\u{d}line\n",
    ] {
        assert!(out.contains(shown), "{shown:?} not in {out}");
    }
    assert!(out.contains("  second\tline\n"), "{out}");
}
