//! A local Maildir as a mailbox for `postdesk run`: the same pipeline as IMAP. Messages in
//! `new/` are stored, then moved to `cur/` (as a mail client would) once their batch is
//! committed; `cur/` is read once at start, where deduplication makes re-reading harmless.

use std::path::{Path, PathBuf};

use tokio::sync::watch;

use crate::config::Mailbox;
use crate::ingest::Origin;
use crate::runtime::{Shared, store_batch};
use crate::store::{Filed, Incoming};

const BATCH: usize = 256;

pub async fn watch_maildir(
    shared: Shared,
    mailbox: Mailbox,
    dir: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) {
    for sub in ["new", "cur", "tmp"] {
        if let Err(error) = std::fs::create_dir_all(dir.join(sub)) {
            tracing::error!(mailbox = %mailbox.name, "cannot create Maildir {}: {error}", dir.display());
        }
    }
    let mut first = true;
    loop {
        let scan = {
            let (shared, mailbox, dir) = (shared.clone(), mailbox.clone(), dir.clone());
            tokio::task::spawn_blocking(move || scan_once(&shared, &mailbox, &dir, first))
        };
        match scan.await {
            Ok(Ok(())) => first = false,
            Ok(Err(error)) => {
                tracing::warn!(mailbox = %mailbox.name, "Maildir {}: {error}", dir.display())
            }
            Err(error) => tracing::error!(mailbox = %mailbox.name, "Maildir scan failed: {error}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(mailbox.poll_interval) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

fn scan_once(
    shared: &Shared,
    mailbox: &Mailbox,
    dir: &Path,
    include_cur: bool,
) -> anyhow::Result<()> {
    let mut files = list(&dir.join("new"))?;
    if include_cur {
        files.extend(list(&dir.join("cur"))?);
    }
    for chunk in files.chunks(BATCH) {
        let mut batch = Vec::with_capacity(chunk.len());
        let mut paths = Vec::with_capacity(chunk.len());
        for path in chunk {
            match std::fs::read(path) {
                Ok(raw) => {
                    batch.push(Incoming {
                        raw,
                        origin: Origin::local(
                            Some(mailbox.name.clone()),
                            format!("maildir:{}", path.display()),
                        ),
                    });
                    paths.push(path);
                }
                // A message a client moved or deleted meanwhile: seen again on the next scan.
                Err(error) => tracing::debug!("cannot read {}: {error}", path.display()),
            }
        }
        let mut stored = Vec::new();
        let summary = store_batch(shared, &batch, |_, filed| {
            stored = filed
                .iter()
                .map(|f| !matches!(f, Filed::Failed(_)))
                .collect();
            Ok(())
        })?;
        if summary.ingested + summary.quarantined > 0 || summary.failed > 0 {
            tracing::info!(
                mailbox = %mailbox.name,
                "stored {} new, {} duplicate, {} unparsed, {} failed",
                summary.ingested, summary.duplicates, summary.quarantined, summary.failed
            );
        }
        for (path, ok) in paths.iter().zip(stored) {
            if ok && path.parent().is_some_and(|p| p.ends_with("new")) {
                mark_seen_by_us(path);
            }
        }
    }
    Ok(())
}

/// The messages in one Maildir folder (`new/` or `cur/`), in name order. Hidden files are
/// not messages: clients and servers keep working files there under a leading dot.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// new/NAME → cur/NAME:2, (no flags: still unread for the agents).
fn mark_seen_by_us(path: &Path) {
    let (Some(name), Some(maildir)) = (path.file_name(), path.parent().and_then(Path::parent))
    else {
        return;
    };
    let mut target = maildir.join("cur").join(name);
    if !name.to_string_lossy().contains(":2,") {
        target.as_mut_os_string().push(":2,");
    }
    if let Err(error) = std::fs::rename(path, &target) {
        tracing::warn!("cannot move {} to cur/: {error}", path.display());
    }
}
