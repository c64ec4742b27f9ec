//! The API's own Prometheus series (router events and button presses by
//! outcome, decision latency, requests by route and status, rate-limited
//! requests) and `GET /metrics`, which renders them together with core's
//! process-wide series. The series are the contract in `docs/metrics.md`.
//!
//! Each [`ApiState`] owns one [`ApiMetrics`], so a process serving one API
//! has one set, and each test's API counts only its own requests. Every
//! label set is fixed when the state is built (route templates, outcome
//! words), so counting is an index and an atomic add.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use tgate_core::gate::PressOutcome;
use tgate_core::gate::{EXPIRY_LEAD, EXPIRY_QUEUE};
use tgate_core::metrics::{self, CONTENT_TYPE, Counter, Exposition, Histogram};
use tgate_core::telegram::callback::Action;

use crate::ApiState;
use crate::error::ApiError;

/// Which router event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Up,
    Down,
}

const EVENT_KINDS: [&str; 2] = ["up", "down"];

/// How a router event was answered; the discriminant indexes
/// [`EVENT_OUTCOMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    Pending,
    Duplicate,
    Allowed,
    Banned,
    Unenrolled,
    Locked,
    Blocked,
    Closed,
    Invalid,
    Unauthorized,
}

const EVENT_OUTCOMES: [&str; 10] = [
    "pending",
    "duplicate",
    "allowed",
    "banned",
    "unenrolled",
    "locked",
    "blocked",
    "closed",
    "invalid",
    "unauthorized",
];

const PRESS_ACTIONS: [&str; 2] = ["confirm", "deny"];

const PRESS_OUTCOMES: [&str; 7] = [
    "allowed",
    "denied",
    "gone",
    "router_unreachable",
    "not_pending",
    "not_owner",
    "not_found",
];

/// People answer in seconds, rarely after the default 60 s deadline.
const DECISION_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0];

/// The label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Status codes 100 to 599, one counter each.
const STATUSES: usize = 500;

struct RouteSeries {
    route: &'static str,
    statuses: Box<[Counter]>,
    limited: Counter,
}

pub struct ApiMetrics {
    events: [[Counter; EVENT_OUTCOMES.len()]; EVENT_KINDS.len()],
    presses: [[Counter; PRESS_OUTCOMES.len()]; PRESS_ACTIONS.len()],
    decision: Histogram,
    /// One per route template, then [`UNMATCHED`].
    routes: Box<[RouteSeries]>,
}

impl ApiMetrics {
    /// Series for the API serving `routes` (axum route templates).
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> ApiMetrics {
        let routes = routes
            .into_iter()
            .chain([UNMATCHED])
            .map(|route| RouteSeries {
                route,
                statuses: (0..STATUSES).map(|_| Counter::default()).collect(),
                limited: Counter::default(),
            })
            .collect();
        ApiMetrics {
            events: Default::default(),
            presses: Default::default(),
            decision: Histogram::new(DECISION_BUCKETS),
            routes,
        }
    }

    pub fn event(&self, kind: EventKind, outcome: EventOutcome) {
        self.events[kind as usize][outcome as usize].inc();
    }

    /// Counts a press and, for a decision the owner made, how long after
    /// the connect it came.
    pub fn press(&self, action: Action, outcome: &PressOutcome) {
        let action = match action {
            Action::Confirm => 0,
            Action::Deny => 1,
        };
        let (index, decided) = match outcome {
            PressOutcome::Allowed(s) => (0, Some(s)),
            PressOutcome::Denied(s) => (1, Some(s)),
            PressOutcome::Gone(_) => (2, None),
            PressOutcome::RouterUnreachable(_) => (3, None),
            PressOutcome::NotPending(_) => (4, None),
            PressOutcome::NotOwner => (5, None),
            PressOutcome::NotFound => (6, None),
        };
        self.presses[action][index].inc();
        if let Some(at) = decided.and_then(|s| s.decided_at.map(|at| at - s.created_at)) {
            self.decision
                .observe(at.num_milliseconds().max(0) as f64 / 1000.0);
        }
    }

    fn route(&self, template: Option<&str>) -> &RouteSeries {
        let template = template.unwrap_or(UNMATCHED);
        self.routes
            .iter()
            .find(|r| r.route == template)
            .unwrap_or_else(|| self.routes.last().expect("UNMATCHED is always there"))
    }

    pub fn rate_limited(&self, template: Option<&str>) {
        self.route(template).limited.inc();
    }

    fn render(&self, out: &mut Exposition) {
        out.family(
            "tgate_router_events_total",
            "counter",
            "Router events (up, down) by how they were answered.",
        );
        for (kind, outcomes) in EVENT_KINDS.iter().zip(&self.events) {
            for (outcome, c) in EVENT_OUTCOMES.iter().zip(outcomes) {
                let labels = [("kind", *kind), ("outcome", *outcome)];
                out.sample("tgate_router_events_total", &labels, c.get());
            }
        }
        out.family(
            "tgate_presses_total",
            "counter",
            "Button presses relayed by the watcher, by what they did.",
        );
        for (action, outcomes) in PRESS_ACTIONS.iter().zip(&self.presses) {
            for (outcome, c) in PRESS_OUTCOMES.iter().zip(outcomes) {
                let labels = [("action", *action), ("outcome", *outcome)];
                out.sample("tgate_presses_total", &labels, c.get());
            }
        }
        out.family(
            "tgate_decision_seconds",
            "histogram",
            "Time from a connect to its owner's It's me or Not me.",
        );
        out.histogram("tgate_decision_seconds", &[], &self.decision);
        out.family(
            "tgate_http_requests_total",
            "counter",
            "HTTP requests answered, by route template and status.",
        );
        for r in &self.routes {
            for (i, c) in r.statuses.iter().enumerate() {
                let n = c.get();
                if n > 0 {
                    let status = (100 + i).to_string();
                    let labels = [("route", r.route), ("status", status.as_str())];
                    out.sample("tgate_http_requests_total", &labels, n);
                }
            }
        }
        out.family(
            "tgate_rate_limited_total",
            "counter",
            "Requests refused with 429 because their source was over its rate.",
        );
        for r in &self.routes {
            let n = r.limited.get();
            if n > 0 {
                out.sample("tgate_rate_limited_total", &[("route", r.route)], n);
            }
        }
    }
}

/// Middleware counting every answer by route template and status.
pub async fn track(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = usize::from(response.status().as_u16());
    if let Some(c) = state
        .metrics
        .route(template.as_deref())
        .statuses
        .get(status.wrapping_sub(100))
    {
        c.inc();
    }
    response
}

/// Gauges read from the database at scrape time: sessions by state and bans
/// in force. A database error leaves them out of this scrape (and is logged)
/// rather than failing the whole exposition.
async fn database_gauges(state: &ApiState, out: &mut Exposition) {
    let store = state.gate.store();
    match store.count_sessions_by_state().await {
        Ok(counts) => {
            out.family(
                "tgate_sessions",
                "gauge",
                "Sessions in the database, by state.",
            );
            for st in tgate_core::domain::SessionState::ALL {
                let n = counts.iter().find(|(s, _)| *s == st).map_or(0, |(_, n)| *n);
                out.sample("tgate_sessions", &[("state", st.as_str())], n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: sessions by state"),
    }
    let in_force = tgate_core::storage::BanFilter {
        active_at: Some(chrono::Utc::now()),
        network: None,
        limit: 0,
        offset: 0,
    };
    match store.count_found_bans(&in_force).await {
        Ok(n) => {
            out.family("tgate_bans_active", "gauge", "Bans in force.");
            out.sample("tgate_bans_active", &[], n);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: active bans"),
    }
    // A job is due EXPIRY_LEAD before its deadline; one still unfinished a
    // second after its deadline is late.
    let due_before = chrono::Utc::now()
        - chrono::Duration::from_std(EXPIRY_LEAD + std::time::Duration::from_secs(1))
            .unwrap_or_default();
    match store.expiry_jobs(EXPIRY_QUEUE, due_before).await {
        Ok((queued, late)) => {
            out.family(
                "tgate_expiry_jobs_queued",
                "gauge",
                "Expiry jobs not yet finished (one per pending session).",
            );
            out.sample("tgate_expiry_jobs_queued", &[], queued);
            out.family(
                "tgate_expiry_jobs_late",
                "gauge",
                "Expiry jobs still unfinished more than 1 s after their deadline.",
            );
            out.sample("tgate_expiry_jobs_late", &[], late);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: expiry jobs"),
    }
}

/// `GET /metrics`: open, unless `server.metrics_token` is set.
#[utoipa::path(
    get, path = "/metrics", tag = "health", operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition (docs/metrics.md)", body = String, content_type = "text/plain"),
        (status = 401, description = "server.metrics_token is set and was not presented", body = crate::admin::openapi::ErrorBody),
        (status = 429, description = "this source is over server.rate_limit", body = crate::admin::openapi::ErrorBody),
    )
)]
pub async fn scrape(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if !scrape_allowed(state.gate.config().server.metrics_token.as_ref(), &headers) {
        return ApiError::Unauthorized.into_response();
    }
    let mut out = Exposition::default();
    metrics::global().render(&mut out);
    state.metrics.render(&mut out);
    database_gauges(&state, &mut out).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        out.finish(),
    )
        .into_response()
}

/// Whether a scrape may proceed: always when no token is configured,
/// otherwise only with `Authorization: Bearer <token>` (constant time).
fn scrape_allowed(expected: Option<&secrecy::SecretString>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    expected
        .expose_secret()
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into()
}

/// `GET /metrics` for a process that serves no API (`tgate worker`): core's
/// process-wide series, the router commands and Telegram calls that process
/// makes, behind the same optional `server.metrics_token`.
pub async fn serve_process_metrics(
    listener: tokio::net::TcpListener,
    token: Option<secrecy::SecretString>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = std::sync::Arc::new(token);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: HeaderMap| async move {
            if !scrape_allowed(token.as_ref().as_ref(), &headers) {
                return ApiError::Unauthorized.into_response();
            }
            let mut out = Exposition::default();
            metrics::global().render(&mut out);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, CONTENT_TYPE)],
                out.finish(),
            )
                .into_response()
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
