//! postdesk: support mailboxes → tickets, queues, acknowledgements and response targets.
//!
//! Floors, bottom up; each module imports only those below it (`tests/layers.rs`):
//! `clock`, `secret`, `config` → `ingest` (the pure core), `sla`, `text` → `store`, `smtp`,
//! `report`, `compose` → `runtime` → `sources` → `daemon` → `cli`.
//!
//! A message goes `sources` → `runtime::filing` → `store::file` (`ingest::prepare`, then
//! `ingest::decide`, then `store::apply`) → outbox rows, which `daemon::outbox` sends through
//! `compose` and `smtp`.

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
pub mod web;
