//! Outgoing mail over SMTP (lettre): one SMTP session per mail in flight, kept for the
//! next mail while it works, and the messages postdesk writes, with header values that can
//! never carry a line break.
//!
//! A transaction is driven step by step so that a failure can be told apart by where it
//! happened: up to the DATA command the server cannot have the mail, and sending again is
//! safe; once the whole message is sent, a connection that breaks (or a server that stays
//! silent) before the reply may still have accepted it, and sending again could deliver it
//! twice (RFC 1047): such a mail is [`SmtpError::Uncertain`], never retried by itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use email_encoding::headers::rfc2047;
use email_encoding::headers::writer::EmailWriter;
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{
    Attachment, Mailbox as Address, Message, MessageBuilder, MultiPart, SinglePart,
};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use crate::config::{Smtp, TlsMode};
use crate::ingest::classify::LOOP_HEADER;

/// Each step of a transaction (connecting with the greeting and EHLO, each command, the
/// message) must be answered within this time; lettre itself times out only the TCP connect.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle sessions kept for the next mails (the outbox sends up to 32 at once).
const IDLE_SESSIONS: usize = 32;

/// A word of an unstructured header longer than this is not written as it is: lettre folds
/// only between words, so a 5,000-character word would make one line over RFC 5322's hard
/// limit of 998 (§2.1.1); the value goes out as RFC 2047 encoded-words instead.
const LONGEST_PLAIN_WORD: usize = 64;
/// A display name is cut to this many characters: lettre cannot fold inside a quoted name.
const MAX_DISPLAY_NAME: usize = 200;
/// Longer Message-IDs (a msg-id cannot be folded) are left out of In-Reply-To/References.
const MAX_MESSAGE_ID: usize = 250;

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("cannot set up SMTP to {host}: {reason}")]
    Setup { host: String, reason: String },
    #[error("no SMTP password for {user}: {reason}")]
    Password { user: String, reason: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The server answered 5xx: sending again will not help.
    #[error("SMTP server refused the message: {0}")]
    Permanent(String),
    /// 4xx, connection trouble or a timeout before the message was sent: try again later.
    #[error("SMTP delivery failed for now: {0}")]
    Transient(String),
    /// No answer after the whole message was sent: the server may have it.
    #[error("no answer from the SMTP server after the whole message was sent ({0})")]
    Uncertain(String),
    /// The connection check: the server refused our login (e.g. `535`).
    #[error("cannot log in: {0}")]
    LoginRefused(String),
    /// The connection check: the server answered with an error before any login.
    #[error("refused: {0}")]
    Refused(String),
    /// The connection check: no SMTP conversation (connection, TLS, timeout).
    #[error("cannot connect: {0}")]
    Unreachable(String),
}

/// Sends mail to the configured server; cheap to clone (the sessions are shared).
#[derive(Clone)]
pub struct Mailer {
    server: Arc<Server>,
    idle: Arc<Mutex<Vec<AsyncSmtpConnection>>>,
}

struct Server {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl Mailer {
    pub fn new(smtp: &Smtp) -> Result<Mailer, SmtpError> {
        let credentials = match (&smtp.user, &smtp.password) {
            (Some(user), Some(source)) => {
                let password = source.read().map_err(|reason| SmtpError::Password {
                    user: user.clone(),
                    reason,
                })?;
                Some(Credentials::new(user.clone(), password))
            }
            _ => None,
        };
        let mailer = Mailer {
            server: Arc::new(Server {
                host: smtp.host.clone(),
                port: smtp.port,
                tls: smtp.tls,
                credentials,
                hello: ClientId::default(),
            }),
            idle: Arc::new(Mutex::new(Vec::new())),
        };
        // Refuse a host that cannot carry a TLS name now rather than at the first mail.
        mailer.tls_parameters()?;
        Ok(mailer)
    }

    /// Sends with the envelope sender `bounces_to`: None (the null sender) for automatic
    /// mail (RFC 3834 §3.3: automatic replies must not cause bounces back to us), the
    /// support address for an agent's relayed answer, whose bounces the team must see.
    pub async fn send(&self, message: &Message, bounces_to: Option<&str>) -> Result<(), SmtpError> {
        let sender = bounces_to
            .map(|address| {
                clean(address)
                    .parse()
                    .map_err(|e| SmtpError::Build(format!("address {address:?}: {e}")))
            })
            .transpose()?;
        let envelope = Envelope::new(sender, message.envelope().to().to_vec())
            .map_err(|e| SmtpError::Build(e.to_string()))?;
        let mut session = self.session().await?;
        let mut options = Vec::new();
        let non_ascii_address = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii_address {
            if !session
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
            {
                return Err(SmtpError::Permanent(
                    "a non-ASCII address, and the server does not offer SMTPUTF8".into(),
                ));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        let formatted = message.formatted();
        if !formatted.is_ascii() {
            if !session
                .server_info()
                .supports_feature(Extension::EightBitMime)
            {
                return Err(SmtpError::Permanent(
                    "8-bit content, and the server does not offer 8BITMIME".into(),
                ));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        // Up to DATA the server cannot have the mail: any failure may be retried.
        step(
            "MAIL FROM",
            session.command(Mail::new(envelope.from().cloned(), options)),
        )
        .await?;
        for to in envelope.to() {
            step(
                "RCPT TO",
                session.command(Rcpt::new(to.clone(), Vec::new())),
            )
            .await?;
        }
        step("DATA", session.command(Data)).await?;
        match tokio::time::timeout(SMTP_TIMEOUT, session.message(&formatted)).await {
            Ok(Ok(_)) => {
                self.keep(session);
                Ok(())
            }
            // The server answered the message with a refusal: it does not have it.
            Ok(Err(error)) if error.is_permanent() => Err(SmtpError::Permanent(error.to_string())),
            Ok(Err(error)) if error.is_transient() => Err(SmtpError::Transient(error.to_string())),
            Ok(Err(error)) => Err(SmtpError::Uncertain(error.to_string())),
            Err(_) => Err(SmtpError::Uncertain(format!(
                "no reply within {}s",
                SMTP_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Connects, secures the connection as configured, logs in (when a user is
    /// configured) and checks that the server answers a NOOP.
    pub async fn test_connection(&self) -> Result<(), SmtpError> {
        let mut session = self.connect().await.map_err(|error| match error {
            SmtpError::Permanent(reason) => SmtpError::Refused(reason),
            SmtpError::Transient(reason) => SmtpError::Unreachable(reason),
            other => other,
        })?;
        let answered = tokio::time::timeout(SMTP_TIMEOUT, session.test_connected()).await;
        let _ = step("QUIT", session.quit()).await;
        match answered {
            Ok(true) => Ok(()),
            _ => Err(SmtpError::Refused(
                "the server did not answer NOOP after the login".into(),
            )),
        }
    }

    /// An idle session that still answers (NOOP), else a new one.
    async fn session(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        loop {
            let idle = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
            let Some(mut session) = idle else {
                return self.connect().await;
            };
            if let Ok(true) = tokio::time::timeout(SMTP_TIMEOUT, session.test_connected()).await {
                return Ok(session);
            }
        }
    }

    fn keep(&self, session: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_SESSIONS
        {
            idle.push(session);
        }
    }

    fn tls_parameters(&self) -> Result<Option<TlsParameters>, SmtpError> {
        match self.server.tls {
            TlsMode::None => Ok(None),
            TlsMode::Tls | TlsMode::StartTls => TlsParameters::new(self.server.host.clone())
                .map(Some)
                .map_err(|e| SmtpError::Setup {
                    host: self.server.host.clone(),
                    reason: e.to_string(),
                }),
        }
    }

    /// Connects, reads the greeting, says EHLO, upgrades to TLS as configured, logs in.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let server = &self.server;
        let tls = self.tls_parameters()?;
        let implicit = matches!(server.tls, TlsMode::Tls)
            .then(|| tls.clone())
            .flatten();
        let mut session = step(
            "connect",
            AsyncSmtpConnection::connect_tokio1(
                (server.host.as_str(), server.port),
                // the step's timeout covers the TCP connect too
                None,
                &server.hello,
                implicit,
                None,
            ),
        )
        .await?;
        if let (TlsMode::StartTls, Some(tls)) = (server.tls, tls) {
            step("STARTTLS", session.starttls(tls, &server.hello)).await?;
        }
        if let Some(credentials) = &server.credentials {
            step(
                "AUTH",
                session.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
            .map_err(|error| match error {
                SmtpError::Permanent(reason) => SmtpError::LoginRefused(reason),
                other => other,
            })?;
        }
        Ok(session)
    }
}

/// One step before the message is sent, within [`SMTP_TIMEOUT`]: a 5xx is permanent,
/// anything else may be tried again.
async fn step<T>(
    what: &str,
    future: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SmtpError> {
    match tokio::time::timeout(SMTP_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) if error.is_permanent() => Err(SmtpError::Permanent(error.to_string())),
        Ok(Err(error)) => Err(SmtpError::Transient(format!("{what}: {error}"))),
        Err(_) => Err(SmtpError::Transient(format!(
            "{what}: no reply within {}s",
            SMTP_TIMEOUT.as_secs()
        ))),
    }
}

/// What an outgoing message says and where it threads.
pub struct Outgoing<'a> {
    pub from_name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
    /// Message-IDs (without brackets) this answers: the last is the direct parent.
    pub references: &'a [String],
    /// `Auto-Submitted: auto-replied` (an answer to a message) or `auto-generated`; None
    /// for a person's answer (relayed), which customers' auto-responders may answer.
    pub auto_submitted: Option<&'static str>,
}

/// Builds the message. Every header value goes through [`clean`], so nothing taken from a
/// customer's mail can start a header of its own.
pub fn compose(outgoing: &Outgoing<'_>) -> Result<Message, SmtpError> {
    headers(outgoing)?
        .header(ContentType::TEXT_PLAIN)
        .body(outgoing.body.replace("\r\n", "\n"))
        .map_err(|e| SmtpError::Build(e.to_string()))
}

/// A file sent along with a message.
pub struct FileAttachment<'a> {
    pub name: &'a str,
    /// A MIME type, e.g. `text/html; charset=utf-8`.
    pub content_type: &'a str,
    pub content: &'a [u8],
}

/// Like [`compose`], with the body as the first part of a `multipart/mixed` message and
/// the file attached after it.
pub fn compose_with_attachment(
    outgoing: &Outgoing<'_>,
    file: &FileAttachment<'_>,
) -> Result<Message, SmtpError> {
    let content_type = ContentType::parse(file.content_type)
        .map_err(|e| SmtpError::Build(format!("content type {:?}: {e}", file.content_type)))?;
    headers(outgoing)?
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(outgoing.body.replace("\r\n", "\n")))
                .singlepart(
                    Attachment::new(clean(file.name)).body(file.content.to_vec(), content_type),
                ),
        )
        .map_err(|e| SmtpError::Build(e.to_string()))
}

/// Every header of an outgoing message but its content type.
fn headers(outgoing: &Outgoing<'_>) -> Result<MessageBuilder, SmtpError> {
    let address = |name: &str, addr: &str| -> Result<Address, SmtpError> {
        let parsed = clean(addr)
            .parse()
            .map_err(|e| SmtpError::Build(format!("address {addr:?}: {e}")))?;
        let name: String = clean(name).chars().take(MAX_DISPLAY_NAME).collect();
        Ok(Address::new((!name.is_empty()).then_some(name), parsed))
    };
    let mut builder = Message::builder()
        .from(address(outgoing.from_name, outgoing.from)?)
        .to(address("", outgoing.to)?)
        .raw_header(unstructured("Subject", &clean(outgoing.subject)))
        .message_id(Some(format!("<{}>", clean(outgoing.message_id))))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(LOOP_HEADER),
            clean(outgoing.from),
        ));
    if let Some(auto_submitted) = outgoing.auto_submitted {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                auto_submitted.into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ));
    }
    if let Some(reply_to) = outgoing.reply_to {
        builder = builder.reply_to(address(outgoing.from_name, reply_to)?);
    }
    let chain: Vec<String> = outgoing
        .references
        .iter()
        .map(|id| clean(id))
        .filter(|id| !id.is_empty() && id.len() <= MAX_MESSAGE_ID)
        .map(|id| format!("<{id}>"))
        .collect();
    if let Some(parent) = chain.last() {
        builder = builder.in_reply_to(parent.clone());
        builder = builder.references(chain.join(" "));
    }
    Ok(builder)
}

/// An unstructured header (RFC 5322 §3.2.5) whose every line fits: lettre's encoding when
/// it folds the value, else the whole value as RFC 2047 encoded-words of at most 76
/// characters, one a line, which a reader joins back into the same text.
fn unstructured(name: &'static str, value: &str) -> HeaderValue {
    let name = HeaderName::new_from_ascii_str(name);
    if value
        .split(' ')
        .all(|word| word.len() <= LONGEST_PLAIN_WORD)
    {
        return HeaderValue::new(name, value.to_string());
    }
    let mut encoded = String::with_capacity(value.len() * 4 / 3 + value.len() / 4 + 16);
    {
        let mut writer = EmailWriter::new(&mut encoded, name.len() + ": ".len(), 0, false);
        // Writing into a String cannot fail.
        let _ = rfc2047::encode(value, &mut writer);
    }
    // Encoded-words are printable ASCII and the folds CRLF + space: nothing to inject.
    HeaderValue::dangerous_new_pre_encoded(name, value.to_string(), encoded)
}

/// One line, no control characters: safe as (part of) a header value.
pub fn clean(value: &str) -> String {
    crate::ingest::parse::one_line(value)
}

#[cfg(test)]
mod tests {
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
}
