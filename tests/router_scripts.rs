//! The on-up and on-down scripts' HTTP call, checked against the real API.
//! RouterOS builds the JSON body by interpolating `$user` and the other
//! variables into a `"…"` string; [`interpolate`] does that the way the
//! reference describes it (`\"`, `\\` and `\$` are escapes, `$name` and
//! `$"name"` are replaced by the value, an undefined variable by nothing),
//! on the script text from `router-scripts/` exactly as bootstrap installs
//! it. Ordinary names, names with spaces and non-ASCII names are accepted;
//! a name that breaks out of its JSON string is refused with 422 and
//! changes nothing.

mod common;

use std::collections::HashMap;

use common::{System, owner};
use serde_json::Value;
use tgate::lab::ROUTER_TOKEN;
use tgate_core::domain::SessionState;
use tgate_core::router::setup::{GROUP, ScriptToken, ScriptUrl, Setup};

fn setup(api: &str) -> Setup {
    Setup {
        router: "office".parse().unwrap(),
        public_url: ScriptUrl::parse(api).unwrap(),
        token: ScriptToken::parse(ROUTER_TOKEN).unwrap(),
        sandbox_list: "tgate-sandbox".parse().unwrap(),
        permit_list: "tgate-permit".parse().unwrap(),
        ban_list: "tgate-ban".parse().unwrap(),
        vpn_pool: None,
        ppp_profile: "default-encryption".parse().unwrap(),
        user: "tgate".parse().unwrap(),
        group: GROUP.parse().unwrap(),
    }
}

/// The text of a RouterOS `"…"` literal with its variables substituted.
fn interpolate(literal: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\' | '$')) => out.push(e),
                Some('n') => out.push('\n'),
                other => panic!("escape \\{other:?} in a script literal"),
            },
            '$' => {
                let mut name = String::new();
                if chars.peek() == Some(&'"') {
                    chars.next();
                    for n in chars.by_ref() {
                        if n == '"' {
                            break;
                        }
                        name.push(n);
                    }
                } else {
                    while let Some(&n) = chars.peek() {
                        if !(n.is_ascii_alphanumeric() || n == '_' || n == '-') {
                            break;
                        }
                        name.push(n);
                        chars.next();
                    }
                }
                out.push_str(vars.get(name.as_str()).copied().unwrap_or_default());
            }
            c => out.push(c),
        }
    }
    out
}

/// The `"…"` literal assigned by `:local <name> "…"` in `script`.
fn literal<'a>(script: &'a str, name: &str) -> &'a str {
    let start = format!(":local {name} \"");
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix(start.as_str()))
        .unwrap_or_else(|| panic!("no :local {name} in the script"));
    line.strip_suffix('"').expect("the literal ends the line")
}

/// What the script's `/tool fetch` sends for a session of `user`: the URL,
/// the Authorization header and the body.
fn fetch(script: &str, user: &str, remote: &str) -> (String, String, String) {
    // The variables RouterOS gives the script, then the script's locals.
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("user", user),
        ("caller-id", "203.0.113.7"),
        ("remote-address", remote),
        ("local-address", "10.10.0.1"),
    ]);
    let interface = format!("<l2tp-{user}>");
    vars.insert("remoteaddr", vars["remote-address"]);
    vars.insert("localaddr", vars["local-address"]);
    vars.insert("callerid", vars["caller-id"]);
    vars.insert("ifname", &interface);
    vars.insert("chat", "");
    let url = interpolate(literal(script, "url"), &vars);
    let auth = interpolate(literal(script, "auth"), &vars);
    let body = interpolate(literal(script, "payload"), &vars);
    (url, auth, body)
}

async fn post(script: &str, user: &str, remote: &str) -> (u16, Value) {
    let (url, auth, body) = fetch(script, user, remote);
    let (name, value) = auth.split_once(": ").expect("a header");
    let response = reqwest::Client::new()
        .post(url)
        .header(name, value)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripts_payload_is_accepted_for_plain_spaced_and_non_ascii_names() {
    let sys = System::start().await;
    let s = setup(&sys.api);
    for (i, name) in ["alice", "Иван Петров", "o.brien+2@corp"]
        .iter()
        .enumerate()
    {
        sys.enroll(name, &owner()).await;
        let remote = format!("10.10.0.{}", i + 5);
        let (status, body) = post(&s.on_up(), name, &remote).await;
        assert_eq!(status, 202, "{name}: {body}");
        assert_eq!(body["state"], "pending");
        let session = sys.session(&body["session"]).await;
        assert_eq!(session.account.as_str(), *name);
        assert_eq!(session.remote_address.to_string(), remote);
        assert_eq!(session.caller_id.to_string(), "203.0.113.7");
    }
    // The service comes from the interface name the script sends.
    let (_, _, body) = fetch(&s.on_up(), "alice", "10.10.0.5");
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent["interface"], "<l2tp-alice>");
    assert_eq!(sent["service"], "");

    let (status, body) = post(&s.on_down(), "alice", "10.10.0.5").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_breaks_out_of_its_string_is_refused_and_changes_nothing() {
    let sys = System::start().await;
    let s = setup(&sys.api);
    sys.enroll("alice", &owner()).await;
    sys.enroll("bob", &owner()).await;
    for (name, field) in [
        // Would claim to be alice.
        (r#"x","user":"alice"#, "user"),
        // Would be read as "bob".
        (r"bo\u0062", "user"),
        // Would send its own chat id.
        (r#"x","chat_id":"666","z":""#, "chat_id"),
        (r#"a"b"#, "body"),
        (r"a\", "body"),
    ] {
        let (status, body) = post(&s.on_up(), name, "10.10.0.9").await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["detail"]["field"], field, "{name}: {body}");
    }
    let pending = sys
        .store()
        .sessions_in_state(SessionState::Pending, 100)
        .await
        .unwrap();
    assert!(pending.is_empty(), "{pending:?}");
}
