//! `postdesk tickets`: listings read in pages by keyset (never OFFSET), row by row.
//!
//! Two orders. *Most urgent first* (the default): breached tickets, then the nearest due,
//! then the oldest, each status read from the `tickets_listing` index in that order (one
//! statement per status, merged by SQLite from at most `limit + 1` rows each). *Oldest
//! first* (`--all`): by ticket number. A page ends with a [`Cursor`] naming the last row's
//! place in the order; the next page starts strictly after it, so tickets filed meanwhile
//! take their own place and none already listed comes again.

use std::fmt;

use rusqlite::{Connection, ToSql};

use super::views::{TICKET_COLUMNS, TicketView};

/// The statuses a desk still has to act on: `open` on the command line.
pub const OPEN: [&str; 3] = ["new", "acknowledged", "pending"];

/// Every status, in the order the command line names them.
pub const STATUSES: [&str; 6] = [
    "new",
    "acknowledged",
    "answered",
    "pending",
    "closed",
    "ignored",
];

/// Stands in for "no due time" in the urgency key (`listing_due`): undated tickets come
/// after dated ones.
#[cfg(test)]
const NO_DUE: i64 = i64::MAX;

/// The urgency key: the columns of the `tickets_listing` index after `status`.
const URGENCY: &str = "listing_unbreached, listing_due, created_at, id";

/// The two computed keys, selected beside the ticket's columns.
const URGENCY_KEY: &str = "listing_unbreached, listing_due";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Breached first, then nearest due, then oldest.
    Urgent,
    /// By ticket number (`--all`).
    Oldest,
}

/// Where a page ended: the last row's key in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// `(listing_unbreached, listing_due, created_at, id)`: 0 when breached, the due time
    /// or `i64::MAX`.
    Urgent([i64; 4]),
    Oldest(i64),
}

impl Cursor {
    fn order(self) -> Order {
        match self {
            Cursor::Urgent(_) => Order::Urgent,
            Cursor::Oldest(_) => Order::Oldest,
        }
    }

    /// Parses what [`Cursor`]'s `Display` wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        let hex = |part: &str| {
            (!part.is_empty() && part.len() <= 16)
                .then(|| u64::from_str_radix(part, 16).ok())
                .flatten()
                .and_then(|n| i64::try_from(n).ok())
        };
        if let Some(id) = text.strip_prefix("a") {
            return hex(id).map(Cursor::Oldest);
        }
        let rest = text.strip_prefix("u")?;
        let mut key = [0; 4];
        let mut parts = rest.split('-');
        for slot in &mut key {
            *slot = hex(parts.next()?)?;
        }
        (parts.next().is_none() && key[0] <= 1).then_some(Cursor::Urgent(key))
    }
}

/// Short, shell-safe, and not meant to be read: `u0-6957…-69558f00-40e`, `a40e`.
impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cursor::Urgent([a, b, c, d]) => write!(f, "u{a:x}-{b:x}-{c:x}-{d:x}"),
            Cursor::Oldest(id) => write!(f, "a{id:x}"),
        }
    }
}

/// What to list.
#[derive(Debug, Clone)]
pub struct Listing {
    pub queue: Option<String>,
    /// Statuses as stored (`new`, …); each at most once.
    pub statuses: Vec<&'static str>,
    pub breached: bool,
    pub order: Order,
    /// At most this many rows; `None` for all (oldest first only).
    pub limit: Option<usize>,
    pub after: Option<Cursor>,
}

/// The after-cursor of another order: a usage mistake, said by the caller.
#[derive(Debug, thiserror::Error)]
#[error("the cursor is from a listing in another order")]
pub struct OtherOrder;

/// One listed ticket; `next` on the last row of a page when more follow.
pub struct Listed {
    pub ticket: TicketView,
    pub next: Option<Cursor>,
}

/// Calls `each` with every ticket of `listing`, in its order, as SQLite returns them (one
/// row held back, to tell the last of a page that more follow). Returns how many.
pub fn list<E>(
    conn: &Connection,
    listing: &Listing,
    mut each: impl FnMut(Listed) -> Result<(), E>,
) -> Result<usize, E>
where
    E: From<rusqlite::Error> + From<OtherOrder>,
{
    if listing.after.is_some_and(|c| c.order() != listing.order) {
        return Err(OtherOrder.into());
    }
    let (sql, values) = statement(listing);
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
    let mut rows = stmt.query(params.as_slice())?;
    let mut held: Option<(TicketView, Cursor)> = None;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let ticket = TicketView::from_row(row)?;
        let key = match listing.order {
            Order::Urgent => Cursor::Urgent([
                row.get("listing_unbreached")?,
                row.get("listing_due")?,
                row.get("created_at")?,
                row.get("id")?,
            ]),
            Order::Oldest => Cursor::Oldest(row.get("id")?),
        };
        if listing.limit == Some(count) {
            // One more than asked for: the held row ends the page.
            if let Some((ticket, at)) = held.take() {
                each(Listed {
                    ticket,
                    next: Some(at),
                })?;
            }
            return Ok(count);
        }
        if let Some((ticket, _)) = held.replace((ticket, key)) {
            each(Listed { ticket, next: None })?;
        }
        count += 1;
    }
    if let Some((ticket, _)) = held {
        each(Listed { ticket, next: None })?;
    }
    Ok(count)
}

/// A value bound to the statement.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i64),
    Text(String),
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Value::Int(n) => n.to_sql(),
            Value::Text(s) => s.to_sql(),
        }
    }
}

/// The listing's SQL and its values, in the order of their `?`.
fn statement(listing: &Listing) -> (String, Vec<Value>) {
    let mut values = Vec::new();
    let mut filters = String::new();
    if let Some(queue) = &listing.queue {
        filters.push_str(" AND queue = ?");
        values.push(Value::Text(queue.clone()));
    }
    if listing.breached {
        // As the index has it, so that only its breached part is read.
        filters.push_str(" AND listing_unbreached = 0");
    }
    let limit = listing
        .limit
        .map(|n| i64::try_from(n).unwrap_or(i64::MAX - 1) + 1);
    match listing.order {
        Order::Oldest => oldest(listing, filters, values, limit),
        Order::Urgent => urgent(listing, &filters, &values, limit.unwrap_or(i64::MAX)),
    }
}

fn oldest(
    listing: &Listing,
    mut filters: String,
    mut values: Vec<Value>,
    limit: Option<i64>,
) -> (String, Vec<Value>) {
    if listing.statuses.len() < STATUSES.len() {
        let marks = vec!["?"; listing.statuses.len()].join(", ");
        filters.push_str(&format!(" AND status IN ({marks})"));
        values.extend(listing.statuses.iter().map(|s| Value::Text(s.to_string())));
    }
    if let Some(Cursor::Oldest(id)) = listing.after {
        filters.push_str(" AND id > ?");
        values.push(Value::Int(id));
    }
    let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE 1{filters} ORDER BY id");
    if let Some(limit) = limit {
        sql.push_str(" LIMIT ?");
        values.push(Value::Int(limit));
    }
    (sql, values)
}

/// One ordered, limited read of the index per status; SQLite sorts what they return.
fn urgent(listing: &Listing, filters: &str, shared: &[Value], limit: i64) -> (String, Vec<Value>) {
    let (after, key) = match listing.after {
        Some(Cursor::Urgent(key)) => (
            format!(" AND ({URGENCY}) > (?, ?, ?, ?)"),
            key.map(Value::Int).to_vec(),
        ),
        _ => (String::new(), Vec::new()),
    };
    let mut values = Vec::new();
    let mut parts = Vec::new();
    for status in &listing.statuses {
        values.push(Value::Text(status.to_string()));
        values.extend(shared.iter().cloned());
        values.extend(key.iter().cloned());
        parts.push(format!(
            "SELECT * FROM (SELECT {TICKET_COLUMNS}, {URGENCY_KEY} FROM tickets
             WHERE status = ?{filters}{after} ORDER BY {URGENCY} LIMIT {limit})"
        ));
    }
    let sql = format!(
        "{} ORDER BY listing_unbreached, listing_due, created_at, id LIMIT {limit}",
        parts.join(" UNION ALL ")
    );
    (sql, values)
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
