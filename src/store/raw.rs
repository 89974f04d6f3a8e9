//! Each message exactly as it arrived, kept in `message_raw` apart from the hot message rows
//! that lookups, listings and reports read, and compressed with zstd unless that would not
//! make it smaller.

use std::cell::RefCell;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, params};

/// The bytes are stored as they arrived.
pub const CODEC_PLAIN: i64 = 0;
/// The bytes are one zstd frame.
pub const CODEC_ZSTD: i64 = 1;

/// zstd level for the stored mail. Measured on the benchmark mail, a message at a time
/// (`cargo bench --bench scale` prints the table): level 1 keeps it at 0.188 of its size at
/// 455 MB/s on one core, level 3 at 0.186 at 272 MB/s, level 19 at 0.182 at 10 MB/s. It runs
/// on the writer's critical path, so the fastest level wins.
pub const LEVEL: i32 = 1;

thread_local! {
    /// One compression context per thread, reused: creating one costs more than
    /// compressing a small message.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
}

/// The codec and bytes to store for `raw`: compressed when that is smaller.
pub fn encode(raw: &[u8]) -> std::io::Result<(i64, Vec<u8>)> {
    let compressed = COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some(zstd::bulk::Compressor::new(LEVEL)?);
        }
        cell.as_mut().expect("set above").compress(raw)
    })?;
    Ok(if compressed.len() < raw.len() {
        (CODEC_ZSTD, compressed)
    } else {
        (CODEC_PLAIN, raw.to_vec())
    })
}

/// The original bytes of a stored `(codec, bytes)` pair.
pub fn decode(codec: i64, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    match codec {
        CODEC_PLAIN => Ok(bytes),
        CODEC_ZSTD => zstd::stream::decode_all(bytes.as_slice()),
        other => Err(std::io::Error::other(format!(
            "stored with codec {other}, which this postdesk does not know: \
             was the database written by a newer release?"
        ))),
    }
}

/// Stores the original bytes of message row `message`.
pub fn insert(conn: &Connection, message: i64, raw: &[u8]) -> rusqlite::Result<()> {
    let (codec, bytes) =
        encode(raw).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.prepare_cached("INSERT INTO message_raw (message_id, codec, bytes) VALUES (?1, ?2, ?3)")?
        .execute(params![message, codec, bytes])?;
    Ok(())
}

/// The original bytes of message row `message`, or `None` when it has none stored.
pub fn read(conn: &Connection, message: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    let stored: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT codec, bytes FROM message_raw WHERE message_id = ?1")?
        .query_row([message], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    stored
        .map(|(codec, bytes)| {
            decode(codec, bytes)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, Type::Blob, Box::new(e)))
        })
        .transpose()
}

/// Messages moved per statement while converting a database that kept them in `messages`.
const MIGRATION_BATCH: i64 = 1_000;
/// Progress is logged every this many messages.
const MIGRATION_PROGRESS_EVERY: i64 = 20_000;

/// Schema step 7 on a database whose `messages` rows carry the raw bytes: moves them into
/// `message_raw`, compressed, in batches with progress logged, then drops the column. Runs
/// inside the migration's transaction: stopped half-way, nothing has changed and the next
/// start begins again.
pub fn move_out_of_messages(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    let total: i64 = tx.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
    if total > 0 {
        tracing::info!(
            messages = total,
            "moving the stored mail out of the message rows and compressing it; \
             this runs once, in one transaction, and can take a while on a large database"
        );
    }
    let mut select = tx
        .prepare("SELECT id, CAST(raw AS BLOB) FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let (mut after, mut moved, mut logged) = (0_i64, 0_i64, 0_i64);
    loop {
        let batch: Vec<(i64, Vec<u8>)> = select
            .query_map(params![after, MIGRATION_BATCH], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(&(last, _)) = batch.last() else {
            break;
        };
        for (id, raw) in &batch {
            insert(tx, *id, raw)?;
        }
        (after, moved) = (last, moved + batch.len() as i64);
        if moved - logged >= MIGRATION_PROGRESS_EVERY {
            logged = moved;
            tracing::info!(moved, of = total, "moving the stored mail");
        }
    }
    drop(select);
    tx.execute_batch("ALTER TABLE messages DROP COLUMN raw")?;
    if total > 0 {
        tracing::info!(
            moved,
            "the stored mail is in its own table; `postdesk db vacuum` (with the daemon \
             stopped) gives the space it left back to the file system"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_is_compressed_and_comes_back_exactly() {
        let raw = "From: a@b.example\r\nSubject: help\r\n\r\n".to_string()
            + &"The printer on the second floor is broken again.\r\n".repeat(40);
        let (codec, bytes) = encode(raw.as_bytes()).unwrap();
        assert_eq!(codec, CODEC_ZSTD);
        assert!(
            bytes.len() * 4 < raw.len(),
            "{} of {}",
            bytes.len(),
            raw.len()
        );
        assert_eq!(decode(codec, bytes).unwrap(), raw.as_bytes());
    }

    #[test]
    fn bytes_that_do_not_shrink_are_stored_as_they_are() {
        for raw in [&b""[..], b"x", &(0..=255u8).collect::<Vec<_>>()] {
            let (codec, bytes) = encode(raw).unwrap();
            assert_eq!((codec, bytes.as_slice()), (CODEC_PLAIN, raw));
            assert_eq!(decode(codec, bytes).unwrap(), raw);
        }
    }

    #[test]
    fn an_unknown_codec_is_an_error_that_says_so() {
        let error = decode(7, b"abc".to_vec()).unwrap_err();
        assert!(error.to_string().contains("codec 7"), "{error}");
        assert!(decode(CODEC_ZSTD, b"not zstd".to_vec()).is_err());
    }
}
