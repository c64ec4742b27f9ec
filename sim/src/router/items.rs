//! The router's configuration tables that `tgate router bootstrap` reads and
//! writes: firewall filter rules, PPP profiles, user groups and users, plus
//! the `/ip ssh` settings. They are plain property bags with RouterOS's
//! validation where tgate could trip over it (unknown policy names, a user
//! in a group that does not exist, duplicate names), so that a bootstrap that
//! works here sends what a real router accepts.

use std::collections::BTreeMap;

use super::menu::Menu;
use super::table::Row;

/// Every user-group policy RouterOS v7 knows, in the order it prints them.
pub(crate) const POLICIES: &[&str] = &[
    "local",
    "telnet",
    "ssh",
    "ftp",
    "reboot",
    "read",
    "write",
    "policy",
    "test",
    "winbox",
    "password",
    "web",
    "sniff",
    "sensitive",
    "api",
    "romon",
    "rest-api",
];

/// One row of a configuration table.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub id: u32,
    pub props: BTreeMap<String, String>,
    pub comment: Option<String>,
    pub disabled: bool,
}

impl Item {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }
}

/// The tables, keyed by menu.
#[derive(Debug, Default)]
pub(crate) struct Items {
    pub filters: Vec<Item>,
    pub profiles: Vec<Item>,
    pub groups: Vec<Item>,
    pub users: Vec<Item>,
    pub strong_crypto: bool,
}

impl Items {
    /// What a fresh RouterOS v7 has: the two built-in PPP profiles and the
    /// three built-in groups. `users` are (name, group, password).
    pub fn new(
        users: &[(String, String, Option<String>)],
        next_id: &mut impl FnMut() -> u32,
    ) -> Self {
        let mut items = Items::default();
        for name in ["default", "default-encryption"] {
            let id = next_id();
            items.profiles.push(item(id, &[("name", name)]));
        }
        let all_but = |off: &[&str]| {
            POLICIES
                .iter()
                .map(|p| {
                    if off.contains(p) {
                        format!("!{p}")
                    } else {
                        (*p).to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        for (name, policy) in [
            (
                "read",
                all_but(&["ftp", "reboot", "write", "policy", "sensitive"]),
            ),
            ("write", all_but(&["ftp", "policy", "sensitive"])),
            ("full", all_but(&[])),
        ] {
            let id = next_id();
            let policy = normalise_policy(&policy).expect("built-in policies are valid");
            items
                .groups
                .push(item(id, &[("name", name), ("policy", &policy)]));
        }
        for (name, group, password) in users {
            let id = next_id();
            let mut user = item(id, &[("name", name), ("group", group)]);
            if let Some(p) = password {
                user.props.insert("password".into(), p.clone());
            }
            items.users.push(user);
        }
        items
    }

    pub fn table(&self, menu: Menu) -> Option<&Vec<Item>> {
        Some(match menu {
            Menu::FirewallFilter => &self.filters,
            Menu::PppProfile => &self.profiles,
            Menu::UserGroup => &self.groups,
            Menu::User => &self.users,
            _ => return None,
        })
    }

    pub fn table_mut(&mut self, menu: Menu) -> Option<&mut Vec<Item>> {
        Some(match menu {
            Menu::FirewallFilter => &mut self.filters,
            Menu::PppProfile => &mut self.profiles,
            Menu::UserGroup => &mut self.groups,
            Menu::User => &mut self.users,
            _ => return None,
        })
    }

    /// Checks `add`/`set` arguments as RouterOS would, before anything
    /// changes; returns them normalised (a policy list in print order).
    pub fn validate(
        &self,
        menu: Menu,
        args: &[(String, String)],
    ) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for (k, v) in args {
            let v = match (menu, k.as_str()) {
                (Menu::UserGroup, "policy") => normalise_policy(v)?,
                (Menu::User, "group") => {
                    if !self.groups.iter().any(|g| g.get("name") == Some(v)) {
                        return Err("input does not match any value of group".to_owned());
                    }
                    v.clone()
                }
                (Menu::FirewallFilter, "chain") if v.is_empty() => {
                    return Err("invalid value for argument chain".to_owned());
                }
                (Menu::FirewallFilter, "action")
                    if ![
                        "accept",
                        "drop",
                        "reject",
                        "passthrough",
                        "return",
                        "jump",
                        "log",
                    ]
                    .contains(&v.as_str()) =>
                {
                    return Err("invalid value for argument action".to_owned());
                }
                (Menu::FirewallFilter, "src-address") => {
                    let bare = v.trim_start_matches('!');
                    if bare.parse::<ipnet::IpNet>().is_err()
                        && bare.parse::<std::net::IpAddr>().is_err()
                    {
                        return Err("invalid value for argument src-address".to_owned());
                    }
                    v.clone()
                }
                _ => v.clone(),
            };
            out.push((k.clone(), v));
        }
        Ok(out)
    }

    /// Adds an item; names are unique in the named tables.
    pub fn add(&mut self, menu: Menu, id: u32, args: Vec<(String, String)>) -> Result<(), String> {
        let named = menu != Menu::FirewallFilter;
        let table = self.table_mut(menu).ok_or("bad command name add")?;
        let mut new = item(id, &[]);
        apply(&mut new, args);
        if named {
            let name = new.get("name").unwrap_or_default().to_owned();
            if name.is_empty() {
                return Err("failure: name not set".to_owned());
            }
            if table.iter().any(|i| i.get("name") == Some(&name)) {
                let what = match menu {
                    Menu::User => "user",
                    Menu::UserGroup => "group",
                    _ => "item",
                };
                return Err(format!("failure: {what} with the same name already exists"));
            }
        } else if new.get("chain").is_none() {
            return Err("failure: chain not set".to_owned());
        }
        if menu == Menu::PppProfile {
            new.props.entry("on-up".into()).or_default();
            new.props.entry("on-down".into()).or_default();
        }
        table.push(new);
        Ok(())
    }

    pub fn set(&mut self, menu: Menu, ids: &[u32], args: &[(String, String)]) {
        if let Some(table) = self.table_mut(menu) {
            for i in table.iter_mut().filter(|i| ids.contains(&i.id)) {
                apply(i, args.to_vec());
            }
        }
    }

    pub fn remove(&mut self, menu: Menu, ids: &[u32]) {
        if let Some(table) = self.table_mut(menu) {
            table.retain(|i| !ids.contains(&i.id));
        }
    }

    /// Whether the named user's group has `policy` (e.g. `write`).
    pub fn user_has(&self, user: &str, policy: &str) -> bool {
        let Some(group) = self
            .users
            .iter()
            .find(|u| u.get("name") == Some(user))
            .and_then(|u| u.get("group"))
        else {
            return false;
        };
        self.groups
            .iter()
            .find(|g| g.get("name") == Some(group))
            .and_then(|g| g.get("policy"))
            .is_some_and(|p| p.split(',').any(|x| x == policy))
    }

    /// The rows `print`, `find` and `get` see.
    pub fn rows(&self, menu: Menu) -> Vec<Row> {
        let Some(table) = self.table(menu) else {
            return Vec::new();
        };
        let order: &[&str] = match menu {
            Menu::FirewallFilter => &[
                "chain",
                "action",
                "protocol",
                "src-address",
                "src-address-list",
                "dst-address-list",
                "in-interface",
                "dst-port",
            ],
            Menu::PppProfile => &[
                "name",
                "local-address",
                "remote-address",
                "on-up",
                "on-down",
            ],
            Menu::UserGroup => &["name", "policy"],
            // RouterOS never prints a password.
            Menu::User => &["name", "group", "address"],
            _ => &[],
        };
        table
            .iter()
            .map(|i| {
                let mut shown: Vec<(&'static str, String)> = Vec::new();
                if let Some(c) = &i.comment {
                    shown.push(("comment", c.clone()));
                }
                for key in order {
                    if let Some(v) = i.get(key) {
                        shown.push((key, v.to_owned()));
                    }
                }
                let mut values = shown.clone();
                values.push(("disabled", i.disabled.to_string()));
                Row {
                    id: i.id,
                    flags: if i.disabled {
                        "X".into()
                    } else {
                        String::new()
                    },
                    comment: i.comment.clone(),
                    shown,
                    values,
                }
            })
            .collect()
    }
}

fn item(id: u32, props: &[(&str, &str)]) -> Item {
    Item {
        id,
        props: props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        comment: None,
        disabled: false,
    }
}

fn apply(item: &mut Item, args: Vec<(String, String)>) {
    for (k, v) in args {
        match k.as_str() {
            "comment" => item.comment = Some(v).filter(|c| !c.is_empty()),
            "disabled" => item.disabled = v == "yes" || v == "true",
            _ => {
                item.props.insert(k, v);
            }
        }
    }
}

/// `ssh,read,!ftp` → every policy, granted ones first, in RouterOS's print
/// order; an unknown name is refused.
pub(crate) fn normalise_policy(text: &str) -> Result<String, String> {
    let mut granted = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let (on, name) = match word.strip_prefix('!') {
            Some(name) => (false, name),
            None => (true, word),
        };
        if !POLICIES.contains(&name) {
            return Err("invalid value for argument policy".to_owned());
        }
        if on {
            granted.push(name);
        }
    }
    let on = POLICIES
        .iter()
        .filter(|p| granted.contains(p))
        .map(|p| (*p).to_owned());
    let off = POLICIES
        .iter()
        .filter(|p| !granted.contains(p))
        .map(|p| format!("!{p}"));
    Ok(on.chain(off).collect::<Vec<_>>().join(","))
}

/// A menu whose items live in [`Items`].
pub(crate) fn is_item_menu(menu: Menu) -> bool {
    matches!(
        menu,
        Menu::FirewallFilter | Menu::PppProfile | Menu::UserGroup | Menu::User
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_print_granted_first_and_unknown_names_are_refused() {
        assert_eq!(
            normalise_policy("write,ssh,!ftp,read").unwrap(),
            "ssh,read,write,!local,!telnet,!ftp,!reboot,!policy,!test,!winbox,!password,!web,!sniff,!sensitive,!api,!romon,!rest-api"
        );
        assert!(normalise_policy("ssh,root").is_err());
    }
}
