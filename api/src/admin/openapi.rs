//! The OpenAPI document at `GET /openapi.json`, generated from the handlers'
//! `#[utoipa::path]` attributes and the response types, so it says what the
//! server does. Request and response shapes of the older endpoints, which
//! read and write JSON by hand, are described by the doc-only types below.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: `error` says what went wrong; `detail` carries specifics
/// (for 422 `{"field", "reason"}`); `state` and `reason` appear where a
/// request was refused because of a session's or an invite's state.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    #[schema(example = "invalid field")]
    error: String,
    detail: Option<serde_json::Value>,
    state: Option<String>,
    reason: Option<String>,
}

/// `POST /v1/events/up`: every value a string, as RouterOS scripts send.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpEvent {
    /// The PPP account.
    #[schema(example = "alice")]
    user: String,
    /// The caller's public address (or MAC for PPPoE).
    #[schema(example = "203.0.113.7")]
    caller_id: String,
    /// The tunnel address.
    #[schema(example = "10.10.0.5")]
    remote_address: String,
    local_address: Option<String>,
    /// l2tp, sstp, ovpn, pptp, pppoe, ppp; derived from the interface when absent.
    service: Option<String>,
    interface: Option<String>,
    /// tik2fa's chat id from the PPP secret's comment, digits.
    chat_id: Option<String>,
}

/// `POST /v1/events/down`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DownEvent {
    #[schema(example = "alice")]
    user: String,
    #[schema(example = "10.10.0.5")]
    remote_address: String,
}

/// tik2fa's connect body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CompatConnect {
    #[schema(example = "alice")]
    name: String,
    /// The tunnel address.
    #[schema(example = "10.10.0.5")]
    source_ip: String,
    destination_ip: Option<String>,
    #[schema(example = "203.0.113.7")]
    caller_id: String,
    chat_id: Option<String>,
}

/// tik2fa's disconnect body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CompatDisconnect {
    #[schema(example = "alice")]
    name: String,
    #[schema(example = "10.10.0.5")]
    source_ip: String,
}

/// A connect that was accepted: `pending` with its deadline (202) or
/// `allowed` (200).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConnectAnswer {
    session: uuid::Uuid,
    #[schema(example = "pending")]
    state: String,
    deadline: Option<DateTime<Utc>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DisconnectAnswer {
    #[schema(example = "closed")]
    state: String,
    /// The session that was closed, if one was open.
    session: Option<uuid::Uuid>,
}

/// Who pressed the button.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Press {
    #[schema(example = 4242)]
    telegram_user_id: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PressAnswer {
    session: uuid::Uuid,
    state: String,
    /// allowed, denied, gone or router_unreachable.
    outcome: String,
}

/// A press on a session that has moved on.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NotPending {
    error: String,
    state: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EnrollRequest {
    /// The invite code from the deep link.
    #[schema(example = "q3Zp1yqH9Q0Nfz2k8f7bXw")]
    code: String,
    #[schema(example = 4242)]
    telegram_user_id: i64,
    /// The user's Telegram language code.
    language: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Enrolled {
    router: String,
    account: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserAccount {
    router: String,
    account: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserSession {
    id: uuid::Uuid,
    router: String,
    account: String,
    state: String,
    caller_id: String,
    remote_address: String,
    created_at: DateTime<Utc>,
}

/// A Telegram user's accounts and open sessions.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserStatus {
    language: Option<String>,
    accounts: Vec<UserAccount>,
    sessions: Vec<UserSession>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LanguageRequest {
    /// `en` or `ru`.
    #[schema(example = "en")]
    language: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LanguageAnswer {
    language: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Health {
    #[schema(example = "ok")]
    status: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Readiness {
    ready: bool,
    /// ok, unavailable or timeout.
    database: String,
    /// Router name → ok, timeout or the error.
    routers: HashMap<String, String>,
}

/// Serves this document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "meta", operation_id = "openapi",
    responses((status = 200, description = "this OpenAPI document", content_type = "application/json", body = Object))
)]
pub async fn serve() -> Response {
    static DOC: LazyLock<String> = LazyLock::new(|| {
        serde_json::to_string(&ApiDoc::openapi()).expect("the OpenAPI document serializes")
    });
    ([(header::CONTENT_TYPE, "application/json")], DOC.as_str()).into_response()
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(what.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "router_token",
            bearer("the router's `token` from its [[routers]] entry"),
        );
        components.add_security_scheme(
            "service_token",
            bearer("`server.service_token`, used by the watcher"),
        );
        components.add_security_scheme(
            "admin_token",
            bearer("`server.admin_token`; with none configured every admin endpoint answers 401"),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tgate",
        description = "Telegram second factor for MikroTik VPN logins: router events, the watcher's internal calls, the admin API and health."
    ),
    paths(
        crate::events::up,
        crate::events::down,
        crate::events::compat_connect,
        crate::events::compat_disconnect,
        crate::internal::confirm,
        crate::internal::deny,
        crate::internal::enroll,
        crate::internal::user,
        crate::internal::set_language,
        crate::health::healthz,
        crate::health::readyz,
        crate::metrics::scrape,
        super::bans::list,
        super::bans::add,
        super::bans::lift,
        super::sessions::list,
        super::sessions::kick,
        super::accounts::list,
        super::accounts::create,
        super::accounts::invite,
        super::accounts::remove_owner,
        super::accounts::lock,
        super::accounts::unlock,
        super::routers::list,
        super::audit::list,
        crate::internal_admin::bans,
        crate::internal_admin::ban,
        crate::internal_admin::unban,
        crate::internal_admin::sessions,
        crate::internal_admin::kick,
        crate::internal_admin::invite,
        crate::internal_admin::accounts,
        crate::internal_admin::routers,
        serve,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "events", description = "router scripts report PPP connects and disconnects"),
        (name = "internal", description = "the watcher relays button presses and enrollment"),
        (name = "admin", description = "bans, sessions, accounts, routers, audit"),
        (name = "bot", description = "the watcher relays the admin commands of a Telegram admin, named in X-Telegram-User"),
        (name = "health", description = "liveness and readiness"),
        (name = "meta", description = "this document"),
    )
)]
pub struct ApiDoc;
