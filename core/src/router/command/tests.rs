//! Rendering, and the proof that no value can break out of a command.

use super::*;
use crate::domain::{AccountName, Comment};

fn list(name: &str) -> AddressListName {
    name.parse().unwrap()
}

fn add(address: &str, timeout: Option<u64>, comment: Option<&str>) -> String {
    Command::AddAddress(NewEntry {
        list: list("tgate-sandbox"),
        address: address.parse().unwrap(),
        timeout: timeout.map(Duration::from_secs),
        comment: comment.map(|c| c.parse().unwrap()),
    })
    .render()
    .unwrap()
}

#[test]
fn adds_pick_the_menu_by_family_and_write_hosts_bare() {
    assert_eq!(
        add("10.0.0.5/32", Some(3723), Some("tgate session 42")),
        r#"/ip firewall address-list add list="tgate-sandbox" address=10.0.0.5 timeout=1h2m3s comment="tgate session 42""#
    );
    assert_eq!(
        add("10.0.0.0/24", None, None),
        r#"/ip firewall address-list add list="tgate-sandbox" address="10.0.0.0/24""#
    );
    assert_eq!(
        add("2001:DB8:0:0::5/128", Some(59), None),
        r#"/ipv6 firewall address-list add list="tgate-sandbox" address="2001:db8::5/128" timeout=59s"#
    );
    // Host bits are cleared, as RouterOS would store the network.
    assert_eq!(
        add("10.0.0.7/24", None, None),
        r#"/ip firewall address-list add list="tgate-sandbox" address="10.0.0.0/24""#
    );
}

#[test]
fn comments_with_colons_and_slashes_stay_inside_quotes() {
    assert!(
        add(
            "10.0.0.5/32",
            None,
            Some("from 203.0.113.7:1701 via l2tp/ipsec")
        )
        .ends_with(r#" comment="from 203.0.113.7:1701 via l2tp/ipsec""#)
    );
}

#[test]
fn a_zero_timeout_is_refused() {
    let cmd = Command::AddAddress(NewEntry {
        list: list("x"),
        address: "10.0.0.5/32".parse().unwrap(),
        timeout: Some(Duration::ZERO),
        comment: None,
    });
    assert!(matches!(cmd.render(), Err(RouterError::Invalid(_))));
}

#[test]
fn removes_and_prints_filter_by_list() {
    let remove = Command::RemoveAddress {
        list: list("tgate-permit"),
        address: "2001:db8::5/128".parse().unwrap(),
    };
    assert_eq!(
        remove.render().unwrap(),
        r#"/ipv6 firewall address-list remove [find list="tgate-permit" address="2001:db8::5/128"]"#
    );
    let remove = Command::RemoveAddress {
        list: list("tgate-permit"),
        address: "10.0.0.5/32".parse().unwrap(),
    };
    assert_eq!(
        remove.render().unwrap(),
        r#"/ip firewall address-list remove [find list="tgate-permit" address=10.0.0.5]"#
    );
    for (family, menu) in [(Family::V4, "/ip"), (Family::V6, "/ipv6")] {
        let print = Command::PrintList {
            family,
            list: list("ban"),
        };
        assert_eq!(
            print.render().unwrap(),
            format!(r#"{menu} firewall address-list print terse where list="ban""#)
        );
    }
}

#[test]
fn ppp_and_identity_commands() {
    assert_eq!(
        Command::PrintPppActive.render().unwrap(),
        "/ppp active print terse"
    );
    assert_eq!(
        Command::Identity.render().unwrap(),
        "/system identity print"
    );
    let both = PppMatch {
        name: Some("alice".parse().unwrap()),
        address: Some("10.10.0.5".parse().unwrap()),
        caller_id: None,
    };
    assert_eq!(
        Command::RemovePppActive(both).render().unwrap(),
        r#"/ppp active remove [find name="alice" address=10.10.0.5]"#
    );
    let v6 = PppMatch {
        name: None,
        address: Some("2001:db8::9".parse().unwrap()),
        caller_id: None,
    };
    assert_eq!(
        Command::RemovePppActive(v6).render().unwrap(),
        r#"/ppp active remove [find address="2001:db8::9"]"#
    );
    let caller = PppMatch {
        caller_id: Some("203.0.113.7".parse().unwrap()),
        ..PppMatch::default()
    };
    assert_eq!(
        Command::RemovePppActive(caller).render().unwrap(),
        r#"/ppp active remove [find caller-id="203.0.113.7"]"#
    );
    let mac = PppMatch {
        caller_id: Some("bc:24:11:81:b1:47".parse().unwrap()),
        ..PppMatch::default()
    };
    assert_eq!(
        Command::RemovePppActive(mac).render().unwrap(),
        r#"/ppp active remove [find caller-id="BC:24:11:81:B1:47"]"#
    );
    assert!(matches!(
        Command::RemovePppActive(PppMatch::default()).render(),
        Err(RouterError::Invalid(_))
    ));
}

#[test]
fn durations_use_routeros_units() {
    let cases = [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3723, "1h2m3s"),
        (86_400, "1d"),
        (604_800 + 86_400 + 4 * 3_600, "1w1d4h"),
    ];
    for (secs, text) in cases {
        assert_eq!(format_duration(Duration::from_secs(secs)), text);
    }
    assert_eq!(format_duration(Duration::from_millis(1500)), "2s");
}

#[test]
fn quote_escapes_routeros_string_syntax() {
    assert_eq!(quote(r#"a"b\c$d"#), r#""a\"b\\c\$d""#);
    assert_eq!(quote("a;b\n[c]"), r#""a\3Bb\0A\5Bc\5D""#);
    assert_eq!(quote("Иван"), "\"Иван\"");
}

const NASTY: &[&str] = &[
    "x\" ; /system reset-configuration",
    "x\"; /user add name=evil group=full; :put \"",
    "a\nb",
    "a\r\n/system reboot",
    "[/system reboot]",
    "$(/system reboot)",
    "${x}",
    "\\",
    "\\\"",
    "\"",
    "\\\\\"]",
    "a\u{0}b",
    "a\u{85}b",
    "};{",
    "x\u{2028}y",
    "comment with spaces",
    "Иван Петров",
    "alice@corp+vpn",
    "10.0.0.5/32",
    "2001:db8::5/128",
    "a\tb",
];

/// No raw syntax character outside a quoted literal, and every literal
/// closes: walk the text the way RouterOS's tokenizer would.
fn assert_well_formed(text: &str) {
    for bad in [';', '\n', '\r', '[', ']'] {
        // `[`/`]` are allowed only as the `[find …]` brackets tgate writes.
        let raw = text.replace("[find ", "").replace(']', "");
        if bad == '[' || bad == ']' {
            assert!(!raw.contains(bad), "{bad:?} in {text:?}");
        } else {
            assert!(!text.contains(bad), "{bad:?} in {text:?}");
        }
    }
    assert_eq!(
        text.matches("[find ").count(),
        text.matches(']').count(),
        "{text:?}"
    );
    let mut in_string = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => {
                chars.next();
            }
            '$' => assert!(in_string, "bare $ in {text:?}"),
            _ => {}
        }
    }
    assert!(!in_string, "unbalanced quote in {text:?}");
}

#[test]
fn no_value_can_break_out_of_a_command() {
    for nasty in NASTY {
        // The quoting alone is enough, even for values the types refuse.
        let quoted = quote(nasty);
        assert_well_formed(&quoted);
        assert!(!quoted[1..quoted.len() - 1].contains(['[', ']', ';']));

        // And whatever the types accept renders into well-formed commands.
        let comment = nasty.parse::<Comment>().ok();
        let name = nasty.parse::<AccountName>().ok();
        let list_name = nasty.parse::<AddressListName>().ok();
        let mut commands = vec![Command::AddAddress(NewEntry {
            list: list_name.clone().unwrap_or_else(|| list("x")),
            address: "2001:db8::5/128".parse().unwrap(),
            timeout: Some(Duration::from_secs(90)),
            comment,
        })];
        if let Some(list_name) = list_name {
            commands.push(Command::RemoveAddress {
                list: list_name.clone(),
                address: "10.0.0.0/8".parse().unwrap(),
            });
            commands.push(Command::PrintList {
                family: Family::V6,
                list: list_name,
            });
        }
        if let Some(name) = name {
            commands.push(Command::RemovePppActive(PppMatch {
                name: Some(name),
                address: Some("fe80::1".parse().unwrap()),
                caller_id: None,
            }));
        }
        for command in commands {
            assert_well_formed(&command.render().unwrap());
        }
    }
}
