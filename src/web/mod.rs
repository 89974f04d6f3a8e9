//! The web console (`[web]`): search, the caller view, notes and closing for the people
//! without a shell, and a JSON API for the phone system. Served by the daemon itself over
//! the same store — reads on the read-only connection, writes through the one writer and
//! the same store functions as the mail commands. Server-rendered HTML that needs no
//! JavaScript; the one stylesheet is compiled in.
//!
//! Security: sessions in HttpOnly, SameSite=Strict cookies (Secure behind the TLS proxy),
//! a CSRF token in every form, failed logins limited per client and per user name, and a
//! Content-Security-Policy that allows no script at all.

// A refusal is a whole response, returned at once to axum: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

pub mod accounts;
mod actions;
mod api;
mod auth;
mod caller;
mod pages;
mod view;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::watch;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::WebConsole;
use crate::runtime::Shared;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    shared: Shared,
    /// Cookies are marked Secure: the console is reached through a TLS proxy.
    secure: bool,
    trusted_proxy: Arc<Vec<IpAddr>>,
    limiter: Arc<auth::Limiter>,
}

impl App {
    fn now(&self) -> i64 {
        self.shared.clock.now().as_second()
    }
}

/// Messages read for phone numbers per write while the console starts: the writer is let
/// go between batches.
const PHONE_BACKFILL_ROWS: usize = 5000;
/// The largest form or request body accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Binds `[web] listen` and serves until `stopped` turns true.
pub async fn serve(
    shared: Shared,
    web: WebConsole,
    mut stopped: watch::Receiver<bool>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(web.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} ([web] listen): is another program using that port?",
                web.listen
            )
        })?;
    backfill_phones(&shared)?;
    let app = App {
        shared,
        secure: !web.trusted_proxy.is_empty(),
        trusted_proxy: Arc::new(web.trusted_proxy),
        limiter: Arc::new(auth::Limiter::default()),
    };
    tracing::info!("web console listening on http://{}", web.listen);
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    })
    .await
    .context("the web console stopped")
}

/// Reads the messages stored before the phone index existed, a batch per write.
fn backfill_phones(shared: &Shared) -> Result<()> {
    while shared.write(|store| {
        crate::store::search::index_phones(store.connection(), PHONE_BACKFILL_ROWS)
    })? > 0
    {}
    Ok(())
}

fn router(app: App) -> Router {
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    Router::new()
        .route("/", get(pages::home))
        .route("/style.css", get(pages::stylesheet))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/search", get(pages::search))
        .route("/tickets/{reference}", get(pages::ticket))
        .route("/tickets/{reference}/note", post(actions::note))
        .route("/tickets/{reference}/close", post(actions::close))
        .route("/api/tickets/{reference}", get(api::ticket))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            only_trusted_peers,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .with_state(app)
}

/// Listening beyond loopback, the console answers only its trusted proxies (and loopback).
async fn only_trusted_peers(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let ip = peer.ip();
    if app.trusted_proxy.is_empty() || ip.is_loopback() || app.trusted_proxy.contains(&ip) {
        next.run(request).await
    } else {
        tracing::warn!(
            "web console: refused a connection from {ip}, which is not in [web] trusted_proxy"
        );
        (
            StatusCode::FORBIDDEN,
            "This console is reached through its proxy only.\n",
        )
            .into_response()
    }
}
