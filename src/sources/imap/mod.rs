//! IMAP, split as Stalwart splits its IMAP code: [`connect`] (the session: TLS, greeting,
//! login, SELECT), [`watch`] (one task per mailbox: the session loop, IDLE), [`sync`]
//! (catching up one folder), [`pipeline`] (fetching, preparing and storing batches) and
//! [`post_actions`] (keywords and copies set back on the server).

mod connect;
mod error;
mod pipeline;
mod post_actions;
mod sync;
mod watch;

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

pub use connect::{connect, logout, password, server_reply};
pub use error::{ImapError, LoginReply, TlsFailure};
pub use pipeline::{FETCH_BATCH_BYTES, batches};
pub use post_actions::{TICKETED, uid_set};
pub use watch::watch_mailbox;

/// Every IMAP command but IDLE must answer within this time.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> ImapStream for T {}

pub type Session = async_imap::Session<Box<dyn ImapStream>>;

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

#[cfg(test)]
mod tests;
