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
/// itself fell behind. It is the slope of a straight line fitted through
/// every dial's send time (least squares), not the count over the first
/// to last dial's span: one late task start at either end (the timer and
/// the spawn each add up to a millisecond here) moved that span enough to
/// report a 2,500/s step as 2,498/s, while a driver that really falls
/// behind slows the whole line.
pub fn achieved_rate(fired: &[Fired]) -> f64 {
    let Some(first) = fired.first() else {
        return 0.0;
    };
    let offsets: Vec<f64> = fired
        .iter()
        .map(|f| f.sent.duration_since(first.sent).as_secs_f64())
        .collect();
    dials_per_second(&offsets)
}

/// The rate of dials sent at `offsets` (seconds from the first, in
/// dialling order): the inverse of the fitted seconds per dial.
fn dials_per_second(offsets: &[f64]) -> f64 {
    let n = offsets.len() as f64;
    let mean_index = (n - 1.0) / 2.0;
    let mean_offset = offsets.iter().sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (i, offset) in offsets.iter().enumerate() {
        let d = i as f64 - mean_index;
        covariance += d * (offset - mean_offset);
        variance += d * d;
    }
    let seconds_per_dial = covariance / variance;
    if seconds_per_dial.is_finite() && seconds_per_dial > 0.0 {
        1.0 / seconds_per_dial
    } else {
        // One dial, or all at the same instant.
        n
    }
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

#[cfg(test)]
mod tests {
    use super::dials_per_second;

    /// Dials `n` at `rate` per second, each `late(i)` seconds behind its
    /// slot.
    fn dialled(n: usize, rate: f64, late: impl Fn(usize) -> f64) -> Vec<f64> {
        (0..n).map(|i| i as f64 / rate + late(i)).collect()
    }

    #[test]
    fn a_driver_on_time_dials_at_its_rate() {
        let rate = dials_per_second(&dialled(5000, 2500.0, |_| 0.0));
        assert!((rate - 2500.0).abs() < 1e-6, "{rate}");
    }

    #[test]
    fn one_late_dial_at_the_end_does_not_lower_the_rate() {
        // The first to last span would say 4999 / 2.0006 s = 2498.7/s.
        let rate = dials_per_second(&dialled(
            5000,
            2500.0,
            |i| if i == 4999 { 0.0010 } else { 0.0 },
        ));
        assert!(rate > 2499.9, "{rate}");
    }

    #[test]
    fn a_driver_falling_behind_shows_its_real_rate() {
        // Each dial 0.1 ms later than the one before it should be: 2000/s.
        let rate = dials_per_second(&dialled(5000, 2500.0, |i| i as f64 * 0.0001));
        assert!((rate - 2000.0).abs() < 1e-6, "{rate}");
        // Half the dials on time, then a stall of 0.4 s: the line's slope
        // is well below the nominal rate.
        let stalled =
            dials_per_second(&dialled(5000, 2500.0, |i| if i < 2500 { 0.0 } else { 0.4 }));
        assert!(stalled < 2100.0, "{stalled}");
    }

    #[test]
    fn one_dial_or_one_instant_counts_the_dials() {
        assert_eq!(dials_per_second(&[0.0]), 1.0);
        assert_eq!(dials_per_second(&[0.0, 0.0, 0.0]), 3.0);
    }
}
