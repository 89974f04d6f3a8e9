//! Words and times for people: how instants are written in events, mail and reports.
//! Pure and shared by every floor above `config`.

pub mod time;
