//! `postdesk.toml(5)`: the README's "Configuration" section, compiled into the binary and
//! turned into a man page, so that the page and the README's reference are one text.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use roff::{Inline, Roff, bold, italic, roman};

/// The whole README, as built.
const README: &str = include_str!("../../../README.md");

/// The heading of the README section that is the config reference.
const SECTION: &str = "## Configuration";

/// The Markdown of the README's config reference: from its heading to the next `## `
/// heading outside a code block.
pub(super) fn config_reference(readme: &str) -> Option<&str> {
    let start = readme.find(&format!("\n{SECTION}\n"))? + 1;
    let body = &readme[start + SECTION.len() + 1..];
    let mut in_code = false;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with("## ") {
            return Some(&body[..offset]);
        }
        offset += line.len();
    }
    Some(body)
}

/// The page, in roff.
pub(super) fn render() -> String {
    let markdown = config_reference(README)
        .expect("the README has a \"## Configuration\" section (tests/package.rs checks it)");
    let mut roff = Roff::new();
    // An empty argument must be written as "" (the date: the page is the same every day).
    roff.control(
        "TH",
        [
            "POSTDESK.TOML",
            "5",
            "\"\"",
            &super::version_line(),
            "postdesk",
        ],
    );
    roff.control("SH", ["NAME"]);
    roff.text([roman("postdesk.toml - the configuration file of postdesk")]);
    roff.control("SH", ["SYNOPSIS"]);
    roff.text([bold(crate::config::DEFAULT_CONFIG)]);
    roff.control("SH", ["DESCRIPTION"]);
    Markdown::default().render(markdown, &mut roff);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "postdesk(1), postdesk-check-config(1), systemd.exec(5); the README of postdesk.",
    )]);
    roff.render()
}

/// The Markdown that the README's reference uses, turned into roff: paragraphs, `###`
/// headings, lists, code blocks, and tables (each row a tagged paragraph: the first cell
/// in bold, the others after it, labelled by their column unless it is the "meaning").
#[derive(Default)]
struct Markdown {
    /// The text of the paragraph, heading, list item or table cell being read.
    inlines: Vec<Inline>,
    /// Font of the text being read: bold inside `**` or code, italic inside `*`.
    bold: usize,
    italic: usize,
    header: Vec<String>,
    row: Vec<Vec<Inline>>,
    in_code_block: bool,
}

impl Markdown {
    fn render(mut self, markdown: &str, roff: &mut Roff) {
        for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
            self.event(event, roff);
        }
    }

    fn push_text(&mut self, text: &str) {
        let text = text.to_string();
        self.inlines.push(if self.bold > 0 {
            bold(text)
        } else if self.italic > 0 {
            italic(text)
        } else {
            roman(text)
        });
    }

    fn take(&mut self) -> Vec<Inline> {
        std::mem::take(&mut self.inlines)
    }

    fn event(&mut self, event: Event<'_>, roff: &mut Roff) {
        match event {
            Event::Start(Tag::Strong) => self.bold += 1,
            Event::End(TagEnd::Strong) => self.bold -= 1,
            Event::Start(Tag::Emphasis) => self.italic += 1,
            Event::End(TagEnd::Emphasis) => self.italic -= 1,
            Event::Code(code) => {
                self.bold += 1;
                self.push_text(&code);
                self.bold -= 1;
            }
            Event::Text(text) if self.in_code_block => {
                for line in text.lines() {
                    roff.text([roman(line)]);
                }
            }
            Event::Text(text) => self.push_text(&text),
            Event::SoftBreak => self.push_text(" "),
            Event::HardBreak => self.inlines.push(Inline::LineBreak),
            Event::Start(Tag::CodeBlock(_)) => {
                self.in_code_block = true;
                roff.control("PP", [])
                    .control("RS", ["4"])
                    .control("nf", []);
            }
            Event::End(TagEnd::CodeBlock) => {
                self.in_code_block = false;
                roff.control("fi", []).control("RE", []);
            }
            Event::End(TagEnd::Paragraph) => {
                let text = self.take();
                roff.control("PP", []).text(text);
            }
            Event::End(TagEnd::Heading(level)) => {
                let title: String = self.take().iter().map(plain).collect();
                let macro_name = if level <= HeadingLevel::H2 {
                    "SH"
                } else {
                    "SS"
                };
                roff.control(macro_name, [title.as_str()]);
            }
            Event::End(TagEnd::Item) => {
                let text = self.take();
                roff.control("IP", ["\\(bu", "2"]).text(text);
            }
            Event::End(TagEnd::TableCell) => {
                let cell = self.take();
                self.row.push(cell);
            }
            Event::End(TagEnd::TableHead) => {
                self.header = self
                    .row
                    .drain(..)
                    .map(|c| c.iter().map(plain).collect())
                    .collect();
            }
            Event::End(TagEnd::TableRow) => {
                let row = std::mem::take(&mut self.row);
                self.table_row(row, roff);
            }
            _ => {}
        }
    }

    fn table_row(&self, row: Vec<Vec<Inline>>, roff: &mut Roff) {
        let mut cells = row.into_iter();
        roff.control("TP", [])
            .text(cells.next().unwrap_or_default());
        let mut text = Vec::new();
        for (column, cell) in cells.enumerate() {
            // "—": no default.
            if cell.iter().all(|i| matches!(plain(i).trim(), "" | "—")) {
                continue;
            }
            let label = self
                .header
                .get(column + 1)
                .map(String::as_str)
                .unwrap_or("");
            if !text.is_empty() {
                text.push(roman(" "));
            }
            if label.eq_ignore_ascii_case("meaning") || label.is_empty() {
                text.extend(cell);
            } else {
                text.push(roman(format!(
                    "{}{}: ",
                    label[..1].to_uppercase(),
                    &label[1..]
                )));
                text.extend(cell);
                text.push(roman("."));
            }
        }
        roff.text(text);
    }
}

fn plain(inline: &Inline) -> String {
    match inline {
        Inline::Roman(t) | Inline::Italic(t) | Inline::Bold(t) => t.clone(),
        Inline::LineBreak => " ".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_the_readme_section_up_to_the_next_one() {
        let readme = "# x\n\n## Configuration\n\nOne file.\n\n```sh\n## not a heading\n```\n\n### Keys\n\n## Storage\n\nSQLite.\n";
        let section = config_reference(readme).unwrap();
        assert!(section.starts_with("\nOne file."), "{section:?}");
        assert!(section.contains("## not a heading"), "{section:?}");
        assert!(section.contains("### Keys"), "{section:?}");
        assert!(!section.contains("Storage"), "{section:?}");
    }

    #[test]
    fn tables_become_tagged_paragraphs_with_their_defaults() {
        let mut roff = Roff::new();
        Markdown::default().render(
            "**`[smtp]`** — outgoing mail.\n\n| key | default | meaning |\n|---|---|---|\n| `port` | `465` | The *port*. |\n| `user` | | Who. |\n",
            &mut roff,
        );
        let page = roff.render();
        assert!(page.contains(".PP\n\\fB[smtp]\\fR"), "{page}");
        assert!(
            page.contains(".TP\n\\fBport\\fR\nDefault: \\fB465\\fR. The \\fIport\\fR."),
            "{page}"
        );
        assert!(page.contains(".TP\n\\fBuser\\fR\nWho."), "{page}");
    }

    #[test]
    fn the_page_carries_every_key_of_the_readme_reference() {
        let page = render();
        assert!(page.contains("\n.TH POSTDESK.TOML 5 "), "{page}");
        let reference = config_reference(README).unwrap();
        let mut keys = 0;
        // Every key named in the first column of the README's tables.
        for row in reference.lines().filter(|l| l.starts_with("| `")) {
            let first = row.split('|').nth(1).unwrap();
            for key in first.split('`').skip(1).step_by(2) {
                let roff_key = key.replace('-', "\\-");
                assert!(
                    page.contains(&format!("\\fB{roff_key}")),
                    "{key} not in the page"
                );
                keys += 1;
            }
        }
        assert!(
            keys > 40,
            "only {keys} keys found in the README's reference"
        );
    }
}
