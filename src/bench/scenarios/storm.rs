//! A login storm: many callers dial many accounts at once, as a password
//! sprayer or a broken client fleet would. Nobody answers a prompt. Every
//! accepted event must have an outcome (a prompt, or its PPP session cut),
//! no account may be bombed with prompts, and the ban policy must ban
//! exactly the callers it should, quickly.
//!
//! Each caller dials each account at most once, so every `409 blocked` is a
//! strike (only a redial from the pending caller itself is not). Strikes
//! are also earned by sessions that expire. The expected bans are worked
//! out from those strikes and the policy, independently of tgate's own
//! count, and each is timed from the moment the router cut the connect
//! that earned it (tgate counts the strike right after the cut).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tgate_core::domain::{SessionId, SessionState};

use super::{Dial, Fired, RouterLog, fire, wait_until};
use crate::bench::args::BenchArgs;
use crate::bench::system::System;
use crate::lab::BAN;

/// `policy.strike_window` of the tgate under test (the default).
const STRIKE_WINDOW: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
pub struct Storm {
    pub events: usize,
    pub callers: usize,
    pub accounts: usize,
    /// Accepted without an outcome, or not answered at all.
    pub lost: usize,
    pub unanswered: usize,
    pub prompts_max_per_account: usize,
    pub bans_expected: usize,
    pub bans_applied: usize,
    /// Bans applied to callers the policy did not call for.
    pub bans_unexpected: usize,
    pub ban_delay_ms_max: Option<f64>,
    pub answers: BTreeMap<String, usize>,
}

pub async fn run(system: &System, args: &BenchArgs) -> anyhow::Result<Storm> {
    let accounts = system
        .enroll("storm-", args.storm_accounts, 4_000_000)
        .await?;
    let callers: Vec<String> = (0..args.storm_callers).map(|_| system.caller()).collect();
    let (n_callers, n_accounts) = (callers.len(), accounts.len());
    // Event j comes from caller j mod C, its k-th (k = j div C), to account
    // (7c + k) mod A: distinct accounts for one caller while k < A.
    let dials: Vec<Dial> = (0..args.storm_events as usize)
        .map(|j| {
            let (c, k) = (j % n_callers, j / n_callers);
            Dial {
                account: accounts[(7 * c + k) % n_accounts].name.clone(),
                caller: callers[c].clone(),
                tunnel: system.tunnel(),
            }
        })
        .collect();
    let rate = dials.len() as f64 / args.storm_duration.as_secs_f64().max(0.001);
    let fired = fire(&system.router, dials, rate).await;

    // Sessions still pending expire at their deadline and strike again;
    // then the log goes quiet.
    tokio::time::sleep(args.confirm_timeout).await;
    let mut log = RouterLog::default();
    let mut quiet_since = (0, Instant::now());
    wait_until(Duration::from_secs(30), || {
        log.update(&system.router);
        let seen = log.added.len() + log.ended.len();
        if seen != quiet_since.0 {
            quiet_since = (seen, Instant::now());
        }
        quiet_since.1.elapsed() > Duration::from_secs(2)
    })
    .await;

    let mut out = Storm {
        events: fired.len(),
        callers: n_callers,
        accounts: n_accounts,
        ..Storm::default()
    };
    let mut strikes: HashMap<&str, Vec<Instant>> = HashMap::new();
    let mut accepted_per_account: HashMap<&str, usize> = HashMap::new();
    for f in &fired {
        let answer = f.status.map_or("none".to_owned(), |s| s.to_string());
        *out.answers.entry(answer).or_default() += 1;
        let cut = log.ended.get(&f.dial.tunnel).copied();
        match f.status {
            Some(202) => {
                *accepted_per_account.entry(&f.dial.account).or_default() += 1;
                if let Some(at) = cut
                    && expired(system, f).await?
                {
                    strikes.entry(&f.dial.caller).or_default().push(at);
                }
            }
            Some(409) => {
                strikes
                    .entry(&f.dial.caller)
                    .or_default()
                    .push(cut.unwrap_or(f.answered));
                out.lost += usize::from(cut.is_none());
            }
            Some(403) => out.lost += usize::from(cut.is_none()),
            _ => {
                out.unanswered += 1;
                out.lost += 1;
            }
        }
    }
    // An accepted session's outcome is its prompt.
    for account in &accounts {
        let prompts = system
            .tg
            .bot_messages(account.owner.id)
            .iter()
            .filter(|m| !m.buttons.is_empty() || m.edited)
            .count();
        out.prompts_max_per_account = out.prompts_max_per_account.max(prompts);
        let accepted = accepted_per_account.get(account.name.as_str()).copied();
        out.lost += accepted.unwrap_or(0).saturating_sub(prompts);
    }

    let mut delays = Vec::new();
    for caller in &callers {
        let banned_at = log.added_to(BAN, caller);
        let earned = strikes
            .get_mut(caller.as_str())
            .and_then(|s| earning_strike(s, args.max_strikes as usize, STRIKE_WINDOW));
        out.bans_applied += usize::from(banned_at.is_some());
        match (earned, banned_at) {
            (Some(strike), Some(ban)) => {
                out.bans_expected += 1;
                let delay = ban.checked_duration_since(strike).unwrap_or_default();
                delays.push(delay.as_secs_f64() * 1000.0);
            }
            (Some(_), None) => out.bans_expected += 1,
            (None, Some(_)) => out.bans_unexpected += 1,
            (None, None) => {}
        }
    }
    out.ban_delay_ms_max = delays.into_iter().max_by(f64::total_cmp);
    Ok(out)
}

/// The strike that completes `max` within `window`, if any (times sorted here).
fn earning_strike(times: &mut [Instant], max: usize, window: Duration) -> Option<Instant> {
    times.sort();
    (max - 1..times.len())
        .find(|&i| times[i].duration_since(times[i + 1 - max]) <= window)
        .map(|i| times[i])
}

/// Whether tgate expired the session (a strike), rather than replacing it.
async fn expired(system: &System, f: &Fired) -> anyhow::Result<bool> {
    let Some(id) = f
        .session
        .as_deref()
        .and_then(|s| s.parse::<SessionId>().ok())
    else {
        return Ok(false);
    };
    let session = system.store.session(id).await?;
    Ok(session.is_some_and(|s| s.state == SessionState::Expired))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earning_strike_is_the_one_completing_the_window() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let window = Duration::from_secs(600);
        let mut two = vec![at(0), at(5)];
        assert_eq!(earning_strike(&mut two, 3, window), None);
        let mut spread = vec![at(700), at(0), at(1000), at(1200)];
        assert_eq!(earning_strike(&mut spread, 3, window), Some(at(1200)));
        let mut one = vec![at(3)];
        assert_eq!(earning_strike(&mut one, 1, window), Some(at(3)));
    }
}
