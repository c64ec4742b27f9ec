//! The bot's admin commands end to end (SPEC §5, §7): an admin types in
//! Telegram, the watcher relays to the real API, and the router's address
//! lists, its PPP sessions and the database follow. Non-admins change nothing.

mod common;

use std::time::Duration;

use common::{ADMIN, BAN, PATIENCE, System, owner};
use tgate_sim::{SimMessage, TgUser};

fn admin() -> TgUser {
    TgUser::new(ADMIN, "Admin").lang("en")
}

/// Sends `text` and waits for the bot's first new message in that chat that
/// passes `is_reply` (alerts to the admin may arrive in between).
async fn ask_for(
    sys: &System,
    user: &TgUser,
    text: &str,
    is_reply: impl Fn(&SimMessage) -> bool,
) -> SimMessage {
    let before = sys.tg.bot_messages(user.id).len();
    sys.tg.user_sends(user, text);
    let until = tokio::time::Instant::now() + PATIENCE;
    loop {
        let found = sys
            .tg
            .bot_messages(user.id)
            .into_iter()
            .skip(before)
            .find(&is_reply);
        if let Some(m) = found {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "no reply to {text:?} in {:?}",
            sys.tg.chat(user.id)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The reply whose text starts with `start`.
async fn ask(sys: &System, user: &TgUser, text: &str, start: &str) -> String {
    ask_for(sys, user, text, |m| m.text.starts_with(start))
        .await
        .text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_bans_lists_and_lifts_a_network_on_the_router() {
    let sys = System::start().await;
    let admin = admin();

    let reply = ask(&sys, &admin, "/ban 203.0.113.0/24 2h scanner", "⛔").await;
    assert!(
        reply.starts_with("⛔ Banned 203.0.113.0/24 until ") && reply.contains(": scanner (#"),
        "{reply}"
    );
    let entries = sys.router.address_list(BAN);
    let entry = entries
        .iter()
        .find(|e| e.address == "203.0.113.0/24")
        .unwrap_or_else(|| panic!("ban list: {entries:?}"));
    let left = entry.timeout.expect("the ban entry has a timeout");
    assert!(
        left > Duration::from_secs(7100) && left <= Duration::from_secs(7200),
        "{left:?}"
    );
    let rows = sys.store().list_bans(None, 10, 0).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].network.to_string(), "203.0.113.0/24");
    assert_eq!(rows[0].reason, "scanner");
    assert_eq!(rows[0].created_by, format!("tg:{ADMIN}"));
    assert!(rows[0].lifted_at.is_none());

    let list = ask(&sys, &admin, "/bans", "Active bans").await;
    assert!(list.contains("203.0.113.0/24 until "), "{list}");
    assert!(list.contains(": scanner"), "{list}");

    let reply = ask(&sys, &admin, "/unban 203.0.113.0/24", "✅").await;
    assert!(reply.contains("203.0.113.0/24"), "{reply}");
    sys.eventually("the ban leaves the router", || {
        !sys.list(BAN).contains(&"203.0.113.0/24".to_owned())
    })
    .await;
    let row = &sys.store().list_bans(None, 10, 0).await.unwrap()[0];
    assert_eq!(
        row.lifted_by.as_deref(),
        Some(format!("tg:{ADMIN}").as_str())
    );
    assert_eq!(
        ask(&sys, &admin, "/bans", "No active").await,
        "No active bans."
    );
    assert_eq!(
        ask(&sys, &admin, "/ban 1.2.3", "not an").await,
        "not an IP address or network: 1.2.3\n\
         Usage: /ban <ip|cidr> [duration, default 1h] [reason…]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_is_refused_and_nothing_changes() {
    let sys = System::start().await;
    let mallory = TgUser::new(666, "Mallory").lang("en");
    for command in ["/ban 203.0.113.0/24 2h scanner", "/kick alice", "/bans"] {
        assert_eq!(
            ask(&sys, &mallory, command, "").await,
            "This command is for admins."
        );
    }
    assert!(sys.list(BAN).is_empty(), "{:?}", sys.list(BAN));
    assert!(sys.store().list_bans(None, 10, 0).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_open_sessions_and_kicks_an_account() {
    let sys = System::start().await;
    let admin = admin();
    sys.enroll("alice", &owner()).await;
    let (status, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(sys.router.active_sessions().len(), 1);

    let list = ask(&sys, &admin, "/sessions", "Open sessions").await;
    assert!(
        list.contains("alice@office from 203.0.113.7: waiting for confirmation, since "),
        "{list}"
    );
    assert!(list.contains(body["session"].as_str().unwrap()), "{list}");

    let reply = ask(&sys, &admin, "/kick alice", "✅").await;
    assert_eq!(reply, "✅ Disconnected:\n• alice@office (203.0.113.7)");
    sys.eventually("the PPP session is gone", || {
        sys.router.active_sessions().is_empty()
    })
    .await;
    let session = sys.session(&body["session"]).await;
    assert_eq!(session.state.as_str(), "closed");
    assert_eq!(
        session.decided_by.as_deref(),
        Some(format!("tg:{ADMIN}").as_str())
    );

    assert_eq!(
        ask(&sys, &admin, "/kick alice", "No open").await,
        "No open session matches alice."
    );
    assert_eq!(
        ask(&sys, &admin, "/sessions", "No open").await,
        "No open sessions."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_accounts_and_routers() {
    let sys = System::start().await;
    let admin = admin();

    let reply = ask(&sys, &admin, "/invite office bob", "Invite for").await;
    assert!(reply.starts_with("Invite for bob@office"), "{reply}");
    let link = reply.lines().last().unwrap();
    assert!(
        link.starts_with("https://t.me/") && link.contains("?start="),
        "{link}"
    );

    // The link works: whoever opens it owns bob.
    let code = link.split("?start=").nth(1).unwrap();
    let bob = TgUser::new(5151, "Bob").lang("en");
    ask(&sys, &bob, &format!("/start {code}"), "✅").await;

    let accounts = ask(&sys, &admin, "/accounts", "Accounts").await;
    assert!(accounts.contains("• office/bob: owner 5151"), "{accounts}");

    assert_eq!(
        ask(&sys, &admin, "/invite lab bob", "Refused").await,
        "Refused: router: no router named lab"
    );

    let routers = ask(&sys, &admin, "/routers", "Routers").await;
    assert!(routers.contains("• office: reachable, "), "{routers}");
    assert!(routers.contains("sandbox 0, permit 0, ban 0"), "{routers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_bans_page_with_buttons() {
    let sys = System::start().await;
    let admin = admin();
    for i in 0..25 {
        let cmd = format!("/ban 198.51.100.{i} 1h test");
        ask(&sys, &admin, &cmd, "⛔").await;
    }
    assert_eq!(sys.list(BAN).len(), 25);

    let first = ask_for(&sys, &admin, "/bans", |m| m.text.starts_with("Active bans")).await;
    assert!(
        first.text.starts_with("Active bans (1–10 of 25):"),
        "{}",
        first.text
    );
    assert!(first.text.contains("198.51.100.24/32"), "newest first");
    let labels: Vec<_> = first
        .buttons
        .iter()
        .flatten()
        .map(|b| b.text.clone())
        .collect();
    assert_eq!(labels, ["▶"]);

    sys.tg
        .user_presses_button(&admin, ADMIN, "▶")
        .expect("a ▶ button");
    let second = sys
        .tg
        .wait_for(ADMIN, PATIENCE, |m| {
            m.message_id == first.message_id && m.text.starts_with("Active bans (11–20 of 25)")
        })
        .await
        .expect("the same message shows page 2");
    assert!(second.edited);
    assert!(second.text.contains("198.51.100.14/32"), "{}", second.text);
    let labels: Vec<_> = second
        .buttons
        .iter()
        .flatten()
        .map(|b| b.text.clone())
        .collect();
    assert_eq!(labels, ["◀", "▶"]);
}
