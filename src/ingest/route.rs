//! Step 3b: ordered rules decide queue, category, priority and labels; VIPs are raised.

use super::parse::Parsed;
use crate::config::{Config, Field, Priority};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub queue: String,
    pub category: Option<String>,
    pub priority: Priority,
    pub labels: Vec<String>,
    /// The index of the rule that said `ignore = true`.
    pub ignored_by: Option<usize>,
    /// The index of the rule that matched, if any.
    pub rule: Option<usize>,
}

pub fn route(parsed: &Parsed, config: &Config, default_queue: &str) -> Route {
    let mut route = Route {
        queue: default_queue.to_string(),
        category: None,
        priority: Priority::Normal,
        labels: Vec::new(),
        ignored_by: None,
        rule: None,
    };
    if let Some((index, rule)) = config.rules.iter().enumerate().find(|(_, rule)| {
        rule.conditions
            .iter()
            .all(|(field, re)| matches(parsed, field, re))
    }) {
        route.rule = Some(index);
        if let Some(queue) = &rule.queue {
            route.queue = queue.clone();
        }
        route.category = rule.category.clone();
        if let Some(priority) = rule.priority {
            route.priority = priority;
        }
        route.labels = rule.labels.clone();
        if rule.ignore {
            route.ignored_by = Some(index);
        }
    }
    if parsed
        .from
        .as_deref()
        .is_some_and(|from| config.vip.contains(from))
    {
        route.priority = route.priority.max(Priority::High);
        route.labels.push("vip".into());
    }
    route
}

fn matches(parsed: &Parsed, field: &Field, re: &regex::Regex) -> bool {
    match field {
        Field::From => {
            let from = parsed.from.as_deref().unwrap_or("");
            match &parsed.from_name {
                Some(name) => re.is_match(&format!("{name} <{from}>")),
                None => re.is_match(from),
            }
        }
        Field::To => parsed.to.iter().any(|a| re.is_match(a)),
        Field::Cc => parsed.cc.iter().any(|a| re.is_match(a)),
        Field::Subject => re.is_match(&parsed.subject),
        Field::Body => re.is_match(&parsed.text),
        Field::Header(name) => parsed
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| re.is_match(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IngestLimits;
    use crate::ingest::parse::parse;
    use std::path::Path;

    fn config() -> Config {
        Config::from_toml(
            r#"
[[queue]]
name = "support"
[[queue]]
name = "billing"
[[queue]]
name = "technical"
[[rule]]
from = "(?i)@newsletter\\."
ignore = true
[[rule]]
subject = "(?i)invoice|refund|рахун|сч[её]т|faktur"
queue = "billing"
category = "billing"
[[rule]]
header = { "X-Priority" = "^1" }
priority = "urgent"
labels = ["flagged-by-sender"]
[[rule]]
body = "(?i)stack trace"
queue = "technical"
[vip]
domains = ["bigclient.example"]
"#,
            Path::new("t.toml"),
        )
        .unwrap()
    }

    fn route_of(raw: &str) -> Route {
        route(
            &parse(raw.as_bytes(), &IngestLimits::default()),
            &config(),
            "support",
        )
    }

    #[test]
    fn first_matching_rule_wins() {
        let r = route_of(
            "From: a@x.example\r\nSubject: Refund for invoice 7\r\n\r\nstack trace attached",
        );
        assert_eq!(
            (r.queue.as_str(), r.category.as_deref(), r.rule),
            ("billing", Some("billing"), Some(1))
        );
    }

    #[test]
    fn cyrillic_subject_rule() {
        let r = route_of(
            "From: a@x.example\r\nSubject: =?UTF-8?B?0J/QuNGC0LDQvdC90Y8g0YnQvtC00L4g0YDQsNGF0YPQvdC60YM=?=\r\n\r\nx",
        );
        assert_eq!(r.queue, "billing");
    }

    #[test]
    fn header_and_body_rules() {
        let r = route_of("From: a@x.example\r\nX-Priority: 1 (Highest)\r\nSubject: help\r\n\r\nx");
        assert_eq!(
            (r.priority, r.labels.clone()),
            (Priority::Urgent, vec!["flagged-by-sender".to_string()])
        );
        let r = route_of("From: a@x.example\r\nSubject: crash\r\n\r\nhere is the stack trace");
        assert_eq!(r.queue, "technical");
    }

    #[test]
    fn ignore_rule_and_default() {
        assert_eq!(
            route_of("From: news@newsletter.shop.example\r\nSubject: deals\r\n\r\nx").ignored_by,
            Some(0)
        );
        let r = route_of("From: a@x.example\r\nSubject: hello\r\n\r\nx");
        assert_eq!(
            (r.queue.as_str(), r.rule, r.priority),
            ("support", None, Priority::Normal)
        );
    }

    #[test]
    fn vip_raised_to_high() {
        let r = route_of("From: ceo@bigclient.example\r\nSubject: hello\r\n\r\nx");
        assert_eq!(r.priority, Priority::High);
        assert!(r.labels.contains(&"vip".to_string()));
    }
}
