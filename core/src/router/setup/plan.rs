//! From what a router has to what it lacks: [`plan`] compares [`Observed`]
//! with [`Setup`] and returns only the changes that are missing or
//! different, so a second bootstrap sends nothing. [`apply`] sends them.

use secrecy::{ExposeSecret, SecretString};

use super::read::{Observed, Rendered};
use super::{FilterRule, POLICY, Refused, Setup};
use crate::router::command::quote;
use crate::router::parse;
use crate::router::ssh::SshGateway;
use crate::router::{Gateway as _, RouterError};

/// One change bootstrap makes.
#[derive(Debug, Clone)]
pub enum Change {
    AddRule(FilterRule),
    /// A rule with tgate's comment whose properties differ, or disabled.
    SetRule(FilterRule),
    SetScripts,
    AddGroup,
    SetGroup,
    AddUser {
        password: SecretString,
    },
    SetUserGroup,
    StrongCrypto,
}

impl Change {
    /// One line for the operator.
    pub fn describe(&self, setup: &Setup) -> String {
        match self {
            Change::AddRule(r) => format!("add firewall rule {:?}", r.comment),
            Change::SetRule(r) => format!("correct firewall rule {:?}", r.comment),
            Change::SetScripts => format!(
                "set the on-up and on-down scripts of PPP profile {}",
                setup.ppp_profile
            ),
            Change::AddGroup => format!("add user group {} ({POLICY})", setup.group),
            Change::SetGroup => format!("set the policy of user group {}", setup.group),
            Change::AddUser { .. } => format!("add user {} in group {}", setup.user, setup.group),
            Change::SetUserGroup => format!("move user {} to group {}", setup.user, setup.group),
            Change::StrongCrypto => "set /ip ssh strong-crypto=yes".to_owned(),
        }
    }

    /// The command; with `reveal` false a password shows as `<redacted>`
    /// (what `--dry-run` prints), otherwise it is what is sent.
    pub fn render(&self, setup: &Setup, reveal: bool) -> Rendered {
        let rule_args = |r: &FilterRule| {
            r.props
                .iter()
                .map(|(k, v)| format!("{k}={}", value(v)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (kind, text) = match self {
            Change::AddRule(r) => (
                "add-filter",
                format!(
                    "/ip firewall filter add {} comment={}",
                    rule_args(r),
                    quote(r.comment)
                ),
            ),
            Change::SetRule(r) => (
                "set-filter",
                format!(
                    "/ip firewall filter set [find comment={}] {} disabled=no",
                    quote(r.comment),
                    rule_args(r)
                ),
            ),
            Change::SetScripts => (
                "set-profile",
                format!(
                    "/ppp profile set [find name={}] on-up={} on-down={}",
                    quote(setup.ppp_profile.as_str()),
                    quote(&setup.on_up()),
                    quote(&setup.on_down())
                ),
            ),
            Change::AddGroup => (
                "add-group",
                format!("/user group add name={} policy={POLICY}", setup.group),
            ),
            Change::SetGroup => (
                "set-group",
                format!(
                    "/user group set [find name={}] policy={POLICY}",
                    quote(setup.group.as_str())
                ),
            ),
            Change::AddUser { password } => {
                let password = if reveal {
                    quote(password.expose_secret())
                } else {
                    "<redacted>".to_owned()
                };
                (
                    "add-user",
                    format!(
                        "/user add name={} group={} password={password}",
                        setup.user, setup.group
                    ),
                )
            }
            Change::SetUserGroup => (
                "set-user",
                format!(
                    "/user set [find name={}] group={}",
                    quote(setup.user.as_str()),
                    setup.group
                ),
            ),
            Change::StrongCrypto => ("set-ssh", "/ip ssh set strong-crypto=yes".to_owned()),
        };
        Rendered::new(kind, text)
    }
}

/// Values with `/` (the pool) are quoted, as RouterOS reads them otherwise;
/// the rest are list names, numbers and words from a fixed alphabet.
fn value(v: &str) -> String {
    if v.contains(['/', ':']) {
        quote(v)
    } else {
        v.to_owned()
    }
}

/// What to change so that the router matches `setup`. `password` is the
/// login's password if the user has to be created. A missing PPP profile is
/// refused: bootstrap does not guess which profile the VPN uses.
pub fn plan(
    setup: &Setup,
    observed: &Observed,
    password: SecretString,
) -> Result<Vec<Change>, Refused> {
    let mut changes = Vec::new();
    for rule in setup.filter_rules() {
        match observed.rules.iter().find(|r| r.comment == rule.comment) {
            None => changes.push(Change::AddRule(rule)),
            Some(have) => {
                let same = !have.disabled
                    && rule
                        .props
                        .iter()
                        .all(|(k, v)| have.get(k) == Some(v.as_str()));
                if !same {
                    changes.push(Change::SetRule(rule));
                }
            }
        }
    }
    match &observed.profile {
        None => {
            return Err(Refused {
                field: "ppp_profile",
                reason: format!(
                    "the router has no PPP profile named {:?}; set ppp_profile to the profile your VPN uses",
                    setup.ppp_profile.as_str()
                ),
            });
        }
        Some((up, down)) => {
            if *up != super::read::script_text(&setup.on_up())
                || *down != super::read::script_text(&setup.on_down())
            {
                changes.push(Change::SetScripts);
            }
        }
    }
    match &observed.group {
        None => changes.push(Change::AddGroup),
        Some(_) if !observed.group_is_right() => changes.push(Change::SetGroup),
        Some(_) => {}
    }
    match &observed.user_group {
        None => changes.push(Change::AddUser { password }),
        Some(g) if g != setup.group.as_str() => changes.push(Change::SetUserGroup),
        Some(_) => {}
    }
    if !observed.strong_crypto {
        changes.push(Change::StrongCrypto);
    }
    Ok(changes)
}

/// Sends the changes in order; stops at the first the router refuses.
pub async fn apply(
    gateway: &SshGateway,
    setup: &Setup,
    changes: &[Change],
) -> Result<(), RouterError> {
    for change in changes {
        let rendered = change.render(setup, true);
        let output = gateway.exec_setup(&rendered).await?;
        // The error names the command as --dry-run shows it: no password.
        parse::check_write(&output).map_err(|problem| {
            problem.into_error(gateway.router(), change.render(setup, false).text())
        })?;
    }
    Ok(())
}
