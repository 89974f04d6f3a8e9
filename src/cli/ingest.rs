//! `postdesk ingest PATH...`: .eml files, Maildir folders, mbox files or stdin through the
//! pipeline into the store, with a summary and a log line per message.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::{check_mailbox, open_store, print_json};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::ingest::Origin;
use crate::sources::files as source;
use crate::store::Store;
use crate::store::file::{Announce, log_filed, parse_error_of};
use crate::store::{Incoming, Ingester, Summary};

/// Messages filed per transaction by `ingest`.
const BATCH: usize = 256;

/// Exit 1 if some message could not be stored.
pub(super) fn ingest(
    config: &Config,
    paths: &[PathBuf],
    mailbox: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    check_mailbox(config, mailbox.as_deref())?;
    let mut store = open_store(config)?;
    let summary = ingest_paths(config, &mut store, paths, mailbox)?;
    if json {
        print_json(&summary)?;
    } else {
        let mut out = crate::terminal::stdout();
        writeln!(
            out,
            "ingested {}, duplicates {}, quarantined {}, failed {}",
            summary.ingested, summary.duplicates, summary.quarantined, summary.failed
        )?;
        out.flush()?;
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs the pipeline over every path, in batches.
pub(crate) fn ingest_paths(
    config: &Config,
    store: &mut Store,
    paths: &[PathBuf],
    mailbox: Option<String>,
) -> Result<Summary> {
    let clock = SystemClock;
    let ingester = Ingester {
        config,
        clock: &clock,
    };
    let mut summary = Summary::default();
    let mut batch: Vec<Incoming> = Vec::with_capacity(BATCH);
    let mut failure: Option<anyhow::Error> = None;
    let mut flush = |batch: &mut Vec<Incoming>, summary: &mut Summary| -> Result<()> {
        let filed = ingester.ingest_batch(store, batch, summary)?;
        for (incoming, filed) in batch.iter().zip(&filed) {
            log_filed(incoming, filed, Announce::Quietly, |ticket| {
                parse_error_of(store.connection(), ticket).ok().flatten()
            });
        }
        batch.clear();
        Ok(())
    };
    for path in paths {
        let result = source::read_path(path, &mut |item| {
            if failure.is_some() {
                return;
            }
            match item.raw {
                Ok(raw) => {
                    batch.push(Incoming {
                        raw,
                        origin: Origin::local(mailbox.clone(), item.location),
                    });
                    if batch.len() >= BATCH
                        && let Err(e) = flush(&mut batch, &mut summary)
                    {
                        failure = Some(e);
                    }
                }
                Err(reason) => {
                    tracing::error!("{reason}");
                    summary.failed += 1;
                }
            }
        });
        if let Err(error) = result {
            tracing::error!("{error}");
            summary.failed += 1;
        }
        if let Some(error) = failure.take() {
            return Err(error);
        }
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut summary)?;
    }
    Ok(summary)
}
