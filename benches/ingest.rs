//! Offline ingest throughput: 10,000 mixed messages (new requests in several charsets,
//! replies that thread, automatic replies, bounces, list mail, attachments) into a fresh
//! database. Prints messages/s and peak RSS. Run with `cargo bench --bench ingest`.

#[path = "support/mixed_mail.rs"]
mod mixed_mail;
#[path = "support/proc_status.rs"]
mod proc_status;

use std::path::Path;
use std::time::Instant;

use postdesk::clock::SystemClock;
use postdesk::config::Config;
use postdesk::ingest::Origin;
use postdesk::store::Store;
use postdesk::store::{Incoming, Ingester, Summary};

use mixed_mail::{MESSAGES, generate};
use proc_status::status_kib;

const BATCH: usize = 256;

fn main() {
    let messages = generate();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/postdesk.toml"))
            .unwrap();
    config.database = dir.path().join("bench.db");
    let mut store = Store::open(&config.database, None).unwrap();
    let clock = SystemClock;
    let ingester = Ingester {
        config: &config,
        clock: &clock,
    };
    let mut summary = Summary::default();

    let start = Instant::now();
    let mut iter = messages.into_iter().enumerate();
    loop {
        let batch: Vec<Incoming> = iter
            .by_ref()
            .take(BATCH)
            .map(|(n, raw)| Incoming {
                raw,
                origin: Origin {
                    mailbox: Some("support".into()),
                    location: format!("bench:{n}"),
                    imap: None,
                    sent: false,
                },
            })
            .collect();
        if batch.is_empty() {
            break;
        }
        ingester
            .ingest_batch(&mut store, &batch, &mut summary)
            .unwrap();
    }
    let elapsed = start.elapsed();
    let tickets: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(summary.ingested as usize, MESSAGES, "{summary:?}");
    println!(
        "ingest: {MESSAGES} messages ({:.1} MB) in {:.2} s = {:.0} messages/s; {tickets} tickets; peak RSS {:.1} MB",
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        MESSAGES as f64 / elapsed.as_secs_f64(),
        status_kib("self", "VmHWM:") as f64 / 1024.0
    );
}
