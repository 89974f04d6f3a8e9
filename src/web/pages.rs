//! The page handlers: home, stylesheet, search and the caller view.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::App;
use super::auth::Signed;
use super::caller::{self, Caller};
use super::view;
use crate::store::{search as store_search, ticket_of_reference, views};

const STYLE: &str = include_str!("style.css");
/// Hits on one page.
const HITS: usize = 30;

pub async fn home() -> Redirect {
    Redirect::to("/search")
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(
    State(app): State<App>,
    Signed(session): Signed,
    Query(query): Query<SearchQuery>,
) -> Response {
    let q = query.q.trim().to_string();
    let hits = if q.is_empty() {
        Vec::new()
    } else {
        match app
            .shared
            .read_apart(|conn| store_search::search(conn, &q, HITS))
        {
            Ok(hits) => hits,
            Err(error) => return view::failed(error),
        }
    };
    let tz = &app.shared.config.calendar.timezone;
    view::search(&session, &q, &hits, tz).into_response()
}

/// `1042` or `#1042`.
pub fn reference(text: &str) -> Option<i64> {
    text.trim().trim_start_matches('#').parse().ok()
}

pub async fn ticket(
    State(app): State<App>,
    Signed(session): Signed,
    Path(reference): Path<String>,
) -> Response {
    let Some(number) = self::reference(&reference) else {
        return view::refused(
            StatusCode::NOT_FOUND,
            "That is not a ticket number like 1042.",
        );
    };
    let now = app.now();
    let found = app.shared.read_apart(|conn| {
        let Some(detail) = views::ticket_detail(conn, number)? else {
            return Ok(None);
        };
        let customer = views::customer(conn, &detail.ticket.customer)?;
        let id = ticket_of_reference(number);
        let ack = caller::ack_state(conn, id)?;
        let ack_suppressed = detail
            .events
            .iter()
            .rev()
            .find(|e| e.kind == "ack_suppressed")
            .map(|e| e.detail.clone());
        Ok(Some(Caller {
            detail,
            customer,
            ack,
            ack_suppressed,
            now,
        }))
    });
    match found {
        Ok(Some(caller)) => {
            caller::page(&session, &caller, &app.shared.config.calendar.timezone).into_response()
        }
        Ok(None) => view::refused(
            StatusCode::NOT_FOUND,
            &format!("There is no ticket #{number}."),
        ),
        Err(error) => view::failed(error),
    }
}
