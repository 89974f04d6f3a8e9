//! `postdesk report` as a support lead runs it: the fixtures and a few answers filed through
//! the pipeline on a clock three days behind (so that most requests are overdue by now),
//! then the binary's text, JSON and HTML output — the HTML rendered by a real headless
//! Chromium, which must show every chart and must not run anything a subject holds.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Desk, fixture, fixture_path};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// A subject that runs script if it is ever written into the page unescaped.
const HOSTILE_SUBJECT: &str = "<script>document.documentElement.setAttribute('data-pwned','script')</script><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\"> Refund for order 77";

const AGENT: &str = "Anna <anna@example.com>";

/// Anna's answer to `customer`, the desk in copy (how an observed answer arrives).
fn answer(customer: &str, subject: &str, id: &str, parent: Option<&str>) -> Vec<u8> {
    let raw = String::from_utf8(mail(AGENT, subject, id, parent)).unwrap();
    raw.replacen(
        "To: support@example.com",
        &format!("To: {customer}\r\nCc: support@example.com"),
        1,
    )
    .into_bytes()
}

fn mail(from: &str, subject: &str, id: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let threading = in_reply_to
        .map(|p| format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"))
        .unwrap_or_default();
    let date = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000");
    format!(
        "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{id}>\r\n{threading}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nPlease help.\r\n"
    )
    .into_bytes()
}

/// The desk three days ago, filled; returns it with the references of: Alice's ticket
/// (answered in 2 h), Henry's invoice (answered after 30 h), the hostile ticket
/// (unanswered) and a fresh request (open, not due).
fn filled_desk() -> (Desk, [i64; 4]) {
    let mut desk = Desk::new();
    let start = Timestamp::now() - SignedDuration::from_hours(72);
    let at = |hours: i64| start + SignedDuration::from_hours(hours);
    desk.clock.set(start);
    let mut names: Vec<String> = std::fs::read_dir(fixture_path("mail"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        desk.ingest(&fixture(name));
    }
    let alice = desk.ingest_fixture("06-request-en.eml");
    let henry = desk.ingest_fixture("19-request-invoice.eml");
    desk.clock.set(at(1));
    let hostile = desk.ingest(&mail(
        "Mallory <mallory@evil.example>",
        HOSTILE_SUBJECT,
        "hostile-1@evil.example",
        None,
    ));
    desk.clock.set(at(2));
    desk.ingest(&answer(
        "alice@customer.example",
        "Re: Cannot log in to my account",
        "answer-alice@example.com",
        Some("req-alice-1@customer.example"),
    ));
    desk.clock.set(at(30));
    desk.ingest(&answer(
        "henry@smallbiz.example",
        "Re: Invoice INV-2026-118 is wrong",
        "answer-henry@example.com",
        Some("3E8D1A4B-6C2F-4B7E-9A05-D1F2E3C4B5A6@smallbiz.example"),
    ));
    desk.clock
        .set(Timestamp::now() - SignedDuration::from_hours(1));
    let fresh = desk.ingest(&mail(
        "Zoe <zoe@customer.example>",
        "Password reset link expired",
        "fresh-1@customer.example",
        None,
    ));
    (desk, [alice, henry, hostile, fresh])
}

fn postdesk(desk: &Desk, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .env_remove("POSTDESK_CONFIG")
        .env_remove("POSTDESK_DB")
        .env("POSTDESK_LOG", "warn")
        .arg("--config")
        .arg(fixture_path("postdesk.toml"))
        .arg("--db")
        .arg(&desk.config.database)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run postdesk")
}

fn stdout_of(output: &Output, args: &[&str]) -> String {
    assert!(
        output.status.success(),
        "postdesk {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn report_json_and_text_from_the_store() {
    let (desk, [alice, henry, hostile, fresh]) = filled_desk();
    let args = ["report", "--json"];
    let json: Value = serde_json::from_str(&stdout_of(&postdesk(&desk, &args), &args)).unwrap();

    // Alice's answer came in time; every other request of the fixtures and the hostile one
    // waited past its one-day target; Henry's answer came 6 h late; Zoe's is not due yet.
    let target = &json["target"];
    assert_eq!(target["met"], 1, "{json:#}");
    let missed = target["missed"].as_u64().unwrap();
    assert!(missed >= 10, "{json:#}");
    assert_eq!(target["open_not_due"], 1);
    let share = target["share_met"].as_f64().unwrap();
    assert!((share - 1.0 / (1.0 + missed as f64)).abs() < 1e-9);
    let breaches = json["breaches"].as_array().unwrap();
    assert_eq!(breaches.len() as u64, missed);
    let breach = |reference: i64| {
        breaches
            .iter()
            .find(|b| b["ref"] == reference)
            .unwrap_or_else(|| panic!("#{reference} not among the breaches: {json:#}"))
    };
    assert_eq!(breach(henry)["late_seconds"], 6 * 3600);
    assert!(breach(henry)["answered_at"].is_string());
    assert_eq!(breach(hostile)["subject"], HOSTILE_SUBJECT);
    assert!(breach(hostile)["answered_at"].is_null());
    assert!(
        breaches
            .iter()
            .all(|b| b["ref"] != alice && b["ref"] != fresh)
    );
    let per_day: u64 = json["breaches_per_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_day, missed);
    assert_eq!(json["breaches_per_day"].as_array().unwrap().len(), 8);

    let response = &json["first_response"];
    assert_eq!(response["count"], 2);
    assert_eq!(response["p50_seconds"], 2 * 3600);
    assert_eq!(response["p90_seconds"], 30 * 3600);
    assert!(response["business_p50_seconds"].is_u64());

    let backlog = json["backlog"].as_array().unwrap();
    let waiting: u64 = backlog.iter().map(|q| q["total"].as_u64().unwrap()).sum();
    assert_eq!(waiting, missed); // every overdue ticket still waits, plus Zoe, less Henry
    let support = backlog.iter().find(|q| q["queue"] == "support").unwrap();
    assert_eq!(support["ages"][1]["label"], "1-4h");
    assert_eq!(support["ages"][1]["count"], 1, "Zoe, an hour ago");
    assert_eq!(json["timezone"], "Europe/Kyiv");
    assert_eq!(json["acknowledgements_sent"], 0);
    assert!(json["tickets_opened"].as_u64().unwrap() >= 14);
    let categories = json["topics"]["categories"].as_array().unwrap();
    assert!(
        categories
            .iter()
            .any(|c| c["category"] == "billing" && c["count"].as_u64() >= Some(3)),
        "{categories:?}"
    );
    let terms: Vec<&str> = json["topics"]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["term"].as_str().unwrap())
        .collect();
    assert!(terms.len() <= 20);
    for absent in ["re", "the", "help", "please", "1018"] {
        assert!(!terms.contains(&absent), "{absent:?} in {terms:?}");
    }
    assert!(terms.contains(&"invoice"), "{terms:?}");

    let args = ["report", "--queue", "billing", "--json"];
    let billing: Value = serde_json::from_str(&stdout_of(&postdesk(&desk, &args), &args)).unwrap();
    assert_eq!(billing["queue"], "billing");
    assert!(
        billing["breaches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["queue"] == "billing")
    );
    assert_eq!(billing["backlog"].as_array().unwrap().len(), 1);

    let args = ["report"];
    let text = stdout_of(&postdesk(&desk, &args), &args);
    for expected in [
        "Answered within target".to_string(),
        format!(
            "1 of {} waiting periods (1 still open, not yet due)",
            missed + 1
        ),
        format!("#{henry}"),
        format!("#{hostile}"),
        "p50 2h 00m".into(),
        "Backlog: tickets awaiting an agent now".into(),
        "Top subject terms".into(),
    ] {
        assert!(text.contains(&expected), "{expected:?} missing in\n{text}");
    }

    let out = postdesk(&desk, &["report", "--since", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since soon"));
    let out = postdesk(&desk, &["report", "--queue", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    let args = ["report", "--since", "2000-01-01", "--json"];
    let all: Value = serde_json::from_str(&stdout_of(&postdesk(&desk, &args), &args)).unwrap();
    assert!(
        all["since"]
            .as_str()
            .unwrap()
            .starts_with("1999-12-31T22:00:00")
    );
}

// ---------------------------------------------------------------- the HTML in Chromium

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "headless Chromium is needed to check the HTML report and was not found at \
                 /usr/bin/chromium: run scripts/install-deps (Debian package `chromium`)"
            )
        })
}

/// `chromium --headless --dump-dom` of a local file: the DOM after scripts ran and
/// (virtual) time let images fail and timers fire.
fn dump_dom(page: &Path, profile: &Path) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("</html>"),
        "chromium failed ({}) on {}:\n{}",
        output.status,
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// Measures every chart once laid out: the size of each `svg.chart` and how many of its
/// data marks have a non-empty box, written into `body[data-measured]` for `--dump-dom`.
const MEASURE: &str = r#"<script>
window.addEventListener('load', function () {
  var charts = {};
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    var marks = 0;
    svg.querySelectorAll('.mark').forEach(function (mark) {
      var b = mark.getBBox();
      if (b.width > 0 && b.height > 0) { marks++; }
    });
    charts[svg.getAttribute('data-chart')] = { width: box.width, height: box.height, marks: marks };
  });
  document.body.setAttribute('data-measured', JSON.stringify(charts));
});
</script>"#;

fn unescape(attribute: &str) -> String {
    attribute
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn html_report_renders_its_charts_in_chromium_and_runs_no_subject() {
    let (desk, [_, _, hostile, _]) = filled_desk();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let args = ["report", "--html", page.to_str().unwrap()];
    stdout_of(&postdesk(&desk, &args), &args);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Content-Security-Policy"));
    for external in ["http://", "https://", "src=\"", "<link", "@import", "url("] {
        let outside_svg_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(
            !outside_svg_namespace.contains(external),
            "the page refers to something outside itself ({external:?})"
        );
    }

    // The page as shipped, under its own policy: the hostile subject is text in its cell.
    let shipped = dump_dom(&page, &dir.path().join("profile-1"));
    let cell = format!("<td>#{hostile}</td>");
    assert!(
        shipped.contains(&cell),
        "breach row of #{hostile} missing:\n{shipped}"
    );
    assert!(
        shipped.contains("&lt;script&gt;document.documentElement.setAttribute('data-pwned','script')&lt;/script&gt;&lt;img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\"&gt; Refund for order 77"),
        "hostile subject not shown as text:\n{shipped}"
    );
    assert!(
        !shipped.contains("data-pwned=\""),
        "a subject ran:\n{shipped}"
    );

    // The same page without the policy and with a measuring script: escaping alone keeps
    // the subject inert, and every chart has a size and visible marks.
    let measured_page = dir.path().join("measured.html");
    let start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .unwrap();
    let end = start + html[start..].find('>').unwrap() + 1;
    let mut open = html.clone();
    open.replace_range(start..end, "");
    let open = open.replace("</body>", &format!("{MEASURE}</body>"));
    std::fs::write(&measured_page, open).unwrap();
    let dom = dump_dom(&measured_page, &dir.path().join("profile-2"));
    assert!(!dom.contains("data-pwned=\""), "a subject ran:\n{dom}");
    assert!(!dom.contains("<img"), "a subject became an element:\n{dom}");
    let measured = regex::Regex::new(r#"data-measured="([^"]*)""#)
        .unwrap()
        .captures(&dom)
        .unwrap_or_else(|| panic!("the measuring script did not run:\n{dom}"))
        .get(1)
        .unwrap()
        .as_str()
        .to_string();
    let charts: Value = serde_json::from_str(&unescape(&measured)).unwrap();
    for (chart, min_marks) in [
        ("target", 2),
        ("first-response", 2),
        ("breaches-per-day", 1),
        ("backlog", 2),
        ("categories", 2),
        ("terms", 10),
    ] {
        let c = &charts[chart];
        assert!(
            c["width"].as_f64() > Some(100.0) && c["height"].as_f64() > Some(50.0),
            "chart {chart} has no size: {charts:#}"
        );
        assert!(
            c["marks"].as_u64() >= Some(min_marks),
            "chart {chart} shows fewer than {min_marks} marks: {charts:#}"
        );
    }
}
