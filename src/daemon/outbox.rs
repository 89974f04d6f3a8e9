//! The outbox worker: sends due mail rows (acknowledgements, warnings, breach notices) over
//! SMTP, a few at a time, each claimed before and finished right after its SMTP
//! transaction (see `store::outbox` for what that guarantees across crashes). Failures are
//! retried with capped backoff and parked as failed after `[smtp] max_attempts`.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use crate::compose::{self, Composed};
use crate::runtime::Shared;
use crate::smtp::{Mailer, SmtpError};
use crate::store::outbox::{self as rows, MailJob};
use crate::store::{self, StoreError};
use crate::text::templates::Templates;

/// Rows claimed per round.
const ROUND: usize = 256;
/// SMTP transactions in flight at once.
const CONCURRENCY: usize = 32;
const MAX_SLEEP: Duration = Duration::from_secs(30);

pub async fn run_outbox(
    shared: Shared,
    mailer: Mailer,
    templates: Arc<Templates>,
    mut shutdown: watch::Receiver<bool>,
) {
    let parked =
        shared.write(|s| rows::park_interrupted(s.connection(), shared.clock.now().as_second()));
    match parked {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            "{n} outbox row(s) were being sent when postdesk stopped; parked as failed to avoid duplicates (see `postdesk outbox`)"
        ),
        Err(error) => tracing::error!("outbox: {error}"),
    }
    loop {
        let worked = match send_round(&shared, &mailer, &templates).await {
            Ok(worked) => worked,
            Err(error) => {
                tracing::error!("outbox: {error}");
                false
            }
        };
        if *shutdown.borrow() {
            return;
        }
        if worked {
            continue;
        }
        let now = shared.clock.now().as_second();
        let next = shared.read(rows::next_mail_due).ok().flatten();
        let sleep = next
            .map(|at| Duration::from_secs(at.saturating_sub(now).max(0) as u64))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = shared.outbox_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Sends what is due now; returns whether there was anything.
async fn send_round(
    shared: &Shared,
    mailer: &Mailer,
    templates: &Templates,
) -> Result<bool, StoreError> {
    let now = shared.clock.now();
    let jobs = shared.read(|conn| rows::due_mail(conn, now.as_second(), ROUND))?;
    if jobs.is_empty() {
        return Ok(false);
    }
    let mut ready = Vec::new();
    for job in jobs {
        let composed = shared
            .read_apart(|conn| compose::compose(conn, &shared.config, templates, &job, now))?;
        let now_s = now.as_second();
        match composed {
            Composed::Send(message, bounces_to) => ready.push((job, message, bounces_to)),
            Composed::Cancel(reason) => {
                shared.write(|store| rows::cancel(store.connection(), &job, now_s, &reason))?
            }
            Composed::Fail(reason) => {
                tracing::warn!(
                    outbox = job.id,
                    "cannot send {} to {}: {reason}",
                    job.kind,
                    job.recipient
                );
                shared.write(|store| rows::mark_failed(store.connection(), &job, now_s, &reason))?
            }
        }
    }
    let mut sends = futures::stream::iter(ready)
        .map(|(job, message, bounces_to)| send_one(shared, mailer, job, message, bounces_to))
        .buffer_unordered(CONCURRENCY);
    while let Some((job, message_id, result)) = sends.next().await {
        record(shared, &job, &message_id, result)?;
    }
    Ok(true)
}

/// One mail's SMTP transaction. Claimed right before it, so a crash parks only the mails
/// really in flight.
async fn send_one(
    shared: &Shared,
    mailer: &Mailer,
    job: MailJob,
    message: Box<lettre::Message>,
    bounces_to: Option<String>,
) -> (MailJob, String, Result<(), SmtpError>) {
    let message_id = message_id_of(&message);
    let claimed = shared.write(|store| {
        let tx = store.transaction()?;
        rows::mark_sending(&tx, job.id, shared.clock.now().as_second(), &message_id)?;
        if let Some(ticket) = job.ticket {
            store::remember_message_id(&tx, &message_id, ticket, "", Some(&job.recipient))?;
        }
        tx.commit()
    });
    let result = match claimed {
        Ok(()) => mailer.send(&message, bounces_to.as_deref()).await,
        Err(error) => Err(SmtpError::Transient(format!("not claimed: {error}"))),
    };
    (job, message_id, result)
}

/// Writes how one mail's SMTP transaction ended: sent, deferred for a retry, or failed.
fn record(
    shared: &Shared,
    job: &MailJob,
    message_id: &str,
    result: Result<(), SmtpError>,
) -> Result<(), StoreError> {
    let (max_attempts, first_retry) = shared
        .config
        .smtp
        .as_ref()
        .map(|s| (s.max_attempts, s.retry_delay))
        .unwrap_or((10, Duration::from_secs(30)));
    let now = shared.clock.now().as_second();
    match result {
        Ok(()) => {
            shared.write(|store| {
                let tx = store.transaction()?;
                rows::mark_sent(&tx, job, now)?;
                tx.commit()
            })?;
            tracing::info!(
                ticket = job.ticket.map(store::reference),
                "{} sent to {}",
                job.kind,
                job.recipient
            );
        }
        Err(SmtpError::Transient(reason)) if job.attempts + 1 < max_attempts => {
            let delay = retry_delay(first_retry, job.attempts);
            tracing::warn!(
                outbox = job.id,
                "{} to {} deferred ({reason}); retrying in {}s",
                job.kind,
                job.recipient,
                delay
            );
            shared.write(|store| {
                rows::mark_retry(store.connection(), job.id, now + delay, &reason)
            })?;
        }
        Err(error) => {
            let reason = match error {
                // Like a crash in the middle of the transaction: parked for an operator,
                // as `rows::park_interrupted` does, never sent again by itself.
                SmtpError::Uncertain(_) => format!(
                    "delivery uncertain: {error}, for <{message_id}>; not resent to avoid a \
                     duplicate. Check the recipient's mailbox, then `postdesk outbox retry {}` \
                     if it never arrived",
                    job.id
                ),
                _ => format!("{error} (attempt {})", job.attempts + 1),
            };
            tracing::error!(
                outbox = job.id,
                "{} to {} failed: {reason}",
                job.kind,
                job.recipient
            );
            shared.write(|store| {
                let tx = store.transaction()?;
                rows::mark_failed(&tx, job, now, &reason)?;
                tx.commit()
            })?;
        }
    }
    Ok(())
}

/// `[smtp] retry_delay` (default 30 s), then doubled at each try (1 min, 2 min ...),
/// capped at one hour.
fn retry_delay(first: Duration, attempts: u32) -> i64 {
    let first = i64::try_from(first.as_secs())
        .unwrap_or(3600)
        .clamp(1, 3600);
    first.saturating_mul(1 << attempts.min(12)).min(3600)
}

fn message_id_of(message: &lettre::Message) -> String {
    message
        .headers()
        .get_raw("Message-ID")
        .map(|id| id.trim().trim_matches(['<', '>']).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn retry_delay_doubles_from_the_configured_first_wait_to_an_hour() {
        let thirty = Duration::from_secs(30);
        assert_eq!(retry_delay(thirty, 0), 30);
        assert_eq!(retry_delay(thirty, 1), 60);
        assert_eq!(retry_delay(thirty, 2), 120);
        assert_eq!(retry_delay(thirty, 20), 3600);
        assert_eq!(retry_delay(Duration::from_secs(1), 0), 1);
        assert_eq!(retry_delay(Duration::from_secs(1), 3), 8);
    }
}
