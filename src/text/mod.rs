//! Words and times for people: how instants are written in events, mail and reports, and the
//! texts of outgoing mail. Pure and shared by every floor above `config`.

pub mod locale;
pub mod templates;
pub mod time;
