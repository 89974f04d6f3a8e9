//! The pages' HTML (maud escapes every value: a subject's `<script>` is shown as text).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use maud::{DOCTYPE, Markup, html};

use super::accounts::Session;
use crate::store::search::Hit;

/// An RFC 3339 instant as `2026-03-02 10:00 CET` in the desk's time zone.
pub fn time(rfc3339: &str, tz: &TimeZone) -> String {
    rfc3339.parse::<jiff::Timestamp>().map_or_else(
        |_| rfc3339.to_string(),
        |at| {
            at.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    )
}

pub fn time_or(rfc3339: Option<&str>, tz: &TimeZone, none: &str) -> String {
    rfc3339.map_or_else(|| none.to_string(), |at| time(at, tz))
}

/// Every page: the search box on top, the user and a sign-out button.
pub fn layout(title: &str, session: Option<&Session>, query: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · postdesk" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    a.brand href="/search" { "postdesk" }
                    @if let Some(session) = session {
                        form.search action="/search" method="get" role="search" {
                            input type="search" name="q" value=(query) autofocus
                                placeholder="Ticket, address, name, domain, phone or words"
                                aria-label="Search";
                            button type="submit" { "Search" }
                        }
                        form.logout action="/logout" method="post" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            span.user { (session.user) " (" (session.role.as_str()) ")" }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn login(csrf: &str, next: &str, problem: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        "",
        html! {
            h1 { "Sign in" }
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            form.login action="/login" method="post" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label { "User name" input name="user" autocomplete="username" required autofocus; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// A refusal page with what to do.
pub fn refused(status: StatusCode, why: &str) -> Response {
    let page = layout(
        "Refused",
        None,
        "",
        html! {
            h1 { "Not done" }
            p.problem role="alert" { (why) }
            p { a href="/login" { "Sign in" } }
        },
    );
    (status, page).into_response()
}

/// A store error: logged for the admin, a short page for the user.
pub fn failed(error: impl std::fmt::Display) -> Response {
    tracing::error!("web console: {error}");
    let page = layout(
        "Error",
        None,
        "",
        html! {
            h1 { "Something went wrong" }
            p.problem { "The console could not read or write the database. The error is in postdesk's log; try again in a moment." }
        },
    );
    (StatusCode::INTERNAL_SERVER_ERROR, page).into_response()
}

/// The FTS snippet with its `[`…`]` marks as highlights.
fn snippet(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split(['[', ']']).enumerate() {
            @if i % 2 == 1 { mark { (part) } } @else { (part) }
        }
    }
}

pub fn search(session: &Session, query: &str, hits: &[Hit], tz: &TimeZone) -> Markup {
    let title = if query.is_empty() {
        "Search".to_string()
    } else {
        format!("Search: {query}")
    };
    layout(
        &title,
        Some(session),
        query,
        html! {
            @if query.is_empty() {
                h1 { "Who is calling?" }
                p.hint { "Type a ticket number, a mail address, part of a name, a domain, a phone number written any way, or words of the mail." }
            } @else {
                h1 { (hits.len()) " ticket(s) for “" (query) "”" }
                @if hits.is_empty() {
                    p.hint { "Nothing found. Try the caller's mail address, their domain, or fewer words." }
                }
                ol.hits {
                    @for hit in hits {
                        li {
                            a.hit href={ "/tickets/" (hit.reference) } {
                                span.ref { "#" (hit.reference) }
                                span.subject { (hit.subject) }
                            }
                            div.meta {
                                span class={ "status " (hit.status) } { (hit.status) }
                                " " (hit.customer) " · " (time(&hit.received_at, tz))
                            }
                            p.snippet { (snippet(&hit.snippet)) }
                        }
                    }
                }
            }
        },
    )
}
