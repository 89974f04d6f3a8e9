//! The JSON API, for a phone system's screen-pop and scripts: `Authorization: Bearer TOKEN`
//! (`postdesk web token add`), the same documents as the command line's `--json`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::App;
use super::accounts;
use super::pages::reference;
use crate::store::views;

fn problem(status: StatusCode, error: &str) -> Response {
    let mut response = (status, Json(json!({ "error": error }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// The token's name, or the refusal.
fn authorized(app: &App, headers: &HeaderMap) -> Result<String, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            problem(
                StatusCode::UNAUTHORIZED,
                "send an API token as `Authorization: Bearer TOKEN` (make one with `postdesk web token add NAME --role agent`)",
            )
        })?;
    match app.shared.read_apart(|conn| accounts::token(conn, token)) {
        Ok(Some((name, _role))) => Ok(name),
        Ok(None) => Err(problem(StatusCode::UNAUTHORIZED, "unknown API token")),
        Err(error) => {
            tracing::error!("web API: {error}");
            Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "database error; see postdesk's log",
            ))
        }
    }
}

/// `GET /api/tickets/REF`: as `postdesk ticket REF --json`.
pub async fn ticket(
    State(app): State<App>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    if let Err(refused) = authorized(&app, &headers) {
        return refused;
    }
    let Some(number) = reference(&number) else {
        return problem(StatusCode::NOT_FOUND, "not a ticket reference like 1042");
    };
    match app
        .shared
        .read_apart(|conn| views::ticket_detail(conn, number))
    {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, &format!("no ticket #{number}")),
        Err(error) => {
            tracing::error!("web API: {error}");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "database error; see postdesk's log",
            )
        }
    }
}
