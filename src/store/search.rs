//! `postdesk search QUERY`: what a phone agent asks first — did this caller's mail arrive?
//! A ticket reference or an address is looked up directly; anything else goes to the
//! full-text index over subjects and bodies (FTS5, ranked by bm25, with a snippet). The
//! user's words are quoted as FTS5 strings, so no query syntax of theirs is ever an error.
//!
//! A phone number matches however it is written: the numbers found in messages are kept
//! as digits (leading zeros dropped), reversed, in `message_phones`, and a query of 7 to 15
//! digits in any format (`+49 30 5550123`, `030/555 01 23`) finds the numbers that end
//! with its digits or that its digits end with: the country or trunk prefix may differ.

use std::sync::LazyLock;

use regex::Regex;
use rusqlite::{Connection, params};
use serde::Serialize;

use super::views::rfc3339;
use crate::ingest::{REF_OFFSET, ticket_of_reference};

/// At most this many hits are shown.
pub const MAX_HITS: usize = 50;
/// Words of a query passed to the index; the rest are dropped.
const MAX_TERMS: usize = 16;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    #[serde(rename = "ref")]
    pub reference: i64,
    pub status: String,
    pub customer: String,
    pub subject: String,
    /// When the matching message arrived.
    pub received_at: String,
    /// The matching text around the query's words, `[` and `]` marking them.
    pub snippet: String,
}

/// Tickets matching `query`, best first, at most `limit` (≤ [`MAX_HITS`]).
pub fn search(conn: &Connection, query: &str, limit: usize) -> rusqlite::Result<Vec<Hit>> {
    let limit = limit.clamp(1, MAX_HITS) as i64;
    let query = query.trim();
    let by_ref = query
        .trim_start_matches(['#', '['])
        .trim_end_matches(']')
        .parse::<i64>()
        .ok()
        .filter(|r| *r > REF_OFFSET);
    // A number is a ticket reference if that ticket exists, else words to look for (an
    // invoice number, an order number).
    if let Some(reference) = by_ref {
        let hits = direct(
            conn,
            "SELECT t.id, m.id FROM tickets t JOIN messages m ON m.ticket_id = t.id
             WHERE t.id = ?1 ORDER BY m.received_at DESC LIMIT 1",
            params![ticket_of_reference(reference)],
        )?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if query.contains('@') && !query.contains(char::is_whitespace) {
        let address = query.trim_matches(['<', '>']).to_lowercase();
        let hits = direct(
            conn,
            "SELECT ticket_id, max(id) FROM messages WHERE from_addr = ?1
             GROUP BY ticket_id ORDER BY max(received_at) DESC LIMIT ?2",
            params![address, limit],
        )?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if let Some(reversed) = phone_query(query) {
        let hits = by_phone(conn, &reversed, limit)?;
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    let Some(fts) = fts_query(query) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT m.ticket_id, m.id,
                snippet(messages_fts, -1, '[', ']', '…', 12)
         FROM messages_fts f JOIN messages m ON m.id = f.rowid
         WHERE messages_fts MATCH ?1
         ORDER BY bm25(messages_fts) LIMIT ?2",
    )?;
    let rows: Vec<(i64, i64, String)> = stmt
        .query_map(params![fts, limit * 4], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut hits: Vec<Hit> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (ticket, message, snippet) in rows {
        if hits.len() as i64 == limit {
            break;
        }
        if seen.insert(ticket) {
            hits.push(hit(conn, ticket, message, Some(snippet))?);
        }
    }
    Ok(hits)
}

/// Every word of the query as an FTS5 string (`"word"`), all required.
fn fts_query(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .take(MAX_TERMS)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn direct(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Hit>> {
    let rows: Vec<(i64, i64)> = conn
        .prepare(sql)?
        .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(ticket, message)| hit(conn, ticket, message, None))
        .collect()
}

fn hit(
    conn: &Connection,
    ticket: i64,
    message: i64,
    snippet: Option<String>,
) -> rusqlite::Result<Hit> {
    conn.query_row(
        "SELECT t.status, t.customer, t.subject, m.received_at, substr(m.text, 1, 160)
         FROM tickets t, messages m WHERE t.id = ?1 AND m.id = ?2",
        params![ticket, message],
        |r| {
            let text: String = r.get(4)?;
            Ok(Hit {
                reference: super::reference(ticket),
                status: r.get(0)?,
                customer: r.get(1)?,
                subject: r.get(2)?,
                received_at: rfc3339(r.get(3)?),
                snippet: snippet
                    .unwrap_or(text)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            })
        },
    )
}

/// Digits a phone number has at least and at most (E.164 allows 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;
/// Setting: the last message row whose phone numbers are in `message_phones`.
const PHONES_INDEXED: &str = "phones_indexed_through";

/// A number's digits without leading zeros, reversed; `None` unless 7 to 15 digits remain.
fn reversed_digits(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    PHONE_DIGITS
        .contains(&digits.len())
        .then(|| digits.chars().rev().collect())
}

/// The query as a phone number: only digits and the marks numbers are written with.
fn phone_query(query: &str) -> Option<String> {
    let plain = query
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()./".contains(c));
    if !plain {
        return None;
    }
    reversed_digits(query)
}

/// The phone numbers written in `text`, each as [`reversed_digits`].
pub fn phone_numbers(text: &str) -> Vec<String> {
    static PHONE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:\+|\b)\d[\d \t().\-/]{4,24}\d\b").expect("phone pattern is valid")
    });
    static DATE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})$")
            .expect("date pattern is valid")
    });
    let mut numbers: Vec<String> = PHONE
        .find_iter(text)
        .filter(|m| !DATE.is_match(m.as_str()))
        .filter_map(|m| reversed_digits(m.as_str()))
        .collect();
    numbers.sort();
    numbers.dedup();
    numbers
}

/// Adds the phone numbers of up to `max_rows` messages not yet read for them; returns how
/// many messages it read (0: all are indexed).
pub fn index_phones(conn: &Connection, max_rows: usize) -> rusqlite::Result<usize> {
    let through: i64 = conn.query_row(
        "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?1), 0)",
        [PHONES_INDEXED],
        |r| r.get(0),
    )?;
    let rows: Vec<(i64, String)> = conn
        .prepare_cached("SELECT id, text FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map(params![through, max_rows as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let Some((last, _)) = rows.last() else {
        return Ok(0);
    };
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO message_phones (reversed, message_id) VALUES (?1, ?2)",
    )?;
    for (id, text) in &rows {
        for number in phone_numbers(text) {
            insert.execute(params![number, id])?;
        }
    }
    conn.prepare_cached("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)")?
        .execute(params![PHONES_INDEXED, last])?;
    Ok(rows.len())
}

/// Tickets with a message whose number ends with the query's digits, or whose digits the
/// query ends with (at least 7 of them), newest first.
fn by_phone(conn: &Connection, reversed: &str, limit: i64) -> rusqlite::Result<Vec<Hit>> {
    // ':' sorts right after '9': [reversed, reversed:) is every number with this prefix.
    let upper = format!("{reversed}:");
    let prefixes: Vec<&str> = (*PHONE_DIGITS.start()..reversed.len())
        .map(|n| &reversed[..n])
        .collect();
    direct(
        conn,
        "SELECT m.ticket_id, max(m.id) FROM messages m
         WHERE m.id IN (SELECT message_id FROM message_phones
                        WHERE (reversed >= ?1 AND reversed < ?2)
                           OR reversed IN (SELECT value FROM json_each(?3)))
         GROUP BY m.ticket_id ORDER BY max(m.received_at) DESC LIMIT ?4",
        params![
            reversed,
            upper,
            serde_json::to_string(&prefixes).unwrap_or_else(|_| "[]".into()),
            limit
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::{fts_query, phone_numbers, phone_query};

    #[test]
    fn phone_numbers_are_digits_however_written() {
        let reversed = |s: &str| s.chars().rev().collect::<String>();
        assert_eq!(
            phone_numbers("Call me on +49 30 5550123 or (030) 555-0124, order 12 of 2026-03-02."),
            {
                let mut v = vec![reversed("49305550123"), reversed("305550124")];
                v.sort();
                v
            }
        );
        assert_eq!(phone_query("030 / 555 01 23"), Some(reversed("305550123")));
        assert_eq!(phone_query("+49-30-5550123"), Some(reversed("49305550123")));
        assert_eq!(phone_query("12345"), None, "too short for a phone number");
        assert_eq!(phone_query("Anna 5550123"), None, "words are words");
    }

    #[test]
    fn user_syntax_is_quoted_never_parsed() {
        assert_eq!(
            fts_query("refund NOT \"x\" OR *"),
            Some("\"refund\" \"NOT\" \"x\" \"OR\"".into())
        );
        assert_eq!(fts_query("  ** ()  "), None);
        assert_eq!(fts_query("Счёт 2211"), Some("\"Счёт\" \"2211\"".into()));
    }
}
