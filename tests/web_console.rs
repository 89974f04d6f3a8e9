//! The web console in real headless Chromium (`/usr/bin/chromium` driven through
//! `/usr/bin/chromedriver`, installed by scripts/install-deps), against `postdesk run`
//! with a `[web]` section over mail filed by `postdesk ingest`: sign in, find a caller by a
//! phone number written differently from their mail, read the caller view, note a call
//! and close the ticket (and see both in `postdesk ticket`); refusals without a session
//! and without the CSRF token; a hostile subject shown as text; the API's JSON equal to
//! the command line's. With `POSTDESK_SCREENSHOTS=1` it saves the screenshots the README
//! shows under docs/.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const USER: &str = "anna.agent";
const PASSWORD: &str = "correct horse battery staple";

const ANNA: &str = "From: Anna Schmidt <anna@client.example>
To: support@desk.example
Subject: Invoice 2211 charged twice
Message-ID: <anna-1@client.example>
Date: Mon, 02 Mar 2026 09:15:00 +0100
Content-Type: text/plain; charset=utf-8

Hello,

my card was charged twice for invoice 2211. Please call me back on
+49 30 5550123, I am in the office until five.

Anna

On Fri, 27 Feb 2026, Example Support wrote:
> Thank you for your order.
> Your invoice is attached.
";

const HOSTILE: &str = "From: Mallory <mallory@attacker.example>
To: support@desk.example
Subject: <script>alert(1)</script><img src=x onerror=alert(2)>
Message-ID: <mallory-1@attacker.example>
Date: Mon, 02 Mar 2026 10:00:00 +0100
Content-Type: text/plain; charset=utf-8

<b>bold?</b> <script>document.title='owned'</script>
";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process ended when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Desk {
    dir: tempfile::TempDir,
    port: u16,
}

impl Desk {
    fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "database = {:?}\n\n[calendar]\ntimezone = \"Europe/Berlin\"\n\n[web]\nlisten = \"127.0.0.1:{port}\"\n",
            dir.path().join("postdesk.db").display().to_string()
        );
        std::fs::write(dir.path().join("postdesk.toml"), config).unwrap();
        Desk { dir, port }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn output(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(self.path("postdesk.toml"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "postdesk {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn run(&self) -> Running {
        let log = std::fs::File::create(self.path("postdesk.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
            .arg("--config")
            .arg(self.path("postdesk.toml"))
            .args(["run", "--no-mailboxes"])
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        wait_for_port(
            self.port,
            "postdesk's web console",
            &self.path("postdesk.log"),
        );
        Running(child)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// One raw HTTP/1.1 request: (status, headers and body as text).
    fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, response)
    }
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn browser(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,800", "--lang=en"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("start a Chromium session through chromedriver")
}

/// Where a screenshot goes: `docs/` when `POSTDESK_SCREENSHOTS=1` asks to refresh the
/// README's pictures, else the test's own directory (a test run leaves the checkout clean).
fn screenshot_path(desk: &Desk, name: &str) -> PathBuf {
    if std::env::var_os("POSTDESK_SCREENSHOTS").is_some_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name)
    } else {
        desk.path(name)
    }
}

/// Files the two mails, adds the user and an API token; returns the token.
fn prepare(desk: &Desk) -> String {
    std::fs::write(desk.path("anna.eml"), ANNA).unwrap();
    std::fs::write(desk.path("hostile.eml"), HOSTILE).unwrap();
    let anna = desk.path("anna.eml").display().to_string();
    let hostile = desk.path("hostile.eml").display().to_string();
    desk.cli(&["ingest", &anna, &hostile]);
    std::fs::write(desk.path("password"), format!("{PASSWORD}\n")).unwrap();
    let password = desk.path("password").display().to_string();
    desk.cli(&[
        "web",
        "user",
        "add",
        USER,
        "--role",
        "agent",
        "--password-file",
        &password,
    ]);
    let token = desk.cli(&["web", "token", "add", "phone-system", "--role", "agent"]);
    token.trim().to_string()
}

fn reference_of(desk: &Desk, customer: &str) -> i64 {
    let tickets: Value = serde_json::from_str(&desk.cli(&["tickets", "--json"])).unwrap();
    tickets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["customer"] == customer)
        .and_then(|t| t["ref"].as_i64())
        .unwrap_or_else(|| panic!("no ticket of {customer}: {tickets:#}"))
}

/// The text of `css` once it holds `needle` (the page after a form's submit may take a
/// moment to replace the one before); fails after 10 s with the text it had.
async fn text_with(client: &Client, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed {needle:?}; it shows:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(client: &Client, desk: &Desk, next: &str) {
    client.goto(&desk.url(next)).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/login"),
        "a page without a session asks to sign in"
    );
    let source = client.source().await.unwrap();
    assert!(
        !source.contains("Invoice 2211"),
        "nothing of the ticket before signing in"
    );
    client
        .find(Locator::Css("input[name=user]"))
        .await
        .unwrap()
        .send_keys(USER)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("form.login button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_agent_finds_the_caller_notes_the_call_and_closes_the_ticket() {
    let desk = Desk::new();
    let token = prepare(&desk);
    let anna = reference_of(&desk, "anna@client.example");
    let mallory = reference_of(&desk, "mallory@attacker.example");
    let _daemon = desk.run();
    let driver_port = free_port();
    let _driver = Running(
        Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/bin/chromedriver (scripts/install-deps installs chromium-driver)"),
    );
    wait_for_port(driver_port, "chromedriver", &desk.path("postdesk.log"));
    let client = browser(driver_port).await;
    let outcome = drive(&client, &desk, anna, mallory).await;
    client.close().await.ok();
    outcome.unwrap();

    // The note and the close are ticket events naming the web user, as the CLI shows them.
    let shown = desk.cli(&["ticket", &anna.to_string()]);
    assert!(
        shown.contains(&format!("by web user {USER}: Called back")),
        "{shown}"
    );
    assert!(
        shown.lines().any(|l| l.contains("closed") && l.trim_end().ends_with(&format!("by web user {USER}"))),
        "{shown}"
    );
    let detail: Value =
        serde_json::from_str(&desk.cli(&["ticket", &anna.to_string(), "--json"])).unwrap();
    assert_eq!(detail["status"], "closed");

    // The API answers with the command line's document.
    let (status, response) = desk.http(
        "GET",
        &format!("/api/tickets/{anna}"),
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    assert_eq!(status, 200, "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let api: Value = serde_json::from_str(body).unwrap();
    assert_eq!(api, detail);
    let (status, _) = desk.http("GET", &format!("/api/tickets/{anna}"), &[], "");
    assert_eq!(status, 401, "the API without a token");
    let (status, _) = desk.http(
        "GET",
        &format!("/api/tickets/{anna}"),
        &[("Authorization", "Bearer 00ff")],
        "",
    );
    assert_eq!(status, 401, "the API with an unknown token");
    sign_in_is_rate_limited(&desk);
}

async fn drive(client: &Client, desk: &Desk, anna: i64, mallory: i64) -> Result<(), String> {
    sign_in(client, desk, "/search").await;
    text_with(client, "main", "Who is calling?").await;
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/search", "signed in, back at the search");

    // The mail says "+49 30 5550123"; the caller's number comes in as "030 / 555 01 23".
    let search = client.find(Locator::Css("input[name=q]")).await.unwrap();
    search.send_keys("030 / 555 01 23").await.unwrap();
    client
        .find(Locator::Css("form.search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_with(client, "main h1", "ticket(s) for").await;
    let hits = client
        .find_all(Locator::Css("ol.hits a.hit"))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "one ticket for the phone number");
    let text = hits[0].text().await.unwrap();
    assert!(
        text.contains(&format!("#{anna}")) && text.contains("Invoice 2211"),
        "{text}"
    );
    std::fs::write(
        screenshot_path(desk, "web-search.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    hits[0].click().await.unwrap();

    // The caller view: who, what was promised, not answered yet, times in the desk's zone.
    let main = text_with(client, "main", "What we promised").await;
    for expected in [
        "Anna Schmidt",
        "anna@client.example",
        "Has written 1 message(s)",
        "What we promised",
        "Not answered yet",
        "CET",
    ] {
        assert!(
            main.contains(expected),
            "caller view lacks {expected:?}:\n{main}"
        );
    }
    assert!(
        !main.contains("Your invoice is attached"),
        "the quoted history is folded:\n{main}"
    );
    let folded = client
        .find_all(Locator::Css("article.message details"))
        .await
        .unwrap();
    assert_eq!(
        folded.len(),
        1,
        "the quote is behind a 'Quoted history' fold"
    );
    client.set_window_size(420, 1300).await.unwrap();
    std::fs::write(
        screenshot_path(desk, "web-caller.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client.set_window_size(1100, 800).await.unwrap();

    // Note the call, then close.
    client
        .find(Locator::Css("textarea[name=text]"))
        .await
        .unwrap()
        .send_keys("Called back: the double charge is refunded by Friday.")
        .await
        .unwrap();
    client
        .find(Locator::Css("form[action$='/note'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let events = text_with(
        client,
        "ul.events",
        &format!("note by web user {USER}: Called back"),
    )
    .await;
    assert!(events.contains("Called back"), "{events}");
    client
        .find(Locator::Css("form[action$='/close'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let title = text_with(client, "h1", "closed").await;
    assert!(!title.contains("overdue"), "{title}");

    refusals(client, desk, mallory).await;
    hostile(client, desk, mallory).await;
    Ok(())
}

/// Without the session cookie, or with it but without the form's CSRF token, nothing changes.
async fn refusals(client: &Client, desk: &Desk, mallory: i64) {
    let session = client.get_named_cookie("postdesk_session").await.unwrap();
    let cookie = format!("postdesk_session={}", session.value());
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let close = format!("/tickets/{mallory}/close");
    let (status, _) = desk.http("POST", &close, &[form], "csrf=whatever");
    assert_eq!(status, 401, "closing without a session");
    let (status, page) = desk.http("POST", &close, &[form, ("Cookie", &cookie)], "");
    assert_eq!(status, 403, "closing without the CSRF token");
    assert!(page.contains("CSRF token"), "{page}");
    let (status, _) = desk.http(
        "POST",
        &close,
        &[form, ("Cookie", &cookie)],
        "csrf=0123abcd",
    );
    assert_eq!(status, 403, "closing with a wrong CSRF token");
    let (status, _) = desk.http(
        "POST",
        &format!("/tickets/{mallory}/note"),
        &[form, ("Cookie", &cookie)],
        "text=hello",
    );
    assert_eq!(status, 403, "a note without the CSRF token");
    let (status, page) = desk.http("GET", &format!("/tickets/{mallory}"), &[], "");
    assert_eq!(status, 303, "a page without a session sends to the sign-in");
    assert!(page.contains("location: /login"), "{page}");
    let detail: Value =
        serde_json::from_str(&desk.cli(&["ticket", &mallory.to_string(), "--json"])).unwrap();
    assert_ne!(
        detail["status"], "closed",
        "the refused close changed nothing"
    );
    assert!(
        !detail["events"].to_string().contains("web user"),
        "no event from the refused requests"
    );
}

/// A subject of `<script>` and `<img onerror>` is shown as text: no element, no script run.
async fn hostile(client: &Client, desk: &Desk, mallory: i64) {
    client
        .goto(&desk.url("/search?q=mallory%40attacker.example"))
        .await
        .unwrap();
    let hit = client.find(Locator::Css("ol.hits a.hit")).await.unwrap();
    assert!(
        hit.text()
            .await
            .unwrap()
            .contains("<script>alert(1)</script><img src=x onerror=alert(2)>")
    );
    client
        .goto(&desk.url(&format!("/tickets/{mallory}")))
        .await
        .unwrap();
    let h1 = client.find(Locator::Css("h1")).await.unwrap();
    assert!(
        h1.text()
            .await
            .unwrap()
            .contains("<img src=x onerror=alert(2)>")
    );
    assert!(
        client
            .find_all(Locator::Css("h1 img, main img, main script, main b"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!client.title().await.unwrap().contains("owned"));
}

/// After 5 failed sign-ins from one address, even the right password is refused for a while.
fn sign_in_is_rate_limited(desk: &Desk) {
    let (status, page) = desk.http("GET", "/login", &[], "");
    assert_eq!(status, 200);
    let token = page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: postdesk_login="))
        .and_then(|v| v.split(';').next())
        .expect("the sign-in page sets its CSRF cookie")
        .to_string();
    let cookie = format!("postdesk_login={token}");
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Cookie", cookie.as_str()),
    ];
    let (status, _) = desk.http(
        "POST",
        "/login",
        &headers[..1],
        &format!("user={USER}&password=x&csrf={token}"),
    );
    assert_eq!(status, 403, "a sign-in without the form's CSRF cookie");
    for _ in 0..5 {
        let (status, _) = desk.http(
            "POST",
            "/login",
            &headers,
            &format!("user={USER}&password=wrong&csrf={token}"),
        );
        assert_eq!(status, 401);
    }
    let right = format!(
        "user={USER}&password={}&csrf={token}",
        PASSWORD.replace(' ', "+")
    );
    let (status, page) = desk.http("POST", "/login", &headers, &right);
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("Too many failed sign-ins"), "{page}");
}

#[test]
fn check_config_refuses_the_console_on_the_network_without_a_proxy() {
    let desk = Desk::new();
    std::fs::write(
        desk.path("postdesk.toml"),
        "[web]\nlisten = \"0.0.0.0:8025\"\n",
    )
    .unwrap();
    let out = desk.output(&["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("web.listen") && stderr.contains("trusted_proxy"),
        "{stderr}"
    );
    std::fs::write(
        desk.path("postdesk.toml"),
        "[web]\nlisten = \"0.0.0.0:8025\"\ntrusted_proxy = [\"10.0.0.5\"]\n",
    )
    .unwrap();
    let out = desk.output(&["check-config"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
