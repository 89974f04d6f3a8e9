//! Years of history in one file: builds a database of `POSTDESK_SCALE_MESSAGES` (default
//! 1,000,000) generated messages, the benchmark mix of benches/ingest.rs made unique per round
//! of 10,000, then measures in one run the ingest rate of 20,000 new messages into it against
//! an empty database, the lookups behind `ticket REF`, `customer ADDRESS`, `search` and
//! `report --since 30d`, and the file size against the raw mail bytes. First it prints what
//! each zstd level makes of the benchmark mail, the measure for `store::raw::LEVEL`.
//!
//! `cargo bench --bench scale`; `POSTDESK_SCALE_MESSAGES=10000000` for a 10M run,
//! `POSTDESK_SCALE_DIR` for where the databases go (default the system temp directory; 1M
//! messages take some 2 GB).

#[path = "support/mixed_mail.rs"]
mod mixed_mail;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postdesk::clock::SystemClock;
use postdesk::config::Config;
use postdesk::ingest::Origin;
use postdesk::store::{Incoming, Ingester, Store, Summary, views};

const BATCH: usize = 256;
/// New messages ingested into the big and into the empty database.
const FRESH: usize = 20_000;

fn main() {
    let target: usize = std::env::var("POSTDESK_SCALE_MESSAGES")
        .map(|v| {
            v.replace('_', "")
                .parse()
                .expect("POSTDESK_SCALE_MESSAGES: a number")
        })
        .unwrap_or(1_000_000);
    let mail = mixed_mail::generate();
    compression_levels(&mail);

    let dir = match std::env::var_os("POSTDESK_SCALE_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .unwrap();
    let config = config_for(&dir.path().join("big.db"));
    let mut big = Store::open(&config.database, None).unwrap();
    let mut round = 0;
    let mut raw_bytes = 0;
    let start = Instant::now();
    while round * mail.len() < target {
        raw_bytes += ingest_round(&config, &mut big, &mail, round, mail.len());
        round += 1;
        if round % 10 == 0 || round * mail.len() >= target {
            println!(
                "built: {} messages in {:.0} s",
                round * mail.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    let stored = round * mail.len();

    // The same new mail, alternately into the big and into an empty database.
    let empty_config = config_for(&dir.path().join("empty.db"));
    let mut empty = Store::open(&empty_config.database, None).unwrap();
    let mut rates = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let timed = |store: &mut Store, config: &Config, round| {
            let t = Instant::now();
            ingest_round(config, store, &mail, round, FRESH / 2);
            (FRESH / 2) as f64 / t.elapsed().as_secs_f64()
        };
        rates.0.push(timed(&mut big, &config, round));
        rates.1.push(timed(&mut empty, &empty_config, round));
        round += 1;
    }
    let (into_big, into_empty) = (mean(&rates.0), mean(&rates.1));
    println!(
        "ingest of {FRESH} new messages: {into_big:.0} msg/s into {stored} stored, \
         {into_empty:.0} msg/s into an empty database ({:.2}x)",
        into_big / into_empty
    );
    lookups(big.connection(), &config, stored);
    drop((big, empty));
    let size = file_size(&config.database);
    println!(
        "file: {:.1} MB for {:.1} MB of raw mail ({:.2}x)",
        size as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        size as f64 / raw_bytes as f64
    );
}

fn config_for(database: &Path) -> Config {
    let mut config =
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/postdesk.toml"))
            .unwrap();
    config.database = database.into();
    config
}

/// Round `round` of the mix (its first `count` messages), with Message-IDs and customers of
/// its own, ingested in batches. Returns the raw bytes.
fn ingest_round(
    config: &Config,
    store: &mut Store,
    mail: &[Vec<u8>],
    round: usize,
    count: usize,
) -> usize {
    let clock = SystemClock;
    let ingester = Ingester {
        config,
        clock: &clock,
    };
    let ids = format!("bench-r{round}-");
    let customers = format!("r{round}customer");
    let mut bytes = 0;
    for (b, chunk) in mail[..count].chunks(BATCH).enumerate() {
        let batch: Vec<Incoming> = chunk
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let raw = replace(
                    &replace(raw, b"bench-", ids.as_bytes()),
                    b"customer",
                    customers.as_bytes(),
                );
                bytes += raw.len();
                Incoming {
                    raw,
                    origin: Origin {
                        mailbox: Some("support".into()),
                        location: format!("scale:{round}:{}", b * BATCH + i),
                        imap: None,
                        sent: false,
                    },
                }
            })
            .collect();
        let mut summary = Summary::default();
        ingester.ingest_batch(store, &batch, &mut summary).unwrap();
        assert_eq!(summary.ingested as usize, batch.len(), "{summary:?}");
    }
    bytes
}

/// The store calls behind `ticket REF`, `ticket REF --mbox`, `customer ADDRESS`, `search`
/// and `report --since 30d`, each timed over several arguments spread over the database.
fn lookups(conn: &rusqlite::Connection, config: &Config, stored: usize) {
    let tickets: i64 = conn
        .query_row("SELECT max(id) FROM tickets", [], |r| r.get(0))
        .unwrap();
    let refs: Vec<i64> = (1..=50).map(|k| tickets * k / 50 + 999).collect();
    let rounds = stored / mixed_mail::MESSAGES;
    let customers: Vec<String> = (0..50)
        .map(|k| {
            let n = (k * 7919) % mixed_mail::MESSAGES / 20 * 20;
            format!("r{}customer{n}@mail{}.example", k * rounds / 50, n % 89)
        })
        .collect();
    let show = |what: &str, times: Vec<Duration>| {
        println!(
            "{what}: median {:.2} ms, max {:.2} ms",
            ms(median(&times)),
            ms(max(&times))
        );
    };
    show(
        "ticket REF",
        time_each(&refs, |r| {
            assert!(views::ticket_detail(conn, *r).unwrap().is_some());
        }),
    );
    show(
        "ticket REF --mbox",
        time_each(&refs, |r| {
            for row in views::message_rows(conn, *r).unwrap().unwrap() {
                assert!(!views::original(conn, row).unwrap().raw.is_empty());
            }
        }),
    );
    show(
        "customer ADDRESS",
        time_each(&customers, |a| {
            assert!(!views::customer(conn, a).unwrap().tickets.is_empty(), "{a}");
        }),
    );
    let queries = [
        "invoice",
        "printer broken",
        "r7customer140@mail51.example",
        "log attached",
    ];
    show(
        "search",
        time_each(&queries, |q| {
            postdesk::store::search::search(conn, q, 20).unwrap();
        }),
    );
    let now = jiff::Timestamp::now().as_second();
    let params = postdesk::report::Params {
        since: now - 30 * 86_400,
        until: now,
        now,
        queue: None,
    };
    show(
        "report --since 30d",
        time_each(&[()], |_| {
            postdesk::report::compute(conn, config, &params).unwrap();
        }),
    );
}

/// What each zstd level makes of the benchmark mail, compressed a message at a time as the
/// store does.
fn compression_levels(mail: &[Vec<u8>]) {
    let total: usize = mail.iter().map(Vec::len).sum();
    for level in [1, 3, 6, 9, 19] {
        let mut compressor = zstd::bulk::Compressor::new(level).unwrap();
        let t = Instant::now();
        let stored: usize = mail
            .iter()
            .map(|m| compressor.compress(m).unwrap().len().min(m.len()))
            .sum();
        let elapsed = t.elapsed().as_secs_f64();
        println!(
            "zstd level {level:2}: {:.3} of the size, {:.0} MB/s",
            stored as f64 / total as f64,
            total as f64 / 1e6 / elapsed
        );
    }
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len() + 64);
    let mut rest = haystack;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn time_each<T>(args: &[T], mut f: impl FnMut(&T)) -> Vec<Duration> {
    args.iter()
        .map(|a| {
            let t = Instant::now();
            f(a);
            t.elapsed()
        })
        .collect()
}

fn file_size(database: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut path = PathBuf::from(database).into_os_string();
            path.push(suffix);
            std::fs::metadata(path).map_or(0, |m| m.len())
        })
        .sum()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn max(times: &[Duration]) -> Duration {
    times.iter().copied().max().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
