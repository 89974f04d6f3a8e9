//! The ingest pipeline with the checks that must hold for *any* input, shared by the fuzz
//! target (fuzz/fuzz_targets/pipeline.rs), the fuzz findings' regression test and the
//! hostile-input tests.
//!
//! Two desks: the fixtures config as it is (observe queues), and the same with the billing
//! queue relaying to its agents and the support address in a domain of its own
//! (`support@desk.example`), so that the corpus's example.com senders are customers. Each is seeded once with the fixtures mail and a relay
//! conversation, under a fixed reply-token key and a manual clock. [`CheckedDesks::file`]
//! puts one message through both desks, each in a transaction that is rolled back at the
//! end, so every message meets the same store and a finding reproduces from its bytes alone.
//!
//! What is checked (a violation panics, naming the property):
//! 0. nothing panicked on the way, not even a panic the pipeline caught and turned into a
//!    quarantine (the fuzz target aborts on any panic anyway; the tests count them);
//! 1. the message is filed: stored (parsed or quarantined as unparsed), a duplicate, or
//!    left alone as sent mail; never a store error;
//! 2. what was stored reads back as `postdesk ticket --json` shows it;
//! 3. every text taken from a header (subjects, names, addresses, Message-IDs) is one line
//!    without control characters;
//! 4. an unparsed message makes a `new`, `unparsed` ticket with a warning event and no
//!    outgoing mail;
//! 5. every mail this message causes (acknowledgement, relay forward, relayed answer,
//!    notice to an agent) renders through the real outbox into a header block of only the
//!    headers postdesk writes, each once, CRLF-terminated: nothing in the input can add a
//!    header.
#![allow(dead_code)] // the fuzz target and each test binary use different parts

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Once;

use jiff::Timestamp;
use postdesk::clock::{Clock, ManualClock};
use postdesk::compose::formatted_mail;
use postdesk::config::Config;
use postdesk::ingest::Origin;
use postdesk::store::outbox::due_mail;
use postdesk::store::views::{self, TicketDetail};
use postdesk::store::{self, Store};
use postdesk::store::{Filed, Incoming, Ingester, Summary};
use postdesk::text::templates::Templates;

/// The headers postdesk writes on outgoing mail; anything else in a header block was
/// injected.
pub const OUTGOING_HEADERS: &[&str] = &[
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "x-postdesk-loop",
    "auto-submitted",
    "x-auto-response-suppress",
];

/// The moment every message is filed at: early, so that no Date in the input makes the
/// message backlog (which is never acknowledged) and every request reaches the outgoing
/// side.
pub const NOW: &str = "2000-01-03T09:00:00Z";
/// The key reply tokens are made with, so that seeds can carry valid tokens.
const TOKEN_KEY: &[u8] = b"postdesk checked pipeline token key";

/// A path in the repository (the fuzz crate is built from `fuzz/`, the tests from the root).
fn repo_path(relative: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("fixtures/postdesk.toml").is_file())
        .unwrap_or(manifest)
        .join(relative)
}

/// The relay conversation every relay desk starts with: Alice's billing request, ticket
/// `#1019` after the fixtures' 19 tickets, which relay mode forwards to the billing agents.
/// The relay seeds in fuzz/seeds carry its agent token (`support+a.`) or its customer reply
/// token (`support+t.`), valid under [`TOKEN_KEY`].
pub const RELAY_REQUEST: &str = "From: Alice Martin <alice@customer.example>\r\n\
To: support@example.com\r\n\
Subject: Refund for invoice 2211\r\n\
Message-ID: <refund-1@customer.example>\r\n\
Date: Tue, 17 Nov 2026 10:05:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
Hello, I was charged twice for invoice 2211. Please refund one payment.\r\n";

/// One desk: config, seeded store, clock and templates.
pub struct CheckedDesk {
    pub name: &'static str,
    pub config: Config,
    pub store: Store,
    pub clock: ManualClock,
    pub templates: Templates,
    _dir: tempfile::TempDir,
}

/// What one message did in one desk (everything was rolled back afterwards).
#[derive(Debug)]
pub struct Filing {
    pub desk: &'static str,
    pub filed: Filed,
    /// The ticket as `postdesk ticket --json` would show it, when the message was stored.
    pub ticket: Option<TicketDetail>,
    /// Every mail row the message caused: (kind, the formatted mail or why it would not go
    /// out).
    pub mails: Vec<(String, Result<Vec<u8>, String>)>,
}

impl CheckedDesk {
    fn new(name: &'static str, config_text: &str) -> CheckedDesk {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("token.key");
        std::fs::write(&key, TOKEN_KEY).expect("write the token key");
        let mut config = Config::from_toml(config_text, &repo_path("fixtures/postdesk.toml"))
            .expect("the fixtures config");
        config.database = dir.path().join("postdesk.db");
        let store = Store::open(&config.database, Some(&key)).expect("open the store");
        let mut desk = CheckedDesk {
            name,
            config,
            store,
            clock: ManualClock::new(NOW.parse::<Timestamp>().unwrap()),
            templates: Templates::load(None).expect("built-in templates"),
            _dir: dir,
        };
        desk.seed();
        desk
    }

    /// Files the fixtures mail and the relay request for good.
    fn seed(&mut self) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo_path("fixtures/mail"))
            .expect("fixtures/mail")
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mut batch: Vec<Incoming> = files
            .iter()
            .map(|f| incoming(&std::fs::read(f).unwrap()))
            .collect();
        batch.push(incoming(RELAY_REQUEST.as_bytes()));
        let ingester = Ingester {
            config: &self.config,
            clock: &self.clock,
        };
        let filed = ingester
            .ingest_batch(&mut self.store, &batch, &mut Summary::default())
            .expect("seed the store");
        assert!(
            filed.iter().all(|f| !matches!(f, Filed::Failed(_))),
            "seeding failed: {filed:?}"
        );
    }

    /// Files `raw`, checks every property, rolls everything back.
    pub fn file(&mut self, raw: &[u8]) -> Filing {
        let ingester = Ingester {
            config: &self.config,
            clock: &self.clock,
        };
        let (config, templates, name) = (&self.config, &self.templates, self.name);
        let now = self.clock.now();
        let last_row: i64 = self
            .store
            .connection()
            .query_row("SELECT coalesce(max(id), 0) FROM outbox", [], |r| r.get(0))
            .unwrap();
        let mut filing = None;
        let result = ingester.ingest_batch_then(
            &mut self.store,
            &[incoming(raw)],
            &mut Summary::default(),
            |conn, filed| {
                filing = Some(check(conn, config, templates, name, now, last_row, filed));
                // Never commit: the next message meets the same seeded store.
                Err(rusqlite::Error::InvalidQuery)
            },
        );
        assert!(result.is_err(), "the rollback was not taken");
        filing.expect("the batch reached its end")
    }
}

/// The observe desk and the relay desk.
pub struct CheckedDesks {
    pub observe: CheckedDesk,
    pub relay: CheckedDesk,
}

impl CheckedDesks {
    pub fn new() -> CheckedDesks {
        let text = std::fs::read_to_string(repo_path("fixtures/postdesk.toml")).unwrap();
        // The relay desk also has an address of its own domain, so that mail from
        // example.com (most of the corpus) is a customer's and gets acknowledged.
        let relay_text = text
            .replace(
                "mode = \"observe\"                 # agents answer from their own client; postdesk watches",
                "mode = \"relay\"",
            )
            .replace(
                "address = \"support@example.com\"",
                "address = \"support@desk.example\"",
            );
        assert!(
            relay_text.contains("mode = \"relay\"")
                && relay_text.contains("address = \"support@desk.example\""),
            "fixtures/postdesk.toml changed: the billing queue's mode or the mailbox address \
             was not found"
        );
        CheckedDesks {
            observe: CheckedDesk::new("observe", &text),
            relay: CheckedDesk::new("relay", &relay_text),
        }
    }

    /// Files `raw` in both desks; panics if any property breaks.
    pub fn file(&mut self, raw: &[u8]) -> [Filing; 2] {
        count_panics();
        let before = PANICS.get();
        let filings = [self.observe.file(raw), self.relay.file(raw)];
        assert_eq!(
            PANICS.get(),
            before,
            "property 0: something panicked while filing (see the message above), though the \
             pipeline carried on"
        );
        filings
    }
}

thread_local! {
    /// Panics on this thread so far, caught or not.
    static PANICS: Cell<u64> = const { Cell::new(0) };
}

/// Installs, once, a panic hook that counts panics per thread before the usual report.
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.set(PANICS.get() + 1);
            previous(info);
        }));
    });
}

fn incoming(raw: &[u8]) -> Incoming {
    Incoming {
        raw: raw.to_vec(),
        origin: Origin {
            mailbox: Some("support".into()),
            location: "checked".into(),
            imap: None,
            sent: false,
        },
    }
}

fn check(
    conn: &rusqlite::Connection,
    config: &Config,
    templates: &Templates,
    desk: &'static str,
    now: Timestamp,
    last_row: i64,
    filed: &[Filed],
) -> Filing {
    let [filed] = filed else {
        panic!("[{desk}] one message in, {} results out", filed.len())
    };
    // 1. filed
    let ticket = match filed {
        Filed::Failed(error) => panic!("[{desk}] property 1: the message was not stored: {error}"),
        Filed::NotATicket(_) => None,
        Filed::Duplicate(ticket) | Filed::Stored { ticket, .. } => Some(*ticket),
    };
    // 2. readable
    let detail = ticket.map(|ticket| {
        let detail = views::ticket_detail(conn, store::reference(ticket))
            .unwrap_or_else(|e| panic!("[{desk}] property 2: ticket {ticket} unreadable: {e}"))
            .unwrap_or_else(|| panic!("[{desk}] property 2: ticket {ticket} not found"));
        serde_json::to_string(&detail)
            .unwrap_or_else(|e| panic!("[{desk}] property 2: ticket JSON: {e}"));
        detail
    });
    // 3. one line
    if let Some(detail) = &detail {
        let t = &detail.ticket;
        let mut fields: Vec<(&str, &str)> = vec![
            ("ticket subject", &t.subject),
            ("ticket customer", &t.customer),
        ];
        if let Some(name) = &t.customer_name {
            fields.push(("ticket customer_name", name));
        }
        for m in &detail.messages {
            fields.push(("message subject", &m.subject));
            for (what, value) in [
                ("message from", &m.from),
                ("message from_name", &m.from_name),
                ("message_id", &m.message_id),
            ] {
                if let Some(v) = value {
                    fields.push((what, v));
                }
            }
            fields.extend(m.to.iter().map(|a| ("message to", a.as_str())));
            fields.extend(m.cc.iter().map(|a| ("message cc", a.as_str())));
            fields.extend(
                m.attachments
                    .iter()
                    .filter_map(|a| Some(("attachment name", a.name.as_deref()?))),
            );
        }
        for (what, value) in fields {
            assert!(
                !value.chars().any(char::is_control),
                "[{desk}] property 3: {what} {value:?} holds a control character"
            );
        }
    }
    // 5. outgoing mail (rows of this message: ids above the seeded ones)
    let jobs = due_mail(conn, i64::MAX, 10_000).expect("outbox rows");
    let mut mails = Vec::new();
    for job in jobs.into_iter().filter(|j| j.id > last_row) {
        let rendered = formatted_mail(conn, config, templates, &job, now)
            .unwrap_or_else(|e| panic!("[{desk}] property 5: {} row: {e}", job.kind));
        match &rendered {
            Ok(bytes) => check_header_block(desk, &job.kind, bytes),
            Err(reason) => assert!(
                !reason.trim().is_empty(),
                "[{desk}] property 5: {} row not sent, without a reason",
                job.kind
            ),
        }
        mails.push((job.kind.clone(), rendered));
    }
    // 4. quarantine
    if let Filed::Stored { unparsed: true, .. } = filed {
        let detail = detail.as_ref().unwrap();
        assert!(
            detail.ticket.unparsed,
            "[{desk}] property 4: not flagged unparsed"
        );
        assert_eq!(detail.ticket.status, "new", "[{desk}] property 4: status");
        assert!(
            detail.events.iter().any(|e| e.kind == "warning"),
            "[{desk}] property 4: no warning event"
        );
        assert!(
            mails.is_empty(),
            "[{desk}] property 4: an unparsed message caused mail: {:?}",
            mails.iter().map(|m| &m.0).collect::<Vec<_>>()
        );
    }
    Filing {
        desk,
        filed: clone_filed(filed),
        ticket: detail,
        mails,
    }
}

fn clone_filed(filed: &Filed) -> Filed {
    match filed {
        Filed::Stored {
            ticket,
            new_ticket,
            kind,
            unparsed,
        } => Filed::Stored {
            ticket: *ticket,
            new_ticket: *new_ticket,
            kind: *kind,
            unparsed: *unparsed,
        },
        Filed::Duplicate(t) => Filed::Duplicate(*t),
        Filed::NotATicket(r) => Filed::NotATicket(r),
        Filed::Failed(_) => unreachable!("checked above"),
    }
}

/// Property 5 on one formatted mail: CRLF lines, only [`OUTGOING_HEADERS`], each once.
pub fn check_header_block(desk: &str, kind: &str, mail: &[u8]) {
    let end = mail
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("[{desk}] property 5: {kind} mail without a header end"));
    let head = &mail[..end];
    let text = String::from_utf8_lossy(head);
    let mut seen: Vec<String> = Vec::new();
    for line in text.split("\r\n") {
        assert!(
            !line.contains(['\r', '\n', '\0']),
            "[{desk}] property 5: {kind} header line with a bare CR, LF or NUL: {line:?}"
        );
        if line.starts_with([' ', '\t']) {
            assert!(
                !seen.is_empty(),
                "[{desk}] property 5: {kind} mail starts with a continuation line"
            );
            continue;
        }
        let name = line
            .split_once(':')
            .map(|(n, _)| n.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("[{desk}] property 5: {kind} header line {line:?}"));
        assert!(
            OUTGOING_HEADERS.contains(&name.as_str()),
            "[{desk}] property 5: {kind} mail has an injected header {line:?}\n{text}"
        );
        assert!(
            !seen.contains(&name),
            "[{desk}] property 5: {kind} mail has {name} twice\n{text}"
        );
        seen.push(name);
    }
}
