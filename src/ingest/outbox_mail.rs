//! The mail the desk sends, as types: one variant per kind, with what the composer needs to
//! write it. Every outbox mail row is one of these: stored as the row's `kind` and a JSON
//! `payload` ([`OutboxMail::kind`], [`OutboxMail::payload`]), read back once at send time
//! ([`OutboxMail::from_row`]), then composed by one `match`.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxMail {
    /// "We got your message", to the customer, after the queue's `ack_delay`.
    Acknowledgement {
        /// The customer's message it answers (for threading headers).
        dedup_key: String,
        in_reply_to: Option<String>,
    },
    /// To the queue's agents: the response target is near.
    Warning,
    /// To the escalation address: the response target was missed.
    BreachNotice,
    /// A customer's message, forwarded to an agent of a relay queue.
    RelayForward {
        dedup_key: String,
        /// The agents' command token, added by the store (which holds the key).
        agent_token: Option<String>,
    },
    /// An agent's answer, sent on to the customer from the support address.
    RelayAnswer { text: String, agent: String },
    /// A short note to an agent: commands not applied, mail refused.
    AgentNotice {
        subject: String,
        body: String,
        in_reply_to: Option<String>,
    },
    /// The weekly report of `[since, until)`.
    Report { since: i64, until: i64 },
    /// To the escalation address of `breach_notice = "hourly" | "daily"` queues: every
    /// breach of the period `[since, until)` in one mail, sent at `until`.
    BreachDigest(Digest),
    /// To an agent of `warning_notice = "hourly" | "daily"` queues: the warnings of the period.
    WarningDigest(Digest),
}

/// A digest's period and the tickets recorded in it, in the order they were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    pub since: i64,
    pub until: i64,
    pub tickets: Vec<DigestTicket>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTicket {
    /// The ticket's id (not its reference).
    pub id: i64,
    /// The deadline that was missed (or is near).
    pub due_at: i64,
    /// When the breach (warning) was recorded.
    pub at: i64,
}

impl Digest {
    fn payload(&self) -> Value {
        let tickets: Vec<Value> = self
            .tickets
            .iter()
            .map(|t| json!({ "id": t.id, "due_at": t.due_at, "at": t.at }))
            .collect();
        json!({ "since": self.since, "until": self.until, "tickets": tickets })
    }

    fn from_payload(payload: &Value) -> Result<Digest, String> {
        let number = |value: &Value, key: &str| value.get(key).and_then(Value::as_i64);
        let (Some(since), Some(until)) = (number(payload, "since"), number(payload, "until"))
        else {
            return Err("digest row without its since/until period".into());
        };
        let tickets = payload
            .get("tickets")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|t| {
                Some(DigestTicket {
                    id: number(t, "id")?,
                    due_at: number(t, "due_at")?,
                    at: number(t, "at")?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or("digest row with a broken ticket entry")?;
        Ok(Digest {
            since,
            until,
            tickets,
        })
    }
}

impl OutboxMail {
    /// The row's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            OutboxMail::Acknowledgement { .. } => "acknowledgement",
            OutboxMail::Warning => "warning",
            OutboxMail::BreachNotice => "breach_notice",
            OutboxMail::RelayForward { .. } => "relay_forward",
            OutboxMail::RelayAnswer { .. } => "relay_answer",
            OutboxMail::AgentNotice { .. } => "agent_notice",
            OutboxMail::Report { .. } => "report",
            OutboxMail::BreachDigest(_) => "breach_digest",
            OutboxMail::WarningDigest(_) => "warning_digest",
        }
    }

    /// The row's `payload` column.
    pub fn payload(&self) -> Value {
        match self {
            OutboxMail::Acknowledgement {
                dedup_key,
                in_reply_to,
            } => json!({ "in_reply_to": in_reply_to, "dedup_key": dedup_key }),
            OutboxMail::Warning | OutboxMail::BreachNotice => json!({}),
            OutboxMail::RelayForward {
                dedup_key,
                agent_token: None,
            } => json!({ "dedup_key": dedup_key }),
            OutboxMail::RelayForward {
                dedup_key,
                agent_token: Some(token),
            } => json!({ "dedup_key": dedup_key, "agent_token": token }),
            OutboxMail::RelayAnswer { text, agent } => json!({ "text": text, "agent": agent }),
            OutboxMail::AgentNotice {
                subject,
                body,
                in_reply_to,
            } => json!({ "subject": subject, "body": body, "in_reply_to": in_reply_to }),
            OutboxMail::Report { since, until } => json!({ "since": since, "until": until }),
            OutboxMail::BreachDigest(digest) | OutboxMail::WarningDigest(digest) => {
                digest.payload()
            }
        }
    }

    /// A stored row back as its mail, or why it cannot be one. Rows written by earlier
    /// versions read the same: absent text fields are empty.
    pub fn from_row(kind: &str, payload: &Value) -> Result<OutboxMail, String> {
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
        let text_or_empty = |key: &str| text(key).unwrap_or_default();
        Ok(match kind {
            "acknowledgement" => OutboxMail::Acknowledgement {
                dedup_key: text_or_empty("dedup_key"),
                in_reply_to: text("in_reply_to"),
            },
            "warning" => OutboxMail::Warning,
            "breach_notice" => OutboxMail::BreachNotice,
            "relay_forward" => OutboxMail::RelayForward {
                dedup_key: text_or_empty("dedup_key"),
                agent_token: text("agent_token").filter(|t| !t.is_empty()),
            },
            "relay_answer" => OutboxMail::RelayAnswer {
                text: text_or_empty("text"),
                agent: text_or_empty("agent"),
            },
            "agent_notice" => OutboxMail::AgentNotice {
                subject: text_or_empty("subject"),
                body: text_or_empty("body"),
                in_reply_to: text("in_reply_to").filter(|id| !id.is_empty()),
            },
            "report" => {
                let number = |key: &str| payload.get(key).and_then(Value::as_i64);
                let (Some(since), Some(until)) = (number("since"), number("until")) else {
                    return Err("report row without its since/until window".into());
                };
                OutboxMail::Report { since, until }
            }
            "breach_digest" => OutboxMail::BreachDigest(Digest::from_payload(payload)?),
            "warning_digest" => OutboxMail::WarningDigest(Digest::from_payload(payload)?),
            other => return Err(format!("no such kind of mail: {other:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_written() {
        let mails = [
            OutboxMail::Acknowledgement {
                dedup_key: "k".into(),
                in_reply_to: Some("m@x".into()),
            },
            OutboxMail::Warning,
            OutboxMail::BreachNotice,
            OutboxMail::RelayForward {
                dedup_key: "k".into(),
                agent_token: Some("1001.ab".into()),
            },
            OutboxMail::RelayAnswer {
                text: "Hello".into(),
                agent: "anna@desk.example".into(),
            },
            OutboxMail::AgentNotice {
                subject: "s".into(),
                body: "b".into(),
                in_reply_to: None,
            },
            OutboxMail::Report { since: 1, until: 2 },
            OutboxMail::BreachDigest(Digest {
                since: 3600,
                until: 7200,
                tickets: vec![
                    DigestTicket {
                        id: 1,
                        due_at: 3000,
                        at: 3700,
                    },
                    DigestTicket {
                        id: 2,
                        due_at: 3800,
                        at: 3800,
                    },
                ],
            }),
            OutboxMail::WarningDigest(Digest {
                since: 0,
                until: 86_400,
                tickets: Vec::new(),
            }),
        ];
        for mail in mails {
            assert_eq!(OutboxMail::from_row(mail.kind(), &mail.payload()), Ok(mail));
        }
    }

    #[test]
    fn rows_of_earlier_versions_and_broken_rows() {
        // Warnings and breach notices were written without a payload.
        assert_eq!(
            OutboxMail::from_row("warning", &Value::Null),
            Ok(OutboxMail::Warning)
        );
        assert!(OutboxMail::from_row("report", &json!({ "since": 1 })).is_err());
        assert!(OutboxMail::from_row("imap_flags", &json!({})).is_err());
        assert!(OutboxMail::from_row("breach_digest", &json!({ "until": 1 })).is_err());
        let broken = json!({ "since": 0, "until": 1, "tickets": [{ "id": 1 }] });
        assert!(OutboxMail::from_row("warning_digest", &broken).is_err());
    }
}
