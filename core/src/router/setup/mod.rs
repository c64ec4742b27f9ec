//! What a router needs before tgate can guard it (SPEC §6 "Bootstrap"): the
//! firewall rules, the PPP profile's on-up/on-down scripts, a least-privilege
//! user group and login for tgate, and strong SSH crypto.
//!
//! The scripts live in `router-scripts/` as templates for people who paste
//! them by hand; [`Setup`] fills them, and `tgate router bootstrap` reads the
//! router ([`read`]), works out what is missing or different ([`plan()`]) and
//! sends only that. Every value that reaches a script or a command is typed
//! and checked here first ([`ScriptUrl`], [`ScriptToken`], list and item
//! names, [`IpNet`]), so no configuration value can smuggle RouterOS syntax.

use std::fmt;

use ipnet::IpNet;

use crate::domain::{AddressListName, ItemName, RouterName};

pub mod plan;
pub mod read;

pub use plan::{Change, plan};
pub use read::Observed;

pub const ON_UP_TEMPLATE: &str = include_str!("../../../../router-scripts/on-up.rsc");
pub const ON_DOWN_TEMPLATE: &str = include_str!("../../../../router-scripts/on-down.rsc");
pub const SETUP_TEMPLATE: &str = include_str!("../../../../router-scripts/setup.rsc");

/// The policies of tgate's user group. tgate logs in over SSH (`ssh`),
/// prints address lists, `/ppp active`, `/ppp secret` and the identity
/// (`read`), and adds and removes list entries and PPP sessions (`write`).
/// Nothing else: no `test`, as tgate never pings; no `sensitive`, as it never
/// reads a secret's password; no `policy`, `reboot`, `ftp`, `winbox`, `web`,
/// `api` or `rest-api`.
pub const POLICY: &str = "ssh,read,write,!local,!telnet,!ftp,!reboot,!policy,!test,!winbox,\
                          !password,!web,!sniff,!sensitive,!api,!romon,!rest-api";

/// The granted part of [`POLICY`], which is what a router's print is compared
/// with.
pub const GRANTED: &[&str] = &["ssh", "read", "write"];

/// The group bootstrap creates for tgate's login.
pub const GROUP: &str = "tgate";

/// A value was refused before anything was rendered or sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Refused {
    pub field: &'static str,
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> Refused {
    Refused {
        field,
        reason: reason.into(),
    }
}

/// tgate's public URL as the scripts call it: `http(s)://` and then only
/// `A-Z a-z 0-9 . _ ~ : / - %`, so it can sit inside a RouterOS string with
/// no escaping (no `"`, `$`, `\`, `;`, brackets or spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUrl(String);

impl ScriptUrl {
    pub fn parse(url: &str) -> Result<ScriptUrl, Refused> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| refuse("server.public_url", "must start with http:// or https://"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(refuse("server.public_url", "has no host"));
        }
        if let Some(bad) = url
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._~:/-%".contains(*c)))
        {
            return Err(refuse(
                "server.public_url",
                format!("character {bad:?} cannot be put in a router script"),
            ));
        }
        Ok(ScriptUrl(url.trim_end_matches('/').to_owned()))
    }
}

/// A router's bearer token, checked again against the script-safe alphabet
/// `A-Z a-z 0-9 - _ . ~ + / =` (the configuration checks it too; this is the
/// check that guards the script).
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptToken(String);

impl ScriptToken {
    pub fn parse(token: &str) -> Result<ScriptToken, Refused> {
        if token.len() < 16 {
            return Err(refuse("token", "shorter than 16 characters"));
        }
        if !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~+/=".contains(c))
        {
            return Err(refuse(
                "token",
                "may contain only letters, digits and - _ . ~ + / =",
            ));
        }
        Ok(ScriptToken(token.to_owned()))
    }
}

impl fmt::Debug for ScriptToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScriptToken(<redacted>)")
    }
}

/// Everything a router's setup is made from, all of it validated.
#[derive(Debug, Clone)]
pub struct Setup {
    pub router: RouterName,
    pub public_url: ScriptUrl,
    pub token: ScriptToken,
    pub sandbox_list: AddressListName,
    pub permit_list: AddressListName,
    pub ban_list: AddressListName,
    pub vpn_pool: Option<IpNet>,
    pub ppp_profile: ItemName,
    /// tgate's login on the router.
    pub user: ItemName,
    pub group: ItemName,
}

impl Setup {
    /// The setup for a configured router. The public URL must be set; every
    /// value is checked again against what a script can hold, and a name the
    /// router would need quoted is refused.
    pub fn from_config(
        server: &crate::config::ServerConfig,
        router: &crate::config::RouterConfig,
    ) -> Result<Setup, Refused> {
        use secrecy::ExposeSecret;
        let url = server.public_url.as_deref().ok_or_else(|| {
            refuse(
                "server.public_url",
                "is not set; the router scripts need the URL they call",
            )
        })?;
        Ok(Setup {
            router: router.name.clone(),
            public_url: ScriptUrl::parse(url)?,
            token: ScriptToken::parse(router.token.expose_secret())?,
            sandbox_list: router.sandbox_list.clone(),
            permit_list: router.permit_list.clone(),
            ban_list: router.ban_list.clone(),
            vpn_pool: router.vpn_pool,
            ppp_profile: router.ppp_profile.clone(),
            user: router
                .user
                .parse()
                .map_err(|e: crate::domain::InvalidValue| refuse("user", e.reason))?,
            group: GROUP.parse().expect("a valid name"),
        })
    }
}

/// One firewall filter rule tgate owns, found again by its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRule {
    /// Starts with `tgate: `.
    pub comment: &'static str,
    /// `(property, value)` in the order they are written, `chain` first.
    pub props: Vec<(&'static str, String)>,
}

impl Setup {
    /// The on-up script for the profile, filled in.
    pub fn on_up(&self) -> String {
        self.fill(ON_UP_TEMPLATE)
    }

    pub fn on_down(&self) -> String {
        self.fill(ON_DOWN_TEMPLATE)
    }

    /// `setup.rsc` filled in, for pasting by hand.
    pub fn setup_script(&self) -> String {
        self.fill(SETUP_TEMPLATE)
    }

    /// The rules, in the order they must stand: drop banned callers, accept
    /// confirmed clients, then drop the sandbox and (with a pool) every pool
    /// address that is not permitted.
    pub fn filter_rules(&self) -> Vec<FilterRule> {
        let s = |v: &str| v.to_owned();
        let ban = self.ban_list.to_string();
        let mut rules = vec![
            FilterRule {
                comment: "tgate: drop banned callers on L2TP/IPsec ports",
                props: vec![
                    ("chain", s("input")),
                    ("action", s("drop")),
                    ("protocol", s("udp")),
                    ("dst-port", s("500,1701,4500")),
                    ("src-address-list", ban.clone()),
                ],
            },
            FilterRule {
                comment: "tgate: drop banned callers on SSTP, OpenVPN and PPTP ports",
                props: vec![
                    ("chain", s("input")),
                    ("action", s("drop")),
                    ("protocol", s("tcp")),
                    ("dst-port", s("443,1194,1723")),
                    ("src-address-list", ban),
                ],
            },
            FilterRule {
                comment: "tgate: forward confirmed clients",
                props: vec![
                    ("chain", s("forward")),
                    ("action", s("accept")),
                    ("src-address-list", self.permit_list.to_string()),
                ],
            },
            FilterRule {
                comment: "tgate: hold unconfirmed clients",
                props: vec![
                    ("chain", s("forward")),
                    ("action", s("drop")),
                    ("src-address-list", self.sandbox_list.to_string()),
                ],
            },
        ];
        if let Some(pool) = self.vpn_pool {
            rules.push(FilterRule {
                comment: "tgate: drop unconfirmed VPN pool addresses",
                props: vec![
                    ("chain", s("forward")),
                    ("action", s("drop")),
                    ("src-address", pool.trunc().to_string()),
                    ("src-address-list", format!("!{}", self.permit_list)),
                ],
            });
        }
        rules
    }

    /// Replaces the `{{…}}` placeholders with this router's values; a line
    /// that needs the VPN pool is left out when there is none. Each value is
    /// from a checked type whose alphabet needs no quoting, and the two
    /// scripts go in through [`quote`](super::command::quote).
    fn fill(&self, template: &str) -> String {
        let mut out = String::new();
        for line in template.lines() {
            if line.contains("{{VPN_POOL}}") && self.vpn_pool.is_none() {
                continue;
            }
            let mut line = line
                .replace("{{ROUTER}}", self.router.as_str())
                .replace("{{PUBLIC_URL}}", &self.public_url.0)
                .replace("{{TOKEN}}", &self.token.0)
                .replace("{{SANDBOX_LIST}}", self.sandbox_list.as_str())
                .replace("{{PERMIT_LIST}}", self.permit_list.as_str())
                .replace("{{BAN_LIST}}", self.ban_list.as_str())
                .replace("{{PPP_PROFILE}}", self.ppp_profile.as_str())
                .replace("{{GROUP}}", self.group.as_str())
                .replace("{{USER}}", self.user.as_str())
                .replace("{{POLICY}}", POLICY);
            if let Some(pool) = self.vpn_pool {
                line = line.replace("{{VPN_POOL}}", &pool.trunc().to_string());
            }
            if line.contains("{{ON_UP}}") {
                line = line
                    .replace("{{ON_UP}}", &super::command::quote(&self.on_up()))
                    .replace("{{ON_DOWN}}", &super::command::quote(&self.on_down()));
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests;
