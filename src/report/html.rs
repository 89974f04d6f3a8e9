//! The report as one self-contained HTML page: inline CSS, charts as inline SVG, no script,
//! no network (a Content-Security-Policy forbids every fetch and every script, so even a
//! mistake in escaping could not run anything). Every text that comes from mail (subjects,
//! customers, categories, terms) is HTML-escaped; subjects are hostile input.
//!
//! Each chart is an `<svg class="chart" data-chart="NAME">` whose data marks (bars and bar
//! segments) carry `class="mark"`, so a browser test can check that they really render.

use std::fmt::Write;

use jiff::tz::TimeZone;

use super::text::{clip, duration, local, percent};
use super::{Bucket, Report};

const MET: &str = "#2e7d32";
const MISSED: &str = "#c62828";
const RESPONSE: &str = "#1565c0";
const CATEGORY: &str = "#6a1b9a";
const TERM: &str = "#00838f";
/// Backlog age buckets, from fresh to old.
const AGES: [&str; 5] = ["#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"];

const CHART_WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 170.0;
const BAR_WIDTH: f64 = 340.0;
const ROW: f64 = 28.0;
const BAR: f64 = 18.0;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;margin:2rem auto;max-width:58rem;padding:0 1rem;color:#1a1a1a;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.window{color:#555;margin-top:0}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem;margin:1.2rem 0}
.kpi{border:1px solid #ddd;border-radius:.4rem;padding:.6rem .9rem;min-width:9rem}
.kpi b{display:block;font-size:1.5rem}.kpi span{color:#555;font-size:.85rem}
.chart{display:block;max-width:100%;height:auto}
.chart text{font-size:12px;fill:#1a1a1a}.chart .axis{fill:#555}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top;white-space:nowrap}
td.subject{white-space:normal;word-break:break-word}.note{color:#555;font-size:.9rem}
footer{margin-top:2.5rem;color:#777;font-size:.8rem}
";

/// The page.
pub fn render(report: &Report, tz: &TimeZone) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_page(&mut out, report, tz);
    out
}

fn write_page(out: &mut String, report: &Report, tz: &TimeZone) -> std::fmt::Result {
    let scope = report
        .queue
        .as_deref()
        .map(|q| format!("queue {q}"))
        .unwrap_or_else(|| "all queues".into());
    let window = format!(
        "{} to {} ({}), {scope}",
        local(report.since, tz),
        local(report.until, tz),
        report.timezone
    );
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<title>postdesk report: {}</title>", esc(&window))?;
    writeln!(out, "<style>{STYLE}</style></head><body>")?;
    writeln!(out, "<header><h1>Is the one-day promise kept?</h1>")?;
    writeln!(out, "<p class=\"window\">{}</p></header>", esc(&window))?;

    let target = &report.target;
    let response = &report.first_response;
    let backlog: u64 = report.backlog.iter().map(|q| q.total).sum();
    writeln!(out, "<section class=\"kpis\">")?;
    for (value, label) in [
        (
            percent(target.share_met),
            "answered within target".to_string(),
        ),
        (
            response.p50_seconds.map(duration).unwrap_or("-".into()),
            "first response, median".into(),
        ),
        (
            response.p90_seconds.map(duration).unwrap_or("-".into()),
            "first response, p90".into(),
        ),
        (report.breaches.len().to_string(), "missed deadlines".into()),
        (backlog.to_string(), "awaiting an agent now".into()),
        (report.tickets_opened.to_string(), "tickets opened".into()),
        (
            report.acknowledgements_sent.to_string(),
            "acknowledgements sent".into(),
        ),
    ] {
        writeln!(
            out,
            "<div class=\"kpi\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            esc(&label)
        )?;
    }
    writeln!(out, "</section>")?;

    writeln!(out, "<section><h2>Answered within target</h2>")?;
    target_chart(out, report)?;
    writeln!(
        out,
        "<p class=\"note\">{} of {} waiting periods settled in this window were answered by their deadline; {} more still open and not yet due.</p></section>",
        target.met,
        target.met + target.missed,
        target.open_not_due
    )?;

    writeln!(out, "<section><h2>First response</h2>")?;
    let business = format!(
        "{} ticket(s) first answered; in business time p50 {}, p90 {}.",
        response.count,
        response
            .business_p50_seconds
            .map(duration)
            .unwrap_or("-".into()),
        response
            .business_p90_seconds
            .map(duration)
            .unwrap_or("-".into())
    );
    column_chart(
        out,
        "first-response",
        "First-response times (wall-clock)",
        &response
            .histogram
            .iter()
            .map(|b| (b.label.to_string(), b.count))
            .collect::<Vec<_>>(),
        RESPONSE,
    )?;
    writeln!(out, "<p class=\"note\">{}</p></section>", esc(&business))?;

    writeln!(out, "<section><h2>Breaches per day</h2>")?;
    column_chart(
        out,
        "breaches-per-day",
        "Missed deadlines per day",
        &report
            .breaches_per_day
            .iter()
            .map(|d| (d.date.get(5..).unwrap_or(&d.date).to_string(), d.count))
            .collect::<Vec<_>>(),
        MISSED,
    )?;
    writeln!(out, "</section>")?;

    writeln!(
        out,
        "<section><h2>Backlog: awaiting an agent now, by time waited</h2>"
    )?;
    backlog_chart(out, report)?;
    writeln!(out, "</section>")?;

    writeln!(out, "<section><h2>Hot topics</h2>")?;
    let categories: Vec<(String, u64)> = report
        .topics
        .categories
        .iter()
        .map(|c| {
            (
                c.category.clone().unwrap_or_else(|| "(no category)".into()),
                c.count,
            )
        })
        .collect();
    bar_chart(
        out,
        "categories",
        "Categories of tickets opened",
        &categories,
        CATEGORY,
    )?;
    let terms: Vec<(String, u64)> = report
        .topics
        .terms
        .iter()
        .map(|t| (t.term.clone(), t.count))
        .collect();
    bar_chart(out, "terms", "Most frequent subject terms", &terms, TERM)?;
    writeln!(out, "</section>")?;

    writeln!(out, "<section><h2>Breaches</h2>")?;
    if report.breaches.is_empty() {
        writeln!(out, "<p class=\"note\">No deadline was missed.</p>")?;
    } else {
        writeln!(
            out,
            "<table><thead><tr><th>Ticket</th><th>Queue</th><th>Customer</th><th>Waiting since</th><th>Due</th><th>Answered</th><th>Late</th><th>Subject</th></tr></thead><tbody>"
        )?;
        for breach in &report.breaches {
            writeln!(
                out,
                "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"subject\">{}</td></tr>",
                breach.reference,
                esc(&breach.queue),
                esc(&breach.customer),
                esc(&local(breach.waiting_since, tz)),
                esc(&local(breach.due_at, tz)),
                esc(&breach
                    .answered_at
                    .map(|t| local(t, tz))
                    .unwrap_or_else(|| "still waiting".into())),
                esc(&duration(breach.late_seconds)),
                esc(&breach.subject)
            )?;
        }
        writeln!(out, "</tbody></table>")?;
    }
    writeln!(out, "</section>")?;
    writeln!(
        out,
        "<footer>Made by postdesk at {} ({}).</footer>",
        esc(&local(report.generated_at, tz)),
        esc(&report.timezone)
    )?;
    writeln!(out, "</body></html>")
}

/// HTML-escaped, control characters shown as `?`: safe as element text and as a quoted
/// attribute value.
pub fn esc(text: &str) -> String {
    let printable: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    handlebars::html_escape(&printable)
}

fn svg_open(out: &mut String, chart: &str, label: &str, height: f64) -> std::fmt::Result {
    writeln!(
        out,
        "<svg class=\"chart\" data-chart=\"{chart}\" role=\"img\" aria-label=\"{label}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{height}\" viewBox=\"0 0 {CHART_WIDTH} {height}\"><title>{label}</title>",
        label = esc(label)
    )
}

fn mark(
    out: &mut String,
    (x, y, width, height): (f64, f64, f64, f64),
    fill: &str,
    title: &str,
) -> std::fmt::Result {
    writeln!(
        out,
        "<rect class=\"mark\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" fill=\"{fill}\"><title>{}</title></rect>",
        esc(title)
    )
}

fn label(out: &mut String, x: f64, y: f64, anchor: &str, text: &str) -> std::fmt::Result {
    writeln!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
        esc(text)
    )
}

/// Met (green) and missed (red) per queue, and for all of them.
fn target_chart(out: &mut String, report: &Report) -> std::fmt::Result {
    let target = &report.target;
    let mut rows = vec![(
        report
            .queue
            .clone()
            .unwrap_or_else(|| "all queues".to_string()),
        target.met,
        target.missed,
    )];
    if report.queue.is_none() {
        rows.extend(
            target
                .by_queue
                .iter()
                .map(|q| (q.queue.clone(), q.met, q.missed)),
        );
    }
    let height = 10.0 + ROW * rows.len() as f64;
    svg_open(
        out,
        "target",
        "Waiting periods answered within target",
        height,
    )?;
    for (i, (name, met, missed)) in rows.iter().enumerate() {
        let y = 10.0 + ROW * i as f64;
        label(out, LABEL_WIDTH - 8.0, y + 13.0, "end", &clip(name, 24))?;
        let total = met + missed;
        if total == 0 {
            writeln!(
                out,
                "<rect x=\"{LABEL_WIDTH}\" y=\"{y:.1}\" width=\"{BAR_WIDTH}\" height=\"{BAR}\" fill=\"none\" stroke=\"#bbb\"/>"
            )?;
            label(
                out,
                LABEL_WIDTH + BAR_WIDTH + 8.0,
                y + 13.0,
                "start",
                "none settled",
            )?;
            continue;
        }
        let met_width = BAR_WIDTH * *met as f64 / total as f64;
        if *met > 0 {
            mark(
                out,
                (LABEL_WIDTH, y, met_width, BAR),
                MET,
                &format!("{name}: {met} answered within target"),
            )?;
        }
        if *missed > 0 {
            mark(
                out,
                (LABEL_WIDTH + met_width, y, BAR_WIDTH - met_width, BAR),
                MISSED,
                &format!("{name}: {missed} missed"),
            )?;
        }
        label(
            out,
            LABEL_WIDTH + BAR_WIDTH + 8.0,
            y + 13.0,
            "start",
            &format!(
                "{} ({met} of {total})",
                percent(Some(*met as f64 / total as f64))
            ),
        )?;
    }
    writeln!(out, "</svg>")
}

/// Vertical bars with their count above and their label below.
fn column_chart(
    out: &mut String,
    chart: &str,
    title: &str,
    columns: &[(String, u64)],
    fill: &str,
) -> std::fmt::Result {
    let (left, top, plot_width, plot_height) = (30.0, 20.0, CHART_WIDTH - 40.0, 150.0);
    let height = top + plot_height + 30.0;
    svg_open(out, chart, title, height)?;
    let baseline = top + plot_height;
    writeln!(
        out,
        "<line x1=\"{left}\" y1=\"{baseline}\" x2=\"{}\" y2=\"{baseline}\" stroke=\"#999\"/>",
        left + plot_width
    )?;
    let max = columns.iter().map(|c| c.1).max().unwrap_or(0);
    if columns.is_empty() || max == 0 {
        label(
            out,
            left + plot_width / 2.0,
            top + plot_height / 2.0,
            "middle",
            "none in this period",
        )?;
    }
    let slot = plot_width / columns.len().max(1) as f64;
    // Every label when they fit, else about ten of them.
    let label_every = columns.len().div_ceil(12).max(1);
    for (i, (name, count)) in columns.iter().enumerate() {
        let x = left + slot * i as f64;
        let center = x + slot / 2.0;
        if *count > 0 {
            let bar_height = plot_height * *count as f64 / max as f64;
            mark(
                out,
                (
                    x + slot * 0.15,
                    baseline - bar_height,
                    (slot * 0.7).max(1.0),
                    bar_height,
                ),
                fill,
                &format!("{name}: {count}"),
            )?;
            if columns.len() <= 31 {
                label(
                    out,
                    center,
                    baseline - bar_height - 4.0,
                    "middle",
                    &count.to_string(),
                )?;
            }
        }
        if i % label_every == 0 {
            label(out, center, baseline + 16.0, "middle", name)?;
        }
    }
    writeln!(out, "</svg>")
}

/// Horizontal bars, largest first, each with its label and count.
fn bar_chart(
    out: &mut String,
    chart: &str,
    title: &str,
    rows: &[(String, u64)],
    fill: &str,
) -> std::fmt::Result {
    let height = 34.0 + ROW * rows.len().max(1) as f64;
    svg_open(out, chart, title, height)?;
    label(out, 0.0, 16.0, "start", title)?;
    if rows.is_empty() {
        label(out, LABEL_WIDTH, 42.0, "start", "none in this period")?;
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    for (i, (name, count)) in rows.iter().enumerate() {
        let y = 28.0 + ROW * i as f64;
        label(out, LABEL_WIDTH - 8.0, y + 13.0, "end", &clip(name, 26))?;
        let width = BAR_WIDTH * *count as f64 / max as f64;
        if *count > 0 {
            mark(
                out,
                (LABEL_WIDTH, y, width, BAR),
                fill,
                &format!("{name}: {count}"),
            )?;
        }
        label(
            out,
            LABEL_WIDTH + width + 6.0,
            y + 13.0,
            "start",
            &count.to_string(),
        )?;
    }
    writeln!(out, "</svg>")
}

/// One stacked bar per queue: its waiting tickets by age, with a legend.
fn backlog_chart(out: &mut String, report: &Report) -> std::fmt::Result {
    let rows = &report.backlog;
    let height = 40.0 + ROW * rows.len().max(1) as f64;
    svg_open(
        out,
        "backlog",
        "Tickets awaiting an agent by time waited",
        height,
    )?;
    let legend: &[Bucket] = rows.first().map(|q| q.ages.as_slice()).unwrap_or(&[]);
    for (i, bucket) in legend.iter().enumerate() {
        let x = LABEL_WIDTH + 80.0 * i as f64;
        writeln!(
            out,
            "<rect x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{}\"/>",
            AGES.get(i).copied().unwrap_or(MISSED)
        )?;
        label(out, x + 16.0, 16.0, "start", bucket.label)?;
    }
    let max = rows.iter().map(|q| q.total).max().unwrap_or(0).max(1);
    if rows.iter().all(|q| q.total == 0) {
        label(out, LABEL_WIDTH, 50.0, "start", "nobody is waiting")?;
    }
    for (i, queue) in rows.iter().enumerate() {
        let y = 34.0 + ROW * i as f64;
        label(
            out,
            LABEL_WIDTH - 8.0,
            y + 13.0,
            "end",
            &clip(&queue.queue, 24),
        )?;
        let mut x = LABEL_WIDTH;
        for (j, bucket) in queue.ages.iter().enumerate() {
            if bucket.count == 0 {
                continue;
            }
            let width = BAR_WIDTH * bucket.count as f64 / max as f64;
            mark(
                out,
                (x, y, width, BAR),
                AGES.get(j).copied().unwrap_or(MISSED),
                &format!("{}: {} waiting {}", queue.queue, bucket.count, bucket.label),
            )?;
            x += width;
        }
        if queue.total > 0 {
            label(out, x + 6.0, y + 13.0, "start", &queue.total.to_string())?;
        }
    }
    writeln!(out, "</svg>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        Breach, CategoryCount, DayCount, FirstResponse, QueueBacklog, QueueShare, TargetShare,
        TermCount, Topics,
    };

    fn hostile() -> Report {
        let subject = "<script>alert(1)</script><img src=x onerror=alert(2)> \"quoted\" & 'single'";
        Report {
            generated_at: 1_795_000_000,
            since: 1_794_400_000,
            until: 1_795_000_000,
            queue: None,
            timezone: "UTC".into(),
            tickets_opened: 1,
            acknowledgements_sent: 0,
            target: TargetShare {
                met: 0,
                missed: 1,
                share_met: Some(0.0),
                open_not_due: 0,
                by_queue: vec![QueueShare {
                    queue: "<b>q</b>".into(),
                    met: 0,
                    missed: 1,
                    share_met: Some(0.0),
                }],
            },
            first_response: FirstResponse {
                count: 0,
                p50_seconds: None,
                p90_seconds: None,
                business_p50_seconds: None,
                business_p90_seconds: None,
                histogram: Vec::new(),
            },
            breaches: vec![Breach {
                reference: 1000,
                queue: "<b>q</b>".into(),
                subject: subject.into(),
                customer: "\"><svg onload=alert(3)>@x.example".into(),
                waiting_since: 1_794_500_000,
                due_at: 1_794_586_400,
                answered_at: None,
                late_seconds: 3600,
            }],
            breaches_per_day: vec![DayCount {
                date: "2026-11-18".into(),
                count: 1,
            }],
            backlog: vec![QueueBacklog {
                queue: "<b>q</b>".into(),
                total: 0,
                ages: Vec::new(),
            }],
            topics: Topics {
                categories: vec![CategoryCount {
                    category: Some("</title><script>x()</script>".into()),
                    count: 1,
                }],
                terms: vec![TermCount {
                    term: "<script>".into(),
                    count: 1,
                }],
            },
        }
    }

    #[test]
    fn user_text_never_becomes_markup() {
        let page = render(&hostile(), &TimeZone::UTC);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>q"), "{page}");
        assert!(!page.contains("onload=alert"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src&#x3D;x"),
            "{page}"
        );
        assert!(page.contains("Content-Security-Policy"));
    }

    #[test]
    fn every_chart_is_an_svg_with_marks_for_its_data() {
        let page = render(&hostile(), &TimeZone::UTC);
        for chart in [
            "target",
            "first-response",
            "breaches-per-day",
            "backlog",
            "categories",
            "terms",
        ] {
            assert!(
                page.contains(&format!("data-chart=\"{chart}\"")),
                "{chart} missing"
            );
        }
        // one missed segment, one day bar, one category, one term
        assert_eq!(page.matches("class=\"mark\"").count(), 2 + 1 + 1 + 1);
    }
}
