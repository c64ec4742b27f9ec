//! Reading what a router already has of tgate's setup: the rules with a
//! `tgate:` comment, the profile's scripts, the group, the login and the SSH
//! crypto setting. Each query is rendered here from checked names and parsed
//! with the router client's `print terse` splitter.

use super::{GRANTED, Setup};
use crate::router::command::quote;
use crate::router::parse::{self, TerseRecord, meaningful_lines};
use crate::router::ssh::SshGateway;
use crate::router::{Gateway as _, RouterError};

/// A command for the router, rendered only inside this module tree from
/// typed values: there is no way to build one from arbitrary text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub kind: &'static str,
    text: String,
}

impl Rendered {
    pub(super) fn new(kind: &'static str, text: String) -> Rendered {
        Rendered { kind, text }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A firewall rule as the router prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRule {
    pub comment: String,
    pub props: Vec<(String, String)>,
    pub disabled: bool,
}

impl ObservedRule {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What the router has now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    pub rules: Vec<ObservedRule>,
    /// The profile's (on-up, on-down); `None` when there is no such profile.
    pub profile: Option<(String, String)>,
    /// The granted policies of tgate's group; `None` when it is missing.
    pub group: Option<Vec<String>>,
    /// The group of tgate's login; `None` when the user is missing.
    pub user_group: Option<String>,
    pub strong_crypto: bool,
}

impl Observed {
    pub fn group_is_right(&self) -> bool {
        self.group.as_ref().is_some_and(|granted| {
            granted.len() == GRANTED.len() && GRANTED.iter().all(|p| granted.iter().any(|g| g == p))
        })
    }
}

const FILTER_KEYS: &[&str] = &[
    "comment",
    "chain",
    "action",
    "protocol",
    "src-address",
    "src-address-list",
    "dst-address-list",
    "in-interface",
    "dst-port",
    "disabled",
];

/// The queries, in the order [`read`] sends them.
pub fn queries(setup: &Setup) -> Vec<Rendered> {
    let profile = quote(setup.ppp_profile.as_str());
    vec![
        Rendered::new(
            "print-filter",
            "/ip firewall filter print terse where comment~\"^tgate: \"".to_owned(),
        ),
        Rendered::new(
            "count-profile",
            format!(":put [/ppp profile print count-only where name={profile}]"),
        ),
        Rendered::new(
            "get-on-up",
            format!(":put [/ppp profile get [find name={profile}] on-up]"),
        ),
        Rendered::new(
            "get-on-down",
            format!(":put [/ppp profile get [find name={profile}] on-down]"),
        ),
        Rendered::new(
            "print-group",
            format!(
                "/user group print terse where name={}",
                quote(setup.group.as_str())
            ),
        ),
        Rendered::new(
            "print-user",
            format!(
                "/user print terse where name={}",
                quote(setup.user.as_str())
            ),
        ),
        Rendered::new("print-ssh", "/ip ssh print".to_owned()),
    ]
}

/// Reads the router's current setup over `gateway`.
pub async fn read(gateway: &SshGateway, setup: &Setup) -> Result<Observed, RouterError> {
    let q = queries(setup);
    let run = |i: usize| {
        let r = q[i].clone();
        async move {
            let out = gateway.exec_setup(&r).await?;
            Ok::<_, RouterError>((r, out))
        }
    };
    let refused =
        |r: &Rendered, problem: parse::Problem| problem.into_error(gateway.router(), r.text());
    let (r, out) = run(0).await?;
    parse::check_print(&out).map_err(|p| refused(&r, p))?;
    let rules = meaningful_lines(&out)
        .filter_map(|line| TerseRecord::parse(line, FILTER_KEYS))
        .filter_map(|rec| {
            let comment = rec.get("comment")?.to_owned();
            let props = rec
                .fields
                .iter()
                .filter(|(k, _)| !matches!(*k, "comment" | "disabled"))
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let disabled = rec.flags.contains('X') || rec.get("disabled") == Some("yes");
            Some(ObservedRule {
                comment,
                props,
                disabled,
            })
        })
        .collect();

    let (r, out) = run(1).await?;
    parse::check_print(&out).map_err(|p| refused(&r, p))?;
    let profile = if out.trim() == "0" {
        None
    } else {
        // The scripts are free text: whatever `:put` printed is the value.
        let (_, up) = run(2).await?;
        let (_, down) = run(3).await?;
        Some((script_text(&up), script_text(&down)))
    };

    let (r, out) = run(4).await?;
    parse::check_print(&out).map_err(|p| refused(&r, p))?;
    let group = meaningful_lines(&out)
        .filter_map(|line| TerseRecord::parse(line, &["name", "policy", "comment"]))
        .find(|rec| rec.get("name") == Some(setup.group.as_str()))
        .map(|rec| {
            rec.get("policy")
                .unwrap_or_default()
                .split(',')
                .filter(|p| !p.is_empty() && !p.starts_with('!'))
                .map(str::to_owned)
                .collect()
        });

    let (r, out) = run(5).await?;
    parse::check_print(&out).map_err(|p| refused(&r, p))?;
    let user_group = meaningful_lines(&out)
        .filter_map(|line| TerseRecord::parse(line, &["name", "group", "address", "comment"]))
        .find(|rec| rec.get("name") == Some(setup.user.as_str()))
        .map(|rec| rec.get("group").unwrap_or_default().to_owned());

    let (r, out) = run(6).await?;
    parse::check_print(&out).map_err(|p| refused(&r, p))?;
    let strong_crypto = meaningful_lines(&out).any(|line| {
        line.trim()
            .strip_prefix("strong-crypto:")
            .is_some_and(|v| v.trim() == "yes")
    });

    Ok(Observed {
        rules,
        profile,
        group,
        user_group,
        strong_crypto,
    })
}

/// A script as `:put` printed it: line ends normalised, trailing blank
/// lines dropped, so that it compares equal to the text that was set.
pub fn script_text(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(|l| l.trim_end_matches('\r').trim_end())
        .collect();
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    lines[..end].join("\n")
}
