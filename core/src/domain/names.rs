//! Validated names and values. Anything that may reach a RouterOS command goes
//! through one of these types, so a value from a request can never carry
//! RouterOS syntax (`;`, `[`, `"`, `$`, newlines) into a command.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a value was refused; `reason` is written for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidValue {
    pub reason: String,
}

impl InvalidValue {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

fn check_ascii_name(value: &str, max: usize, extra: &str) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    if value.len() > max {
        return Err(InvalidValue::new(format!("longer than {max} characters")));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c) || extra.contains(*c)))
    {
        return Err(InvalidValue::new(format!(
            "character {bad:?} is not allowed (letters, digits, '_', '.', '-'{})",
            if extra.is_empty() {
                String::new()
            } else {
                format!(", {extra:?}")
            }
        )));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let check: fn(&str) -> Result<(), InvalidValue> = $check;
                check(s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                let check: fn(&str) -> Result<(), InvalidValue> = $check;
                check(&s)?;
                Ok(Self(s))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A router's name in tgate's configuration: `[A-Za-z0-9_.-]{1,64}`.
    RouterName,
    |s| check_ascii_name(s, 64, "")
);

string_newtype!(
    /// A RouterOS address-list name: `[A-Za-z0-9_.-]{1,64}`.
    AddressListName,
    |s| check_ascii_name(s, 64, "")
);

string_newtype!(
    /// A RouterOS item tgate names in commands it sends: a PPP profile, a
    /// user, a user group. `[A-Za-z0-9_.-]{1,64}`, so it needs no quoting.
    ItemName,
    |s| check_ascii_name(s, 64, "")
);

string_newtype!(
    /// A PPP interface name as the router reports it, e.g. `<l2tp-alice>`.
    /// It holds the account name, so it takes the same alphabet (letters of
    /// any script, digits, space, `_ . - @ +`) plus `<` and `>`; at most 80
    /// characters. Stored for the record only; never sent back to the router.
    InterfaceName,
    check_interface
);

fn check_interface(s: &str) -> Result<(), InvalidValue> {
    if s.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    if s.chars().count() > 80 {
        return Err(InvalidValue::new("longer than 80 characters"));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_alphanumeric() || " _.-@+<>".contains(*c)))
    {
        return Err(InvalidValue::new(format!(
            "character {bad:?} is not allowed (letters, digits, space, '_', '.', '-', '@', '+', '<', '>')"
        )));
    }
    Ok(())
}

string_newtype!(
    /// A VPN account: a PPP secret name on a router. Letters and digits of any
    /// script, space, and `_ . - @ +`; 1 to 64 characters, no leading or
    /// trailing space. Quotes, `$`, `\`, `;`, brackets and control characters
    /// are refused, so the name can be put inside a quoted RouterOS value.
    AccountName,
    check_account
);

fn check_account(s: &str) -> Result<(), InvalidValue> {
    if s.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    if s.chars().count() > 64 {
        return Err(InvalidValue::new("longer than 64 characters"));
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return Err(InvalidValue::new("must not start or end with a space"));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_alphanumeric() || " _.-@+".contains(*c)))
    {
        return Err(InvalidValue::new(format!(
            "character {bad:?} is not allowed (letters, digits, space, '_', '.', '-', '@', '+')"
        )));
    }
    Ok(())
}

string_newtype!(
    /// A comment tgate writes on router entries: `[A-Za-z0-9 _.,:/@+-]{0,128}`.
    Comment,
    |s| {
        if s.len() > 128 {
            return Err(InvalidValue::new("longer than 128 characters"));
        }
        match s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || " _.,:/@+-".contains(*c)))
        {
            Some(bad) => Err(InvalidValue::new(format!("character {bad:?} is not allowed"))),
            None => Ok(()),
        }
    }
);

/// A MAC address, the caller id of a PPPoE client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        let bad = || InvalidValue::new("not a MAC address (expected AA:BB:CC:DD:EE:FF)");
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (byte, part) in out.iter_mut().zip(parts) {
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Where a PPP client calls from: a public IP address for L2TP, SSTP, OpenVPN
/// and PPTP, a MAC address for PPPoE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallerId {
    Ip(IpAddr),
    Mac(MacAddr),
}

impl CallerId {
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            CallerId::Ip(ip) => Some(*ip),
            CallerId::Mac(_) => None,
        }
    }
}

impl FromStr for CallerId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(CallerId::Ip(ip));
        }
        if let Ok(mac) = s.parse::<MacAddr>() {
            return Ok(CallerId::Mac(mac));
        }
        Err(InvalidValue::new("not an IP address or a MAC address"))
    }
}

impl fmt::Display for CallerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallerId::Ip(ip) => ip.fmt(f),
            CallerId::Mac(mac) => mac.fmt(f),
        }
    }
}

/// The PPP service a client connected with, as RouterOS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    L2tp,
    Sstp,
    Ovpn,
    Pptp,
    Pppoe,
    /// A PPP service the router did not name: RouterOS's on-up script has no
    /// service variable, so it is derived from the interface name when it
    /// can be (see [`Service::from_interface`]).
    Ppp,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::L2tp,
        Service::Sstp,
        Service::Ovpn,
        Service::Pptp,
        Service::Pppoe,
        Service::Ppp,
    ];

    /// The service of a dynamic PPP interface such as `<l2tp-alice>`.
    pub fn from_interface(interface: &str) -> Option<Service> {
        let inner = interface.strip_prefix('<')?;
        let (prefix, _) = inner.split_once('-')?;
        Service::ALL
            .into_iter()
            .find(|svc| *svc != Service::Ppp && svc.as_str() == prefix)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Service::L2tp => "l2tp",
            Service::Sstp => "sstp",
            Service::Ovpn => "ovpn",
            Service::Pptp => "pptp",
            Service::Pppoe => "pppoe",
            Service::Ppp => "ppp",
        }
    }
}

impl FromStr for Service {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if lower == "openvpn" {
            return Ok(Service::Ovpn);
        }
        Service::ALL
            .into_iter()
            .find(|svc| svc.as_str() == lower)
            .ok_or_else(|| {
                InvalidValue::new("unknown service (l2tp, sstp, ovpn, pptp, pppoe, ppp)")
            })
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_refuse_router_syntax() {
        for bad in ["", "a b", "x]", "x\"", "a;b", "$x", "a\nb", &"x".repeat(65)] {
            assert!(bad.parse::<AddressListName>().is_err(), "{bad:?} accepted");
        }
        assert!("tgate-sandbox_1.v2".parse::<AddressListName>().is_ok());
    }

    #[test]
    fn account_names_allow_other_scripts_but_no_syntax() {
        assert!("Иван Петров".parse::<AccountName>().is_ok());
        assert!("alice@corp+vpn".parse::<AccountName>().is_ok());
        for bad in [
            "", " alice", "al\"ice", "a$b", "a\\b", "a;b", "a[b]", "a\tb", "a{b}",
        ] {
            assert!(bad.parse::<AccountName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn caller_ids_are_ip_or_mac() {
        assert_eq!(
            "203.0.113.7".parse::<CallerId>().unwrap(),
            CallerId::Ip("203.0.113.7".parse().unwrap())
        );
        let mac: CallerId = "bc:24:11:81:b1:47".parse().unwrap();
        assert_eq!(mac.to_string(), "BC:24:11:81:B1:47");
        assert!(
            "10.0.0.5 ; /system reset-configuration"
                .parse::<CallerId>()
                .is_err()
        );
    }

    #[test]
    fn services_parse_case_insensitively() {
        assert_eq!("L2TP".parse::<Service>().unwrap(), Service::L2tp);
        assert_eq!("openvpn".parse::<Service>().unwrap(), Service::Ovpn);
        assert!("telnet".parse::<Service>().is_err());
    }

    #[test]
    fn services_derive_from_interface_names() {
        assert_eq!(Service::from_interface("<l2tp-alice>"), Some(Service::L2tp));
        // An account name may have spaces and any script; so may its interface.
        assert!("<l2tp-Иван Петров>".parse::<InterfaceName>().is_ok());
        assert!("<l2tp-a\"b>".parse::<InterfaceName>().is_err());
        assert_eq!(
            Service::from_interface("<pppoe-bob-x>"),
            Some(Service::Pppoe)
        );
        assert_eq!(Service::from_interface("ether1"), None);
        assert_eq!(Service::from_interface("<ppp-x>"), None);
    }

    #[test]
    fn comments_use_a_safe_alphabet() {
        assert!("tgate session 0190-ab".parse::<Comment>().is_ok());
        assert!("x\" ; /system reset".parse::<Comment>().is_err());
    }
}
