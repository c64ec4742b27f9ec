//! The HTTP POSTs a router's PPP profile scripts make when a session comes
//! up or goes down: either tgate's own `/v1/events/*` with a bearer token,
//! or the legacy tik2fa `/clients/*` calls, with their exact JSON bodies.

use std::sync::Arc;

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::Shared;
use super::state::{Active, RouterState};
use super::{HookReply, OnUpHook};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Up,
    Down,
}

/// The PPP secret's comment, where tik2fa keeps the owner's chat id.
pub(crate) fn chat_id(state: &RouterState, user: &str) -> Option<String> {
    (state.secrets.with_key(user))
        .next()
        .and_then(|s| s.comment.clone())
}

pub(crate) async fn post(
    http: &reqwest::Client,
    hook: &OnUpHook,
    event: Event,
    a: &Active,
    chat_id: Option<String>,
) -> anyhow::Result<HookReply> {
    let request = match hook {
        OnUpHook::Tgate { base_url, token } => {
            let path = match event {
                Event::Up => "v1/events/up",
                Event::Down => "v1/events/down",
            };
            let mut body = Map::new();
            body.insert("user".into(), json!(a.name));
            body.insert("caller_id".into(), json!(a.caller_id));
            body.insert("remote_address".into(), json!(a.address.to_string()));
            body.insert("local_address".into(), json!(a.local_address.to_string()));
            body.insert("service".into(), json!(a.service));
            body.insert("interface".into(), json!(a.interface()));
            if let Some(chat) = chat_id {
                body.insert("chat_id".into(), json!(chat));
            }
            http.post(join(base_url, path))
                .bearer_auth(token)
                .json(&Value::Object(body))
        }
        OnUpHook::Tik2fa { base_url } => {
            let path = match event {
                Event::Up => "clients/connect/",
                Event::Down => "clients/disconnect/",
            };
            http.post(join(base_url, path)).json(&json!({
                "name": a.name,
                "chat_id": chat_id.unwrap_or_default(),
                "source_ip": a.address.to_string(),
                "destination_ip": a.local_address.to_string(),
                "caller_id": a.caller_id,
            }))
        }
    };
    let response = request.send().await.context("router hook POST")?;
    let status = response.status().as_u16();
    let body = response.text().await.context("router hook reply")?;
    Ok(HookReply { status, body })
}

fn join(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// Fires the down event in the background, as the on-down script runs
/// after the session is already gone and nobody waits for it.
pub(crate) fn spawn_down(shared: &Arc<Shared>, a: Active, state: &RouterState) {
    let Some(hook) = shared.hook.clone() else {
        return;
    };
    let chat = chat_id(state, &a.name);
    let http = shared.http.clone();
    tokio::spawn(async move {
        if let Err(e) = post(&http, &hook, Event::Down, &a, chat).await {
            tracing::warn!(user = %a.name, error = %e, "simulated on-down POST failed");
        }
    });
}
