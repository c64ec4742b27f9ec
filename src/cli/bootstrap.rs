//! `tgate router script` and `tgate router bootstrap`: a router's setup
//! (firewall rules, PPP profile scripts, tgate's user group and login, strong
//! SSH crypto) printed for pasting by hand, or applied over SSH. Bootstrap
//! reads first and sends only what is missing or different, so running it
//! again changes nothing; `--dry-run` prints the commands without sending
//! them. See docs/router-scripts.md.

use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tgate_core::config::{RouterAuth, RouterConfig};
use tgate_core::domain::RouterName;
use tgate_core::router::setup::{self, Change, Setup};
use tgate_core::router::ssh::{SshAuth, SshGateway, SshTarget};

use super::output::print_json;
use super::{Ctx, bad_input};

#[derive(Args)]
pub struct BootstrapArgs {
    router: RouterName,
    /// Read the router and print the commands that would be sent; send none
    #[arg(long)]
    dry_run: bool,
    /// Log in as this user for the setup (tgate's own login may not exist
    /// yet); its password comes from TGATE_BOOTSTRAP_PASSWORD. Default: the
    /// login configured for the router
    #[arg(long, value_name = "USER")]
    admin_user: Option<String>,
}

/// The router's configuration and its validated setup, or bad input.
fn setup_for<'a>(ctx: &'a Ctx, name: &RouterName) -> anyhow::Result<(&'a RouterConfig, Setup)> {
    ctx.check_router(name, "<ROUTER>")?;
    let router = ctx
        .config
        .router(name.as_str())
        .expect("check_router found it");
    match Setup::from_config(&ctx.config.server, router) {
        Ok(setup) => Ok((router, setup)),
        Err(refused) => bad_input!("router {name}: {refused}"),
    }
}

pub fn script(ctx: &Ctx, name: &RouterName) -> anyhow::Result<()> {
    let (_, setup) = setup_for(ctx, name)?;
    if ctx.json {
        print_json(&json!({
            "router": name.as_str(),
            "setup": setup.setup_script(),
            "on_up": setup.on_up(),
            "on_down": setup.on_down(),
        }));
    } else {
        println!("# ===== setup.rsc =====");
        print!("{}", setup.setup_script());
        println!(
            "# ===== on-up.rsc (PPP profile {}) =====",
            setup.ppp_profile
        );
        print!("{}", setup.on_up());
        println!(
            "# ===== on-down.rsc (PPP profile {}) =====",
            setup.ppp_profile
        );
        print!("{}", setup.on_down());
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, args: BootstrapArgs) -> anyhow::Result<()> {
    let (router, setup) = setup_for(ctx, &args.router)?;
    let (user, auth) = match &args.admin_user {
        Some(user) => {
            let Some(password) = std::env::var("TGATE_BOOTSTRAP_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
            else {
                bad_input!("--admin-user needs the password in TGATE_BOOTSTRAP_PASSWORD");
            };
            (user.clone(), SshAuth::Password(password.into()))
        }
        None => (router.user.clone(), ssh_auth(&router.auth)),
    };
    let gateway = SshGateway::new(SshTarget {
        router: router.name.clone(),
        host: router.host.clone(),
        port: router.port,
        user,
        auth,
        host_key: router.host_key.clone(),
        connect_timeout: Duration::from_secs(5),
        command_timeout: router.command_timeout.max(Duration::from_secs(10)),
    });
    let observed = setup::read::read(&gateway, &setup).await?;
    let changes = match setup::plan(&setup, &observed, login_password(&router.auth)) {
        Ok(changes) => changes,
        Err(refused) => bad_input!("router {}: {refused}", router.name),
    };
    if !args.dry_run && !changes.is_empty() {
        setup::plan::apply(&gateway, &setup, &changes).await?;
    }
    report(ctx, &router.name, &setup, &changes, args.dry_run);
    if !args.dry_run
        && changes.iter().any(|c| matches!(c, Change::AddUser { .. }))
        && matches!(router.auth, RouterAuth::KeyFile { .. })
    {
        eprintln!(
            "tgate: user {} was created with a random password; import tgate's public key with /user ssh-keys import user={}",
            setup.user, setup.user
        );
    }
    Ok(())
}

fn report(ctx: &Ctx, name: &RouterName, setup: &Setup, changes: &[Change], dry_run: bool) {
    if ctx.json {
        let list: Vec<_> = changes
            .iter()
            .map(|c| json!({"change": c.describe(setup), "command": c.render(setup, false).text()}))
            .collect();
        print_json(&json!({
            "router": name.as_str(),
            "dry_run": dry_run,
            "changes": list,
        }));
        return;
    }
    if changes.is_empty() {
        println!("router {name}: already set up; nothing to change");
        return;
    }
    if dry_run {
        println!("# router {name}: {} change(s) would be sent", changes.len());
        for c in changes {
            println!("# {}", c.describe(setup));
            println!("{}", c.render(setup, false).text());
        }
    } else {
        println!("router {name}: {} change(s) applied", changes.len());
        for c in changes {
            println!("  {}", c.describe(setup));
        }
    }
}

fn ssh_auth(auth: &RouterAuth) -> SshAuth {
    match auth {
        RouterAuth::Password(p) => SshAuth::Password(p.clone()),
        RouterAuth::KeyFile { path, passphrase } => SshAuth::KeyFile {
            path: path.clone(),
            passphrase: passphrase.clone(),
        },
    }
}

/// The password tgate's login gets if bootstrap creates it: the configured
/// one, or for key authentication a random one nobody knows (RouterOS lets
/// anybody in to an account with an empty password).
fn login_password(auth: &RouterAuth) -> SecretString {
    match auth {
        RouterAuth::Password(p) => SecretString::from(p.expose_secret().to_owned()),
        RouterAuth::KeyFile { .. } => {
            let bytes: [u8; 24] = rand::random();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            SecretString::from(hex)
        }
    }
}
