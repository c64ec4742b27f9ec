//! Samples from `reference/routeros-cli.md` (v6 and v7) and the shapes around
//! them that a real terminal adds: `\r\n`, trailing spaces, log lines.

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn v6_address_list_terse() {
    let output = "13 X list=azeazeaze address=192.168.3.0/24 creation-time=jun/14/2022 07:53:30 \r\n\
                  14 D list=azeazeaze address=192.168.3.0/24 creation-time=jun/14/2022 07:53:49 timeout=4m52s \r\n";
    let entries = address_list(output).unwrap();
    assert_eq!(
        entries,
        vec![
            ListedEntry {
                id: "13".into(),
                list: "azeazeaze".into(),
                address: "192.168.3.0/24".parse().unwrap(),
                timeout: None,
                comment: None,
                dynamic: false,
                disabled: true,
            },
            ListedEntry {
                id: "14".into(),
                list: "azeazeaze".into(),
                address: "192.168.3.0/24".parse().unwrap(),
                timeout: Some(secs(292)),
                comment: None,
                dynamic: true,
                disabled: false,
            },
        ]
    );
}

#[test]
fn v6_ipv6_sample_with_leading_space() {
    let entries =
        address_list(" 4 D list=azeazeaze address=d4de:e2c0::/26 timeout=7m49s dynamic=yes\n")
            .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].address,
        "d4de:e2c0::/26".parse::<IpNet>().unwrap()
    );
    assert_eq!(entries[0].timeout, Some(secs(469)));
    assert!(entries[0].dynamic);
}

#[test]
fn v7_terse_with_spaces_in_values_in_any_order() {
    let output = "0   comment=Kamera Einfahrt list=testing address=34.127.16.140 creation-time=2024-10-22 21:20:36 dynamic=no\n\
                  1 D list=tgate-sandbox address=2001:db8::5/128 creation-time=2025-07-02 11:32:42 timeout=1w2d03:04:04 comment=tgate session 7: from 203.0.113.7 dynamic=yes disabled=no\n";
    let entries = address_list(output).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].comment.as_deref(), Some("Kamera Einfahrt"));
    assert_eq!(
        entries[0].address,
        "34.127.16.140/32".parse::<IpNet>().unwrap()
    );
    assert!(!entries[0].dynamic && !entries[0].disabled);
    assert_eq!(
        entries[1].comment.as_deref(),
        Some("tgate session 7: from 203.0.113.7")
    );
    assert_eq!(
        entries[1].timeout,
        Some(secs(9 * 86_400 + 3 * 3_600 + 4 * 60 + 4))
    );
    assert!(entries[1].dynamic);
}

#[test]
fn comments_keep_foreign_key_like_text_but_known_keys_split() {
    let record = TerseRecord::parse(
        "2 comment=a=b see x=y list=l address=10.0.0.1 vendor-field=v z",
        ADDRESS_LIST_KEYS,
    )
    .unwrap();
    assert_eq!(record.get("comment"), Some("a=b see x=y"));
    assert_eq!(record.get("list"), Some("l"));
    assert_eq!(record.get("address"), Some("10.0.0.1"));
    assert_eq!(record.get("vendor-field"), Some("v z"));
}

#[test]
fn headers_errors_and_log_lines_are_not_records() {
    for line in [
        "Flags: X - disabled, D - dynamic",
        "Columns: LIST, ADDRESS, CREATION-TIME",
        "# LIST ADDRESS CREATION-TIME TIMEOUT",
        "17:20:06 echo: system,error,critical login failure for user x",
        "no such item",
        "",
        "13",
    ] {
        assert_eq!(
            TerseRecord::parse(line, ADDRESS_LIST_KEYS),
            None,
            "{line:?}"
        );
    }
}

#[test]
fn injected_log_lines_are_skipped() {
    let output = "17:20:06 echo: system,error,critical login failure for user x from 203.0.113.9 via ssh\r\n\
                  0 D list=x address=10.0.0.5 timeout=59s\r\n\
                  jan/02/2025 17:20:07 echo: system,error,critical login failure for user y\r\n";
    let entries = address_list(output).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(check_write(output.lines().next().unwrap()), Ok(()));
}

#[test]
fn ppp_active_terse() {
    let output = "0 R name=dolphinik service=pptp caller-id=10.10.1.2 address=192.168.12.3 uptime=1h56m6s encoding=\"\" session-id=0x81A00000 limit-bytes-in=0 limit-bytes-out=0\r\n\
                  1   name=Иван Петров service=pppoe caller-id=BC:24:11:81:B1:47 address=100.64.0.20 uptime=6h40m23s encoding=MPPE128 stateless session-id=0x81A00001 radius=no \r\n";
    let sessions = ppp_active(output).unwrap();
    assert_eq!(
        sessions,
        vec![
            PppSession {
                id: "0".into(),
                name: "dolphinik".into(),
                service: "pptp".into(),
                caller_id: "10.10.1.2".into(),
                address: Some("192.168.12.3".parse().unwrap()),
                uptime: Some(secs(3600 + 56 * 60 + 6)),
            },
            PppSession {
                id: "1".into(),
                name: "Иван Петров".into(),
                service: "pppoe".into(),
                caller_id: "BC:24:11:81:B1:47".into(),
                address: Some("100.64.0.20".parse().unwrap()),
                uptime: Some(secs(6 * 3600 + 40 * 60 + 23)),
            },
        ]
    );
    assert_eq!(ppp_active("").unwrap(), vec![]);
}

#[test]
fn durations_in_every_routeros_form() {
    let cases = [
        ("4m52s", 292),
        ("1w2d3h4m5s", 604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5),
        ("59s", 59),
        ("00:04:52", 292),
        (
            "1w2d03:04:04",
            604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 4,
        ),
        ("1d", 86_400),
        ("1w00:00:00", 604_800),
        ("15", 15),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_duration(text), Some(secs(expected)), "{text}");
    }
    assert_eq!(parse_duration("1s500ms"), Some(Duration::from_millis(1500)));
    assert_eq!(
        parse_duration("00:00:01.25"),
        Some(Duration::from_millis(1250))
    );
    for bad in ["", "never", "4x", "1:2", "::", "1h:", "s", "00:0a:00"] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}

#[test]
fn write_outcomes_from_wording() {
    assert_eq!(check_write(""), Ok(()));
    assert_eq!(check_write("\r\n  \r\n"), Ok(()));
    assert!(matches!(
        check_write("failure: already have such entry\r\n"),
        Err(Problem::AlreadyExists(_))
    ));
    assert!(matches!(
        check_write("script error: failure: already have such entry"),
        Err(Problem::AlreadyExists(_))
    ));
    assert!(matches!(
        check_write("not enough permissions (9)\n"),
        Err(Problem::Permission(_))
    ));
    for rejected in [
        "no such item",
        "bad command name nosuch (line 1 column 2)",
        "syntax error (line 1 column 26)",
        "expected end of command (line 1 column 19)",
        "invalid value for argument address",
        "input does not match any value of interface",
        "failure: Status 409, Conflict (/tool/fetch; line 1)",
        "something RouterOS never prints on success",
    ] {
        match check_write(rejected) {
            Err(Problem::Rejected(output)) => assert_eq!(output, rejected),
            other => panic!("{rejected:?} gave {other:?}"),
        }
    }
}

#[test]
fn errors_map_to_router_errors() {
    let router: RouterName = "office".parse().unwrap();
    assert!(matches!(
        Problem::Permission("not enough permissions (9)".into()).into_error(&router, "/x"),
        RouterError::Permission { .. }
    ));
    match Problem::Rejected("no such item".into()).into_error(&router, "/x") {
        RouterError::Command {
            output, command, ..
        } => {
            assert_eq!(output, "no such item");
            assert_eq!(command, "/x");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn print_errors_are_found_but_not_inside_records() {
    assert!(matches!(
        address_list("bad command name print (line 1 column 16)\r\n"),
        Err(Problem::Rejected(_))
    ));
    assert!(matches!(
        ppp_active("not enough permissions (9)"),
        Err(Problem::Permission(_))
    ));
    let odd_comment = "0 comment=no such item list=x address=10.0.0.5\n";
    assert_eq!(address_list(odd_comment).unwrap().len(), 1);
}

#[test]
fn identity_output() {
    assert_eq!(identity("  name: MikroTik\r\n").unwrap(), "MikroTik");
    assert_eq!(identity("name: core router 1").unwrap(), "core router 1");
    assert!(identity("").is_err());
}
