//! `[[rule]]`: routing rules and their regular expressions.

use regex::Regex;

use super::{Problems, check_queue};
use crate::config::document::segment;
use crate::config::raw::RawRule;
use crate::config::values::{Field, Priority, Queue, Rule};

/// `[[rule]]`, in order: the first matching rule wins.
pub(super) fn rules(raws: Vec<RawRule>, queues: &[Queue], problems: &mut Problems) -> Vec<Rule> {
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| raw.validate(&format!("rule[{}]", i + 1), queues, problems))
        .collect()
}

impl RawRule {
    fn validate(mut self, key: &str, queues: &[Queue], problems: &mut Problems) -> Rule {
        let conditions = conditions(key, self.fields(), problems);
        // A rule whose only condition failed to compile already has its problem.
        if conditions.is_empty() && !problems.any_under(key) {
            problems.add(
                key,
                "has no condition (from, to, cc, subject, body or header)",
            );
        }
        if let Some(queue) = &self.queue {
            check_queue(&format!("{key}.queue"), queue, queues, problems);
        }
        let priority = self.priority.as_deref().and_then(|p| {
            let parsed = Priority::parse(p);
            if parsed.is_none() {
                problems.add(
                    format!("{key}.priority"),
                    format!("\"{p}\" is not a priority (low, normal, high, urgent)"),
                );
            }
            parsed
        });
        if self.queue.is_none()
            && self.category.is_none()
            && priority.is_none()
            && self.labels.is_empty()
            && !self.ignore
        {
            problems.add(
                key,
                "does nothing: set queue, category, priority, labels or ignore",
            );
        }
        Rule {
            conditions,
            queue: self.queue,
            category: self.category,
            priority,
            labels: self.labels,
            ignore: self.ignore,
        }
    }

    /// The condition keys with their field and name under the rule's key: the fixed ones
    /// first, then each `header."Name"`. Takes them out of the rule.
    fn fields(&mut self) -> Vec<(Field, String, Option<String>)> {
        let fixed = [
            (Field::From, "from", self.from.take()),
            (Field::To, "to", self.to.take()),
            (Field::Cc, "cc", self.cc.take()),
            (Field::Subject, "subject", self.subject.take()),
            (Field::Body, "body", self.body.take()),
        ];
        let headers = std::mem::take(&mut self.header)
            .into_iter()
            .map(|(name, re)| {
                let field = Field::Header(name.to_ascii_lowercase());
                (field, format!("header.{}", segment(&name)), Some(re))
            });
        fixed
            .into_iter()
            .map(|(f, n, p)| (f, n.to_string(), p))
            .chain(headers)
            .collect()
    }
}

/// Compiles each set condition; a bad regular expression is a problem at its key.
fn conditions(
    key: &str,
    fields: Vec<(Field, String, Option<String>)>,
    problems: &mut Problems,
) -> Vec<(Field, Regex)> {
    let mut conditions = Vec::new();
    for (field, name, pattern) in fields {
        let Some(pattern) = pattern else { continue };
        match Regex::new(&pattern) {
            Ok(re) => conditions.push((field, re)),
            Err(e) => problems.add(
                format!("{key}.{name}"),
                format!("invalid regular expression: {}", regex_error(&pattern, &e)),
            ),
        }
    }
    conditions
}

/// What is wrong with a pattern, on one line: the regex crate's own message draws the
/// pattern with a caret under it, over several lines.
fn regex_error(pattern: &str, error: &regex::Error) -> String {
    match regex_syntax::Parser::new().parse(pattern) {
        Err(regex_syntax::Error::Parse(e)) => at_position(pattern, e.kind(), e.span()),
        Err(regex_syntax::Error::Translate(e)) => at_position(pattern, e.kind(), e.span()),
        _ => error
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn at_position(
    pattern: &str,
    kind: &impl std::fmt::Display,
    span: &regex_syntax::ast::Span,
) -> String {
    let column = pattern
        .get(..span.start.offset)
        .map_or(0, |before| before.chars().count())
        + 1;
    format!("{kind} at character {column} of {pattern:?}")
}
