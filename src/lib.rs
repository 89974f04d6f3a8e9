//! postdesk: support mailboxes → tickets, queues, acknowledgements and response targets.
//!
//! A message goes `source` (or IMAP) → `ingest` (parse, classify, route, thread, decide) →
//! `store`; deadlines are computed by `sla` on the `config` calendar.

#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod explain;
pub mod imap;
pub mod ingest;
pub mod maildir;
pub mod outbox;
pub mod private_files;
pub mod probe;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod sla;
pub mod smtp;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod terminal;
pub mod text;
