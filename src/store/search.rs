//! `postdesk search QUERY`: what a phone agent asks first — did this caller's mail arrive?
//! A ticket reference or an address is looked up directly; anything else goes to the
//! full-text index over subjects and bodies (FTS5, ranked by bm25, with a snippet). The
//! user's words are quoted as FTS5 strings, so no query syntax of theirs is ever an error.

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

#[cfg(test)]
mod tests {
    use super::fts_query;

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
