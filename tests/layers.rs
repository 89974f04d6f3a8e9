//! The house rules of the source tree, checked on every test run: imports run one way
//! (bottom up, in the order of [`FLOORS`]), no two modules of a floor import each other in
//! a circle, no source file is over 600 lines and no function outside tests over 80.
//!
//! It reads `use crate::…`, `crate::…` paths and `super::…` paths of `src/` with comments
//! and test modules left out — a small, deliberate parser for rustfmt-formatted code, not
//! a Rust front end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, bottom first: each may import only those before it.
const FLOORS: &[&str] = &[
    "private_files",
    "secret",
    "clock",
    "terminal",
    "telemetry",
    "config",
    "sla",
    "text",
    "ingest",
    "store",
    "smtp",
    "report",
    "compose",
    "runtime",
    "sources",
    "web",
    "daemon",
    "cli",
];

const MAX_FILE_LINES: usize = 600;
const MAX_FUNCTION_LINES: usize = 80;

struct Source {
    /// `["ingest", "agent", "relay"]` for src/ingest/agent/relay.rs.
    module: Vec<String>,
    path: PathBuf,
    /// The code without comments and without `#[cfg(test)]` modules.
    code: String,
    /// The whole file (for line counts).
    text: String,
}

fn sources() -> Vec<Source> {
    let mut files = Vec::new();
    collect(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
        &mut files,
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    files
        .into_iter()
        .filter(|p| !is_test_file(p))
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = without_tests(&without_comments(&text));
            Source {
                module,
                path,
                code,
                text,
            }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Unit tests in sibling files (`tests.rs`, `*_tests.rs`) may reach anywhere.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().unwrap().to_string_lossy();
    name == "tests" || name.ends_with("_tests")
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // `//` inside a string literal ("http://") is rare in this tree and only
            // shortens what is searched.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Drops `#[cfg(test)]` items: a test module (inline or declared) and what follows the
/// attribute up to the closing brace at the same indentation.
fn without_tests(code: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == "#[cfg(test)]" {
            let indent = &line[..line.len() - line.trim_start().len()];
            let next = lines.get(i + 1).copied().unwrap_or("");
            i += 1;
            if next.trim_end().ends_with(';') {
                i += 1;
                continue;
            }
            while i < lines.len() && lines[i] != format!("{indent}}}") {
                i += 1;
            }
            i += 1;
            continue;
        }
        kept.push(line);
        i += 1;
    }
    kept.join("\n")
}

/// The first path segment after each `crate::`, also inside `use crate::{a, b::c}`.
fn crate_imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                if let Some(first) = first_segment(item.trim()) {
                    found.insert(first);
                }
            }
        } else if let Some(first) = first_segment(rest) {
            found.insert(first);
        }
    }
    found
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[test]
fn imports_run_down_the_floors_only() {
    let floor = |name: &str| FLOORS.iter().position(|f| *f == name);
    let mut wrong = Vec::new();
    for source in sources() {
        let Some(own) = source.module.first() else {
            continue;
        };
        if own == "lib" || own == "main" {
            continue;
        }
        let Some(mine) = floor(own) else {
            wrong.push(format!(
                "{}: module {own} is on no floor",
                source.path.display()
            ));
            continue;
        };
        for import in crate_imports(&source.code) {
            match floor(&import) {
                Some(theirs) if theirs < mine || theirs == mine && import == *own => {}
                Some(_) => wrong.push(format!(
                    "{}: {own} imports {import}, which is not below it",
                    source.path.display()
                )),
                None => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Within a top-level module, which sibling submodules each file names (`crate::ingest::x`
/// or `super::x` from a file directly under it).
fn sibling_graph() -> BTreeMap<String, BTreeSet<String>> {
    let all = sources();
    let known: BTreeSet<String> = all
        .iter()
        .filter(|s| s.module.len() >= 2)
        .map(|s| s.module[..2].join("::"))
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in &all {
        if source.module.len() < 2 {
            continue;
        }
        let top = &source.module[0];
        let me = source.module[..2].join("::");
        let mut named = BTreeSet::new();
        let own_prefix = format!("crate::{top}::");
        let mut rest = source.code.as_str();
        while let Some(at) = rest.find(&own_prefix) {
            rest = &rest[at + own_prefix.len()..];
            named.extend(first_segment(rest));
        }
        if source.module.len() == 2 {
            let mut rest = source.code.as_str();
            while let Some(at) = rest.find("super::") {
                rest = &rest[at + "super::".len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    named.extend(
                        group[..end]
                            .split(',')
                            .filter_map(|i| first_segment(i.trim())),
                    );
                } else {
                    named.extend(first_segment(rest));
                }
            }
        }
        for name in named {
            let other = format!("{top}::{name}");
            if other != me && known.contains(&other) {
                graph.entry(me.clone()).or_default().insert(other);
            }
        }
    }
    graph
}

#[test]
fn no_submodules_import_each_other_in_a_circle() {
    let graph = sibling_graph();
    let mut circles = Vec::new();
    for start in graph.keys() {
        // Depth-first search for a path back to `start`.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    circles.push(path.join(" → ") + " → " + start);
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(circles.is_empty(), "{}", circles.join("\n"));
}

#[test]
fn no_source_file_is_over_600_lines() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|s| s.text.lines().count() > MAX_FILE_LINES)
        .map(|s| format!("{}: {} lines", s.path.display(), s.text.lines().count()))
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

/// A function starts at a line whose code begins with `fn` (after visibility and
/// qualifiers) and ends at the closing brace at its own indentation.
fn long_functions(source: &Source) -> Vec<String> {
    let lines: Vec<&str> = source.code.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        let mut words = code;
        for qualifier in [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "const ",
            "async ",
            "unsafe ",
        ] {
            words = words.strip_prefix(qualifier).unwrap_or(words);
        }
        let Some(rest) = words.strip_prefix("fn ") else {
            continue;
        };
        let name = first_segment(rest).unwrap_or_default();
        // A declaration without a body (in a trait) ends with `;` before any `{`.
        let opening = lines[i..]
            .iter()
            .map(|l| l.trim_end())
            .find(|l| l.ends_with('{') || l.ends_with(';'));
        if opening.is_none_or(|l| l.ends_with(';')) {
            continue;
        }
        let close = format!("{indent}}}");
        let Some(end) = lines[i..].iter().position(|l| *l == close) else {
            continue;
        };
        if end + 1 > MAX_FUNCTION_LINES {
            found.push(format!(
                "{}: fn {name} is {} lines",
                source.path.display(),
                end + 1
            ));
        }
    }
    found
}

#[test]
fn no_function_outside_tests_is_over_80_lines() {
    let long: Vec<String> = sources().iter().flat_map(long_functions).collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_checks_see_what_they_check() {
    // The parser must find imports and functions, or the other tests would pass on nothing.
    let code = "use crate::{config::Config, store};\nfn f() {\n    crate::sla::add();\n}\n";
    let imports = crate_imports(code);
    assert_eq!(
        imports,
        ["config", "sla", "store"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let body: String = (0..90).map(|_| "    x();\n").collect();
    let source = Source {
        module: vec!["x".into()],
        path: "x.rs".into(),
        code: without_tests(&format!(
            "fn long() {{\n{body}}}\n#[cfg(test)]\nmod tests {{\n    fn t() {{\n{body}    }}\n}}\n"
        )),
        text: String::new(),
    };
    let found = long_functions(&source);
    assert_eq!(found, ["x.rs: fn long is 92 lines"]);
    assert!(sources().len() > 50, "the tree was not read");
}
