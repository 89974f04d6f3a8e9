//! What an agent does from the caller view: note a call, close the ticket. Each goes
//! through [`Store::apply_action`], the ticket update of the mail commands `#note` and
//! `#close`, and is recorded as a ticket event naming the web user.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::App;
use super::accounts::Session;
use super::auth::{Signed, check_csrf};
use super::pages::reference;
use super::view;
use crate::ingest::{Event, EventKind, Status, TicketUpdate, WaitingChange};
use crate::store::{Store, ticket_of_reference};

/// The longest note accepted, in characters.
const MAX_NOTE_CHARS: usize = 10_000;

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
}

/// The status of a ticket, or why the action cannot go on.
fn status_of(app: &App, number: i64) -> Result<String, Response> {
    let id = ticket_of_reference(number);
    let status = app
        .shared
        .read_apart(|conn| {
            use rusqlite::OptionalExtension;
            conn.query_row("SELECT status FROM tickets WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
        })
        .map_err(view::failed)?;
    status.ok_or_else(|| {
        view::refused(
            StatusCode::NOT_FOUND,
            &format!("There is no ticket #{number}."),
        )
    })
}

fn apply(app: &App, number: i64, update: &TicketUpdate<'_>, events: &[Event]) -> Response {
    let now = app.now();
    let id = ticket_of_reference(number);
    let applied = app.shared.write(|store| {
        let tx = store.transaction()?;
        Store::apply_action(&tx, id, update, events, now)?;
        tx.commit()
    });
    match applied {
        Ok(()) => {
            // The deadlines and the outbox may have changed (a withdrawn acknowledgement).
            app.shared.deadline_wake.notify_one();
            app.shared.outbox_wake.notify_one();
            Redirect::to(&format!("/tickets/{number}")).into_response()
        }
        Err(error) => view::failed(error),
    }
}

/// What every action checks first: the form's CSRF token, then the ticket number.
fn checked_form(session: &Session, csrf: &str, number: &str) -> Result<i64, Response> {
    check_csrf(session, csrf)?;
    reference(number).ok_or_else(|| {
        view::refused(
            StatusCode::NOT_FOUND,
            "That is not a ticket number like 1042.",
        )
    })
}

pub async fn note(
    State(app): State<App>,
    Signed(session): Signed,
    Path(number): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    let number = match checked_form(&session, &form.csrf, &number) {
        Ok(number) => number,
        Err(refused) => return refused,
    };
    let text = form.text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return view::refused(
            StatusCode::BAD_REQUEST,
            &format!(
                "A note needs some text, at most {MAX_NOTE_CHARS} characters: go back and write it."
            ),
        );
    }
    if let Err(refused) = status_of(&app, number) {
        return refused;
    }
    let event = Event::new(
        EventKind::Note,
        format!("by web user {}: {text}", session.user),
    );
    tracing::info!(user = %session.user, ticket = number, "web console: note added");
    apply(&app, number, &TicketUpdate::default(), &[event])
}

pub async fn close(
    State(app): State<App>,
    Signed(session): Signed,
    Path(number): Path<String>,
    Form(form): Form<CloseForm>,
) -> Response {
    let number = match checked_form(&session, &form.csrf, &number) {
        Ok(number) => number,
        Err(refused) => return refused,
    };
    match status_of(&app, number) {
        Err(refused) => return refused,
        Ok(status) if status == Status::Closed.as_str() => {
            return Redirect::to(&format!("/tickets/{number}")).into_response();
        }
        Ok(_) => {}
    }
    // As `#close` does: the clock stops and a pending acknowledgement is withdrawn.
    let update = TicketUpdate {
        status: Some(Status::Closed),
        waiting: WaitingChange::Stop,
        cancel_pending_ack: true,
        ..TicketUpdate::default()
    };
    let event = Event::new(EventKind::Closed, format!("by web user {}", session.user));
    tracing::info!(user = %session.user, ticket = number, "web console: ticket closed");
    apply(&app, number, &update, &[event])
}
