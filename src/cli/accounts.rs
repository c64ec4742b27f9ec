//! `tgate accounts`: VPN accounts and their owners. Enrollment itself
//! happens in Telegram; here an admin makes the invite, records an account
//! ahead of its first connect, locks it, or takes its owner away.

use std::time::Duration;

use clap::Subcommand;
use serde_json::{Value, json};
use tgate_core::config::parse_duration;
use tgate_core::domain::{AccountName, RouterName};
use tgate_core::storage::{Account, AuditEntry, Store};

use super::Ctx;
use super::output::{account_json, accounts_table, print_json, rfc3339};

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// List accounts, with their owners
    List {
        #[arg(long)]
        router: Option<RouterName>,
    },
    /// Record an account (a PPP secret name) before its first connect
    Add {
        router: RouterName,
        account: AccountName,
    },
    /// Make a one-time invite link that enrolls whoever opens it as the owner
    Invite {
        router: RouterName,
        account: AccountName,
        /// How long the link works
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        ttl: Duration,
    },
    /// Refuse every connect of the account until it is unlocked
    Lock {
        router: RouterName,
        account: AccountName,
    },
    /// Let the account connect again
    Unlock {
        router: RouterName,
        account: AccountName,
    },
    /// Remove the account's owner; it must be enrolled again
    Disown {
        router: RouterName,
        account: AccountName,
    },
}

pub async fn run(ctx: &Ctx, command: AccountsCommand) -> anyhow::Result<()> {
    match command {
        AccountsCommand::List { router } => {
            if let Some(r) = &router {
                ctx.check_router(r, "--router")?;
            }
            let store = ctx.store().await?;
            let accounts = store.list_accounts(router.as_ref()).await?;
            if ctx.json {
                print_json(&Value::Array(accounts.iter().map(account_json).collect()));
            } else {
                accounts_table(&accounts).print();
            }
            Ok(())
        }
        AccountsCommand::Add { router, account } => {
            ctx.check_router(&router, "<ROUTER>")?;
            let store = ctx.store().await?;
            let existed = store.account(&router, &account).await?.is_some();
            let added = store.ensure_account(&router, &account).await?;
            if !existed {
                audit(
                    ctx,
                    store.as_ref(),
                    "account.add",
                    &router,
                    &account,
                    Value::Null,
                )
                .await?;
            }
            show(
                ctx,
                &added,
                if existed { "already exists" } else { "added" },
            );
            Ok(())
        }
        AccountsCommand::Invite {
            router,
            account,
            ttl,
        } => invite(ctx, router, account, ttl).await,
        AccountsCommand::Lock { router, account } => lock(ctx, router, account, true).await,
        AccountsCommand::Unlock { router, account } => lock(ctx, router, account, false).await,
        AccountsCommand::Disown { router, account } => {
            ctx.check_router(&router, "<ROUTER>")?;
            let store = ctx.store().await?;
            let before = existing(store.as_ref(), &router, &account).await?;
            store.set_account_owner(&router, &account, None).await?;
            audit(
                ctx,
                store.as_ref(),
                "account.disown",
                &router,
                &account,
                json!({ "previous_owner": before.owner_tg_id }),
            )
            .await?;
            let after = existing(store.as_ref(), &router, &account).await?;
            show(ctx, &after, "has no owner now");
            Ok(())
        }
    }
}

async fn lock(
    ctx: &Ctx,
    router: RouterName,
    account: AccountName,
    locked: bool,
) -> anyhow::Result<()> {
    ctx.check_router(&router, "<ROUTER>")?;
    let store = ctx.store().await?;
    existing(store.as_ref(), &router, &account).await?;
    let gate = ctx.gate(store.clone());
    let mark = super::audit_mark(store.as_ref()).await;
    let ended = gate
        .set_account_locked(&router, &account, locked, &ctx.actor)
        .await?
        .unwrap_or_default();
    super::warn_router_errors(store.as_ref(), mark).await;
    let after = existing(store.as_ref(), &router, &account).await?;
    let what = match (locked, ended.len()) {
        (false, _) => "unlocked".to_owned(),
        (true, 0) => "locked".to_owned(),
        (true, n) => format!("locked; {n} open session(s) ended"),
    };
    show(ctx, &after, &what);
    Ok(())
}

async fn invite(
    ctx: &Ctx,
    router: RouterName,
    account: AccountName,
    ttl: Duration,
) -> anyhow::Result<()> {
    ctx.check_router(&router, "<ROUTER>")?;
    if ttl.is_zero() {
        super::bad_input!("--ttl: an invite must work for longer than 0s");
    }
    let store = ctx.store().await?;
    let invite =
        tgate_core::enroll::create_invite(store.as_ref(), &router, &account, &ctx.actor, ttl)
            .await?;
    let username = match tgate::bot(&ctx.config)? {
        Some(bot) => {
            use teloxide::prelude::Requester;
            bot.get_me().await.ok().map(|me| me.username().to_owned())
        }
        None => None,
    };
    let link = username.map(|name| tgate_core::enroll::invite_link(&name, &invite.code));
    if ctx.json {
        print_json(&json!({
            "router": router.as_str(),
            "account": account.as_str(),
            "code": invite.code,
            "link": link,
            "expires_at": rfc3339(invite.expires_at),
        }));
        return Ok(());
    }
    match link {
        Some(link) => println!("{link}"),
        None => {
            println!("{}", invite.code);
            eprintln!(
                "(the bot could not be asked its name: the link is https://t.me/<bot>?start={})",
                invite.code
            );
        }
    }
    eprintln!(
        "Send this link to the owner of {account} on {router}; it works once, until {}.",
        invite.expires_at.format("%Y-%m-%d %H:%M UTC")
    );
    Ok(())
}

/// The account, or exit code 1 naming it.
async fn existing(
    store: &dyn Store,
    router: &RouterName,
    account: &AccountName,
) -> anyhow::Result<Account> {
    match store.account(router, account).await? {
        Some(a) => Ok(a),
        None => anyhow::bail!("no account {account:?} on {router}"),
    }
}

async fn audit(
    ctx: &Ctx,
    store: &dyn Store,
    action: &str,
    router: &RouterName,
    account: &AccountName,
    detail: Value,
) -> anyhow::Result<()> {
    store
        .audit(
            &AuditEntry::new(&ctx.actor, action)
                .router(router)
                .account(account)
                .detail(detail),
        )
        .await?;
    Ok(())
}

fn show(ctx: &Ctx, account: &Account, what: &str) {
    if ctx.json {
        print_json(&account_json(account));
    } else {
        println!("{} on {}: {what}", account.name, account.router);
    }
}
