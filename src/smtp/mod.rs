//! Outgoing mail over SMTP (lettre): one SMTP session per mail in flight, kept for the
//! next mail while it works; the messages postdesk writes are composed in [`message`].
//!
//! A transaction is driven step by step so that a failure can be told apart by where it
//! happened: up to the DATA command the server cannot have the mail, and sending again is
//! safe; once the whole message is sent, a connection that breaks (or a server that stays
//! silent) before the reply may still have accepted it, and sending again could deliver it
//! twice (RFC 1047): such a mail is [`SmtpError::Uncertain`], never retried by itself.

mod message;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use crate::config::{Smtp, TlsMode};

pub use message::{FileAttachment, Outgoing, clean, compose, compose_with_attachment};

/// Each step of a transaction (connecting with the greeting and EHLO, each command, the
/// message) must be answered within this time; lettre itself times out only the TCP connect.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle sessions kept for the next mails (the outbox sends up to 32 at once).
const IDLE_SESSIONS: usize = 32;

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
        let formatted = message.formatted();
        let options = mail_parameters(&session, &envelope, &formatted)?;
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

/// The MAIL FROM parameters the message needs: SMTPUTF8 for a non-ASCII address (RFC
/// 6531), `BODY=8BITMIME` for 8-bit content (RFC 6152); a server that offers neither
/// cannot take it.
fn mail_parameters(
    session: &AsyncSmtpConnection,
    envelope: &Envelope,
    formatted: &[u8],
) -> Result<Vec<MailParameter>, SmtpError> {
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
    Ok(options)
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

#[cfg(test)]
mod tests;
