//! The demo's first three stories, after the prologue that enrolls the two
//! owners the way a real installation does (an admin's invite link, opened
//! in Telegram): a connect confirmed with It's me, one refused with Not me,
//! one left unanswered until its deadline. Each step is checked against what
//! the product really did before it is told.

use anyhow::ensure;
use tgate_core::domain::{AccountName, SessionState};
use tgate_sim::{SimMessage, TgUser};
use tokio::time::Instant;

use super::narrate::list;
use super::scene::{Reply, Scene};
use crate::lab::{ADMIN, BAN, PERMIT, ROUTER, SANDBOX};

/// Alice's home connection.
pub const HOME: &str = "203.0.113.7";
/// Whoever stole Bob's password.
pub const INTRUDER: &str = "203.0.113.66";
/// The hotel Alice travels to in stories 3 to 5.
pub const HOTEL: &str = "198.51.100.23";

/// The last line of a message: what an edited prompt says happened.
pub fn last_line(m: &SimMessage) -> &str {
    m.text.lines().last().unwrap_or_default()
}

/// A connect tgate must have answered `202 pending`.
pub fn pending(reply: &Reply, who: &str) -> anyhow::Result<()> {
    ensure!(
        reply.status == 202 && reply.state == "pending",
        "expected 202 pending for {who}'s connect, tgate answered {} {}",
        reply.status,
        reply.state
    );
    Ok(())
}

/// The admin invites `account` from Telegram and `owner` opens the link.
async fn enroll(sc: &Scene, account: &str, owner: &TgUser) -> anyhow::Result<()> {
    let t = Instant::now();
    let invite = sc
        .ask(
            &sc.admin,
            &format!("/invite {ROUTER} {account}"),
            "Invite for",
        )
        .await?;
    let link = last_line(&invite).to_owned();
    let code = link.split("?start=").nth(1);
    let code = code.ok_or_else(|| anyhow::anyhow!("expected an invite link, got {link:?}"))?;
    sc.say.step(
        t.elapsed(),
        &format!("the admin sends /invite {ROUTER} {account} → {link}"),
    );
    let t = Instant::now();
    let welcome = sc.ask(owner, &format!("/start {code}"), "✅").await?;
    let name: AccountName = account.parse()?;
    let row = sc.store.account(&ROUTER.parse()?, &name).await?;
    ensure!(
        row.and_then(|a| a.owner_tg_id) == Some(owner.id),
        "expected {} to own {account} after opening the link",
        owner.first_name
    );
    sc.say.step(
        t.elapsed(),
        &format!("{} opens the link → \"{}\"", owner.first_name, welcome.text),
    );
    Ok(())
}

pub async fn prologue(sc: &Scene) -> anyhow::Result<()> {
    enroll(sc, "alice", &sc.alice).await?;
    enroll(sc, "bob", &sc.bob).await?;
    sc.say
        .outcome("alice and bob each have an owner in Telegram");
    Ok(())
}

/// Story 1: a connect is confirmed.
pub async fn confirmed(sc: &Scene) -> anyhow::Result<()> {
    let t = Instant::now();
    let reply = sc.connect("alice", HOME, "10.10.0.5").await?;
    pending(&reply, "alice")?;
    sc.say.step(
        t.elapsed(),
        &format!(
            "alice connects from {HOME} (L2TP, tunnel 10.10.0.5) → 202 pending; sandbox: {}",
            list(&sc.list(SANDBOX))
        ),
    );
    let prompt = sc.prompt(&sc.alice).await?;
    sc.say.step(t.elapsed(), "prompt in Alice's chat:");
    sc.say.message(&prompt);

    let t = Instant::now();
    let toast = sc.press(&sc.alice, "✅ It's me").await?;
    sc.until(
        "10.10.0.5 in the permit list, the sandbox list empty",
        || sc.addresses(PERMIT) == ["10.10.0.5"] && sc.list(SANDBOX).is_empty(),
    )
    .await?;
    sc.say.step(
        t.elapsed(),
        &format!(
            "Alice presses \"✅ It's me\" → toast \"{toast}\"; permit: {}; sandbox: {}",
            list(&sc.list(PERMIT)),
            list(&sc.list(SANDBOX))
        ),
    );
    let edited = sc.edited(sc.alice.id, &prompt).await?;
    ensure!(
        last_line(&edited) == "✅ Allowed.",
        "expected the prompt to end \"✅ Allowed.\", it reads {:?}",
        edited.text
    );
    sc.say.step(
        t.elapsed(),
        &format!(
            "the prompt loses its buttons and ends \"{}\"",
            last_line(&edited)
        ),
    );
    sc.settled(reply.session, SessionState::Confirmed).await?;

    let t = Instant::now();
    sc.hang_up("alice").await?;
    sc.until("the permit list empty once alice hangs up", || {
        sc.list(PERMIT).is_empty()
    })
    .await?;
    sc.settled(reply.session, SessionState::Closed).await?;
    sc.say.step(
        t.elapsed(),
        "alice hangs up (on-down event) → session closed; permit: (empty)",
    );
    sc.say
        .outcome("confirmed: the address was permitted while alice was online");
    Ok(())
}

/// Story 2: the owner refuses a connect with Not me.
pub async fn refused(sc: &Scene) -> anyhow::Result<()> {
    let t = Instant::now();
    let reply = sc.connect("bob", INTRUDER, "10.10.0.6").await?;
    pending(&reply, "bob")?;
    sc.say.step(
        t.elapsed(),
        &format!("someone logs in as bob from {INTRUDER} (tunnel 10.10.0.6) → 202 pending"),
    );
    let prompt = sc.prompt(&sc.bob).await?;
    sc.say.step(t.elapsed(), "prompt in Bob's chat:");
    sc.say.message(&prompt);

    let t = Instant::now();
    let toast = sc.press(&sc.bob, "❌ Not me").await?;
    sc.until(
        &format!("bob's PPP session gone and {INTRUDER} in the ban list"),
        || {
            !sc.online().contains(&"bob".to_owned())
                && sc.addresses(BAN) == [INTRUDER]
                && sc.list(SANDBOX).is_empty()
        },
    )
    .await?;
    sc.say.step(
        t.elapsed(),
        &format!(
            "Bob presses \"❌ Not me\" → toast \"{toast}\"; bob's PPP session disconnected; ban: {}",
            list(&sc.list(BAN))
        ),
    );
    let edited = sc.edited(sc.bob.id, &prompt).await?;
    ensure!(
        last_line(&edited).starts_with("❌ Denied"),
        "expected the prompt to end \"❌ Denied…\", it reads {:?}",
        edited.text
    );
    sc.say.step(
        t.elapsed(),
        &format!("the prompt ends \"{}\"", last_line(&edited)),
    );
    let alert = sc
        .message(ADMIN, "a Not me alert to the admin", |m| {
            m.text.contains("Not me") && m.text.contains(INTRUDER)
        })
        .await?;
    sc.say.step(t.elapsed(), "alert in the admin's chat:");
    sc.say.message(&alert);
    sc.settled(reply.session, SessionState::Denied).await?;

    let t = Instant::now();
    let again = sc.connect("bob", INTRUDER, "10.10.0.6").await?;
    ensure!(
        again.status == 403 && again.state == "banned",
        "expected 403 banned for {INTRUDER}'s next try, tgate answered {} {}",
        again.status,
        again.state
    );
    ensure!(
        !sc.online().contains(&"bob".to_owned()),
        "expected the banned caller's PPP session disconnected"
    );
    sc.say.step(
        t.elapsed(),
        &format!("{INTRUDER} tries again → 403 banned, disconnected at once"),
    );
    sc.say
        .outcome("refused: disconnected, caller banned at once, admins alerted");
    Ok(())
}

/// Story 3: nobody answers before the deadline.
pub async fn timed_out(sc: &Scene) -> anyhow::Result<()> {
    let timeout = crate::demo::confirm_timeout(sc);
    let t = Instant::now();
    let reply = sc.connect("alice", HOTEL, "10.10.0.7").await?;
    pending(&reply, "alice")?;
    sc.say.step(
        t.elapsed(),
        &format!("alice connects from a hotel, {HOTEL} (tunnel 10.10.0.7) → 202 pending"),
    );
    let prompt = sc.prompt(&sc.alice).await?;
    sc.say.step(
        t.elapsed(),
        &format!(
            "prompt in Alice's chat: \"{}\" (answer within {timeout}); her phone is in her bag",
            prompt.text.lines().next().unwrap_or_default()
        ),
    );
    let edited = sc.edited(sc.alice.id, &prompt).await?;
    ensure!(
        last_line(&edited).starts_with("⌛ Not confirmed in time"),
        "expected the prompt to end \"⌛ Not confirmed in time…\", it reads {:?}",
        edited.text
    );
    sc.until("alice's PPP session disconnected, sandbox empty", || {
        !sc.online().contains(&"alice".to_owned()) && sc.list(SANDBOX).is_empty()
    })
    .await?;
    sc.settled(reply.session, SessionState::Expired).await?;
    ensure!(sc.list(PERMIT).is_empty(), "expected nothing permitted");
    sc.say.step(
        t.elapsed(),
        &format!(
            "the deadline passes → disconnected; sandbox: {}; permit: {}; the prompt ends \"{}\"",
            list(&sc.list(SANDBOX)),
            list(&sc.list(PERMIT)),
            last_line(&edited)
        ),
    );
    sc.strikes(HOTEL, 1).await?;
    sc.say.outcome(&format!(
        "timed out: session expired; strike 1 against {HOTEL}"
    ));
    Ok(())
}
