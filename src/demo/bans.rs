//! The demo's last two stories: a caller who keeps connecting without
//! confirming collects strikes until the policy bans it on the router, and
//! an admin lifts that ban from Telegram so the owner can log in again.

use anyhow::ensure;
use tgate_core::domain::SessionState;
use tokio::time::Instant;

use super::narrate::list;
use super::scene::Scene;
use super::stories::{HOTEL, last_line, pending};
use crate::lab::{ADMIN, BAN, PERMIT, SANDBOX};

/// Story 4: repeated unconfirmed connects from one caller end in a ban.
pub async fn banned(sc: &Scene) -> anyhow::Result<()> {
    let policy = &sc.lab.config.policy;
    let max = i64::from(policy.max_strikes);
    let window = tgate_core::config::format_duration(policy.strike_window);
    sc.say.note(&format!(
        "alice's laptop keeps redialling from {HOTEL}; her phone is still in her bag \
         (policy: {max} strikes within {window} ban the caller)"
    ));
    // Story 3 left the first strike.
    for strike in 2..=max {
        let tunnel = format!("10.10.0.{}", 6 + strike);
        let t = Instant::now();
        let reply = sc.connect("alice", HOTEL, &tunnel).await?;
        pending(&reply, "alice")?;
        let prompt = sc.prompt(&sc.alice).await?;
        sc.say.step(
            t.elapsed(),
            &format!("alice connects from {HOTEL} (tunnel {tunnel}) → prompt in Alice's chat"),
        );
        let edited = sc.edited(sc.alice.id, &prompt).await?;
        sc.settled(reply.session, SessionState::Expired).await?;
        sc.until("the expired session disconnected", || {
            !sc.online().contains(&"alice".to_owned())
        })
        .await?;
        sc.strikes(HOTEL, strike).await?;
        sc.say.step(
            t.elapsed(),
            &format!(
                "no answer → \"{}\"; strike {strike} of {max} against {HOTEL}",
                last_line(&edited)
            ),
        );
    }

    let t = Instant::now();
    sc.until(&format!("{HOTEL} in the router's ban list"), || {
        sc.addresses(BAN).contains(&HOTEL.to_owned())
    })
    .await?;
    let entry = sc.list(BAN).into_iter().filter(|e| e.address == HOTEL);
    let entry: Vec<_> = entry.collect();
    ensure!(
        entry.iter().all(|e| e.timeout.is_some()),
        "expected the ban entry to carry a timeout, it has none"
    );
    sc.say.step(
        t.elapsed(),
        &format!("the router's ban list: {}", list(&sc.list(BAN))),
    );
    let alert = sc
        .message(ADMIN, "a ban alert to the admin", |m| {
            m.text.starts_with('⛔') && m.text.contains(HOTEL)
        })
        .await?;
    sc.say.step(t.elapsed(), "alert in the admin's chat:");
    sc.say.message(&alert);

    let t = Instant::now();
    let again = sc.connect("alice", HOTEL, "10.10.0.10").await?;
    ensure!(
        again.status == 403 && again.state == "banned",
        "expected 403 banned for {HOTEL}'s next connect, tgate answered {} {}",
        again.status,
        again.state
    );
    ensure!(
        !sc.online().contains(&"alice".to_owned()),
        "expected the banned caller's PPP session disconnected"
    );
    sc.say.step(
        t.elapsed(),
        "alice connects once more → 403 banned, disconnected at once, no prompt",
    );
    sc.say.outcome(&format!(
        "banned: {HOTEL} is on the router's ban list after {max} strikes"
    ));
    Ok(())
}

/// Story 5: an admin lifts the ban in Telegram.
pub async fn lifted(sc: &Scene) -> anyhow::Result<()> {
    let t = Instant::now();
    let bans = sc.ask(&sc.admin, "/bans", "Active bans").await?;
    sc.say
        .step(t.elapsed(), "Alice phones the admin, who sends /bans:");
    sc.say.message(&bans);

    let t = Instant::now();
    let lifted = sc
        .ask(&sc.admin, &format!("/unban {HOTEL}"), "✅ Lifted")
        .await?;
    sc.until(&format!("{HOTEL} gone from the router's ban list"), || {
        !sc.addresses(BAN).contains(&HOTEL.to_owned())
    })
    .await?;
    let rows = sc.store.list_bans(None, 100, 0).await?;
    let row = rows.iter().find(|b| b.network.addr().to_string() == HOTEL);
    ensure!(
        row.and_then(|b| b.lifted_by.as_deref()) == Some(&*format!("tg:{ADMIN}")),
        "expected the ban row marked lifted by the admin, found {row:?}"
    );
    sc.say.step(
        t.elapsed(),
        &format!(
            "the admin sends /unban {HOTEL} → \"{}\"",
            lifted.text.replace('\n', " ")
        ),
    );
    sc.say.note(&format!(
        "the router's ban list: {} (story 2's intruder stays banned)",
        list(&sc.list(BAN))
    ));

    let t = Instant::now();
    let reply = sc.connect("alice", HOTEL, "10.10.0.11").await?;
    pending(&reply, "alice")?;
    sc.prompt(&sc.alice).await?;
    sc.say.step(
        t.elapsed(),
        &format!("alice connects from {HOTEL} (tunnel 10.10.0.11) → prompt in Alice's chat"),
    );
    let t = Instant::now();
    let toast = sc.press(&sc.alice, "✅ It's me").await?;
    sc.until("10.10.0.11 in the permit list", || {
        sc.addresses(PERMIT) == ["10.10.0.11"] && sc.list(SANDBOX).is_empty()
    })
    .await?;
    sc.settled(reply.session, SessionState::Confirmed).await?;
    sc.say.step(
        t.elapsed(),
        &format!(
            "Alice presses \"✅ It's me\" → toast \"{toast}\"; permit: {}",
            list(&sc.list(PERMIT))
        ),
    );
    sc.say
        .outcome("lifted: the ban is gone and alice is online again");
    Ok(())
}
