//! `tgate sessions`: list sessions and kick one. A kick closes the session,
//! disconnects the PPP session and takes its address off the router's lists.

use clap::Subcommand;
use serde_json::Value;
use tgate_core::domain::{AccountName, RouterName, SessionId, SessionState};
use tgate_core::storage::SessionFilter;

use super::output::{print_json, session_json, sessions_table};
use super::{Ctx, parse_limit};

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// List sessions, newest first
    List {
        /// pending, confirmed, denied, expired, closed or failed
        #[arg(long)]
        state: Option<SessionState>,
        #[arg(long)]
        router: Option<RouterName>,
        #[arg(long)]
        account: Option<AccountName>,
        /// At most this many
        #[arg(long, default_value = "50", value_parser = parse_limit)]
        limit: i64,
    },
    /// End an open session: disconnect it and take its address off the lists
    Kick {
        #[arg(value_name = "SESSION_ID")]
        id: SessionId,
    },
}

pub async fn run(ctx: &Ctx, command: SessionsCommand) -> anyhow::Result<()> {
    match command {
        SessionsCommand::List {
            state,
            router,
            account,
            limit,
        } => {
            if let Some(r) = &router {
                ctx.check_router(r, "--router")?;
            }
            let store = ctx.store().await?;
            let sessions = store
                .list_sessions(&SessionFilter {
                    state,
                    router,
                    account,
                    open: false,
                    limit,
                    offset: 0,
                })
                .await?;
            if ctx.json {
                print_json(&Value::Array(sessions.iter().map(session_json).collect()));
            } else {
                sessions_table(&sessions).print();
            }
            Ok(())
        }
        SessionsCommand::Kick { id } => {
            let store = ctx.store().await?;
            let Some(session) = store.session(id).await? else {
                anyhow::bail!("no session {id}");
            };
            if !session.state.is_open() {
                anyhow::bail!("session {id} is already {}", session.state);
            }
            ctx.check_router(&session.router, "<SESSION_ID>")?;
            let mark = super::audit_mark(store.as_ref()).await;
            let gate = ctx.gate(store.clone());
            let Some(closed) = gate.kick(id, &ctx.actor).await? else {
                anyhow::bail!("session {id} ended before it could be kicked");
            };
            super::warn_router_errors(store.as_ref(), mark).await;
            if ctx.json {
                print_json(&session_json(&closed));
            } else {
                println!(
                    "kicked {} on {} ({}, session {id})",
                    closed.account, closed.router, closed.remote_address
                );
            }
            Ok(())
        }
    }
}
