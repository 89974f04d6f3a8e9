//! The one ingest pipeline, whatever the source: parse → deduplicate → classify → route →
//! thread → decide. [`prepare`] needs no store (bytes + config → a [`Prepared`] message), so
//! batches are prepared on every core; [`decide`] is pure (prepared message + config + store
//! lookups → a [`Decision`]); the store's filing edge (`store::file::Ingester`) applies
//! decisions in batched transactions. No I/O and no database here: the store is reached
//! through [`Lookup`] only.

pub mod ack;
pub mod address;
pub mod agent;
pub mod authres;
pub mod bounce;
pub mod classify;
pub mod decide;
pub mod decision;
pub mod language;
pub mod outbox_mail;
pub mod parse;
pub mod prepare;
pub mod route;
pub mod subject;
pub mod thanks;
pub mod thread;

pub use decide::decide;
pub use decision::*;
pub use outbox_mail::{Digest, DigestTicket, OutboxMail};
pub use prepare::{Prepared, prepare};
