//! tgate's HTTP API. Routers report connects and disconnects here, the
//! watcher makes its internal calls, admins manage bans, sessions, accounts
//! and routers, and `/openapi.json` describes it all. Handlers validate
//! input into domain types, call the [`Gate`], and translate its outcome into
//! a status and a JSON body; they hold no business logic of their own.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::serve::ListenerExt;
use tgate_core::gate::Gate;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

mod admin;
mod auth;
mod body;
mod error;
mod events;
mod health;
mod internal;
mod internal_admin;
mod listener;
mod metrics;
mod ratelimit;

pub use auth::CallerAuth;
pub use error::ApiError;
pub use listener::MAX_CONNECTIONS;
pub use metrics::{ApiMetrics, serve_process_metrics};
pub use ratelimit::RateLimiter;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub gate: Arc<Gate>,
    pub auth: Arc<CallerAuth>,
    /// This API's series; `GET /metrics` adds core's process-wide ones.
    pub metrics: Arc<ApiMetrics>,
    /// `None` when `server.rate_limit` is 0.
    pub limiter: Option<Arc<RateLimiter>>,
    /// Router events being decided at once; the rest wait their turn.
    pub events: Arc<tokio::sync::Semaphore>,
}

/// How many router events are decided at once. A storm of connects beyond
/// what the database and the routers keep up with then waits as requests
/// not yet started, not as thousands of half-done decisions each holding
/// its queries, router commands and buffers: the same throughput, in a
/// fraction of the memory.
pub const EVENTS_IN_FLIGHT: usize = 64;

impl ApiState {
    /// Resolves the compatibility router's host once, at start.
    pub async fn new(gate: Arc<Gate>) -> anyhow::Result<ApiState> {
        let auth = CallerAuth::from_config(gate.config()).await?;
        let server = &gate.config().server;
        let limiter = RateLimiter::new(server.rate_limit, server.rate_burst).map(Arc::new);
        let metrics = ApiMetrics::new(routes().into_iter().map(|(path, _, _)| path));
        Ok(ApiState {
            gate,
            auth: Arc::new(auth),
            metrics: Arc::new(metrics),
            limiter,
            events: Arc::new(tokio::sync::Semaphore::new(EVENTS_IN_FLIGHT)),
        })
    }
}

/// Who calls a route, which decides whether it is rate limited per source.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Callers {
    /// Routers, load balancers, Prometheus, anyone: limited per source.
    Public,
    /// The watcher or an admin, with a token: not limited per source.
    Tokened,
}

/// A router's `/tool fetch` sends one request per connection. Its answer
/// closes the connection, so the connection's slot (see [`MAX_CONNECTIONS`])
/// is free as soon as the answer is written, not when the router gets round
/// to hanging up.
fn one_shot(route: MethodRouter<ApiState>) -> MethodRouter<ApiState> {
    route.layer(middleware::map_response(
        |mut response: Response| async move {
            (response.headers_mut()).insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            response
        },
    ))
}

/// Every route, once: the app is built from it, and metrics label requests
/// with these templates.
fn routes() -> Vec<(&'static str, Callers, MethodRouter<ApiState>)> {
    use Callers::{Public, Tokened};
    // Routers' events: public, and one request per connection.
    let router_events = [
        ("/v1/events/up", post(events::up)),
        ("/v1/events/down", post(events::down)),
        ("/clients/connect/", post(events::compat_connect)),
        ("/clients/connect", post(events::compat_connect)),
        ("/clients/disconnect/", post(events::compat_disconnect)),
        ("/clients/disconnect", post(events::compat_disconnect)),
    ];
    let mut routes: Vec<_> = (router_events.into_iter())
        .map(|(path, route)| (path, Public, one_shot(route)))
        .collect();
    routes.extend([
        (
            "/v1/sessions/{id}/confirm",
            Tokened,
            post(internal::confirm),
        ),
        ("/v1/sessions/{id}/deny", Tokened, post(internal::deny)),
        ("/v1/enroll", Tokened, post(internal::enroll)),
        ("/v1/users/{user}", Tokened, get(internal::user)),
        (
            "/v1/users/{user}/language",
            Tokened,
            post(internal::set_language),
        ),
        ("/healthz", Public, get(health::healthz)),
        ("/readyz", Public, get(health::readyz)),
        ("/metrics", Public, get(metrics::scrape)),
        ("/openapi.json", Public, get(admin::openapi::serve)),
        (
            "/v1/bot/bans",
            Tokened,
            get(internal_admin::bans)
                .post(internal_admin::ban)
                .delete(internal_admin::unban),
        ),
        ("/v1/bot/sessions", Tokened, get(internal_admin::sessions)),
        ("/v1/bot/kick", Tokened, post(internal_admin::kick)),
        ("/v1/bot/invites", Tokened, post(internal_admin::invite)),
        ("/v1/bot/accounts", Tokened, get(internal_admin::accounts)),
        ("/v1/bot/routers", Tokened, get(internal_admin::routers)),
    ]);
    routes.extend(
        admin::routes()
            .into_iter()
            .map(|(path, handler)| (path, Tokened, handler)),
    );
    routes
}

/// The API as an axum router, for serving or for calling in tests.
pub fn app(state: ApiState) -> Router {
    let mut public = Router::new();
    let mut tokened = Router::new();
    for (path, callers, handler) in routes() {
        match callers {
            Callers::Public => public = public.route(path, handler),
            Callers::Tokened => tokened = tokened.route(path, handler),
        }
    }
    let public = public.route_layer(middleware::from_fn_with_state(
        state.clone(),
        ratelimit::limit,
    ));
    public
        .merge(tokened)
        .fallback(error::not_found)
        .layer(middleware::from_fn(refuse_large_bodies))
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Refuses a body declared larger than any route accepts before a handler
/// sees it; a body sent without a length is cut off at the same size by
/// [`axum::extract::DefaultBodyLimit`] when a handler reads it.
async fn refuse_large_bodies(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > body::MAX_BODY as u64 => ApiError::TooLarge(body::MAX_BODY).into_response(),
        _ => next.run(req).await,
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the
/// requests in flight. At most [`MAX_CONNECTIONS`] are open at once; further
/// clients are accepted and wait their turn.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Router::new(), shutdown).await
}

/// [`serve`], with `extra` routes beside the API's on the same listener:
/// `tgate serve` puts the watcher's webhook route there, so one process
/// needs one port. `extra` gets none of the API's layers (rate limit, body
/// limit, metrics) and brings its own; it must not have a fallback.
pub async fn serve_with(
    listener: TcpListener,
    state: ApiState,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Replies go out as soon as they are written (no Nagle delay); the
    // tap also keeps the peer's address for `ConnectInfo`.
    let listener = listener::Bounded::new(listener, MAX_CONNECTIONS).tap_io(|held| {
        let _ = held.stream().set_nodelay(true);
    });
    axum::serve(
        listener,
        app(state)
            .merge(extra)
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use axum::Json;
    use axum::body::Body;
    use axum::extract::rejection::JsonRejection;
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    /// A body sent without a length is cut off where a declared one is
    /// refused, and answered the same way.
    #[tokio::test]
    async fn an_oversize_body_without_a_length_is_413_too() {
        let app = Router::new()
            .route(
                "/",
                post(|raw: Result<Json<Value>, JsonRejection>| async move {
                    internal::body(raw).map(|_| ())
                }),
            )
            .layer(middleware::from_fn(refuse_large_bodies))
            .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY));
        let big = format!("{{\"x\":\"{}\"}}", "x".repeat(body::MAX_BODY));
        for declared in [true, false] {
            let mut req = Request::post("/").header("content-type", "application/json");
            if declared {
                req = req.header("content-length", big.len());
            }
            let resp = app
                .clone()
                .oneshot(req.body(Body::from(big.clone())).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "{declared}");
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            let json: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(json["error"], "request body too large");
        }
    }
}
