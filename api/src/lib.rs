//! tgate's HTTP API. Routers report connects and disconnects here; later the
//! watcher's internal calls and the admin API join them. Handlers validate
//! input into domain types, call the [`Gate`], and translate its outcome into
//! a status and a JSON body; they hold no business logic of their own.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tgate_core::gate::Gate;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

mod auth;
mod body;
mod error;
mod events;
mod health;
mod internal;
mod internal_admin;

pub use auth::CallerAuth;
pub use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub gate: Arc<Gate>,
    pub auth: Arc<CallerAuth>,
}

impl ApiState {
    /// Resolves the compatibility router's host once, at start.
    pub async fn new(gate: Arc<Gate>) -> anyhow::Result<ApiState> {
        let auth = CallerAuth::from_config(gate.config()).await?;
        Ok(ApiState {
            gate,
            auth: Arc::new(auth),
        })
    }
}

/// The API as an axum router, for serving or for calling in tests.
pub fn app(state: ApiState) -> Router {
    Router::new()
        .route("/v1/events/up", post(events::up))
        .route("/v1/events/down", post(events::down))
        .route("/clients/connect/", post(events::compat_connect))
        .route("/clients/connect", post(events::compat_connect))
        .route("/clients/disconnect/", post(events::compat_disconnect))
        .route("/clients/disconnect", post(events::compat_disconnect))
        .route("/v1/sessions/{id}/confirm", post(internal::confirm))
        .route("/v1/sessions/{id}/deny", post(internal::deny))
        .route("/v1/enroll", post(internal::enroll))
        .route("/v1/users/{user}", get(internal::user))
        .route("/v1/users/{user}/language", post(internal::set_language))
        .route(
            "/v1/bot/bans",
            get(internal_admin::bans)
                .post(internal_admin::ban)
                .delete(internal_admin::unban),
        )
        .route("/v1/bot/sessions", get(internal_admin::sessions))
        .route("/v1/bot/kick", post(internal_admin::kick))
        .route("/v1/bot/invites", post(internal_admin::invite))
        .route("/v1/bot/accounts", get(internal_admin::accounts))
        .route("/v1/bot/routers", get(internal_admin::routers))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
