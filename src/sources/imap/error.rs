//! What can go wrong with an IMAP mailbox, and which of it retrying will not mend.

use std::fmt;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::InvalidDnsNameError;

use super::{COMMAND_TIMEOUT, connect::server_reply};

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: TlsFailure },
    #[error("login as {user} refused: {reason}")]
    Login { user: String, reason: LoginReply },
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
    /// A blocking task of the pipeline (`what`: "preparing a batch", "storing a batch")
    /// panicked or was cancelled.
    #[error("{what} failed: {source}")]
    Task {
        what: &'static str,
        source: tokio::task::JoinError,
    },
    /// A message of a stored batch could not be filed, so the folder position stayed
    /// before it; the batches after it must not move the position past it.
    #[error("some messages up to UID {up_to} were not stored; retrying from UID {}", reached + 1)]
    NotStored { up_to: u32, reached: u32 },
}

impl ImapError {
    pub fn protocol(what: impl Into<String>) -> impl FnOnce(async_imap::error::Error) -> ImapError {
        let what = what.into();
        move |source| ImapError::Protocol { what, source }
    }

    /// Whether retrying soon cannot help: the login was refused, the server's certificate
    /// is not trusted, or the configuration is wrong (no password, a host name TLS cannot
    /// check). Network errors, timeouts, a BYE or a cut connection, a store error and a
    /// message left unstored are transient. (lettre splits SMTP errors the same way.)
    pub fn is_permanent(&self) -> bool {
        match self {
            ImapError::Login { reason, .. } => reason.is_refusal(),
            ImapError::Tls { reason, .. } => reason.is_permanent(),
            ImapError::Password { .. } => true,
            ImapError::Connect { .. }
            | ImapError::Timeout { .. }
            | ImapError::Protocol { .. }
            | ImapError::Closed { .. }
            | ImapError::Store(_)
            | ImapError::Task { .. }
            | ImapError::NotStored { .. } => false,
        }
    }
}

/// The server's answer to LOGIN, shown in its own words (see [`server_reply`]).
#[derive(Debug)]
pub struct LoginReply(pub async_imap::error::Error);

impl LoginReply {
    /// A NO or BAD: the server refused these credentials. A connection lost during LOGIN is
    /// not a refusal, nor is `[UNAVAILABLE]` (RFC 5530 §3: the authentication subsystem
    /// is down for now).
    fn is_refusal(&self) -> bool {
        use async_imap::error::Error;
        match &self.0 {
            Error::No(detail) | Error::Bad(detail) => !detail.contains("[UNAVAILABLE]"),
            _ => false,
        }
    }
}

impl fmt::Display for LoginReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&server_reply(&self.0))
    }
}

/// Why TLS could not be set up; shown as the underlying error.
#[derive(Debug, thiserror::Error)]
pub enum TlsFailure {
    /// The platform's certificate verifier could not be set up.
    #[error("{0}")]
    Setup(rustls::Error),
    /// The configured host is no name a certificate can be checked against.
    #[error("{0}")]
    Name(InvalidDnsNameError),
    #[error("{0}")]
    Handshake(std::io::Error),
}

impl TlsFailure {
    fn is_permanent(&self) -> bool {
        match self {
            TlsFailure::Setup(_) | TlsFailure::Name(_) => true,
            // tokio-rustls hands a TLS alert or a rejected certificate over as an
            // `io::Error` wrapping the rustls error; a bare I/O error is the network.
            TlsFailure::Handshake(io) => io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_))),
        }
    }
}
