//! Worst-case mail, one case at a time: each is ingested into a fresh database and the
//! report is computed (and rendered as text and HTML) over it. Prints the elapsed time and
//! the peak RSS of each case — the figures `MemoryMax=` in systemd/postdesk.service rests
//! on. Run with `cargo bench --bench hostile`.
//!
//! - a 4 MB subject: `Re: ` × 1,000,000;
//! - a subject of 4.5 million distinct words, as large as `ingest.max_message_bytes` lets a
//!   parsed mail be (49.5 MB);
//! - a 39 MB mail: a text part and a base64 attachment;
//! - a batch as large as IMAP sends at once (64 MiB): sixteen 4 MB `Re: ` subjects, prepared
//!   on every core together.
//!
//! Each case runs in a process of its own. Its peak RSS is printed twice: from the start of
//! the process (building the mail included), and from just before the ingest
//! (`/proc/self/clear_refs`), which counts the raw mail held in memory, as the daemon holds
//! it too.

use std::fmt::Write as _;
use std::time::Instant;

#[path = "support/proc_status.rs"]
mod proc_status;

use postdesk::clock::SystemClock;
use postdesk::config::Config;
use postdesk::ingest::Origin;
use postdesk::report::{self, Params};
use postdesk::store::Store;
use postdesk::store::{Incoming, Ingester, Summary};
use proc_status::status_kib;

/// Resets VmHWM to the current RSS (Linux: `5` in clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn head(subject: &str, id: &str) -> String {
    format!(
        "From: Mallory <mallory@attacker.example>\r\nTo: support@example.com\r\n\
         Date: Mon, 16 Nov 2026 09:00:00 +0000\r\nMessage-ID: <{id}@attacker.example>\r\n\
         Subject: {subject}\r\nMIME-Version: 1.0\r\n"
    )
}

fn re_subject(id: &str) -> Vec<u8> {
    let mut raw = head(&format!("{}Printer", "Re: ".repeat(1_000_000)), id);
    raw.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\nThe printer again.\r\n");
    raw.into_bytes()
}

/// 4.5 million distinct ten-letter words: 49.5 MB of subject, under the 50 MiB default.
fn distinct_words() -> Vec<u8> {
    const WORDS: usize = 4_500_000;
    let mut subject = String::with_capacity(WORDS * 11);
    for n in 0..WORDS {
        let mut word = [b'a'; 10];
        let mut rest = n;
        for place in word.iter_mut().rev() {
            *place = b'a' + (rest % 26) as u8;
            rest /= 26;
        }
        subject.push_str(std::str::from_utf8(&word).unwrap());
        subject.push(' ');
    }
    let mut raw = head(subject.trim_end(), "words");
    raw.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n");
    raw.into_bytes()
}

/// 39 MB: 2 MB of text and a 37 MB base64 attachment (27.7 MB decoded).
fn large_mail() -> Vec<u8> {
    let mut raw = head("Scans of the contract", "large");
    raw.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n");
    raw.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    let line = "Please find the scans attached; every page is signed and dated.\r\n";
    while raw.len() < 2_000_000 {
        raw.push_str(line);
    }
    raw.push_str("--b\r\nContent-Type: application/pdf; name=\"scans.pdf\"\r\n");
    raw.push_str("Content-Disposition: attachment; filename=\"scans.pdf\"\r\n");
    raw.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u32 = 0x9e37_79b9;
    let mut encoded = String::with_capacity(38_000_000);
    while raw.len() + encoded.len() < 39_000_000 {
        for _ in 0..76 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            encoded.push(ALPHABET[(state % 64) as usize] as char);
        }
        encoded.push_str("\r\n");
    }
    raw.push_str(&encoded);
    raw.push_str("--b--\r\n");
    raw.into_bytes()
}

fn incoming(raw: Vec<u8>, n: usize) -> Incoming {
    Incoming {
        raw,
        origin: Origin {
            mailbox: Some("support".into()),
            location: format!("bench:{n}"),
            imap: None,
            sent: false,
        },
    }
}

/// Ingests the batch into a fresh database, then computes and renders the report over it.
fn run(name: &str, batch: Vec<Incoming>) {
    let bytes: usize = batch.iter().map(|m| m.raw.len()).sum();
    let messages = batch.len();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::builtin();
    config.database = dir.path().join("hostile.db");
    let clock = SystemClock;
    let ingester = Ingester {
        config: &config,
        clock: &clock,
    };
    let whole_process = status_kib("self", "VmHWM:");
    let baseline = status_kib("self", "VmRSS:");
    reset_peak();
    let start = Instant::now();
    let mut store = Store::open(&config.database, None).unwrap();
    let mut summary = Summary::default();
    ingester
        .ingest_batch(&mut store, &batch, &mut summary)
        .unwrap();
    let ingested = start.elapsed();
    drop(batch);
    let now = jiff::Timestamp::now().as_second();
    let report = report::compute(
        store.connection(),
        &config,
        &Params {
            since: 0,
            until: now + 86_400,
            now,
            queue: None,
        },
    )
    .unwrap();
    let tz = &config.calendar.timezone;
    let text = report::text::render(&report, tz);
    let html = report::html::render(&report, tz);
    let total = start.elapsed();
    let peak = status_kib("self", "VmHWM:");
    let mut line = String::new();
    let _ = write!(
        line,
        "{name}: {:.1} MB in {} message(s); ingest {:.2} s, report {:.2} s, in all {:.2} s; \
         peak RSS {:.1} MB ({:.1} MB above the {:.1} MB held before the ingest, which is \
         mostly the mail itself; {:.1} MB while the mail was built); \
         report text {} B, html {} B; {} ingested, {} unparsed",
        bytes as f64 / 1e6,
        messages,
        ingested.as_secs_f64(),
        (total - ingested).as_secs_f64(),
        total.as_secs_f64(),
        peak as f64 / 1024.0,
        peak.saturating_sub(baseline) as f64 / 1024.0,
        baseline as f64 / 1024.0,
        whole_process as f64 / 1024.0,
        text.len(),
        html.len(),
        summary.ingested,
        summary.quarantined,
    );
    println!("{line}");
}

/// The cases, by the name given to the process that runs one.
const CASES: [&str; 4] = ["re-subject", "distinct-words", "39mb", "imap-batch"];

/// Each case runs in a process of its own, so that its peak is its own.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(case) = args
        .iter()
        .position(|a| a == "--case")
        .and_then(|i| args.get(i + 1))
    {
        run_case(case);
        return;
    }
    let me = std::env::current_exe().unwrap();
    for case in CASES {
        let status = std::process::Command::new(&me)
            .args(["--case", case])
            .status()
            .unwrap();
        assert!(status.success(), "case {case}: {status}");
    }
}

fn run_case(case: &str) {
    match case {
        "re-subject" => run(
            "4 MB subject of Re: x 1,000,000",
            vec![incoming(re_subject("re"), 0)],
        ),
        "distinct-words" => run(
            "subject of 4.5M distinct words (49.5 MB)",
            vec![incoming(distinct_words(), 0)],
        ),
        "39mb" => run(
            "39 MB mail with attachment",
            vec![incoming(large_mail(), 0)],
        ),
        "imap-batch" => run(
            "IMAP-sized batch: 16 x 4 MB Re: subjects (64 MiB)",
            (0..16)
                .map(|n| incoming(re_subject(&format!("re{n}")), n))
                .collect(),
        ),
        other => panic!("no case {other}; cases: {CASES:?}"),
    }
}
