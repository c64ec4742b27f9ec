//! The load the benchmark puts on tgate: PPP clients dialling in through the
//! simulated router at a set rate, each connect timed from the moment the
//! router's on-up hook fires. The scenarios build on [`fire`] and read what
//! tgate did back from the simulators' timestamped logs.

pub mod expiry;
pub mod latency;
pub mod storm;
pub mod sustained;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tgate_sim::{Change, RouterChange, RouterSim};

use super::system::System;

/// One PPP client dialling in.
#[derive(Clone, Debug)]
pub struct Dial {
    pub account: String,
    pub caller: String,
    pub tunnel: IpAddr,
}

/// A dial and what the router's hook got back.
#[derive(Clone, Debug)]
pub struct Fired {
    pub dial: Dial,
    /// Just before the router ran its on-up script.
    pub sent: Instant,
    pub answered: Instant,
    /// `None` when the hook's request failed outright.
    pub status: Option<u16>,
    pub session: Option<String>,
}

/// Dials at `rate` per second, each connect in its own task so a slow
/// answer never delays the next dial; returns them in dialling order once
/// all are answered.
pub async fn fire(router: &Arc<RouterSim>, dials: Vec<Dial>, rate: f64) -> Vec<Fired> {
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(dials.len());
    for (i, dial) in dials.into_iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let router = router.clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let reply = router
                .connect_ppp(&dial.account, "l2tp", &dial.caller, dial.tunnel)
                .await;
            let answered = Instant::now();
            let (status, session) = match reply {
                Ok(Some(reply)) => {
                    let body: serde_json::Value =
                        serde_json::from_str(&reply.body).unwrap_or_default();
                    let session = body["session"].as_str().map(str::to_owned);
                    (Some(reply.status), session)
                }
                _ => (None, None),
            };
            Fired {
                dial,
                sent,
                answered,
                status,
                session,
            }
        }));
    }
    let mut fired = Vec::with_capacity(tasks.len());
    for task in tasks {
        fired.push(task.await.expect("a dial task never panics"));
    }
    fired
}

/// Connects actually made per second: the nominal rate unless the driver
/// itself fell behind.
pub fn achieved_rate(fired: &[Fired]) -> f64 {
    let (Some(first), Some(last)) = (fired.first(), fired.last()) else {
        return 0.0;
    };
    let span = last.sent.duration_since(first.sent).as_secs_f64();
    if span <= 0.0 {
        return fired.len() as f64;
    }
    // n dials span n - 1 intervals.
    (fired.len() - 1) as f64 / span
}

/// What the router did, indexed: when each address first entered each
/// list, and when each tunnel address's PPP session ended.
#[derive(Default)]
pub struct RouterLog {
    pub added: HashMap<(String, String), Instant>,
    pub ended: HashMap<IpAddr, Instant>,
    read: usize,
}

impl RouterLog {
    /// Takes in what the router did since the last call.
    pub fn update(&mut self, router: &RouterSim) {
        let changes = router.changes_since(self.read);
        self.read += changes.len();
        for RouterChange { at, what } in changes {
            match what {
                Change::EntryAdded { list, address } => {
                    self.added.entry((list, address)).or_insert(at);
                }
                Change::PppEnded { address, .. } => {
                    self.ended.entry(address).or_insert(at);
                }
            }
        }
    }

    pub fn added_to(&self, list: &str, address: &str) -> Option<Instant> {
        self.added
            .get(&(list.to_owned(), address.to_owned()))
            .copied()
    }
}

/// Waits until `done` holds or `patience` runs out; says which.
pub async fn wait_until(patience: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + patience;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Dials for `accounts`, one each, from fresh callers and tunnel addresses.
pub fn dials_for(system: &System, accounts: &[super::system::Account]) -> Vec<Dial> {
    accounts
        .iter()
        .map(|a| Dial {
            account: a.name.clone(),
            caller: system.caller(),
            tunnel: system.tunnel(),
        })
        .collect()
}
