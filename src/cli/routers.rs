//! `tgate routers` (or `tgate router`): the configured routers, and a live
//! check of each over SSH (reachable, latency, how full the lists are);
//! `script` and `bootstrap` are in [`super::bootstrap`].

use clap::Subcommand;
use serde_json::Value;
use tgate_core::domain::RouterName;

use super::Ctx;
use super::output::{health_json, health_table, print_json, router_json, routers_table};

#[derive(Subcommand)]
pub enum RoutersCommand {
    /// The configured routers and their address lists
    List,
    /// Reach each router (or one) over SSH; exit code 1 if any is unreachable
    Check {
        /// Only this router
        router: Option<RouterName>,
    },
    /// Print the router's setup, on-up and on-down scripts, filled in from
    /// the configuration, for pasting by hand
    Script { router: RouterName },
    /// Apply the setup over SSH: only what is missing or different is sent
    Bootstrap(super::bootstrap::BootstrapArgs),
}

pub async fn run(ctx: &Ctx, command: RoutersCommand) -> anyhow::Result<()> {
    match command {
        RoutersCommand::Script { router } => super::bootstrap::script(ctx, &router),
        RoutersCommand::Bootstrap(args) => super::bootstrap::run(ctx, args).await,
        RoutersCommand::List => {
            if ctx.json {
                print_json(&Value::Array(
                    ctx.config.routers.iter().map(router_json).collect(),
                ));
            } else {
                routers_table(&ctx.config.routers).print();
            }
            Ok(())
        }
        RoutersCommand::Check { router } => {
            let names: Vec<RouterName> = match router {
                Some(name) => {
                    ctx.check_router(&name, "<ROUTER>")?;
                    vec![name]
                }
                None => ctx.config.routers.iter().map(|r| r.name.clone()).collect(),
            };
            let store = ctx.store().await?;
            let gate = ctx.gate(store);
            let mut checks = tokio::task::JoinSet::new();
            for (i, name) in names.into_iter().enumerate() {
                let gate = gate.clone();
                checks.spawn(async move { (i, gate.router_health(&name).await) });
            }
            let mut health = Vec::new();
            while let Some(done) = checks.join_next().await {
                let (i, h) = done?;
                health.push((i, h?));
            }
            health.sort_by_key(|(i, _)| *i);
            let health: Vec<_> = health.into_iter().map(|(_, h)| h).collect();
            if ctx.json {
                print_json(&Value::Array(health.iter().map(health_json).collect()));
            } else {
                health_table(&health).print();
            }
            let down: Vec<_> = health
                .iter()
                .filter(|h| !h.reachable)
                .map(|h| h.name.as_str())
                .collect();
            if !down.is_empty() {
                anyhow::bail!("unreachable: {}", down.join(", "));
            }
            Ok(())
        }
    }
}
