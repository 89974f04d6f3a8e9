//! Passwords, from wherever the admin keeps them: a file, an environment variable, or a
//! systemd credential (`LoadCredential=` in the unit, read from `$CREDENTIALS_DIRECTORY`).
//! A password is read at each use, so a rotated secret is picked up, and never logged.

use std::path::{Path, PathBuf};

/// The shipped unit loads the folder /etc/postdesk/credentials with
/// `LoadCredential=postdesk:/etc/postdesk/credentials`, and systemd names each file's
/// credential `postdesk_<file>`.
pub const UNIT_CREDENTIAL_PREFIX: &str = "postdesk_";

/// Where one password is kept (the config's `password_file`, `password_env` or
/// `password_credential`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    File(PathBuf),
    Env(String),
    Credential(String),
}

impl PasswordSource {
    /// The source given by the three config keys, which must name exactly one; `Ok(None)`
    /// when none is set, `Err` with a message when more than one is.
    pub fn from_keys(
        file: Option<PathBuf>,
        env: Option<String>,
        credential: Option<String>,
    ) -> Result<Option<PasswordSource>, String> {
        let sources: Vec<PasswordSource> = [
            file.map(PasswordSource::File),
            env.map(PasswordSource::Env),
            credential.map(PasswordSource::Credential),
        ]
        .into_iter()
        .flatten()
        .collect();
        match <[PasswordSource; 1]>::try_from(sources) {
            Ok([one]) => Ok(Some(one)),
            Err(sources) if sources.is_empty() => Ok(None),
            Err(_) => {
                Err("set only one of password_file, password_env and password_credential".into())
            }
        }
    }

    /// Reads the password; a trailing line break (as editors leave it) is not part of it.
    pub fn read(&self) -> Result<String, String> {
        match self {
            PasswordSource::File(path) => read_file(path),
            PasswordSource::Env(name) => {
                std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
            }
            PasswordSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    format!(
                        "credential {name}: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the systemd unit provides it)"
                    )
                })?;
                read_credential(Path::new(&dir), name)
            }
        }
    }
}

/// Credential `name` in `dir`, or `postdesk_<name>` as the shipped unit loads it. So the
/// same config works under the unit and in an admin's shell with
/// `CREDENTIALS_DIRECTORY=/etc/postdesk/credentials`.
fn read_credential(dir: &Path, name: &str) -> Result<String, String> {
    let plain = dir.join(name);
    let prefixed = dir.join(format!("{UNIT_CREDENTIAL_PREFIX}{name}"));
    if !plain.exists() && prefixed.exists() {
        return read_file(&prefixed);
    }
    read_file(&plain)
}

fn read_file(path: &Path) -> Result<String, String> {
    crate::private_files::warn_if_readable_by_others(path);
    std::fs::read_to_string(path)
        .map(|p| p.trim_end_matches(['\r', '\n']).to_string())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_source() {
        assert_eq!(PasswordSource::from_keys(None, None, None), Ok(None));
        assert_eq!(
            PasswordSource::from_keys(None, Some("PW".into()), None),
            Ok(Some(PasswordSource::Env("PW".into())))
        );
        let both = PasswordSource::from_keys(Some("/x".into()), None, Some("c".into()));
        assert!(both.unwrap_err().contains("only one"));
    }

    #[test]
    fn file_without_trailing_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, "s3cret\r\n").unwrap();
        assert_eq!(
            PasswordSource::File(path.clone()).read().as_deref(),
            Ok("s3cret")
        );
        let missing = PasswordSource::File(dir.path().join("nope")).read();
        assert!(missing.unwrap_err().contains("cannot read"));
    }

    #[test]
    fn credential_by_its_name_or_as_the_unit_loads_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("smtp"), "plain\n").unwrap();
        std::fs::write(dir.path().join("postdesk_imap-support"), "from-folder").unwrap();
        assert_eq!(read_credential(dir.path(), "smtp").as_deref(), Ok("plain"));
        assert_eq!(
            read_credential(dir.path(), "imap-support").as_deref(),
            Ok("from-folder")
        );
        let missing = read_credential(dir.path(), "other").unwrap_err();
        assert!(missing.contains("other"), "{missing}");
    }
}
