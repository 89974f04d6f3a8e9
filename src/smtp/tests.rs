//! Composing messages, and sending them to a scripted SMTP server.

use std::time::Duration;

use super::*;

fn sample<'a>(subject: &'a str, references: &'a [String]) -> Outgoing<'a> {
    Outgoing {
        from_name: "Example Support",
        from: "support@example.com",
        to: "alice@customer.example",
        reply_to: Some("support+t.abc123@example.com"),
        subject,
        body: "Hello\nWe have your request.",
        message_id: "ack-1@example.com",
        references,
        auto_submitted: Some("auto-replied"),
    }
}

#[test]
fn acknowledgement_headers() {
    let refs = vec![
        "root@customer.example".to_string(),
        "req@customer.example".to_string(),
    ];
    let message = compose(&sample("[#1042] Re: Cannot log in", &refs)).unwrap();
    let text = String::from_utf8(message.formatted()).unwrap();
    for header in [
        "Auto-Submitted: auto-replied\r\n",
        "X-Auto-Response-Suppress: All\r\n",
        "X-Postdesk-Loop: support@example.com\r\n",
        "In-Reply-To: <req@customer.example>\r\n",
        "References: <root@customer.example> <req@customer.example>\r\n",
        "Message-ID: <ack-1@example.com>\r\n",
        "Reply-To: \"Example Support\" <support+t.abc123@example.com>\r\n",
        "Subject: [#1042] Re: Cannot log in\r\n",
    ] {
        assert!(text.contains(header), "{header:?} missing in\n{text}");
    }
}

#[test]
fn every_header_line_fits_rfc_5322() {
    let subject = "x".repeat(5_000);
    let name = "n".repeat(5_000);
    let mut refs: Vec<String> = (0..100)
        .map(|n| format!("{n:0>60}@customer.example"))
        .collect();
    refs.push(format!("{}@customer.example", "i".repeat(5_000)));
    let mut outgoing = sample(&subject, &refs);
    outgoing.from_name = &name;
    let file = FileAttachment {
        name: &"f".repeat(5_000),
        content_type: "text/html; charset=utf-8",
        content: b"<p>hi</p>",
    };
    let raw = compose_with_attachment(&outgoing, &file)
        .unwrap()
        .formatted();
    let text = String::from_utf8_lossy(&raw);
    for line in text.split("\r\n") {
        assert!(line.len() <= 998, "{} bytes: {}", line.len(), &line[..80]);
    }
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some(subject.as_str()));
    assert_eq!(parsed.references().as_text_list().unwrap().len(), 100);
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some(format!("{:0>60}@customer.example", 99).as_str())
    );
    assert_eq!(
        parsed
            .from()
            .unwrap()
            .first()
            .unwrap()
            .name()
            .unwrap()
            .len(),
        200
    );
}

#[test]
fn long_words_in_subjects_are_encoded_and_read_back_whole() {
    for subject in [
        format!("Invoice {} Привет  end", "y".repeat(3_000)),
        "ж".repeat(3_000),
        format!("{}🙂{}", "a".repeat(999), "b".repeat(65)),
        "Ordinary subject with words".to_string(),
    ] {
        let raw = compose(&sample(&subject, &[])).unwrap().formatted();
        let text = String::from_utf8(raw.clone()).unwrap();
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(head.lines().all(|l| l.len() <= 78), "{head}");
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some(clean(&subject).as_str()));
    }
}

#[test]
fn no_header_injection_from_message_data() {
    let refs = vec!["x@y\r\nBcc: victim@example.com".to_string()];
    let message = compose(&sample("Hi\r\nBcc: victim@example.com", &refs)).unwrap();
    let text = String::from_utf8(message.formatted()).unwrap();
    let head = text.split("\r\n\r\n").next().unwrap();
    assert!(!head.lines().any(|l| l.starts_with("Bcc:")), "{head}");
}

#[test]
fn attachment_after_the_text_body() {
    use mail_parser::MimeHeaders;
    let page = "<!DOCTYPE html><p>Straße</p>";
    let file = FileAttachment {
        name: "report.html\r\nBcc: victim@example.com",
        content_type: "text/html; charset=utf-8",
        content: page.as_bytes(),
    };
    let message = compose_with_attachment(&sample("Weekly report", &[]), &file).unwrap();
    let raw = message.formatted();
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap();
    assert!(head.contains("Content-Type: multipart/mixed"), "{head}");
    assert!(head.contains("Auto-Submitted: auto-replied"), "{head}");
    assert!(!text.lines().any(|l| l.starts_with("Bcc:")), "{text}");
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        parsed
            .body_text(0)
            .unwrap()
            .replace("\r\n", "\n")
            .trim_end(),
        "Hello\nWe have your request."
    );
    let attachment = parsed.attachment(0).unwrap();
    assert_eq!(attachment.contents(), page.as_bytes());
    assert!(
        attachment
            .attachment_name()
            .unwrap()
            .starts_with("report.html")
    );
}

/// What the scripted SMTP server does.
#[derive(Clone, Copy)]
enum Script {
    /// Accepts the connection and never says anything.
    Silent,
    /// Hangs up when MAIL FROM comes.
    HangUpAtMail,
    /// Takes the whole message, then answers this (None: hangs up without a word).
    AfterMessage(Option<&'static str>),
}

/// A one-connection SMTP server on loopback playing `script`; returns its port.
async fn scripted_server(script: Script) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut socket = BufReader::new(socket);
        if let Script::Silent = script {
            std::future::pending::<()>().await;
        }
        let say = async |socket: &mut BufReader<tokio::net::TcpStream>, text: &str| {
            socket.get_mut().write_all(text.as_bytes()).await.unwrap();
        };
        say(&mut socket, "220 fake ESMTP\r\n").await;
        let mut line = String::new();
        loop {
            line.clear();
            if socket.read_line(&mut line).await.unwrap() == 0 {
                return;
            }
            let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
            match (verb.as_str(), script) {
                ("EHLO", _) => say(&mut socket, "250-fake\r\n250 8BITMIME\r\n").await,
                ("MAIL", Script::HangUpAtMail) => return,
                ("DATA", Script::AfterMessage(answer)) => {
                    say(&mut socket, "354 go ahead\r\n").await;
                    loop {
                        line.clear();
                        socket.read_line(&mut line).await.unwrap();
                        if line == ".\r\n" {
                            break;
                        }
                    }
                    match answer {
                        Some(answer) => say(&mut socket, answer).await,
                        None => return,
                    }
                }
                ("QUIT", _) => return say(&mut socket, "221 bye\r\n").await,
                _ => say(&mut socket, "250 OK\r\n").await,
            }
        }
    });
    port
}

async fn send_to(script: Script) -> Result<(), SmtpError> {
    let port = scripted_server(script).await;
    let mailer = Mailer::new(&Smtp {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        user: None,
        password: None,
        max_attempts: 10,
        retry_delay: Duration::from_secs(30),
    })
    .unwrap();
    let message = compose(&sample("Hello", &[])).unwrap();
    mailer.send(&message, None).await
}

#[tokio::test]
async fn accepted_mail_is_sent() {
    send_to(Script::AfterMessage(Some("250 2.0.0 queued\r\n")))
        .await
        .unwrap();
}

/// The server may have queued it: sending it again could deliver it twice.
#[tokio::test]
async fn no_answer_after_the_whole_message_is_uncertain() {
    let result = send_to(Script::AfterMessage(None)).await;
    assert!(matches!(result, Err(SmtpError::Uncertain(_))), "{result:?}");
}

#[tokio::test]
async fn an_answer_after_the_message_is_believed() {
    let refused = send_to(Script::AfterMessage(Some("554 5.7.1 rejected\r\n"))).await;
    assert!(
        matches!(refused, Err(SmtpError::Permanent(_))),
        "{refused:?}"
    );
    let later = send_to(Script::AfterMessage(Some("451 4.3.0 try later\r\n"))).await;
    assert!(matches!(later, Err(SmtpError::Transient(_))), "{later:?}");
}

/// Before DATA the server cannot have the mail: safe to try again.
#[tokio::test]
async fn a_break_before_the_message_is_retried() {
    let result = send_to(Script::HangUpAtMail).await;
    assert!(matches!(result, Err(SmtpError::Transient(_))), "{result:?}");
}

/// A server that takes the connection and never greets (an overloaded or throttled
/// one) gives up after the step timeout instead of holding the sender forever.
#[tokio::test(start_paused = true)]
async fn a_server_that_never_greets_times_out() {
    let result = send_to(Script::Silent).await;
    match result {
        Err(SmtpError::Transient(reason)) => {
            assert_eq!(reason, "connect: no reply within 30s")
        }
        other => panic!("{other:?}"),
    }
}
