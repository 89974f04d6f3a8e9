//! Commands an agent writes on the first lines of a reply or note: `#close`, `#assign NAME`,
//! `#queue NAME`, `#priority LEVEL`, `#note`, `#pending`. Either every command is valid and
//! all apply, or none does and the agent is told what was wrong.

use crate::config::{Config, Priority};
use crate::ingest::{Event, EventKind, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Close,
    Assign(String),
    Queue(String),
    Priority(Priority),
    /// Internal: stored on the ticket, not sent to the customer.
    Note,
    /// Waiting on the customer: the clock stops.
    Pending,
}

/// The commands at the top of a text and the text after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<Command>,
    pub rest: String,
}

/// Reads the leading `#` lines. Blank lines before them are skipped; the first other line
/// ends the command block.
pub fn parse(text: &str, config: &Config) -> Result<Parsed, Vec<String>> {
    let mut commands = Vec::new();
    let mut errors = Vec::new();
    let mut lines = text.lines().peekable();
    while lines.peek().is_some_and(|l| l.trim().is_empty()) {
        lines.next();
    }
    while let Some(line) = lines.peek() {
        let line = line.trim();
        let Some(command) = line.strip_prefix('#') else {
            break;
        };
        // "#1042" in a sentence-free line is a ticket reference, not a command.
        if command
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphabetic())
        {
            break;
        }
        lines.next();
        let mut words = command.split_whitespace();
        let name = words.next().unwrap_or("").to_ascii_lowercase();
        let argument: Vec<&str> = words.collect();
        let argument = argument.join(" ");
        match (name.as_str(), argument.is_empty()) {
            ("close", true) => commands.push(Command::Close),
            ("note", _) => commands.push(Command::Note),
            ("pending", true) => commands.push(Command::Pending),
            ("assign", false) => {
                let wanted = argument.to_lowercase();
                let known = config.queues.iter().flat_map(|q| &q.agents).find(|a| {
                    **a == wanted || a.split('@').next() == Some(wanted.as_str())
                });
                match known {
                    Some(agent) => commands.push(Command::Assign(agent.clone())),
                    None => errors.push(format!(
                        "#assign {argument}: no agent of that name or address in the config"
                    )),
                }
            }
            ("queue", false) => match config.queue(&argument) {
                Some(queue) => commands.push(Command::Queue(queue.name.clone())),
                None => errors.push(format!(
                    "#queue {argument}: no such queue (known: {})",
                    config.queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
            },
            ("priority", false) => match Priority::parse(&argument) {
                Some(priority) => commands.push(Command::Priority(priority)),
                None => errors.push(format!(
                    "#priority {argument}: use low, normal, high or urgent"
                )),
            },
            ("close" | "pending", false) => {
                errors.push(format!("#{name} takes no argument (got \"{argument}\")"))
            }
            ("assign" | "queue" | "priority", true) => {
                errors.push(format!("#{name} needs an argument"))
            }
            _ => errors.push(format!(
                "#{name}: unknown command (known: #close, #assign NAME, #queue NAME, #priority LEVEL, #note, #pending)"
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let rest: Vec<&str> = lines.collect();
    Ok(Parsed {
        commands,
        rest: rest.join("\n").trim().to_string(),
    })
}

/// `#close` or `#pending` on the first lines of an observed answer, honoured only where
/// the sender is proven (the Sent folder, which only an authenticated user can write to, or
/// a trusted `Authentication-Results`): a `From:` line is forged in seconds. Other commands
/// go through the agent address.
pub(crate) fn in_answer(
    parsed: &crate::ingest::parse::Parsed,
    config: &Config,
    proven: bool,
    events: &mut Vec<Event>,
) -> Option<Status> {
    let visible = super::quote::visible_text(&parsed.text);
    let commands = parse(&visible, config).ok()?;
    let agent = parsed.from.as_deref().unwrap_or("?");
    let mut status = None;
    for command in &commands.commands {
        let (next, kind) = match command {
            Command::Close => (Status::Closed, EventKind::Closed),
            Command::Pending => (Status::Pending, EventKind::Pending),
            _ => continue,
        };
        if !proven {
            let kind = kind.as_str();
            events.push(Event::new(
                EventKind::Warning,
                format!(
                    "#{kind} from {agent} not applied: nothing proves the sender (not in the Sent folder, no trusted Authentication-Results)"
                ),
            ));
            return None;
        }
        events.push(Event::new(kind, format!("by {agent}, in the answer")));
        status = Some(next);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::from_toml(
            r#"
[[queue]]
name = "support"
agents = ["anna@example.com"]
[[queue]]
name = "billing"
agents = ["petro@example.com"]
"#,
            Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn commands_then_text() {
        let parsed = parse(
            "\n#assign petro\n#priority high\n#queue billing\nHello Alice,\nwe are on it.",
            &config(),
        )
        .unwrap();
        assert_eq!(
            parsed.commands,
            [
                Command::Assign("petro@example.com".into()),
                Command::Priority(Priority::High),
                Command::Queue("billing".into())
            ]
        );
        assert_eq!(parsed.rest, "Hello Alice,\nwe are on it.");
    }

    #[test]
    fn no_commands_is_plain_text() {
        let parsed = parse("Hello,\n#close is not at the top", &config()).unwrap();
        assert!(parsed.commands.is_empty());
        let tag = parse("#1042 is your reference", &config()).unwrap();
        assert!(tag.commands.is_empty());
    }

    #[test]
    fn any_error_applies_nothing() {
        let errors = parse(
            "#close\n#queue nowhere\n#frobnicate\n#priority extreme\n#pending now",
            &config(),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("no such queue"));
        assert!(errors[1].contains("unknown command"));
        assert!(errors[2].contains("use low, normal, high or urgent"));
        assert!(errors[3].contains("takes no argument"));
    }

    #[test]
    fn note_and_pending() {
        let parsed = parse("#note\nCustomer called, waiting for logs.", &config()).unwrap();
        assert_eq!(parsed.commands, [Command::Note]);
        assert_eq!(
            parse("#pending", &config()).unwrap().commands,
            [Command::Pending]
        );
    }
}
