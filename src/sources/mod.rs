//! Where mail comes from: files (`.eml`, mbox, stdin) for `postdesk ingest`, a watched
//! Maildir, and IMAP mailboxes (IDLE). Each hands batches to the one filing edge
//! (`runtime::filing` → `store::file`), so every source files mail the same way.

pub mod files;
pub mod imap;
pub mod maildir;
