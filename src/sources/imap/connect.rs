//! The session: connecting (`tls`, `starttls`, or `none` on loopback), reading the
//! greeting, logging in and out, and selecting a folder.

use std::sync::Arc;

use rustls_platform_verifier::ConfigVerifierExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use super::error::{LoginReply, TlsFailure};
use super::{ImapError, ImapStream, Session, timed};
use crate::config::{Imap, TlsMode};

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
                reason: LoginReply(error),
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
    let fail = |reason: TlsFailure| ImapError::Tls {
        host: host.to_string(),
        reason,
    };
    let config = ClientConfig::with_platform_verifier().map_err(|e| fail(TlsFailure::Setup(e)))?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| fail(TlsFailure::Name(e)))?;
    timed("TLS handshake", async {
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| fail(TlsFailure::Handshake(e)))
    })
    .await
}

/// SELECTs `folder`; an answer cut short is a closed connection, not a folder.
pub(super) async fn select(
    session: &mut Session,
    folder: &str,
) -> Result<async_imap::types::Mailbox, ImapError> {
    let what = format!("SELECT {folder}");
    let selected = timed(&what, async {
        session
            .select(folder)
            .await
            .map_err(ImapError::protocol(what.as_str()))
    })
    .await?;
    // When the connection ends in the middle of the answer, async-imap returns what it has
    // read so far as a success. Every server sends UIDVALIDITY (RFC 3501 §6.3.1): without
    // it the answer was cut, and taking it for a change of UIDVALIDITY would reset the
    // folder's position and drop its pending keywords.
    if selected.uid_validity.is_none() {
        return Err(ImapError::Closed { what });
    }
    Ok(selected)
}
