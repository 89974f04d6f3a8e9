//! The page's charts as inline SVG. Each is an `<svg class="chart" data-chart="NAME">`; its
//! data marks (bars and bar segments) carry `class="mark"`.

use std::fmt::Write;

use super::esc;
use crate::report::text::{clip, percent};
use crate::report::{Bucket, Report};

const MET: &str = "#2e7d32";
pub(super) const MISSED: &str = "#c62828";
pub(super) const RESPONSE: &str = "#1565c0";
pub(super) const CATEGORY: &str = "#6a1b9a";
pub(super) const TERM: &str = "#00838f";
/// Backlog age buckets, from fresh to old.
const AGES: [&str; 5] = ["#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"];

const CHART_WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 170.0;
const BAR_WIDTH: f64 = 340.0;
const ROW: f64 = 28.0;
const BAR: f64 = 18.0;

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
pub(super) fn target_chart(out: &mut String, report: &Report) -> std::fmt::Result {
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
pub(super) fn column_chart(
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
pub(super) fn bar_chart(
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
pub(super) fn backlog_chart(out: &mut String, report: &Report) -> std::fmt::Result {
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
