//! Waiting periods told by a ticket's messages, the way the ingest pipeline opens and
//! closes them: a request or a customer follow-up opens one when none is open (a new
//! ticket, a reopened one, a follow-up after an answer), an agent reply closes the open one.

use crate::ingest::TicketId;
use crate::store::reports::TicketHistory;

/// A period in which a ticket awaited an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub ticket: TicketId,
    pub start: i64,
    pub due: i64,
    /// The agent reply that ended it, if one did (before the end of the window).
    pub answered: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered by its deadline.
    Met,
    /// Answered late, or still open after its deadline.
    Missed,
    /// Still open, and its deadline is not reached: neither met nor missed yet.
    OpenNotDue,
}

impl Period {
    /// Where it stands at `until` (answers are only known up to there).
    pub fn outcome(&self, until: i64) -> Outcome {
        match self.answered {
            Some(at) if at <= self.due => Outcome::Met,
            Some(_) => Outcome::Missed,
            None if self.due < until => Outcome::Missed,
            None => Outcome::OpenNotDue,
        }
    }

    /// When its outcome was settled: the answer when it came in time, else the deadline.
    pub fn decided_at(&self) -> i64 {
        match self.answered {
            Some(at) if at <= self.due => at,
            _ => self.due,
        }
    }
}

/// The ticket's waiting periods in order. `deadline` gives the deadline of a period
/// starting at a moment (the queue's response target on its calendar); the period still
/// open on the ticket keeps the deadline the store holds for it.
pub fn periods_of(history: &TicketHistory, deadline: impl Fn(i64) -> i64) -> Vec<Period> {
    let mut spans: Vec<(i64, Option<i64>)> = Vec::new();
    let mut open: Option<i64> = None;
    for (kind, at) in &history.messages {
        match kind.as_str() {
            // Filed as ignored by a rule: the request opened no period (a follow-up reopens).
            "request" if history.created_ignored => {}
            "request" | "follow_up" => {
                open.get_or_insert(*at);
            }
            "agent_reply" => {
                if let Some(start) = open.take() {
                    spans.push((start, Some(*at)));
                }
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        spans.push((start, None));
    }
    spans
        .into_iter()
        .map(|(start, answered)| {
            let due = match (answered, history.waiting_since, history.due_at) {
                (None, Some(since), Some(due)) if since == start => due,
                _ => deadline(start),
            };
            Period {
                ticket: history.id,
                start,
                due,
                answered,
            }
        })
        .collect()
}
