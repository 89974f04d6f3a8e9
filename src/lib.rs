//! postdesk: support mailboxes → tickets, queues, acknowledgements and response targets.
//!
//! A message goes `source` (or IMAP) → `ingest` (parse, classify, route, thread, decide) →
//! `store`; deadlines are computed by `sla` on the `config` calendar.

#![forbid(unsafe_code)]
// Mail decides the shape of most data here: an index or slice out of range must be a
// decision (skip, empty, keep), never a panic in a mailbox task. Tests may index.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod cli;
pub mod clock;
pub mod compose;
pub mod config;
pub mod daemon;
pub mod ingest;
pub mod private_files;
pub mod report;
pub mod runtime;
pub mod secret;
pub mod sla;
pub mod smtp;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod terminal;
pub mod text;
