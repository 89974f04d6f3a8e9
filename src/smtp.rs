//! Outgoing mail over SMTP (lettre): the transport built from `[smtp]`, and the messages
//! postdesk writes, with header values that can never carry a line break.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{
    Attachment, Mailbox as Address, Message, MessageBuilder, MultiPart, SinglePart,
};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Smtp, TlsMode};
use crate::ingest::classify::LOOP_HEADER;

/// Each SMTP command must answer within this time.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// 4xx, connection trouble or a timeout: try again later.
    #[error("SMTP delivery failed for now: {0}")]
    Transient(String),
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

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    logs_in: bool,
}

impl Mailer {
    pub fn new(smtp: &Smtp) -> Result<Mailer, SmtpError> {
        let setup = |e: lettre::transport::smtp::Error| SmtpError::Setup {
            host: smtp.host.clone(),
            reason: e.to_string(),
        };
        let builder = match smtp.tls {
            TlsMode::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(setup)?
            }
            TlsMode::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(setup)?
            }
            // Config validation allows this only towards a loopback address.
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        };
        let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(source)) = (&smtp.user, &smtp.password) {
            let password = source.read().map_err(|reason| SmtpError::Password {
                user: user.clone(),
                reason,
            })?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer {
            transport: builder.build(),
            logs_in: smtp.user.is_some(),
        })
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
        let envelope = lettre::address::Envelope::new(sender, message.envelope().to().to_vec())
            .map_err(|e| SmtpError::Build(e.to_string()))?;
        self.transport
            .send_raw(&envelope, &message.formatted())
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.is_permanent() {
                    SmtpError::Permanent(e.to_string())
                } else {
                    SmtpError::Transient(e.to_string())
                }
            })
    }

    /// Connects, secures the connection as configured, logs in (when a user is
    /// configured) and checks that the server answers a NOOP.
    pub async fn test_connection(&self) -> Result<(), SmtpError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SmtpError::Refused(
                "the server did not answer NOOP after the login".into(),
            )),
            // A reply code means an SMTP conversation took place: with credentials the
            // refusal is (almost always) the AUTH command's.
            Err(e) if e.status().is_some() && self.logs_in => {
                Err(SmtpError::LoginRefused(e.to_string()))
            }
            Err(e) if e.status().is_some() => Err(SmtpError::Refused(e.to_string())),
            Err(e) => Err(SmtpError::Unreachable(e.to_string())),
        }
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
        let name = clean(name);
        Ok(Address::new((!name.is_empty()).then_some(name), parsed))
    };
    let mut builder = Message::builder()
        .from(address(outgoing.from_name, outgoing.from)?)
        .to(address("", outgoing.to)?)
        .subject(clean(outgoing.subject))
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
    if let Some(parent) = outgoing.references.last() {
        builder = builder.in_reply_to(format!("<{}>", clean(parent)));
        let chain: Vec<String> = outgoing
            .references
            .iter()
            .map(|id| format!("<{}>", clean(id)))
            .collect();
        builder = builder.references(chain.join(" "));
    }
    Ok(builder)
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
}
