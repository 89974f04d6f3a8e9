//! Every mail postdesk writes, built from an outbox row and what the store knows at send
//! time: acknowledgements, warnings and breach notices ([`ticket`]), their hourly or daily
//! digests ([`digest`]), relay forwards, relayed answers and agent notices ([`relay`]), and
//! the weekly report ([`weekly`]). Reads only; the outbox loop in `daemon::outbox` sends
//! what this returns.

mod digest;
mod relay;
mod ticket;
mod weekly;

use jiff::Timestamp;
use rusqlite::Connection;
use ticket::Template;

use crate::config::{Config, Mailbox, plus_address};
use crate::ingest::OutboxMail;
use crate::smtp::{self, Outgoing};
use crate::store::outbox::{self as rows, MailJob};
use crate::text::templates::Templates;

/// A mail ready to send, or why the row ends without one.
pub enum Composed {
    /// The mail, and the envelope sender for its bounces (None: the null sender).
    Send(Box<lettre::Message>, Option<String>),
    Cancel(String),
    Fail(String),
}

/// Builds the mail for a row, or decides that it must not go out.
pub fn compose(
    conn: &Connection,
    config: &Config,
    templates: &Templates,
    job: &MailJob,
    now: Timestamp,
) -> rusqlite::Result<Composed> {
    let mail = match &job.mail {
        Ok(mail) => mail,
        Err(reason) => return Ok(Composed::Fail(reason.clone())),
    };
    // The weekly report and the digests belong to no one ticket.
    match mail {
        OutboxMail::Report { since, until } => {
            return Ok(
                match weekly::report_mail(conn, config, job, (*since, *until), now)? {
                    Ok(message) => Composed::Send(Box::new(message), None),
                    Err(reason) => Composed::Fail(reason),
                },
            );
        }
        OutboxMail::BreachDigest(list) => {
            return digest::digest_mail(conn, config, job, (digest::Kind::Breach, list), now);
        }
        OutboxMail::WarningDigest(list) => {
            return digest::digest_mail(conn, config, job, (digest::Kind::Warning, list), now);
        }
        _ => {}
    }
    let Some(ticket) = job.ticket else {
        return Ok(Composed::Fail("row has no ticket".into()));
    };
    let Some(facts) = rows::ticket_facts(conn, ticket)? else {
        return Ok(Composed::Fail("its ticket no longer exists".into()));
    };
    if matches!(mail, OutboxMail::Acknowledgement { .. }) && facts.status != "new" {
        return Ok(Composed::Cancel(format!(
            "ticket is {} by now",
            facts.status
        )));
    }
    let Some(mailbox) = sending_mailbox(config, job) else {
        return Ok(Composed::Fail(NO_MAILBOX.into()));
    };
    let queue = config
        .queue(&facts.queue)
        .unwrap_or_else(|| config.default_queue_config());
    let about = ticket::Mail {
        conn,
        config,
        queue,
        mailbox,
        job,
        facts: &facts,
    };
    match mail {
        OutboxMail::RelayForward {
            dedup_key,
            agent_token,
        } => relay::forward(&about, dedup_key, agent_token.as_deref()),
        OutboxMail::RelayAnswer { text, .. } => relay::answer(&about, text),
        OutboxMail::AgentNotice {
            subject,
            body,
            in_reply_to,
        } => Ok(relay::notice(&about, subject, body, in_reply_to.as_deref())),
        OutboxMail::Acknowledgement { dedup_key, .. } => {
            about.write_template(templates, Template::Acknowledgement { dedup_key }, now)
        }
        OutboxMail::Warning => about.write_template(templates, Template::Warning, now),
        OutboxMail::BreachNotice => about.write_template(templates, Template::Breach, now),
        OutboxMail::Report { .. } | OutboxMail::BreachDigest(_) | OutboxMail::WarningDigest(_) => {
            Ok(Composed::Fail("not a mail about one ticket".into()))
        }
    }
}

/// The exact bytes a mail row would hand to the SMTP server at `now`, or why it would not
/// go out (cancelled or failed, with the reason). Sends and changes nothing: lets checks
/// read what postdesk writes from a customer's data.
pub fn formatted_mail(
    conn: &Connection,
    config: &Config,
    templates: &Templates,
    job: &MailJob,
    now: Timestamp,
) -> rusqlite::Result<Result<Vec<u8>, String>> {
    Ok(match compose(conn, config, templates, job, now)? {
        Composed::Send(message, _) => Ok(message.formatted()),
        Composed::Cancel(reason) | Composed::Fail(reason) => Err(reason),
    })
}

/// `support@example.com` + token → `support+t.<token>@example.com`.
pub fn token_address(address: &str, token: &str) -> String {
    plus_address(address, "t", token)
}

const NO_MAILBOX: &str = "no [[mailbox]] configured, so no address to send from";

/// The mailbox a row is sent from: its own, else the first configured.
fn sending_mailbox<'c>(config: &'c Config, job: &MailJob) -> Option<&'c Mailbox> {
    job.mailbox
        .as_deref()
        .and_then(|name| config.mailbox(name))
        .or_else(|| config.mailboxes.first())
}

fn build(outgoing: &Outgoing<'_>, bounces_to: Option<&str>) -> Composed {
    match smtp::compose(outgoing) {
        Ok(message) => Composed::Send(Box::new(message), bounces_to.map(str::to_string)),
        Err(error) => Composed::Fail(error.to_string()),
    }
}

/// `postdesk.<kind>.<row>.<random>@<domain of the sending mailbox>`.
fn new_message_id(job: &MailJob, address: &str) -> String {
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    format!(
        "postdesk.{}.{}.{:08x}@{domain}",
        job.kind,
        job.id,
        rand::random::<u32>()
    )
}
