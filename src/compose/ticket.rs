//! Mail about a ticket to its customer or its agents, from the templates: the
//! acknowledgement (with the realistic expected answer time), the warning before the
//! response target and the breach notice.

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::Connection;

use super::{Composed, build, new_message_id, token_address};
use crate::config::{Config, Mailbox, Queue};
use crate::sla;
use crate::smtp::Outgoing;
use crate::store::outbox::{self as rows, MailJob, TicketFacts};
use crate::store::reference;
use crate::text::locale;
use crate::text::templates::{self, TemplateVars, Templates};

/// How far back first responses count for the expected answer time.
const HISTORY_SECS: i64 = 30 * 86_400;

/// One row's mail and what it is written from.
pub(super) struct Mail<'a> {
    pub conn: &'a Connection,
    pub config: &'a Config,
    pub queue: &'a Queue,
    pub mailbox: &'a Mailbox,
    pub job: &'a MailJob,
    pub facts: &'a TicketFacts,
}

/// The mail written from a template.
pub(super) enum Template<'a> {
    /// To the customer, threaded under their message.
    Acknowledgement {
        dedup_key: &'a str,
    },
    Warning,
    Breach,
}

impl Mail<'_> {
    /// The acknowledgement, warning or breach notice of the row, from its template.
    pub fn write_template(
        &self,
        templates: &Templates,
        template: Template<'_>,
        now: Timestamp,
    ) -> rusqlite::Result<Composed> {
        let (conn, job, facts) = (self.conn, self.job, self.facts);
        let estimate = expected_answer(conn, self.queue, facts, now)?;
        let acknowledgement = matches!(template, Template::Acknowledgement { .. });
        let (kind, language, references, auto_submitted) = match template {
            Template::Acknowledgement { dedup_key } => (
                "acknowledgement",
                facts.language.as_deref(),
                rows::thread_of(conn, dedup_key)?,
                "auto-replied",
            ),
            Template::Warning => ("warning", None, Vec::new(), "auto-generated"),
            Template::Breach => ("breach", None, Vec::new(), "auto-generated"),
        };
        // The values are written in the language of the template that will be used.
        let language = templates
            .language_for(kind, language)
            .unwrap_or_else(|| templates::FALLBACK_LANGUAGE.to_string());
        let vars = self.vars(&estimate, &language, now);
        let rendered = match templates.render(kind, Some(&language), &vars) {
            Ok(rendered) => rendered,
            Err(error) => return Ok(Composed::Fail(error.to_string())),
        };
        let mailbox = self.mailbox;
        let message_id = new_message_id(job, &mailbox.address);
        let reply_to = (mailbox.reply_token && acknowledgement)
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
        Ok(build(&outgoing, None))
    }

    /// The template's values, written in `language` and the queue's timezone.
    fn vars(&self, estimate: &sla::Estimate, language: &str, now: Timestamp) -> TemplateVars {
        let (facts, queue) = (self.facts, self.queue);
        let tz = &queue.calendar.timezone;
        let at = |seconds: i64| Timestamp::from_second(seconds).unwrap_or(now);
        TemplateVars {
            reference: reference(facts.id),
            tag: self.config.ticket_tag.format(reference(facts.id)),
            subject: facts.subject.clone(),
            customer: facts.customer.clone(),
            received: locale::local_date_time(at(facts.created_at), tz, language),
            expected_duration: locale::human_duration(estimate.duration, language),
            expected_by: locale::expected_by(estimate.due, now, tz, language),
            queue: facts.queue.clone(),
            business_hours: locale::business_hours_text(&queue.calendar, language),
            due: facts
                .due_at
                .map(|due| locale::local_date_time(at(due), tz, language))
                .unwrap_or_default(),
            ticket_url: None,
        }
    }
}

/// The realistic expected answer time: the configured quantile of the queue's real first
/// responses over the last 30 days (the category's, when it has enough of them).
fn expected_answer(
    conn: &Connection,
    queue: &Queue,
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
