//! IMAP: connecting and logging in (`tls`, `starttls`, or `none` on loopback), and the
//! per-mailbox sync loop in [`sync`].

pub mod sync;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls_platform_verifier::ConfigVerifierExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::config::{Imap, TlsMode};

/// Every IMAP command but IDLE must answer within this time.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> ImapStream for T {}

pub type Session = async_imap::Session<Box<dyn ImapStream>>;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("login as {user} refused: {reason}")]
    Login { user: String, reason: String },
    #[error("no password for {user}: {reason}")]
    Password { user: String, reason: String },
    #[error("{what} timed out after {}s", COMMAND_TIMEOUT.as_secs())]
    Timeout { what: String },
    #[error("{what} failed: {source}")]
    Protocol {
        what: String,
        source: async_imap::error::Error,
    },
    #[error("server closed the connection during {what}")]
    Closed { what: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Task(String),
}

impl ImapError {
    pub fn protocol(what: impl Into<String>) -> impl FnOnce(async_imap::error::Error) -> ImapError {
        let what = what.into();
        move |source| ImapError::Protocol { what, source }
    }
}

/// Runs one IMAP step with the command timeout.
pub async fn timed<T>(
    what: &str,
    step: impl Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(COMMAND_TIMEOUT, step)
        .await
        .unwrap_or_else(|_| {
            Err(ImapError::Timeout {
                what: what.to_string(),
            })
        })
}

/// Says goodbye to the server; a session that cannot is dropped all the same.
pub async fn logout(session: &mut Session) {
    timed("LOGOUT", async {
        session
            .logout()
            .await
            .map_err(ImapError::protocol("LOGOUT"))
    })
    .await
    .ok();
}

/// The account's password, read fresh at every login so that a rotated secret is picked
/// up.
pub fn password(imap: &Imap) -> Result<String, ImapError> {
    imap.password.read().map_err(|reason| ImapError::Password {
        user: imap.user.clone(),
        reason,
    })
}

/// Connects, reads the greeting, secures the connection as configured and logs in.
pub async fn connect(imap: &Imap) -> Result<Session, ImapError> {
    let password = password(imap)?;
    let tcp = timed("connect", async {
        TcpStream::connect((imap.host.as_str(), imap.port))
            .await
            .map_err(|source| ImapError::Connect {
                host: imap.host.clone(),
                port: imap.port,
                source,
            })
    })
    .await?;
    tcp.set_nodelay(true).ok();
    let stream: Box<dyn ImapStream> = match imap.tls {
        TlsMode::Tls => Box::new(tls(&imap.host, tcp).await?),
        TlsMode::None => Box::new(tcp),
        TlsMode::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            read_greeting(&mut client).await?;
            timed("STARTTLS", async {
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(ImapError::protocol("STARTTLS"))
            })
            .await?;
            Box::new(tls(&imap.host, client.into_inner()).await?)
        }
    };
    let mut client = async_imap::Client::new(stream);
    if imap.tls != TlsMode::StartTls {
        read_greeting(&mut client).await?;
    }
    timed("LOGIN", async {
        client
            .login(&imap.user, &password)
            .await
            .map_err(|(error, _)| ImapError::Login {
                user: imap.user.clone(),
                reason: server_reply(&error),
            })
    })
    .await
}

/// The server's own words in a NO or BAD reply, e.g. `NO [AUTHENTICATIONFAILED]
/// Authentication failed.` (async-imap carries them inside a debug string:
/// `code: None, info: Some("...")`); any other error as it is.
pub fn server_reply(error: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    let (status, detail) = match error {
        Error::No(detail) => ("NO", detail),
        Error::Bad(detail) => ("BAD", detail),
        other => return other.to_string(),
    };
    let text = detail
        .find("info")
        .and_then(|at| detail.get(at..))
        .and_then(|info| info.split_once("Some(\""))
        .and_then(|(_, rest)| rest.rsplit_once("\")"))
        .map(|(text, _)| text.replace("\\\"", "\""))
        .unwrap_or_else(|| detail.clone());
    format!("{status} {text}")
}

async fn read_greeting<T: ImapStream>(client: &mut async_imap::Client<T>) -> Result<(), ImapError> {
    timed("greeting", async {
        match client.read_response().await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(ImapError::Closed {
                what: "greeting".into(),
            }),
            Err(e) => Err(ImapError::Protocol {
                what: "greeting".into(),
                source: e.into(),
            }),
        }
    })
    .await
}

async fn tls(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let fail = |reason: String| ImapError::Tls {
        host: host.to_string(),
        reason,
    };
    let config = ClientConfig::with_platform_verifier().map_err(|e| fail(e.to_string()))?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| fail(e.to_string()))?;
    timed("TLS handshake", async {
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| fail(e.to_string()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::server_reply;
    use async_imap::error::Error;

    #[test]
    fn server_reply_shows_the_servers_words() {
        let login = Error::No(
            r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#.into(),
        );
        assert_eq!(
            server_reply(&login),
            "NO [AUTHENTICATIONFAILED] Authentication failed."
        );
        let examine = Error::No(
            r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: \"X\"") }"#
                .into(),
        );
        assert_eq!(server_reply(&examine), r#"NO Mailbox doesn't exist: "X""#);
        assert_eq!(
            server_reply(&Error::Bad("odd".into())),
            "BAD odd",
            "a detail without the debug form is kept whole"
        );
        assert_eq!(server_reply(&Error::ConnectionLost), "connection lost");
    }
}
