//! A postdesk instance for pipeline tests: the fixtures config, a fresh database in a temp
//! dir, and a manual clock.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use postdesk::clock::ManualClock;
use postdesk::config::Config;
use postdesk::ingest::Origin;
use postdesk::store::views::{self, TicketDetail};
use postdesk::store::{self, Store};
use postdesk::store::{Filed, Incoming, Ingester, Summary};

/// Every file under `dir`, in every subfolder (in no particular order).
pub fn collect_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect_files(&path, into);
        } else {
            into.push(path);
        }
    }
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(&format!("mail/{name}")))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub struct Desk {
    pub config: Config,
    pub store: Store,
    pub clock: ManualClock,
    pub summary: Summary,
    _dir: tempfile::TempDir,
}

impl Desk {
    pub fn new() -> Desk {
        Desk::with_config(Config::load(&fixture_path("postdesk.toml")).unwrap())
    }

    pub fn with_config(mut config: Config) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        config.database = dir.path().join("postdesk.db");
        let store = Store::open(&config.database, None).unwrap();
        Desk {
            config,
            store,
            clock: ManualClock::new("2026-11-16T08:00:00Z".parse::<Timestamp>().unwrap()),
            summary: Summary::default(),
            _dir: dir,
        }
    }

    /// Ingests one message; returns the public reference of its ticket.
    pub fn ingest(&mut self, raw: &[u8]) -> i64 {
        match self.ingest_filed(raw) {
            Filed::Stored { ticket, .. } | Filed::Duplicate(ticket) => store::reference(ticket),
            Filed::NotATicket(reason) => panic!("message not filed: {reason}"),
            Filed::Failed(e) => panic!("message not stored: {e}"),
        }
    }

    pub fn ingest_filed(&mut self, raw: &[u8]) -> Filed {
        self.ingest_from(raw, false)
    }

    /// As if read from the mailbox's Sent folder.
    pub fn ingest_sent(&mut self, raw: &[u8]) -> Filed {
        self.ingest_from(raw, true)
    }

    fn ingest_from(&mut self, raw: &[u8], sent: bool) -> Filed {
        let ingester = Ingester {
            config: &self.config,
            clock: &self.clock,
        };
        let batch = [Incoming {
            raw: raw.to_vec(),
            origin: Origin {
                mailbox: Some("support".into()),
                location: "test".into(),
                imap: None,
                sent,
            },
        }];
        let mut filed = ingester
            .ingest_batch(&mut self.store, &batch, &mut self.summary)
            .unwrap();
        filed.pop().unwrap()
    }

    /// Ingests messages in one batch (one transaction).
    pub fn ingest_batch(&mut self, raws: &[Vec<u8>]) -> Vec<Filed> {
        let ingester = Ingester {
            config: &self.config,
            clock: &self.clock,
        };
        let batch: Vec<Incoming> = raws
            .iter()
            .enumerate()
            .map(|(n, raw)| Incoming {
                raw: raw.clone(),
                origin: Origin {
                    mailbox: Some("support".into()),
                    location: format!("test:{n}"),
                    imap: None,
                    sent: false,
                },
            })
            .collect();
        ingester
            .ingest_batch(&mut self.store, &batch, &mut self.summary)
            .unwrap()
    }

    pub fn ingest_fixture(&mut self, name: &str) -> i64 {
        self.ingest(&fixture(name))
    }

    pub fn ticket(&self, reference: i64) -> TicketDetail {
        views::ticket_detail(self.store.connection(), reference)
            .unwrap()
            .unwrap_or_else(|| panic!("no ticket #{reference}"))
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.store
            .connection()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    pub fn event_types(&self, reference: i64) -> Vec<String> {
        self.ticket(reference)
            .events
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    pub fn pending_acks(&self, reference: i64) -> i64 {
        self.store
            .connection()
            .query_row(
                "SELECT count(*) FROM outbox WHERE kind = 'acknowledgement' AND status = 'pending' AND ticket_id = ?1",
                [store::ticket_of_reference(reference)],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// The agents' command token of a ticket (what relay forwards carry in `support+a.`).
    pub fn agent_token(&self, reference: i64) -> String {
        store::agent_token(
            self.store.token_key(),
            store::ticket_of_reference(reference),
        )
    }

    pub fn token(&self, reference: i64) -> String {
        self.store
            .connection()
            .query_row(
                "SELECT token FROM tickets WHERE id = ?1",
                [store::ticket_of_reference(reference)],
                |r| r.get(0),
            )
            .unwrap()
    }
}

/// A plain customer message built in the test.
pub fn mail(from: &str, subject: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let id = format!("m{}@test.example", NEXT.fetch_add(1, Ordering::Relaxed));
    format!(
        "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\nDate: Tue, 17 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}
