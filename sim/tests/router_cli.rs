//! The RouterOS CLI over a real SSH exec channel: address lists, prints,
//! errors, scripting constructs and the command log.

mod common;

use std::time::Duration;

use common::{Login, exec, exec_as};
use tgate_sim::{RouterSim, RouterSimConfig};

async fn sim() -> RouterSim {
    RouterSim::start(RouterSimConfig::default()).await.unwrap()
}

/// Replaces each `creation-time=YYYY-MM-DD HH:MM:SS` with `creation-time=<T>`
/// after checking its shape.
fn mask_times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("creation-time=") {
        let start = i + "creation-time=".len();
        let stamp = &rest[start..start + 19];
        let shape: String = stamp
            .chars()
            .map(|c| if c.is_ascii_digit() { 'd' } else { c })
            .collect();
        assert_eq!(shape, "dddd-dd-dd dd:dd:dd", "in {text:?}");
        out.push_str(&rest[..start]);
        out.push_str("<T>");
        rest = &rest[start + 19..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn add_print_terse_and_remove_ipv4() {
    let sim = sim().await;
    let addr = sim.addr();
    let out = exec(
        addr,
        "/ip firewall address-list add list=tgate-permit address=10.0.0.5 comment=\"tgate alice\"",
    )
    .await;
    assert_eq!(out, "");
    let out = exec(
        addr,
        "/ip/firewall/address-list/add list=tgate-permit address=10.0.0.7/24 timeout=1h",
    )
    .await;
    assert_eq!(out, "");

    let out = exec(
        addr,
        "/ip firewall address-list print terse where list=tgate-permit",
    )
    .await;
    let masked = mask_times(&out);
    let lines: Vec<&str> = masked.split("\r\n").collect();
    assert_eq!(
        lines[0],
        " 0   comment=tgate alice list=tgate-permit address=10.0.0.5 creation-time=<T> dynamic=no"
    );
    assert!(
        lines[1]
            .starts_with(" 1 D list=tgate-permit address=10.0.0.0/24 creation-time=<T> timeout="),
        "{masked}"
    );
    assert!(lines[1].ends_with(" dynamic=yes"));
    let timeout = lines[1]
        .split("timeout=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(timeout == "1h" || timeout.starts_with("59m5"), "{timeout}");
    assert_eq!(lines[2], "");
    assert_eq!(lines.len(), 3);

    let out = exec(
        addr,
        "/ip firewall address-list remove [find list=tgate-permit address=\"10.0.0.5\"]",
    )
    .await;
    assert_eq!(out, "");
    let left: Vec<String> = sim
        .address_list("tgate-permit")
        .into_iter()
        .map(|e| e.address)
        .collect();
    assert_eq!(left, vec!["10.0.0.0/24"]);

    // An empty find is a no-op, an unknown id is an error.
    let out = exec(addr, "/ip firewall address-list remove [find list=nothing]").await;
    assert_eq!(out, "");
    let out = exec(addr, "/ip firewall address-list remove numbers=*FFFF").await;
    assert_eq!(out, "no such item\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_entries_are_lowercase_prefixes() {
    let sim = sim().await;
    let addr = sim.addr();
    let out = exec(
        addr,
        "/ipv6 firewall address-list add list=tgate-ban address=2001:DB8::5 timeout=10m",
    )
    .await;
    assert_eq!(out, "");
    let out = exec(addr, "/ipv6 firewall address-list print terse").await;
    let masked = mask_times(&out);
    assert!(
        masked.starts_with(
            " 0 D list=tgate-ban address=2001:db8::5/128 creation-time=<T> timeout=9m5"
        ),
        "{masked}"
    );
    // The v4 menu does not see v6 entries.
    assert_eq!(
        exec(addr, "/ip firewall address-list print count-only").await,
        "0\r\n"
    );
    assert_eq!(
        exec(
            addr,
            "/ipv6 firewall address-list print count-only where address=\"2001:db8::5/128\""
        )
        .await,
        "1\r\n"
    );
    let out = exec(
        addr,
        "/ipv6 firewall address-list remove [find list=tgate-ban address=\"2001:db8::5/128\"]",
    )
    .await;
    assert_eq!(out, "");
    assert!(sim.address_list("tgate-ban").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_use_routeros_wording() {
    let sim = sim().await;
    let addr = sim.addr();
    let add = "/ip firewall address-list add list=x address=10.0.0.5";
    assert_eq!(exec(addr, add).await, "");
    assert_eq!(
        exec(addr, add).await,
        "failure: already have such entry\r\n"
    );
    assert_eq!(
        exec(
            addr,
            "/ip firewall address-list add list=x address=10.0.0.300"
        )
        .await,
        "invalid value for argument address\r\n"
    );
    assert_eq!(
        exec(
            addr,
            "/ip firewall address-list add list=x address=2001:db8::1"
        )
        .await,
        "invalid value for argument address\r\n"
    );
    assert_eq!(
        exec(addr, "/nosuch").await,
        "bad command name nosuch (line 1 column 2)\r\n"
    );
    assert_eq!(
        exec(addr, "/ip firewall address-list add list=x bogus=1").await,
        "expected end of command (line 1 column 38)\r\n"
    );
    assert_eq!(
        exec(addr, ":put \"open").await,
        "syntax error (line 1 column 11)\r\n"
    );

    // A read-only user can read but not write.
    let reader = || Login::Password("reader", "reader");
    assert_eq!(
        exec_as(
            addr,
            reader(),
            "/ip firewall address-list add list=x address=10.0.0.9"
        )
        .await,
        "not enough permissions (9)\r\n"
    );
    assert_eq!(
        exec_as(addr, reader(), "/ip firewall address-list remove [find]").await,
        "not enough permissions (9)\r\n"
    );
    assert_eq!(
        exec_as(addr, reader(), "/ip firewall address-list print count-only").await,
        "1\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_error_stops_the_script_but_a_parse_error_runs_nothing() {
    let sim = sim().await;
    let addr = sim.addr();
    let out = exec(
        addr,
        ":put one; /ip firewall address-list add list=x address=bad; :put two",
    )
    .await;
    assert_eq!(out, "one\r\ninvalid value for argument address\r\n");

    // The injection attempt: one exec, two commands; RouterOS compiles the
    // whole script first, so the unknown second command means nothing runs.
    let injected =
        "/ip firewall address-list add list=x address=10.0.0.5 ; /system reset-configuration";
    let out = exec(addr, injected).await;
    assert_eq!(
        out,
        "bad command name reset-configuration (line 1 column 65)\r\n"
    );
    assert!(sim.address_list("x").is_empty());
    let log = sim.command_log();
    assert_eq!(log.last().unwrap().text, injected);
    assert_eq!(log.last().unwrap().channel, "exec");
    assert_eq!(log.last().unwrap().user, "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn do_on_error_swallows_errors() {
    let sim = sim().await;
    let addr = sim.addr();
    sim.add_entry("x", "10.0.0.5", None, None);
    let out = exec(
        addr,
        "/ip firewall address-list\n:do { add list=x address=10.0.0.5 } on-error={ :put \"dup\" }\n:do { add list=x address=10.0.0.6 } on-error={}\n:put done",
    )
    .await;
    assert_eq!(out, "dup\r\ndone\r\n");
    assert_eq!(sim.address_list("x").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn onerror_hands_the_message_to_the_handler() {
    let sim = sim().await;
    let addr = sim.addr();
    sim.add_entry("x", "10.0.0.5", None, None);
    let out = exec(
        addr,
        ":onerror e in={ /ip firewall address-list add list=x address=10.0.0.5 } do={ :put \"ERR 1: $e\" }; \
         :onerror e in={ /ip firewall address-list add list=x address=10.0.0.6 } do={ :put \"ERR 2: $e\" }; :put ok",
    )
    .await;
    assert_eq!(out, "ERR 1: failure: already have such entry\r\nok\r\n");
    assert_eq!(sim.address_list("x").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_print_as_value_yields_one_line_of_records() {
    let sim = sim().await;
    let addr = sim.addr();
    sim.add_entry(
        "tgate-sandbox",
        "10.0.0.5",
        Some(Duration::from_secs(300)),
        Some("held"),
    );
    sim.add_entry("tgate-sandbox", "10.0.0.6", None, None);
    sim.add_entry("other", "10.0.0.7", None, None);
    let id5 = sim.address_list("tgate-sandbox")[0].id.clone();
    let id6 = sim.address_list("tgate-sandbox")[1].id.clone();

    // Bare as-value prints nothing.
    assert_eq!(
        exec(addr, "/ip firewall address-list print as-value").await,
        ""
    );

    let out = exec(
        addr,
        ":put [/ip firewall address-list print as-value where list=tgate-sandbox]",
    )
    .await;
    let masked = mask_times(&out);
    let expected_prefix = format!(
        ".id={id5};address=10.0.0.5;comment=held;creation-time=<T>;disabled=false;dynamic=true;list=tgate-sandbox;timeout=00:04:5"
    );
    assert!(masked.starts_with(&expected_prefix), "{masked}");
    assert!(
        masked.ends_with(&format!(
            ";.id={id6};address=10.0.0.6;creation-time=<T>;disabled=false;dynamic=false;list=tgate-sandbox\r\n"
        )),
        "{masked}"
    );
    assert_eq!(masked.matches("\r\n").count(), 1);

    let out = exec(
        addr,
        ":put [/ip firewall address-list print as-value proplist=address,timeout where list=tgate-sandbox]",
    )
    .await;
    assert!(out.starts_with("address=10.0.0.5;timeout=00:04:5"), "{out}");
    assert!(out.ends_with(";address=10.0.0.6\r\n"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn where_and_find_follow_routeros_matching() {
    let sim = sim().await;
    let addr = sim.addr();
    sim.add_entry("nets", "10.0.0.0/24", None, None);
    sim.add_entry("nets", "10.0.1.0/24", None, Some("tgate: ban"));
    let count = |cond: &'static str| async move {
        exec(
            addr,
            &format!("/ip firewall address-list print count-only where {cond}"),
        )
        .await
    };
    // Unquoted a.b.c.d/n is typed as a prefix and matches nothing.
    assert_eq!(count("address=10.0.0.0/24").await, "0\r\n");
    assert_eq!(count("address=\"10.0.0.0/24\"").await, "1\r\n");
    assert_eq!(count("list=nets and comment~\"^tgate\"").await, "1\r\n");
    assert_eq!(count("list=nets and !dynamic").await, "2\r\n");
    assert_eq!(count("dynamic=yes").await, "0\r\n");
    // Quoted text, with and without a variable in it.
    assert_eq!(count("list=\"nets\"").await, "2\r\n");
    assert_eq!(count("list=\"other\"").await, "0\r\n");
    assert_eq!(
        exec(
            addr,
            ":local l \"nets\"; :put [/ip firewall address-list print count-only where list=\"$l\"]"
        )
        .await,
        "2\r\n"
    );
    assert_eq!(
        exec(
            addr,
            ":put [/ip firewall address-list find comment=\"tgate: ban\"]"
        )
        .await,
        format!("{}\r\n", sim.address_list("nets")[1].id)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn set_changes_timeout_and_comment() {
    let sim = sim().await;
    let addr = sim.addr();
    sim.add_entry("x", "10.0.0.5", None, None);
    let out = exec(
        addr,
        "/ip firewall address-list set [find list=x address=10.0.0.5] timeout=1w2d03:04:05 comment=later",
    )
    .await;
    assert_eq!(out, "");
    let e = &sim.address_list("x")[0];
    assert!(e.dynamic);
    assert_eq!(e.comment.as_deref(), Some("later"));
    let left = e.timeout.unwrap().as_secs();
    let want = 9 * 86_400 + 3 * 3_600 + 4 * 60 + 5;
    assert!(left <= want && left + 5 > want, "{left}");
    assert_eq!(
        exec(
            addr,
            ":put [/ip firewall address-list get [find list=x] comment]"
        )
        .await,
        "later\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_with_a_timeout_expire() {
    let sim = sim().await;
    let addr = sim.addr();
    let out = exec(
        addr,
        "/ip firewall address-list add list=short address=10.0.0.5 timeout=1s",
    )
    .await;
    assert_eq!(out, "");
    assert_eq!(sim.address_list("short").len(), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(sim.address_list("short").is_empty());
    assert_eq!(
        exec(
            addr,
            "/ip firewall address-list print count-only where list=short"
        )
        .await,
        "0\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_and_detail_prints_look_like_v7() {
    let sim = sim().await;
    let addr = sim.addr();
    sim.add_entry("RFC1918", "10.0.0.0/8", None, Some("private"));
    let out = exec(addr, "/ip firewall address-list print").await;
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(lines[0], "Columns: LIST, ADDRESS, CREATION-TIME");
    assert_eq!(lines[1], "# LIST     ADDRESS     CREATION-TIME      ");
    assert_eq!(lines[2], ";;; private");
    let row = mask_times(&lines[3].replacen("10.0.0.0/8  ", "10.0.0.0/8  creation-time=", 1));
    assert_eq!(row, "0 RFC1918  10.0.0.0/8  creation-time=<T>");
    assert_eq!(lines[4..], [""]);
    let out = mask_times(&exec(addr, "/ip firewall address-list print detail").await);
    assert_eq!(
        out,
        " 0   ;;; private\r\n     list=RFC1918 address=10.0.0.0/8 creation-time=<T> dynamic=no\r\n\r\n"
    );
    assert_eq!(
        exec(addr, "/system identity print").await,
        "  name: MikroTik\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn print_numbers_address_items_in_the_same_console() {
    let sim = sim().await;
    let addr = sim.addr();
    sim.add_entry("x", "10.0.0.5", None, None);
    sim.add_entry("x", "10.0.0.6", None, None);
    let out = exec(addr, "/ip firewall address-list\nprint count-only where address=\"10.0.0.6\"\nprint terse where address=\"10.0.0.6\"\nremove 0").await;
    assert!(
        out.starts_with("1\r\n 0   list=x address=10.0.0.6 "),
        "{out}"
    );
    let left: Vec<String> = sim
        .address_list("x")
        .into_iter()
        .map(|e| e.address)
        .collect();
    assert_eq!(left, ["10.0.0.5"]);
    // A fresh console has no numbering yet.
    assert_eq!(
        exec(addr, "/ip firewall address-list remove 0").await,
        "no such item\r\n"
    );
}
