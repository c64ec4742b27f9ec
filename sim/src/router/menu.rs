//! The slice of RouterOS's menu tree the simulator knows: which words are
//! sub-menus, which are commands, and which arguments each command takes.
//! The parser consults it to report `bad command name` and `expected end of
//! command` exactly where RouterOS would, before anything runs.

use super::state::Family;

/// The PPP servers that have a dynamic interface per session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Service {
    L2tp,
    Sstp,
    Ovpn,
    Pptp,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::L2tp => "l2tp",
            Service::Sstp => "sstp",
            Service::Ovpn => "ovpn",
            Service::Pptp => "pptp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Menu {
    Root,
    Ip,
    IpFirewall,
    Ipv6,
    Ipv6Firewall,
    AddressList(Family),
    Ppp,
    PppActive,
    PppSecret,
    Interface,
    ServerInterface(Service),
    System,
    SystemIdentity,
    FirewallFilter,
    PppProfile,
    User,
    UserGroup,
    IpSsh,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmd {
    Add,
    Remove,
    Set,
    Print,
    Find,
    Get,
    Enable,
    Disable,
}

impl Cmd {
    /// Commands that need the `write` policy.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Cmd::Add | Cmd::Remove | Cmd::Set | Cmd::Enable | Cmd::Disable
        )
    }
}

impl Menu {
    pub fn child(self, word: &str) -> Option<Menu> {
        use Menu::*;
        Some(match (self, word) {
            (Root, "ip") => Ip,
            (Root, "ipv6") => Ipv6,
            (Root, "ppp") => Ppp,
            (Root, "interface") => Interface,
            (Root, "system") => System,
            (Root, "user") => User,
            (User, "group") => UserGroup,
            (Ip, "ssh") => IpSsh,
            (IpFirewall, "filter") => FirewallFilter,
            (Ppp, "profile") => PppProfile,
            (Ip, "firewall") => IpFirewall,
            (Ipv6, "firewall") => Ipv6Firewall,
            (IpFirewall, "address-list") => AddressList(Family::V4),
            (Ipv6Firewall, "address-list") => AddressList(Family::V6),
            (Ppp, "active") => PppActive,
            (Ppp, "secret") => PppSecret,
            (Interface, "l2tp-server") => ServerInterface(Service::L2tp),
            (Interface, "sstp-server") => ServerInterface(Service::Sstp),
            (Interface, "ovpn-server") => ServerInterface(Service::Ovpn),
            (Interface, "pptp-server") => ServerInterface(Service::Pptp),
            (System, "identity") => SystemIdentity,
            _ => return None,
        })
    }

    pub fn parent(self) -> Menu {
        use Menu::*;
        match self {
            Root | Ip | Ipv6 | Ppp | Interface | System | User => Root,
            UserGroup => User,
            IpSsh => Ip,
            FirewallFilter => IpFirewall,
            PppProfile => Ppp,
            IpFirewall => Ip,
            Ipv6Firewall => Ipv6,
            AddressList(Family::V4) => IpFirewall,
            AddressList(Family::V6) => Ipv6Firewall,
            PppActive | PppSecret => Ppp,
            ServerInterface(_) => Interface,
            SystemIdentity => System,
        }
    }

    /// The path as the prompt shows it (`/ip firewall address-list`).
    pub fn path(self) -> String {
        use Menu::*;
        match self {
            Root => "/".to_owned(),
            Ip => "/ip".to_owned(),
            Ipv6 => "/ipv6".to_owned(),
            Ppp => "/ppp".to_owned(),
            Interface => "/interface".to_owned(),
            System => "/system".to_owned(),
            IpFirewall | Ipv6Firewall => format!("{} firewall", self.parent().path()),
            AddressList(_) => format!("{} address-list", self.parent().path()),
            PppActive => "/ppp active".to_owned(),
            PppSecret => "/ppp secret".to_owned(),
            ServerInterface(s) => format!("/interface {}-server", s.name()),
            SystemIdentity => "/system identity".to_owned(),
            FirewallFilter => "/ip firewall filter".to_owned(),
            PppProfile => "/ppp profile".to_owned(),
            User => "/user".to_owned(),
            UserGroup => "/user group".to_owned(),
            IpSsh => "/ip ssh".to_owned(),
        }
    }

    pub fn command(self, word: &str) -> Option<Cmd> {
        use Cmd::*;
        let cmd = match word {
            "add" => Add,
            "remove" => Remove,
            "set" => Set,
            "print" => Print,
            "find" => Find,
            "get" => Get,
            "enable" => Enable,
            "disable" => Disable,
            _ => return None,
        };
        let allowed: &[Cmd] = match self {
            Menu::AddressList(_) => &[Add, Remove, Set, Print, Find, Get, Enable, Disable],
            Menu::PppSecret => &[Add, Remove, Set, Print, Find, Get, Enable, Disable],
            Menu::PppActive | Menu::ServerInterface(_) => &[Remove, Print, Find, Get],
            Menu::SystemIdentity | Menu::IpSsh => &[Set, Print, Get],
            Menu::FirewallFilter | Menu::User => {
                &[Add, Remove, Set, Print, Find, Get, Enable, Disable]
            }
            Menu::PppProfile | Menu::UserGroup => &[Add, Remove, Set, Print, Find, Get],
            _ => &[],
        };
        allowed.contains(&cmd).then_some(cmd)
    }

    /// Properties that `where`, `find`, `get` and `set`/`add` may name.
    pub fn properties(self) -> &'static [&'static str] {
        match self {
            Menu::AddressList(_) => &[
                ".id",
                "list",
                "address",
                "timeout",
                "comment",
                "disabled",
                "dynamic",
                "creation-time",
            ],
            Menu::PppActive => &[
                ".id",
                "name",
                "service",
                "caller-id",
                "address",
                "uptime",
                "encoding",
                "session-id",
                "limit-bytes-in",
                "limit-bytes-out",
                "radius",
            ],
            Menu::PppSecret => &[
                ".id",
                "name",
                "service",
                "profile",
                "password",
                "caller-id",
                "comment",
                "disabled",
                "local-address",
                "remote-address",
            ],
            Menu::ServerInterface(_) => &[
                ".id",
                "name",
                "user",
                "mtu",
                "client-address",
                "uptime",
                "encoding",
                "dynamic",
                "running",
            ],
            Menu::SystemIdentity => &["name"],
            Menu::IpSsh => SSH_PROPERTIES,
            Menu::FirewallFilter => &[
                ".id",
                "chain",
                "action",
                "protocol",
                "src-address",
                "src-address-list",
                "dst-address-list",
                "in-interface",
                "dst-port",
                "comment",
                "disabled",
            ],
            Menu::PppProfile => &[
                ".id",
                "name",
                "local-address",
                "remote-address",
                "on-up",
                "on-down",
                "comment",
            ],
            Menu::UserGroup => &[".id", "name", "policy", "comment"],
            Menu::User => &[".id", "name", "group", "address", "comment", "disabled"],
            _ => &[],
        }
    }
}

/// `/ip ssh` settings the simulator keeps.
const SSH_PROPERTIES: &[&str] = &["strong-crypto"];

/// The shape of a command's arguments, for the parser.
pub(crate) struct ArgSpec {
    pub named: &'static [&'static str],
    pub flags: &'static [&'static str],
    pub positional: usize,
    pub where_clause: bool,
}

pub(crate) fn arg_spec(menu: Menu, cmd: Cmd) -> ArgSpec {
    const PRINT_FLAGS: &[&str] = &[
        "terse",
        "detail",
        "count-only",
        "as-value",
        "without-paging",
        "brief",
    ];
    let none: &[&str] = &[];
    match (menu, cmd) {
        (_, Cmd::Print) => ArgSpec {
            named: &["proplist"],
            flags: PRINT_FLAGS,
            positional: 0,
            where_clause: !matches!(menu, Menu::SystemIdentity | Menu::IpSsh),
        },
        (_, Cmd::Remove | Cmd::Enable | Cmd::Disable) => ArgSpec {
            named: none,
            flags: none,
            positional: 1,
            where_clause: false,
        },
        (_, Cmd::Get) => ArgSpec {
            named: none,
            flags: none,
            positional: if matches!(menu, Menu::SystemIdentity | Menu::IpSsh) {
                1
            } else {
                2
            },
            where_clause: false,
        },
        (_, Cmd::Find) => ArgSpec {
            named: none,
            flags: none,
            positional: 0,
            where_clause: true,
        },
        (Menu::AddressList(_), Cmd::Add | Cmd::Set) => ArgSpec {
            named: &["list", "address", "timeout", "comment", "disabled"],
            flags: none,
            positional: usize::from(cmd == Cmd::Set),
            where_clause: false,
        },
        (Menu::PppSecret, Cmd::Add | Cmd::Set) => ArgSpec {
            named: &[
                "name",
                "password",
                "service",
                "profile",
                "comment",
                "disabled",
                "caller-id",
                "local-address",
                "remote-address",
            ],
            flags: none,
            positional: usize::from(cmd == Cmd::Set),
            where_clause: false,
        },
        (Menu::IpSsh, Cmd::Set) => ArgSpec {
            named: SSH_PROPERTIES,
            flags: none,
            positional: 0,
            where_clause: false,
        },
        (
            Menu::FirewallFilter | Menu::PppProfile | Menu::UserGroup | Menu::User,
            Cmd::Add | Cmd::Set,
        ) => ArgSpec {
            named: match menu {
                Menu::FirewallFilter => &[
                    "chain",
                    "action",
                    "protocol",
                    "src-address",
                    "src-address-list",
                    "dst-address-list",
                    "in-interface",
                    "dst-port",
                    "comment",
                    "disabled",
                ],
                Menu::PppProfile => &[
                    "name",
                    "local-address",
                    "remote-address",
                    "on-up",
                    "on-down",
                    "comment",
                ],
                Menu::UserGroup => &["name", "policy", "comment"],
                _ => &[
                    "name", "group", "password", "address", "comment", "disabled",
                ],
            },
            flags: none,
            positional: usize::from(cmd == Cmd::Set),
            where_clause: false,
        },
        (Menu::SystemIdentity, Cmd::Set) => ArgSpec {
            named: &["name"],
            flags: none,
            positional: 0,
            where_clause: false,
        },
        _ => ArgSpec {
            named: none,
            flags: none,
            positional: 0,
            where_clause: false,
        },
    }
}
