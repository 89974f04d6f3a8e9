//! The config file's text: TOML parsed with the place of every key, so that each problem
//! is reported at its line and column. serde refuses one key at a time (an unknown key, a
//! value of the wrong type); the reader records it, takes the key out and reads again, so
//! that one run names every such key, each with a "did you mean" for a misspelling.

use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw::RawConfig;
use super::{Location, Problem};

/// More refused keys than this in one file, and the reader stops trying.
const MAX_REFUSED: usize = 200;

/// Where each key path of a file is written: its line and column.
pub(super) struct Places {
    text: String,
    /// Byte offset at which each line starts.
    line_starts: Vec<usize>,
    /// Key path (as [`Problem::key`] spells it) → the span to point at.
    keys: HashMap<String, Range<usize>>,
}

impl Places {
    fn new(text: &str, root: &DeTable<'_>) -> Places {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut keys = HashMap::new();
        walk_table(root, "", &mut keys);
        Places {
            text: text.to_string(),
            line_starts,
            keys,
        }
    }

    /// Where `key` is written, else where the nearest table or array holding it is.
    pub(super) fn locate(&self, key: &str) -> Option<Location> {
        let mut key = key;
        loop {
            if let Some(span) = self.keys.get(key) {
                return Some(self.location(span.start));
            }
            key = parent(key)?;
        }
    }

    /// 1-based line and column (counted in characters) of a byte offset into the text.
    fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        // `line_starts` begins with 0, so every offset is at or past the first line's start.
        let start = line
            .checked_sub(1)
            .and_then(|i| self.line_starts.get(i))
            .copied()
            .unwrap_or(0);
        let before = self.text.get(start..offset).unwrap_or("");
        Location {
            line,
            column: before.chars().count() + 1,
        }
    }
}

/// The key path one level up: `rule[2].subject` → `rule[2]` → `rule`.
fn parent(key: &str) -> Option<&str> {
    let mut quoted = false;
    let mut cut = None;
    for (i, c) in key.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' | '[' if !quoted && i > 0 => cut = Some(i),
            _ => {}
        }
    }
    cut.map(|i| &key[..i])
}

/// A key as it is written in a key path: bare when TOML allows it, else quoted.
pub(super) fn segment(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        segment(name)
    } else {
        format!("{prefix}.{}", segment(name))
    }
}

/// Records every key path below `table`: a table at its key (its header), a value at the
/// value itself, each element of an array at `[n]`, counted from 1.
fn walk_table(table: &DeTable<'_>, prefix: &str, keys: &mut HashMap<String, Range<usize>>) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        let span = match value.get_ref() {
            DeValue::Table(_) => key.span(),
            DeValue::Array(a) if a.iter().all(|v| v.get_ref().is_table()) && !a.is_empty() => {
                key.span()
            }
            _ => value.span(),
        };
        keys.insert(path.clone(), span);
        walk_value(value, &path, keys);
    }
}

fn walk_value(value: &Spanned<DeValue<'_>>, path: &str, keys: &mut HashMap<String, Range<usize>>) {
    match value.get_ref() {
        DeValue::Table(table) => walk_table(table, path, keys),
        DeValue::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                let path = format!("{path}[{}]", i + 1);
                keys.insert(path.clone(), element.span());
                walk_value(element, &path, keys);
            }
        }
        _ => {}
    }
}

/// One step from a table to a key below it.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A file read as far as serde lets it: the raw config (without the keys it refused), where
/// every key is, and one problem per refused key.
pub(super) struct Read {
    pub(super) raw: RawConfig,
    pub(super) places: Places,
    pub(super) refused: Vec<Problem>,
}

/// Parses `text`; `Err` holds every TOML syntax error, each located.
pub(super) fn read(text: &str) -> Result<Read, Vec<Problem>> {
    let (mut tree, errors) = DeTable::parse_recoverable(text);
    let places = Places::new(text, tree.get_ref());
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| Problem {
                key: String::new(),
                message: e.message().to_string(),
                at: e.span().map(|s| places.location(s.start)),
            })
            .collect());
    }
    let mut refused = Vec::new();
    loop {
        let error = match RawConfig::deserialize(toml::de::Deserializer::from(tree.clone())) {
            Ok(raw) => {
                return Ok(Read {
                    raw,
                    places,
                    refused,
                });
            }
            Err(error) => error,
        };
        let steps = error.span().and_then(|span| deepest(tree.get_ref(), &span));
        let at = error.span().map(|s| places.location(s.start));
        let Some(steps) = steps.filter(|_| refused.len() < MAX_REFUSED) else {
            // Nothing to take out: say what serde said, and read no further.
            refused.push(Problem {
                key: String::new(),
                message: error.message().to_string(),
                at,
            });
            return Ok(Read {
                raw: RawConfig::default(),
                places,
                refused,
            });
        };
        refused.push(Problem {
            key: key_path(&steps),
            message: refusal(error.message()),
            at,
        });
        remove(tree.get_mut(), &steps);
    }
}

/// serde's words for a refused key, an unknown one with the nearest known key.
fn refusal(message: &str) -> String {
    if !message.starts_with("unknown field") {
        return message.to_string();
    }
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let Some((unknown, known)) = quoted.split_first() else {
        return "unknown key".into();
    };
    match did_you_mean(unknown, known) {
        Some(near) => format!("unknown key; did you mean `{near}`?"),
        None if known.is_empty() => "unknown key: this table takes no keys".into(),
        None => format!("unknown key (known keys here: {})", known.join(", ")),
    }
}

/// The known key closest to `unknown` in edits, if it is close enough to be a misspelling.
pub(super) fn did_you_mean<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let unknown = unknown.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&unknown, k), *k))
        .filter(|(distance, k)| *distance <= (k.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

fn key_path(steps: &[Step]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(name) => path = join(&path, name),
            Step::Index(i) => path.push_str(&format!("[{}]", i + 1)),
        }
    }
    path
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The innermost key of `table` whose key or value holds `span`.
fn deepest(table: &DeTable<'_>, span: &Range<usize>) -> Option<Vec<Step>> {
    for (key, value) in table.iter() {
        if let Some(mut below) = deeper(value.get_ref(), span) {
            below.insert(0, Step::Key(key.get_ref().to_string()));
            return Some(below);
        }
    }
    table
        .iter()
        .find(|(key, value)| contains(&key.span(), span) || contains(&value.span(), span))
        .map(|(key, _)| vec![Step::Key(key.get_ref().to_string())])
}

fn deeper(value: &DeValue<'_>, span: &Range<usize>) -> Option<Vec<Step>> {
    match value {
        DeValue::Table(table) => deepest(table, span),
        DeValue::Array(array) => array.iter().enumerate().find_map(|(i, element)| {
            let DeValue::Table(table) = element.get_ref() else {
                return None;
            };
            let mut below = deepest(table, span)?;
            below.insert(0, Step::Index(i));
            Some(below)
        }),
        _ => None,
    }
}

/// Takes out the key at the end of `steps`.
fn remove(table: &mut DeTable<'_>, steps: &[Step]) {
    let [Step::Key(name), rest @ ..] = steps else {
        return;
    };
    if rest.is_empty() {
        table.remove(name.as_str());
        return;
    }
    let Some(value) = table.get_mut(name.as_str()) else {
        return;
    };
    match (value.get_mut(), rest) {
        (DeValue::Table(inner), _) => remove(inner, rest),
        (DeValue::Array(array), [Step::Index(i), rest @ ..]) => {
            if let Some(DeValue::Table(inner)) = array.get_mut(*i).map(|v| v.get_mut()) {
                remove(inner, rest);
            }
        }
        _ => {}
    }
}
