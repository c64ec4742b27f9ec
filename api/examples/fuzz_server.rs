//! A throwaway tgate API for fuzzing (`.ci/schemathesis.sh`): a temporary
//! SQLite database, a RouterOS simulator over real SSH, a Bot API simulator
//! (so invites get their link), and fixed tokens.
//! Prints its URL, its admin and service tokens and the Telegram user it
//! knows as an admin (for the bot's endpoints), then serves until killed.
//!
//! `cargo run -p tgate-api --example fuzz_server -- [port]`

use std::sync::Arc;

use tgate_api::ApiState;
use tgate_core::config::Config;
use tgate_core::gate::{Gate, ssh_gateways};
use tgate_core::storage::testing::TestDb;
use tgate_core::telegram::Notifier;
use tgate_core::telegram::callback::CallbackSigner;
use tgate_sim::{BotApiSim, BotApiSimConfig, OnUpHook, RouterSim, RouterSimConfig};

const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789";
const ROUTER_TOKEN: &str = "fuzz-router-token-0123456789";
const SERVICE_TOKEN: &str = "fuzz-service-token-0123456789";
const TELEGRAM_ADMIN: i64 = 4242;
const CALLBACK_KEY: &str = "fuzz-callback-key-0123456789";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let sim = RouterSim::start(RouterSimConfig {
        hook: Some(OnUpHook::Tgate {
            base_url: base.clone(),
            token: ROUTER_TOKEN.into(),
        }),
        ..Default::default()
    })
    .await?;
    let bot_config = BotApiSimConfig::default();
    let tg = BotApiSim::start(bot_config.clone()).await?;
    let db = TestDb::new().await;
    let toml = format!(
        r#"
[server]
admin_token = "{ADMIN_TOKEN}"
service_token = "{SERVICE_TOKEN}"

[database]
url = "sqlite://unused.db"

[telegram]
token = "{bot_token}"
api_url = "{bot_url}"
callback_key = "{CALLBACK_KEY}"
admins = [{TELEGRAM_ADMIN}]

[[routers]]
name = "office"
host = "127.0.0.1"
port = {port}
user = "admin"
password = "admin"
host_key = "{fp}"
token = "{ROUTER_TOKEN}"
command_timeout = "3s"
"#,
        port = sim.addr().port(),
        fp = sim.host_key_fingerprint(),
        bot_token = bot_config.token,
        bot_url = tg.url(),
    );
    let config = Arc::new(
        Config::from_sources(&toml, &[], std::path::Path::new("."))
            .map_err(|e| anyhow::anyhow!("config: {e}"))?,
    );
    db.store.sync_routers(&["office".parse()?]).await?;
    let bot = teloxide::Bot::new(&bot_config.token).set_api_url(tg.url().parse()?);
    let notifier = Notifier::new(
        bot,
        CallbackSigner::new(CALLBACK_KEY.to_owned().into()),
        config.telegram.admins.clone(),
    );
    let gate = Arc::new(
        Gate::new(db.store.clone(), config.clone(), ssh_gateways(&config))
            .with_telegram(Arc::new(notifier)),
    );
    let state = ApiState::new(gate).await?;
    println!("URL={base}");
    println!("SERVICE_TOKEN={SERVICE_TOKEN}");
    println!("TELEGRAM_ADMIN={TELEGRAM_ADMIN}");
    println!("ADMIN_TOKEN={ADMIN_TOKEN}");
    tgate_api::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    drop((sim, tg));
    Ok(())
}
