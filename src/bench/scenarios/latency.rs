//! The two latencies an owner feels: from the router's up event to the
//! prompt reaching Telegram, and from pressing "✅ It's me" to the address
//! in the router's permit list. Connects arrive at a steady rate; every
//! prompt is answered as soon as the Bot API simulator has received it.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{RouterLog, dials_for, fire, wait_until};
use crate::bench::args::BenchArgs;
use crate::bench::stats::Samples;
use crate::bench::system::{Account, System};
use crate::lab::PERMIT;

const YES: &str = "✅ It's me";
/// How long after the last connect prompts and permits may still come.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Latency {
    pub connect_to_prompt: Samples,
    pub confirm_to_permit: Samples,
    /// Connects not answered `202 pending`.
    pub refused: usize,
    pub unprompted: usize,
    pub unpermitted: usize,
}

pub async fn run(system: &System, args: &BenchArgs) -> anyhow::Result<Latency> {
    let accounts = system.enroll("lat-", args.connects, 1_000_000).await?;
    let dials = dials_for(system, &accounts);
    let (_, cursor) = system.sent_messages(0);
    let fired_at = Cell::new(None::<Instant>);
    let driving = async {
        let fired = fire(&system.router, dials, f64::from(args.rate)).await;
        fired_at.set(Some(Instant::now()));
        fired
    };
    let (fired, presses) =
        tokio::join!(driving, press_prompts(system, &accounts, cursor, &fired_at));

    // Dials are made, and returned, in the order of the accounts.
    let pressed: Vec<_> = fired
        .iter()
        .zip(&accounts)
        .filter_map(|(f, a)| Some((f, presses.get(&a.owner.id)?)))
        .collect();
    let mut log = RouterLog::default();
    wait_until(PATIENCE, || {
        log.update(&system.router);
        pressed
            .iter()
            .all(|(f, _)| log.added_to(PERMIT, &f.dial.tunnel.to_string()).is_some())
    })
    .await;

    let mut out = Latency {
        refused: fired.iter().filter(|f| f.status != Some(202)).count(),
        unprompted: fired.len() - pressed.len(),
        ..Latency::default()
    };
    for (f, press) in &pressed {
        out.connect_to_prompt
            .push(press.prompted.saturating_duration_since(f.sent));
        match log.added_to(PERMIT, &f.dial.tunnel.to_string()) {
            Some(at) => out
                .confirm_to_permit
                .push(at.saturating_duration_since(press.pressed)),
            None => out.unpermitted += 1,
        }
    }
    Ok(out)
}

/// When a prompt reached the Bot API and when its owner pressed "It's me".
struct Press {
    prompted: Instant,
    pressed: Instant,
}

/// Presses "It's me" under each account's prompt as soon as it arrives,
/// until every account has had one or the patience after the last connect
/// runs out.
async fn press_prompts(
    system: &System,
    accounts: &[Account],
    mut cursor: usize,
    fired_at: &Cell<Option<Instant>>,
) -> HashMap<i64, Press> {
    let owners: HashMap<i64, &Account> = accounts.iter().map(|a| (a.owner.id, a)).collect();
    let mut presses = HashMap::new();
    loop {
        let (sent, next) = system.sent_messages(cursor);
        cursor = next;
        for call in sent {
            let Some(chat) = call.chat_id else { continue };
            let Some(account) = owners.get(&chat) else {
                continue;
            };
            if presses.contains_key(&chat) {
                continue;
            }
            let pressed = Instant::now();
            if system
                .tg
                .user_presses_button(&account.owner, chat, YES)
                .is_some()
            {
                presses.insert(
                    chat,
                    Press {
                        prompted: call.at,
                        pressed,
                    },
                );
            }
        }
        let gave_up = fired_at.get().is_some_and(|t| t.elapsed() > PATIENCE);
        if presses.len() == accounts.len() || gave_up {
            return presses;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
