//! The deadline scheduler: sleeps until the next warning or breach is due (or new work
//! arrives), then records it — warning mail to the queue's agents at `warn_at`, and at the
//! deadline the breach flag, the IMAP keywords and one notice to the escalation address
//! (with `warning_notice`/`breach_notice = "hourly" | "daily"`, a line in the recipient's
//! digest of the period instead, which the outbox sends at the period's end).
//! Deadlines that passed while postdesk was down are handled at start. It also queues the
//! weekly report mail when its slot comes (`report::weekly`).

use std::time::Duration;

use tokio::sync::watch;

use crate::runtime::Shared;
use crate::store::deadlines::{self, Notices};

/// Deadlines handled per transaction.
const BATCH: usize = 500;
/// Even with nothing due, look again this often (a safety net, not the mechanism).
const MAX_SLEEP: Duration = Duration::from_secs(30);

pub async fn run_deadlines(shared: Shared, mut shutdown: watch::Receiver<bool>) {
    loop {
        let next = {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || handle_due(&shared)).await
        };
        let next = match next {
            Ok(Ok(next)) => next,
            Ok(Err(error)) => {
                tracing::error!("deadline scheduler: {error}");
                Some(shared.clock.now().as_second() + 5)
            }
            Err(error) => {
                tracing::error!("deadline scheduler failed: {error}");
                Some(shared.clock.now().as_second() + 5)
            }
        };
        // Until the start of the deadline's second: whole seconds from a moment late in a
        // second would wake in the next one, past a warning due a second before the breach.
        let now = shared.clock.now().as_millisecond();
        let sleep = next
            .map(|at| {
                Duration::from_millis(at.saturating_mul(1000).saturating_sub(now).max(0) as u64)
            })
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = shared.deadline_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Records every due warning and breach; returns when the next deadline falls.
pub fn handle_due(shared: &Shared) -> Result<Option<i64>, crate::store::StoreError> {
    let config = shared.config.clone();
    loop {
        let now = shared.clock.now().as_second();
        let (handled, queued_mail) = shared.write(|store| {
            let tx = store.transaction()?;
            let due = deadlines::due_deadlines(&tx, now, BATCH)?;
            let mut mail = false;
            for ticket in &due {
                let queue = config.queue(&ticket.queue);
                let timezone = queue
                    .map(|q| &q.calendar.timezone)
                    .unwrap_or(&config.calendar.timezone);
                let policy = queue.map(|q| &q.policy).unwrap_or(&config.defaults);
                let breach = ticket.due_at.is_none_or(|due| due <= now);
                if breach {
                    let escalation = Notices {
                        recipients: queue.map(|q| q.escalation.as_slice()).unwrap_or_default(),
                        mode: policy.breach_notice,
                        timezone,
                    };
                    deadlines::record_breach(&tx, ticket, now, &escalation)?;
                    mail |= !escalation.recipients.is_empty();
                    tracing::warn!(ticket = crate::store::reference(ticket.id), queue = %ticket.queue, "response target missed");
                } else {
                    let agents = Notices {
                        recipients: queue.map(|q| q.agents.as_slice()).unwrap_or_default(),
                        mode: policy.warning_notice,
                        timezone,
                    };
                    deadlines::record_warning(&tx, ticket, now, &agents)?;
                    mail |= !agents.recipients.is_empty();
                }
            }
            tx.commit()?;
            Ok((due.len(), mail))
        })?;
        if queued_mail {
            shared.outbox_wake.notify_one();
        }
        if handled > 0 {
            shared.imap_jobs.send_modify(|n| *n = n.wrapping_add(1));
        }
        if handled < BATCH {
            let next_report = crate::daemon::weekly::queue_due(shared)?;
            let next_prune = crate::daemon::retention::apply_due(shared)?;
            let next_deadline = shared.read(deadlines::next_deadline)?;
            return Ok(next_deadline
                .into_iter()
                .chain(next_report)
                .chain(next_prune)
                .min());
        }
    }
}
