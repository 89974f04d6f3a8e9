//! The outbox worker: sends due mail rows (acknowledgements, warnings, breach notices) over
//! SMTP, a few at a time, each claimed before and finished right after its SMTP
//! transaction (see `store::outbox` for what that guarantees across crashes). Failures are
//! retried with capped backoff and parked as failed after `[smtp] max_attempts`.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::watch;

use crate::config::{Config, plus_address};
use crate::daemon::Shared;
use crate::ingest::agent::relay;
use crate::sla;
use crate::smtp::{self, Mailer, Outgoing, SmtpError};
use crate::store::outbox::{self as rows, MailJob, TicketFacts};
use crate::store::{self, StoreError};
use crate::text::locale;
use crate::text::templates::{self, TemplateVars, Templates};

/// Rows claimed per round.
const ROUND: usize = 256;
/// SMTP transactions in flight at once.
const CONCURRENCY: usize = 32;
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// First-response history the expected answer time is computed from.
const HISTORY_SECS: i64 = 30 * 86_400;

/// A mail ready to send, or why the row ends without one.
enum Prepared {
    /// The mail, and the envelope sender for its bounces (None: the null sender).
    Send(Box<lettre::Message>, Option<String>),
    Cancel(String),
    Fail(String),
}

pub async fn run_outbox(
    shared: Shared,
    mailer: Mailer,
    templates: Arc<Templates>,
    mut shutdown: watch::Receiver<bool>,
) {
    let parked =
        shared.write(|s| rows::park_interrupted(s.connection(), shared.clock.now().as_second()));
    match parked {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            "{n} outbox row(s) were being sent when postdesk stopped; parked as failed to avoid duplicates (see `postdesk outbox`)"
        ),
        Err(error) => tracing::error!("outbox: {error}"),
    }
    loop {
        let worked = match send_round(&shared, &mailer, &templates).await {
            Ok(worked) => worked,
            Err(error) => {
                tracing::error!("outbox: {error}");
                false
            }
        };
        if *shutdown.borrow() {
            return;
        }
        if worked {
            continue;
        }
        let now = shared.clock.now().as_second();
        let next = shared.read(rows::next_mail_due).ok().flatten();
        let sleep = next
            .map(|at| Duration::from_secs(at.saturating_sub(now).max(0) as u64))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = shared.outbox_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Sends what is due now; returns whether there was anything.
async fn send_round(
    shared: &Shared,
    mailer: &Mailer,
    templates: &Templates,
) -> Result<bool, StoreError> {
    let now = shared.clock.now();
    let jobs = shared.read(|conn| rows::due_mail(conn, now.as_second(), ROUND))?;
    if jobs.is_empty() {
        return Ok(false);
    }
    let mut ready = Vec::new();
    for job in jobs {
        let prepared =
            shared.read_apart(|conn| prepare(conn, &shared.config, templates, &job, now))?;
        let now_s = now.as_second();
        match prepared {
            Prepared::Send(message, bounces_to) => ready.push((job, message, bounces_to)),
            Prepared::Cancel(reason) => {
                shared.write(|store| rows::cancel(store.connection(), &job, now_s, &reason))?
            }
            Prepared::Fail(reason) => {
                tracing::warn!(
                    outbox = job.id,
                    "cannot send {} to {}: {reason}",
                    job.kind,
                    job.recipient
                );
                shared.write(|store| rows::mark_failed(store.connection(), &job, now_s, &reason))?
            }
        }
    }
    let (max_attempts, first_retry) = shared
        .config
        .smtp
        .as_ref()
        .map(|s| (s.max_attempts, s.retry_delay))
        .unwrap_or((10, Duration::from_secs(30)));
    let mut sends = futures::stream::iter(ready)
        .map(|(job, message, bounces_to)| async move {
            // Claimed right before its own SMTP transaction, so a crash parks only the
            // mails really in flight.
            let message_id = message_id_of(&message);
            let claimed = shared.write(|store| {
                let tx = store.transaction()?;
                rows::mark_sending(&tx, job.id, shared.clock.now().as_second(), &message_id)?;
                if let Some(ticket) = job.ticket {
                    store::remember_message_id(&tx, &message_id, ticket, "", Some(&job.recipient))?;
                }
                tx.commit()
            });
            let result = match claimed {
                Ok(()) => mailer.send(&message, bounces_to.as_deref()).await,
                Err(error) => Err(SmtpError::Transient(format!("not claimed: {error}"))),
            };
            (job, message_id, result)
        })
        .buffer_unordered(CONCURRENCY);
    while let Some((job, message_id, result)) = sends.next().await {
        let now = shared.clock.now().as_second();
        match result {
            Ok(()) => {
                shared.write(|store| {
                    let tx = store.transaction()?;
                    rows::mark_sent(&tx, &job, now)?;
                    tx.commit()
                })?;
                tracing::info!(
                    ticket = job.ticket.map(store::reference),
                    "{} sent to {}",
                    job.kind,
                    job.recipient
                );
            }
            Err(SmtpError::Transient(reason)) if job.attempts + 1 < max_attempts => {
                let delay = retry_delay(first_retry, job.attempts);
                tracing::warn!(
                    outbox = job.id,
                    "{} to {} deferred ({reason}); retrying in {}s",
                    job.kind,
                    job.recipient,
                    delay
                );
                shared.write(|store| {
                    rows::mark_retry(store.connection(), job.id, now + delay, &reason)
                })?;
            }
            Err(error) => {
                let reason = match error {
                    // Like a crash in the middle of the transaction: parked for an operator,
                    // as `rows::park_interrupted` does, never sent again by itself.
                    SmtpError::Uncertain(_) => format!(
                        "delivery uncertain: {error}, for <{message_id}>; not resent to avoid a \
                         duplicate. Check the recipient's mailbox, then `postdesk outbox retry {}` \
                         if it never arrived",
                        job.id
                    ),
                    _ => format!("{error} (attempt {})", job.attempts + 1),
                };
                tracing::error!(
                    outbox = job.id,
                    "{} to {} failed: {reason}",
                    job.kind,
                    job.recipient
                );
                shared.write(|store| {
                    let tx = store.transaction()?;
                    rows::mark_failed(&tx, &job, now, &reason)?;
                    tx.commit()
                })?;
            }
        }
    }
    Ok(true)
}

/// `[smtp] retry_delay` (default 30 s), then doubled at each try (1 min, 2 min ...),
/// capped at one hour.
fn retry_delay(first: Duration, attempts: u32) -> i64 {
    let first = i64::try_from(first.as_secs())
        .unwrap_or(3600)
        .clamp(1, 3600);
    first.saturating_mul(1 << attempts.min(12)).min(3600)
}

fn message_id_of(message: &lettre::Message) -> String {
    message
        .headers()
        .get_raw("Message-ID")
        .map(|id| id.trim().trim_matches(['<', '>']).to_string())
        .unwrap_or_default()
}

/// Builds the mail for a row, or decides that it must not go out.
fn prepare(
    conn: &rusqlite::Connection,
    config: &Config,
    templates: &Templates,
    job: &MailJob,
    now: Timestamp,
) -> rusqlite::Result<Prepared> {
    // The weekly report belongs to no ticket: it is built from the whole store.
    if job.kind == crate::store::reports::REPORT_KIND {
        return Ok(
            match crate::report::weekly::compose_mail(conn, config, job, now)? {
                Ok(message) => Prepared::Send(Box::new(message), None),
                Err(reason) => Prepared::Fail(reason),
            },
        );
    }
    let Some(ticket) = job.ticket else {
        return Ok(Prepared::Fail("row has no ticket".into()));
    };
    let Some(facts) = rows::ticket_facts(conn, ticket)? else {
        return Ok(Prepared::Fail("its ticket no longer exists".into()));
    };
    if job.kind == "acknowledgement" && facts.status != "new" {
        return Ok(Prepared::Cancel(format!(
            "ticket is {} by now",
            facts.status
        )));
    }
    let Some(mailbox) = job
        .mailbox
        .as_deref()
        .and_then(|name| config.mailbox(name))
        .or_else(|| config.mailboxes.first())
    else {
        return Ok(Prepared::Fail(
            "no [[mailbox]] configured, so no address to send from".into(),
        ));
    };
    let queue = config.queue(&facts.queue).unwrap_or(&config.queues[0]);
    if matches!(
        job.kind.as_str(),
        "relay_forward" | "relay_answer" | "agent_notice"
    ) {
        return prepare_agent_mail(conn, config, queue, mailbox, job, &facts);
    }
    let estimate = expected_answer(conn, queue, &facts, now)?;
    let (kind, language, references, auto_submitted) = match job.kind.as_str() {
        "acknowledgement" => {
            let dedup = job
                .payload
                .get("dedup_key")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            (
                "acknowledgement",
                facts.language.as_deref(),
                rows::thread_of(conn, dedup)?,
                "auto-replied",
            )
        }
        "warning" => ("warning", None, Vec::new(), "auto-generated"),
        _ => ("breach", None, Vec::new(), "auto-generated"),
    };
    // The values are written in the language of the template that will be used.
    let language = templates
        .language_for(kind, language)
        .unwrap_or_else(|| templates::FALLBACK_LANGUAGE.to_string());
    let tz = &queue.calendar.timezone;
    let at = |seconds: i64| Timestamp::from_second(seconds).unwrap_or(now);
    let vars = TemplateVars {
        reference: store::reference(facts.id),
        tag: config.ticket_tag.format(store::reference(facts.id)),
        subject: facts.subject.clone(),
        customer: facts.customer.clone(),
        received: locale::local_date_time(at(facts.created_at), tz, &language),
        expected_duration: locale::human_duration(estimate.duration, &language),
        expected_by: locale::expected_by(estimate.due, now, tz, &language),
        queue: facts.queue.clone(),
        business_hours: locale::business_hours_text(&queue.calendar, &language),
        due: facts
            .due_at
            .map(|due| locale::local_date_time(at(due), tz, &language))
            .unwrap_or_default(),
        ticket_url: None,
    };
    let rendered = match templates.render(kind, Some(&language), &vars) {
        Ok(rendered) => rendered,
        Err(error) => return Ok(Prepared::Fail(error.to_string())),
    };
    let message_id = new_message_id(job, &mailbox.address);
    let reply_to = (mailbox.reply_token && job.kind == "acknowledgement")
        .then(|| {
            facts
                .token
                .as_deref()
                .map(|token| token_address(&mailbox.address, token))
        })
        .flatten();
    let outgoing = Outgoing {
        from_name: mailbox.display_name.as_deref().unwrap_or(""),
        from: &mailbox.address,
        to: &job.recipient,
        reply_to: reply_to.as_deref(),
        subject: &rendered.subject,
        body: &rendered.body,
        message_id: &message_id,
        references: &references,
        auto_submitted: Some(auto_submitted),
    };
    Ok(compose(&outgoing, None))
}

/// The exact bytes a mail row would hand to the SMTP server at `now`, or why it would not
/// go out (cancelled or failed, with the reason). Sends and changes nothing: lets checks
/// read what postdesk writes from a customer's data.
pub fn formatted_mail(
    conn: &rusqlite::Connection,
    config: &Config,
    templates: &Templates,
    job: &MailJob,
    now: Timestamp,
) -> rusqlite::Result<Result<Vec<u8>, String>> {
    Ok(match prepare(conn, config, templates, job, now)? {
        Prepared::Send(message, _) => Ok(message.formatted()),
        Prepared::Cancel(reason) | Prepared::Fail(reason) => Err(reason),
    })
}

fn compose(outgoing: &Outgoing<'_>, bounces_to: Option<&str>) -> Prepared {
    match smtp::compose(outgoing) {
        Ok(message) => Prepared::Send(Box::new(message), bounces_to.map(str::to_string)),
        Err(error) => Prepared::Fail(error.to_string()),
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

/// Relay forwards to agents, agents' answers to customers, and notices to agents.
fn prepare_agent_mail(
    conn: &rusqlite::Connection,
    config: &Config,
    queue: &crate::config::Queue,
    mailbox: &crate::config::Mailbox,
    job: &MailJob,
    facts: &TicketFacts,
) -> rusqlite::Result<Prepared> {
    let field = |key: &str| job.payload.get(key).and_then(|v| v.as_str()).unwrap_or("");
    let tag = config.ticket_tag.format(store::reference(facts.id));
    let desk_name = mailbox.display_name.as_deref().unwrap_or("");
    // The customer's reply address (threads, grants nothing else) and, in forwards only,
    // the agents' command address: two secrets, so that one never validates as the other.
    let reply_address = facts
        .token
        .as_deref()
        .map(|token| token_address(&mailbox.address, token));
    let agent_address = Some(field("agent_token"))
        .filter(|token| !token.is_empty())
        .map(|token| plus_address(&mailbox.address, "a", token));
    let message_id = new_message_id(job, &mailbox.address);
    let prepared = match job.kind.as_str() {
        "relay_forward" => {
            let Some(original) = rows::message_by_dedup_key(conn, field("dedup_key"))? else {
                return Ok(Prepared::Fail(
                    "the customer's message is no longer stored".into(),
                ));
            };
            let tz = &queue.calendar.timezone;
            let at = |seconds: i64| Timestamp::from_second(seconds).unwrap_or_default();
            let sender = original.from.clone().unwrap_or_default();
            let customer = match &original.from_name {
                Some(name) if !name.is_empty() => format!("{name} <{sender}>"),
                _ => sender.clone(),
            };
            let body = relay::forward_body(&relay::ForwardFacts {
                tag: &tag,
                queue: &facts.queue,
                priority: &facts.priority,
                due: facts
                    .due_at
                    .map(|due| locale::local_date_time(at(due), tz, "en")),
                customer,
                received: locale::local_date_time(at(original.received_at), tz, "en"),
                subject: &original.subject,
                text: &original.text,
                desk_address: &mailbox.address,
            });
            let shown_as = original
                .from_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or(sender);
            let from_name = if desk_name.is_empty() {
                shown_as
            } else {
                format!("{shown_as} via {desk_name}")
            };
            let subject = format!(
                "{tag} {}",
                config.ticket_tag.strip(&original.subject).trim()
            );
            compose(
                &Outgoing {
                    from_name: &from_name,
                    from: &mailbox.address,
                    to: &job.recipient,
                    reply_to: agent_address.as_deref(),
                    subject: &subject,
                    body: &body,
                    message_id: &message_id,
                    references: &[],
                    auto_submitted: Some("auto-generated"),
                },
                None,
            )
        }
        "relay_answer" => {
            let references = match rows::last_customer_message(conn, facts.id)? {
                Some(dedup_key) => rows::thread_of(conn, &dedup_key)?,
                None => Vec::new(),
            };
            let reply_to = reply_address.as_deref().filter(|_| mailbox.reply_token);
            compose(
                &Outgoing {
                    from_name: desk_name,
                    from: &mailbox.address,
                    to: &job.recipient,
                    reply_to,
                    subject: &relay::answer_subject(&facts.subject, &tag),
                    body: field("text"),
                    message_id: &message_id,
                    references: &references,
                    auto_submitted: None,
                },
                Some(&mailbox.address),
            )
        }
        _ => {
            let references: Vec<String> = Some(field("in_reply_to"))
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .into_iter()
                .collect();
            compose(
                &Outgoing {
                    from_name: desk_name,
                    from: &mailbox.address,
                    to: &job.recipient,
                    reply_to: None,
                    subject: &format!("{tag} {}", field("subject")),
                    body: field("body"),
                    message_id: &message_id,
                    references: &references,
                    auto_submitted: Some("auto-replied"),
                },
                None,
            )
        }
    };
    Ok(prepared)
}

/// `support@example.com` + token → `support+t.<token>@example.com`.
pub fn token_address(address: &str, token: &str) -> String {
    plus_address(address, "t", token)
}

/// The realistic expected answer time: the configured quantile of the queue's real first
/// responses over the last 30 days (the category's, when it has enough of them).
fn expected_answer(
    conn: &rusqlite::Connection,
    queue: &crate::config::Queue,
    facts: &TicketFacts,
    now: Timestamp,
) -> rusqlite::Result<sla::Estimate> {
    let since = now.as_second() - HISTORY_SECS;
    let business = queue.policy.response_target.business;
    let durations = |pairs: Vec<(i64, i64)>| -> Vec<Duration> {
        pairs
            .into_iter()
            .filter_map(|(start, end)| {
                Some(sla::elapsed(
                    &queue.calendar,
                    Timestamp::from_second(start).ok()?,
                    Timestamp::from_second(end).ok()?,
                    business,
                ))
            })
            .collect()
    };
    let mut samples = match facts.category.as_deref() {
        Some(category) => durations(rows::first_responses(
            conn,
            &queue.name,
            Some(category),
            since,
        )?),
        None => Vec::new(),
    };
    if (samples.len() as u32) < queue.policy.estimate_min_samples {
        samples = durations(rows::first_responses(conn, &queue.name, None, since)?);
    }
    Ok(sla::estimate(&queue.calendar, &queue.policy, now, &samples))
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn retry_delay_doubles_from_the_configured_first_wait_to_an_hour() {
        let thirty = Duration::from_secs(30);
        assert_eq!(retry_delay(thirty, 0), 30);
        assert_eq!(retry_delay(thirty, 1), 60);
        assert_eq!(retry_delay(thirty, 2), 120);
        assert_eq!(retry_delay(thirty, 20), 3600);
        assert_eq!(retry_delay(Duration::from_secs(1), 0), 1);
        assert_eq!(retry_delay(Duration::from_secs(1), 3), 8);
    }
}
