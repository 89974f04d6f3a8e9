//! Signing in and out, the session a request carries, CSRF tokens and the login limiter.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{LazyLock, Mutex};

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::App;
use super::accounts::{self, Session};
use super::view;

pub const SESSION_COOKIE: &str = "postdesk_session";
/// Before a session exists, the login form's CSRF token is this cookie's value.
const LOGIN_COOKIE: &str = "postdesk_login";
/// Failed logins allowed per client address and per user name in [`WINDOW_SECONDS`].
const MAX_FAILURES: usize = 5;
const WINDOW_SECONDS: i64 = 15 * 60;

/// Failed logins per client and per user name, the last [`WINDOW_SECONDS`].
#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl Limiter {
    fn blocked(&self, keys: &[String], now: i64) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.retain(|_, times| {
            times.retain(|t| now - t < WINDOW_SECONDS);
            !times.is_empty()
        });
        keys.iter()
            .any(|k| failures.get(k).is_some_and(|t| t.len() >= MAX_FAILURES))
    }

    fn fail(&self, keys: &[String], now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            failures.entry(key.clone()).or_default().push(now);
        }
    }
}

/// A cookie of the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn set_cookie(app: &App, name: &str, value: &str, max_age: i64) -> String {
    let secure = if app.secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The signed-in user of a request. Without a session, a page asks to sign in and any
/// other request is refused.
pub struct Signed(pub Session);

impl FromRequestParts<App> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let now = app.now();
        let found = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => {
                let token = token.to_string();
                app.shared
                    .read_apart(|conn| accounts::session(conn, &token, now))
                    .map_err(view::failed)?
            }
            None => None,
        };
        match found {
            Some(session) => Ok(Signed(session)),
            None if parts.method == Method::GET => {
                let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let target = format!("/login?next={}", encode(next));
                Err(Redirect::to(&target).into_response())
            }
            None => Err(view::refused(
                StatusCode::UNAUTHORIZED,
                "You are not signed in (or your session ended): sign in and try again.",
            )),
        }
    }
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A form's CSRF token must be its session's.
pub fn check_csrf(session: &Session, sent: &str) -> Result<(), Response> {
    if !sent.is_empty() && constant_time_eq(sent.as_bytes(), session.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(view::refused(
            StatusCode::FORBIDDEN,
            "This form was not sent from this console's page (its CSRF token is missing or wrong): reload the page and send it again.",
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Only a path of this site: never `//host` or `https://…`.
fn local_target(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/search")
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_page(State(app): State<App>, Query(query): Query<LoginQuery>) -> Response {
    let token = accounts::random_token();
    let page = view::login(&token, local_target(query.next.as_deref()), None);
    (
        [(
            header::SET_COOKIE,
            set_cookie(&app, LOGIN_COOKIE, &token, 3600),
        )],
        page,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// A hash to check against when the user does not exist, so that both take as long.
static NOBODY: LazyLock<String> =
    LazyLock::new(|| accounts::hash_password("no such user, no such password").unwrap_or_default());

pub async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = app.now();
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if form.csrf.is_empty() || !constant_time_eq(form.csrf.as_bytes(), expected.as_bytes()) {
        return view::refused(
            StatusCode::FORBIDDEN,
            "This sign-in form was not sent from this console's page (its CSRF token is missing or wrong): open the sign-in page again.",
        );
    }
    let next = local_target(form.next.as_deref()).to_string();
    let keys = [format!("ip {}", peer.ip()), format!("user {}", form.user)];
    if app.limiter.blocked(&keys, now) {
        tracing::warn!(user = %form.user, client = %peer.ip(), "web console: login refused, too many failures");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            view::login(expected, &next, Some("Too many failed sign-ins: wait 15 minutes, or ask an admin to check your account.")),
        )
            .into_response();
    }
    let user = form.user.clone();
    let stored = match app
        .shared
        .read_apart(|conn| accounts::password_of(conn, &user))
    {
        Ok(stored) => stored,
        Err(error) => return view::failed(error),
    };
    let password = form.password;
    let (hash, role) = stored
        .clone()
        .unwrap_or_else(|| (NOBODY.clone(), accounts::Role::Agent));
    let matches = tokio::task::spawn_blocking(move || accounts::check_password(&hash, &password))
        .await
        .unwrap_or(false);
    if !matches || stored.is_none() {
        app.limiter.fail(&keys, now);
        tracing::warn!(user = %form.user, client = %peer.ip(), "web console: failed login");
        return (
            StatusCode::UNAUTHORIZED,
            view::login(expected, &next, Some("Wrong user name or password.")),
        )
            .into_response();
    }
    let opened = app
        .shared
        .write(|store| accounts::open_session(store.connection(), &user, role, now));
    match opened {
        Ok((token, _)) => {
            tracing::info!(user = %user, "web console: signed in");
            let cookie = set_cookie(&app, SESSION_COOKIE, &token, accounts::SESSION_SECONDS);
            let clear = set_cookie(&app, LOGIN_COOKIE, "", 0);
            let mut response = Redirect::to(&next).into_response();
            let headers = response.headers_mut();
            for value in [cookie, clear] {
                if let Ok(value) = value.parse() {
                    headers.append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(error) => view::failed(error),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(app): State<App>,
    Signed(session): Signed,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = check_csrf(&session, &form.csrf) {
        return refused;
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let token = token.to_string();
        if let Err(error) = app
            .shared
            .write(|store| accounts::close_session(store.connection(), &token))
        {
            return view::failed(error);
        }
    }
    (
        [(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0))],
        Redirect::to("/login"),
    )
        .into_response()
}
