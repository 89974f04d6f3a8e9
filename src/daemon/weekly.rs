//! Queues the weekly report mail when its slot comes (`[report] weekly`, in the calendar's
//! timezone); the outbox sends it like any other mail.

use crate::report::weekly::{slots, week_before};
use crate::runtime::Shared;
use crate::store::StoreError;
use crate::store::reports::{self, WeeklyQueued};

/// Queues this slot's report when it is due and not queued yet; returns when the next slot
/// falls (None without recipients).
pub fn queue_due(shared: &Shared) -> Result<Option<i64>, StoreError> {
    let config = &shared.config;
    if config.report.recipients.is_empty() {
        return Ok(None);
    }
    let tz = &config.calendar.timezone;
    let now = shared.clock.now();
    let Some((slot, next)) = slots(config.report.weekly, tz, now) else {
        return Ok(None);
    };
    let since = week_before(slot, tz);
    let mailbox = config.mailboxes.first().map(|m| m.name.as_str());
    let queued = shared.write(|store| {
        let tx = store.transaction()?;
        let queued = reports::queue_weekly_report(
            &tx,
            slot.as_second(),
            since.as_second(),
            &config.report.recipients,
            mailbox,
            now.as_second(),
        )?;
        tx.commit()?;
        Ok(queued)
    })?;
    match queued {
        WeeklyQueued::Queued(n) => {
            tracing::info!(
                "weekly report of {} to {} queued for {n} recipient(s)",
                since,
                slot
            );
            shared.outbox_wake.notify_one();
        }
        WeeklyQueued::Baseline => tracing::info!(
            "weekly report mail configured: the first one goes out at {}",
            next.to_zoned(tz.clone())
        ),
        WeeklyQueued::AlreadyQueued => {}
    }
    Ok(Some(next.as_second()))
}
