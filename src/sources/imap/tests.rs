//! The IMAP steps against a scripted server, and the pure helpers.

use std::collections::HashMap;

use async_imap::error::Error;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use super::connect::select;
use super::pipeline::{FETCH_BATCH, fetch_sizes};
use super::post_actions::store_flags;
use super::*;

/// A logged-in session with a scripted server: after LOGIN, each command line it
/// reads is answered with `answer(tag, command)`, which also says whether the server
/// lives on.
async fn scripted(
    answer: impl Fn(&str, &str) -> (String, bool) + Send + 'static,
) -> (Session, tokio::task::JoinHandle<()>) {
    let (client_end, server_end) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(server_end);
        let mut line = String::new();
        lines.read_line(&mut line).await.unwrap();
        let tag = line.split(' ').next().unwrap().to_string();
        let ok = format!("{tag} OK Logged in\r\n");
        lines.get_mut().write_all(ok.as_bytes()).await.unwrap();
        loop {
            line.clear();
            if lines.read_line(&mut line).await.unwrap() == 0 {
                return;
            }
            let (tag, command) = line.trim_end().split_once(' ').unwrap();
            let (text, lives_on) = answer(tag, command);
            lines.get_mut().write_all(text.as_bytes()).await.unwrap();
            if !lives_on {
                return;
            }
        }
    });
    let stream: Box<dyn crate::sources::imap::ImapStream> = Box::new(client_end);
    let session = async_imap::Client::new(stream)
        .login("support", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    (session, server)
}

/// A server that dies in the middle of its SELECT answer (as a crashed Dovecot does).
#[tokio::test]
async fn a_select_answer_cut_short_is_a_closed_connection() {
    let (mut session, server) = scripted(|_, command| {
        assert!(command.starts_with("SELECT"), "{command}");
        // the start of the answer, then the server is gone
        let partial = "* FLAGS (\\Seen \\Flagged)\r\n* 600 EXISTS\r\n* 0 RECENT\r\n";
        (partial.to_string(), false)
    })
    .await;
    let result = select(&mut session, "INBOX").await;
    drop(session);
    server.await.unwrap();
    match result {
        Err(ImapError::Closed { what }) => assert_eq!(what, "SELECT INBOX"),
        other => panic!("a cut SELECT answer was taken as {other:?}"),
    }
}

/// A STORE the server refuses, or never answers, is not done.
#[tokio::test]
async fn a_store_refused_or_cut_short_is_not_done() {
    let (mut session, server) = scripted(|tag, _| {
        (
            format!("{tag} NO [CANNOT] Keywords are not allowed\r\n"),
            true,
        )
    })
    .await;
    let refused = store_flags(&mut session, "1:500", TICKETED).await;
    assert!(
        matches!(
            &refused,
            Err(ImapError::Protocol {
                source: async_imap::error::Error::No(_),
                ..
            })
        ),
        "{refused:?}"
    );
    drop(session);
    server.await.unwrap();

    let (mut session, server) = scripted(|_, _| (String::new(), false)).await;
    let cut = store_flags(&mut session, "1:500", TICKETED).await;
    assert!(cut.is_err(), "a STORE without an answer was taken as done");
    drop(session);
    server.await.unwrap();

    let (mut session, server) =
        scripted(|tag, _| (format!("{tag} OK Store completed.\r\n"), true)).await;
    store_flags(&mut session, "1:500", TICKETED).await.unwrap();
    drop(session);
    server.await.unwrap();
}

#[test]
fn batches_are_cut_by_count_and_by_bytes() {
    const MB: u64 = 1024 * 1024;
    let uids: Vec<u32> = (1..=1200).collect();
    let small = batches(&uids, |_| 10_000, FETCH_BATCH, FETCH_BATCH_BYTES);
    let lengths: Vec<usize> = small.iter().map(|b| b.len()).collect();
    assert_eq!(lengths, [500, 500, 200]);
    // 40 MB mails: one a batch, as two would pass 64 MiB.
    let large = batches(&uids[..3], |_| 40 * MB, FETCH_BATCH, FETCH_BATCH_BYTES);
    assert_eq!(large, [&[1][..], &[2], &[3]]);
    // 20 MB each: three fit (60 MB), the fourth starts the next batch.
    let mid = batches(&uids[..7], |_| 20 * MB, FETCH_BATCH, FETCH_BATCH_BYTES);
    assert_eq!(mid, [&[1, 2, 3][..], &[4, 5, 6], &[7]]);
    // A message larger than the bound is still fetched, alone; unknown sizes count 0.
    let mixed = batches(
        &[10, 11, 12, 13],
        |uid| if uid == 11 { 100 * MB } else { 0 },
        FETCH_BATCH,
        FETCH_BATCH_BYTES,
    );
    assert_eq!(mixed, [&[10][..], &[11], &[12, 13]]);
    for batch in small.iter().chain(&large).chain(&mid).chain(&mixed) {
        assert!(!batch.is_empty());
    }
    assert!(batches(&[], |_| 0, FETCH_BATCH, FETCH_BATCH_BYTES).is_empty());
}

/// Sizes come from one `UID FETCH (UID RFC822.SIZE)` per few thousand UIDs.
#[tokio::test]
async fn sizes_are_read_from_the_fetch_responses() {
    let (mut session, server) = scripted(|tag, command| {
        assert_eq!(command, "UID FETCH 7:8,10 (UID RFC822.SIZE)");
        (
            format!(
                "* 1 FETCH (UID 7 RFC822.SIZE 1234)\r\n* 2 FETCH (UID 8 RFC822.SIZE 40000000)\r\n{tag} OK Fetch completed.\r\n"
            ),
            true,
        )
    })
    .await;
    let sizes = fetch_sizes(&mut session, &[7, 8, 10]).await.unwrap();
    drop(session);
    server.await.unwrap();
    assert_eq!(sizes, HashMap::from([(7, 1234), (8, 40_000_000)]));
}

#[test]
fn uid_sets_are_compressed() {
    assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
    assert_eq!(uid_set(&[42]), "42");
    assert_eq!(uid_set(&[]), "");
}

#[test]
fn server_reply_shows_the_servers_words() {
    let login = Error::No(
        r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#.into(),
    );
    assert_eq!(
        server_reply(&login),
        "NO [AUTHENTICATIONFAILED] Authentication failed."
    );
    let examine = Error::No(
        r#"outcome: Outcome { code: None, information: Some("Mailbox doesn't exist: \"X\"") }"#
            .into(),
    );
    assert_eq!(server_reply(&examine), r#"NO Mailbox doesn't exist: "X""#);
    assert_eq!(
        server_reply(&Error::Bad("odd".into())),
        "BAD odd",
        "a detail without the debug form is kept whole"
    );
    assert_eq!(server_reply(&Error::ConnectionLost), "connection lost");
}

fn login_refused(reply: Error) -> ImapError {
    ImapError::Login {
        user: "other".into(),
        reason: LoginReply(reply),
    }
}

#[test]
fn a_refused_login_a_bad_certificate_or_a_missing_password_is_permanent() {
    let refused = login_refused(Error::No(
        r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#.into(),
    ));
    assert_eq!(
        refused.to_string(),
        "login as other refused: NO [AUTHENTICATIONFAILED] Authentication failed."
    );
    assert!(refused.is_permanent());
    assert!(login_refused(Error::Bad("odd".into())).is_permanent());
    let password = ImapError::Password {
        user: "other".into(),
        reason: "no such file".into(),
    };
    assert!(password.is_permanent());
    let name = ServerName::try_from("not a host name").unwrap_err();
    let tls = |reason| ImapError::Tls {
        host: "imap.example.org".into(),
        reason,
    };
    assert!(tls(TlsFailure::Name(name)).is_permanent());
    let untrusted = std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
    );
    let untrusted = tls(TlsFailure::Handshake(untrusted));
    assert!(untrusted.is_permanent());
    assert_eq!(
        untrusted.to_string(),
        "TLS with imap.example.org failed: invalid peer certificate: UnknownIssuer"
    );
}

#[tokio::test]
async fn network_trouble_timeouts_and_unstored_mail_are_transient() {
    let transient = [
        login_refused(Error::ConnectionLost),
        login_refused(Error::No(
            r#"code: None, info: Some("[UNAVAILABLE] Temporary authentication failure.")"#.into(),
        )),
        ImapError::Tls {
            host: "imap.example.org".into(),
            reason: TlsFailure::Handshake(std::io::ErrorKind::ConnectionReset.into()),
        },
        ImapError::Connect {
            host: "imap.example.org".into(),
            port: 993,
            source: std::io::ErrorKind::ConnectionRefused.into(),
        },
        ImapError::Timeout {
            what: "LOGIN".into(),
        },
        ImapError::Closed {
            what: "SELECT INBOX".into(),
        },
        ImapError::NotStored {
            up_to: 500,
            reached: 41,
        },
    ];
    for error in &transient {
        assert!(!error.is_permanent(), "{error}");
    }
    assert_eq!(
        transient[6].to_string(),
        "some messages up to UID 500 were not stored; retrying from UID 42"
    );
    let task = tokio::spawn(std::future::pending::<()>());
    task.abort();
    let cancelled = ImapError::Task {
        what: "storing a batch",
        source: task.await.unwrap_err(),
    };
    assert!(!cancelled.is_permanent());
    assert!(
        cancelled
            .to_string()
            .starts_with("storing a batch failed: task "),
        "{cancelled}"
    );
}
