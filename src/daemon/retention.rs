//! The daily retention pass: closed and ignored tickets past their queue's `retention`
//! are removed, a few hundred per transaction so that the writer is never held for long.
//! When it last ran is kept in the database, so a restart does not run it again early.

use crate::runtime::Shared;
use crate::store::StoreError;
use crate::store::retention;

/// Tickets removed per transaction.
const BATCH: usize = 200;
const DAY: i64 = 24 * 3600;

/// Runs the pass if a day has gone by since the last one; returns when the next is due
/// (`None` when no queue limits its retention).
pub fn apply_due(shared: &Shared) -> Result<Option<i64>, StoreError> {
    let now = shared.clock.now();
    let passes = retention::configured_passes(&shared.config, now);
    if passes.is_empty() {
        return Ok(None);
    }
    let now = now.as_second();
    if let Some(last) = shared.read(retention::last_retention_run)?
        && now < last + DAY
    {
        return Ok(Some(last + DAY));
    }
    let mut tickets = 0;
    for pass in &passes {
        loop {
            let removed = shared.write(|store| {
                let tx = store.transaction()?;
                retention::clear_marks(&tx)?;
                let marked = retention::mark_closed_before(&tx, pass, Some(BATCH))?;
                if marked.tickets > 0 {
                    retention::delete_marked(&tx)?;
                }
                tx.commit()?;
                Ok(marked.tickets)
            })?;
            tickets += removed;
            if removed < BATCH {
                break;
            }
        }
    }
    shared.write(|store| {
        retention::set_last_retention_run(store.connection(), now)?;
        retention::give_back_free_pages(store.connection(), false)
    })?;
    if tickets > 0 {
        tracing::info!(
            tickets,
            "retention: removed closed tickets past their queue's retention"
        );
    }
    Ok(Some(now + DAY))
}
