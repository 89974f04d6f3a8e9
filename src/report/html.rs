//! The report as one self-contained HTML page: inline CSS, charts as inline SVG, no script,
//! no network (a Content-Security-Policy forbids every fetch and every script, so even a
//! mistake in escaping could not run anything). Every text that comes from mail (subjects,
//! customers, categories, terms) is HTML-escaped; subjects are hostile input.
//!
//! Each chart is an `<svg class="chart" data-chart="NAME">` whose data marks (bars and bar
//! segments) carry `class="mark"`, so a browser test can check that they really render.

mod charts;

use std::fmt::Write;

use jiff::tz::TimeZone;

use super::Report;
use super::text::{duration, local, percent};
use charts::{
    CATEGORY, MISSED, RESPONSE, TERM, backlog_chart, bar_chart, column_chart, target_chart,
};

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
    write_head(out, report, tz)?;
    write_kpis(out, report)?;
    write_target(out, report)?;
    write_first_response(out, report)?;
    write_breaches_per_day(out, report)?;
    write_backlog(out, report)?;
    write_topics(out, report)?;
    write_breaches(out, report, tz)?;
    writeln!(
        out,
        "<footer>Made by postdesk at {} ({}).</footer>",
        esc(&local(report.generated_at, tz)),
        esc(&report.timezone)
    )?;
    writeln!(out, "</body></html>")
}

/// The document head (policy, style, title) and the page header naming the window.
fn write_head(out: &mut String, report: &Report, tz: &TimeZone) -> std::fmt::Result {
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
    writeln!(out, "<p class=\"window\">{}</p></header>", esc(&window))
}

/// The key figures, one box each.
fn write_kpis(out: &mut String, report: &Report) -> std::fmt::Result {
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
    writeln!(out, "</section>")
}

/// The share of waiting periods answered by their deadline, per queue.
fn write_target(out: &mut String, report: &Report) -> std::fmt::Result {
    let target = &report.target;
    writeln!(out, "<section><h2>Answered within target</h2>")?;
    target_chart(out, report)?;
    writeln!(
        out,
        "<p class=\"note\">{} of {} waiting periods settled in this window were answered by their deadline; {} more still open and not yet due.</p></section>",
        target.met,
        target.met + target.missed,
        target.open_not_due
    )
}

/// The wall-clock histogram of first responses, and the business-time quantiles.
fn write_first_response(out: &mut String, report: &Report) -> std::fmt::Result {
    let response = &report.first_response;
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
    writeln!(out, "<p class=\"note\">{}</p></section>", esc(&business))
}

/// Missed deadlines per local day, labelled by month and day.
fn write_breaches_per_day(out: &mut String, report: &Report) -> std::fmt::Result {
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
    writeln!(out, "</section>")
}

/// The tickets awaiting an agent now, per queue by age.
fn write_backlog(out: &mut String, report: &Report) -> std::fmt::Result {
    writeln!(
        out,
        "<section><h2>Backlog: awaiting an agent now, by time waited</h2>"
    )?;
    backlog_chart(out, report)?;
    writeln!(out, "</section>")
}

/// The categories and subject terms of the tickets opened.
fn write_topics(out: &mut String, report: &Report) -> std::fmt::Result {
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
    writeln!(out, "</section>")
}

/// The missed deadlines as a table, one row each.
fn write_breaches(out: &mut String, report: &Report, tz: &TimeZone) -> std::fmt::Result {
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
    writeln!(out, "</section>")
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
