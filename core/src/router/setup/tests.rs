use super::read::ObservedRule;
use super::*;

fn setup(pool: Option<&str>) -> Setup {
    Setup {
        router: "office".parse().unwrap(),
        public_url: ScriptUrl::parse("https://gate.example.com/").unwrap(),
        token: ScriptToken::parse("office-token-0123456789").unwrap(),
        sandbox_list: "tgate-sandbox".parse().unwrap(),
        permit_list: "tgate-permit".parse().unwrap(),
        ban_list: "tgate-ban".parse().unwrap(),
        vpn_pool: pool.map(|p| p.parse().unwrap()),
        ppp_profile: "default-encryption".parse().unwrap(),
        user: "tgate".parse().unwrap(),
        group: GROUP.parse().unwrap(),
    }
}

#[test]
fn urls_and_tokens_that_could_break_a_script_are_refused() {
    for bad in [
        "https://gate.example.com/\"; /system reset",
        "https://gate.example.com/$x",
        "https://gate.example.com/a b",
        "https://gate.example.com/[x]",
        "https://gate.example.com/a\\b",
        "ftp://gate.example.com",
        "https://",
    ] {
        assert!(ScriptUrl::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(ScriptUrl::parse("http://192.0.2.10:8080/tgate").is_ok());
    assert!(ScriptToken::parse("0123456789abcdef\"; /user remove").is_err());
    assert!(ScriptToken::parse("short").is_err());
    assert!(!format!("{:?}", setup(None)).contains("office-token"));
}

#[test]
fn templates_are_filled_and_no_placeholder_is_left() {
    let s = setup(Some("10.10.0.0/24"));
    for text in [s.on_up(), s.on_down(), s.setup_script()] {
        assert!(!text.contains("{{"), "{text}");
    }
    let up = s.on_up();
    assert!(up.contains(":local url \"https://gate.example.com/v1/events/up\""));
    assert!(up.contains("Bearer office-token-0123456789"));
    assert!(up.contains("list=tgate-sandbox"));
    assert!(s.on_down().contains("/v1/events/down"));
    let script = s.setup_script();
    assert!(script.contains("src-address=\"10.10.0.0/24\" src-address-list=!tgate-permit"));
    assert!(!setup(None).setup_script().contains("src-address="));
}

#[test]
fn the_profile_line_carries_the_scripts_as_safe_literals() {
    let s = setup(None);
    let line = Change::SetScripts.render(&s, true);
    // One line: newlines and `;` are hex escapes, `$` and `"` escaped.
    assert_eq!(line.text().lines().count(), 1);
    assert!(line.text().contains("\\0A"));
    assert!(!line.text().contains(";"));
    assert!(line.text().contains("\\$user"));
}

fn observed_all(s: &Setup) -> Observed {
    Observed {
        rules: s
            .filter_rules()
            .into_iter()
            .map(|r| ObservedRule {
                comment: r.comment.to_owned(),
                props: r
                    .props
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                disabled: false,
            })
            .collect(),
        profile: Some((
            read::script_text(&s.on_up()),
            read::script_text(&s.on_down()),
        )),
        group: Some(GRANTED.iter().map(|p| (*p).to_owned()).collect()),
        user_group: Some("tgate".into()),
        strong_crypto: true,
    }
}

#[test]
fn a_complete_router_needs_nothing_and_each_gap_is_one_change() {
    let s = setup(Some("10.10.0.0/24"));
    let full = observed_all(&s);
    assert!(plan(&s, &full, "pw".into()).unwrap().is_empty());

    let mut gaps = full.clone();
    gaps.rules.remove(0);
    gaps.rules[0].disabled = true;
    gaps.group = Some(vec![
        "ssh".into(),
        "read".into(),
        "write".into(),
        "test".into(),
    ]);
    gaps.user_group = None;
    gaps.strong_crypto = false;
    gaps.profile = Some(("".into(), "".into()));
    let kinds: Vec<&str> = plan(&s, &gaps, "pw".into())
        .unwrap()
        .iter()
        .map(|c| c.render(&s, false).kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "add-filter",
            "set-filter",
            "set-profile",
            "set-group",
            "add-user",
            "set-ssh"
        ]
    );

    let mut none = full;
    none.profile = None;
    let refused = plan(&s, &none, "pw".into()).unwrap_err();
    assert_eq!(refused.field, "ppp_profile");
}

#[test]
fn a_dry_run_never_shows_the_password() {
    let s = setup(None);
    let add = Change::AddUser {
        password: "hunter2-secret".into(),
    };
    assert!(
        add.render(&s, false)
            .text()
            .ends_with("password=<redacted>")
    );
    assert!(
        add.render(&s, true)
            .text()
            .ends_with("password=\"hunter2-secret\"")
    );
}
