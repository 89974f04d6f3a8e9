//! Who may use the web console: users with an argon2id password hash, their sessions, and
//! API tokens. Session and API tokens are 256 random bits; the store keeps only their
//! SHA-256, so a copy of the database opens no session.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// How long a session lasts from its login.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Searches, reads, notes and closes tickets.
    Agent,
    /// An agent who also sees the report.
    Lead,
    /// A lead who also manages the console.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Agent, Role::Lead, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// A signed-in user, as a request carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub role: Role,
    /// The token every form of this session must send back.
    pub csrf: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("\"{0}\" is not a user name: use letters, digits, '.', '_', '-' or '@', at most 64")]
    BadName(String),
    #[error(
        "the password is shorter than {MIN_PASSWORD_CHARS} characters: write a longer one into the file"
    )]
    ShortPassword,
    #[error("there is already a web user {0}: remove it first to set a new password or role")]
    Exists(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

fn check_name(name: &str) -> Result<(), AccountError> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if fine {
        Ok(())
    } else {
        Err(AccountError::BadName(name.into()))
    }
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::ShortPassword);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

pub fn add_user(
    conn: &Connection,
    name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<(), AccountError> {
    check_name(name)?;
    let added = conn.execute(
        "INSERT OR IGNORE INTO web_users (name, role, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![name, role.as_str(), password_hash, now],
    )?;
    if added == 0 {
        return Err(AccountError::Exists(name.into()));
    }
    Ok(())
}

/// Every user: name, role, created at (Unix seconds), open sessions.
pub fn list_users(
    conn: &Connection,
    now: i64,
) -> rusqlite::Result<Vec<(String, String, i64, i64)>> {
    conn.prepare(
        "SELECT name, role, created_at,
                (SELECT count(*) FROM web_sessions s WHERE s.user_name = u.name AND s.expires_at > ?1)
         FROM web_users u ORDER BY name",
    )?
    .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
    .collect()
}

/// Removes the user and ends their sessions; false when there was none.
pub fn remove_user(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM web_sessions WHERE user_name = ?1", [name])?;
    Ok(conn.execute("DELETE FROM web_users WHERE name = ?1", [name])? > 0)
}

/// The stored hash and role of a user, for [`check_password`].
pub fn password_of(conn: &Connection, name: &str) -> rusqlite::Result<Option<(String, Role)>> {
    conn.query_row(
        "SELECT password_hash, role FROM web_users WHERE name = ?1",
        [name],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )
    .optional()
    .map(|found| found.and_then(|(hash, role)| Role::parse(&role).map(|role| (hash, role))))
}

/// Whether `password` is the one `stored` was made from (slow by design: argon2id).
pub fn check_password(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).ok().is_some_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Opens a session: the cookie's token (never stored) and the session.
pub fn open_session(
    conn: &Connection,
    user: &str,
    role: Role,
    now: i64,
) -> rusqlite::Result<(String, Session)> {
    let token = random_token();
    let csrf = random_token();
    conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "INSERT INTO web_sessions (token_hash, user_name, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![digest(&token), user, csrf, now, now + SESSION_SECONDS],
    )?;
    let session = Session {
        user: user.into(),
        role,
        csrf,
    };
    Ok((token, session))
}

/// The live session of a cookie's token.
pub fn session(conn: &Connection, token: &str, now: i64) -> rusqlite::Result<Option<Session>> {
    conn.query_row(
        "SELECT s.user_name, u.role, s.csrf FROM web_sessions s
         JOIN web_users u ON u.name = s.user_name
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        params![digest(token), now],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)),
    )
    .optional()
    .map(|found| {
        found.and_then(|(user, role, csrf)| {
            Role::parse(&role).map(|role| Session { user, role, csrf })
        })
    })
}

pub fn close_session(conn: &Connection, token: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM web_sessions WHERE token_hash = ?1",
        [digest(token)],
    )?;
    Ok(())
}

/// A new API token named `name`: returned once, stored hashed.
pub fn add_token(
    conn: &Connection,
    name: &str,
    role: Role,
    now: i64,
) -> Result<String, AccountError> {
    check_name(name)?;
    let token = random_token();
    let added = conn.execute(
        "INSERT OR IGNORE INTO web_tokens (token_hash, name, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![digest(&token), name, role.as_str(), now],
    )?;
    if added == 0 {
        return Err(AccountError::Exists(format!("token {name}")));
    }
    Ok(token)
}

/// The name and role of an API token.
pub fn token(conn: &Connection, token: &str) -> rusqlite::Result<Option<(String, Role)>> {
    conn.query_row(
        "SELECT name, role FROM web_tokens WHERE token_hash = ?1",
        [digest(token)],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )
    .optional()
    .map(|found| found.and_then(|(name, role)| Role::parse(&role).map(|role| (name, role))))
}
