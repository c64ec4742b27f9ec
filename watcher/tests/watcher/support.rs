//! A watcher running against the Bot API simulator and a fake of tgate's API.
//! The fake is a scripted axum server: the real API is another process, and
//! what the watcher owes it is the HTTP contract, which the fake records
//! call by call. End-to-end runs against the real API live elsewhere.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use tgate_core::domain::SessionId;
use tgate_core::telegram::callback::{Action, CallbackSigner};
use tgate_sim::{BotApiSim, BotApiSimConfig, CallbackAnswer, TgUser};
use tgate_watcher::teloxide::Bot;
use tgate_watcher::{WatcherConfig, run};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SERVICE_TOKEN: &str = "svc-token-for-tests";
pub const CALLBACK_KEY: &str = "callback-key-for-tests-0123456789";
/// The Telegram id the watcher treats as an admin.
pub const ADMIN: i64 = 1;
/// Generous: these bound waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(10);

/// One request the fake API received.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    /// The query string, without the `?`; empty when there is none.
    pub query: String,
    pub authorization: Option<String>,
    /// The `X-Telegram-User` header admin calls carry.
    pub telegram_user: Option<String>,
    pub body: Value,
}

/// What the fake answers; `delay` holds the answer back, like a slow router.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Script = dyn Fn(&ApiRequest) -> Reply + Send + Sync;

struct FakeState {
    calls: Mutex<Vec<ApiRequest>>,
    script: Box<Script>,
}

/// The scripted stand-in for tgate's API.
pub struct FakeApi {
    state: Arc<FakeState>,
    url: String,
    server: JoinHandle<()>,
}

impl FakeApi {
    pub async fn start(script: impl Fn(&ApiRequest) -> Reply + Send + Sync + 'static) -> FakeApi {
        let state = Arc::new(FakeState {
            calls: Mutex::new(Vec::new()),
            script: Box::new(script),
        });
        let app = axum::Router::new().fallback({
            let state = Arc::clone(&state);
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = Arc::clone(&state);
                async move { answer(&state, method, uri, headers, body).await }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake API");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("fake API address")
        );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake API");
        });
        FakeApi { state, url, server }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn calls(&self) -> Vec<ApiRequest> {
        self.state.calls.lock().unwrap().clone()
    }

    /// The calls other than the language lookups replies make.
    pub fn calls_to(&self, path_prefix: &str) -> Vec<ApiRequest> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.starts_with(path_prefix))
            .collect()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(
    state: &FakeState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = ApiRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        telegram_user: headers
            .get("x-telegram-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    state.calls.lock().unwrap().push(request.clone());
    let reply = (state.script)(&request);
    tokio::time::sleep(reply.delay).await;
    let status = StatusCode::from_u16(reply.status).expect("status");
    (status, axum::Json(reply.body)).into_response()
}

/// Answers like the API for a user with no accounts and no saved language;
/// everything else is 404.
pub fn default_reply(req: &ApiRequest) -> Reply {
    if req.method == "GET" && req.path.starts_with("/v1/users/") {
        return Reply::json(
            200,
            json!({"language": null, "accounts": [], "sessions": []}),
        );
    }
    Reply::json(404, json!({"error": "not found"}))
}

/// A watcher task with its simulator, its fake API and its off switch.
pub struct Harness {
    pub sim: BotApiSim,
    pub api: FakeApi,
    /// The API base the watcher is given.
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Harness {
    /// A watcher talking to a fake API that answers with `script`.
    pub async fn start(script: impl Fn(&ApiRequest) -> Reply + Send + Sync + 'static) -> Harness {
        let sim = BotApiSim::start(BotApiSimConfig::default())
            .await
            .expect("start Bot API simulator");
        let api = FakeApi::start(script).await;
        let base = api.url().to_owned();
        Harness::with(sim, api, &base)
    }

    /// Like `start`, but the watcher's API base is `base` (e.g. a dead port).
    pub fn with(sim: BotApiSim, api: FakeApi, base: &str) -> Harness {
        let mut h = Harness {
            sim,
            api,
            base: base.to_owned(),
            stop: None,
            task: None,
        };
        h.spawn_watcher();
        h
    }

    /// Starts a watcher (again, after `stop`); one runs at a time.
    pub fn spawn_watcher(&mut self) {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = WatcherConfig {
            bot: Bot::new(self.sim.token()).set_api_url(self.sim.url().parse().expect("sim url")),
            api_base: self.base.clone(),
            service_token: SecretString::from(SERVICE_TOKEN),
            callback_key: SecretString::from(CALLBACK_KEY),
            admins: vec![ADMIN],
            webhook: None,
        };
        let shutdown = async move {
            let _ = stopped.await;
        };
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(run(config, None, shutdown)));
    }

    /// Signals shutdown and waits for `run` to return, failing the test if it
    /// takes anywhere near a long poll's 25 s.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("a running watcher");
        tokio::time::timeout(Duration::from_secs(8), task)
            .await
            .expect("run returns soon after shutdown")
            .expect("watcher task")
            .expect("run returns Ok");
    }

    /// Presses a prompt button carrying `data` (the prompt itself was sent
    /// by the API, so the message is not in the simulator's chat).
    pub fn press(&self, user: &TgUser, data: &str) -> String {
        self.sim.user_presses(user, user.id, 1, data)
    }

    /// The toast answered to press `id`, waiting for it.
    pub async fn toast(&self, id: &str) -> String {
        let answer: CallbackAnswer = self
            .sim
            .wait_for_answer(id, WAIT)
            .await
            .unwrap_or_else(|| panic!("press {id} was never answered"));
        answer.text.unwrap_or_default()
    }

    /// The user sends `text` and the bot's next message in reply.
    pub async fn ask(&self, user: &TgUser, text: &str) -> String {
        let before = self.sim.bot_messages(user.id).len();
        self.sim.user_sends(user, text);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(m) = self.sim.bot_messages(user.id).get(before) {
                return m.text.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no reply to {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many answers press `id` got.
    pub fn answers_to(&self, id: &str) -> usize {
        self.sim
            .callback_answers()
            .iter()
            .filter(|a| a.callback_query_id == id)
            .count()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

pub fn signer() -> CallbackSigner {
    CallbackSigner::new(SecretString::from(CALLBACK_KEY))
}

/// Data for a genuine prompt button.
pub fn button(action: Action, session: SessionId) -> String {
    signer().encode(action, session)
}

/// A loopback port nothing listens on.
pub async fn dead_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

pub fn alice() -> TgUser {
    TgUser::new(1001, "Alice").lang("en")
}

/// The one admin the harness's watcher is configured with.
pub fn admin() -> TgUser {
    TgUser::new(ADMIN, "Admin").lang("en")
}

pub fn boris() -> TgUser {
    TgUser::new(1002, "Борис").lang("ru")
}
