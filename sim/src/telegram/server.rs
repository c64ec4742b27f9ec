//! The HTTP side: `/bot<token>/<method>` over GET or POST, the token
//! check, injected latency and faults, and the log of calls. Connections
//! are served here rather than by `axum::serve` so that stopping the
//! simulator also cuts kept-alive connections and pending long polls, the
//! way an outage looks to the bot.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::Shared;
use super::methods;
use super::params::Params;
use super::reply::{self, Outcome, TgError};
use super::types::ApiCall;

/// Larger than any request tgate makes; Telegram's own cap is 50 MB.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Accepts until the task is aborted; dropping the set of connection tasks
/// then aborts them all.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new().fallback(handle).with_state(shared);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors or similar: let the pressure pass.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let service = TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let arrived = Instant::now();
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let path = request.uri().path().to_owned();
    let route = path
        .strip_prefix("/bot")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(_, method)| !method.is_empty() && !method.contains('/'));
    let (method, outcome) = match route {
        None => (last_segment(&path), Err(TgError::not_found())),
        Some((token, method)) if token != shared.token => {
            (name_of(method), Err(TgError::unauthorized()))
        }
        Some((_, method)) => match methods::canonical(method) {
            None => (method.to_owned(), Err(TgError::not_found())),
            Some(method) => (method.to_owned(), answer(&shared, method, request).await),
        },
    };
    let chat_id = outcome
        .as_ref()
        .ok()
        .and_then(|done| done.result["chat"]["id"].as_i64());
    let (status, body) = reply::envelope(&outcome);
    shared.lock().calls.push(ApiCall {
        method,
        at: arrived,
        status,
        chat_id,
    });
    reply::into_response(status, body)
}

async fn answer(shared: &Arc<Shared>, method: &'static str, request: Request) -> Outcome {
    if let Some(failure) = shared.lock().take_failure(method) {
        return Err(TgError::from_failure(&failure));
    }
    let query = request.uri().query().map(str::to_owned);
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| TgError::bad_request("request body is too big"))?;
    let params = Params::parse(query.as_deref(), &content_type, &body)?;
    methods::call(shared, method, params).await
}

fn name_of(method: &str) -> String {
    methods::canonical(method).map_or_else(|| method.to_owned(), str::to_owned)
}

fn last_segment(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_owned()
}
