//! How late an unconfirmed session is cut off: the moment the router drops
//! its PPP session minus the deadline tgate stored for it. Nobody answers
//! these prompts, so each one runs to its deadline.

use std::time::Duration;

use tgate_core::domain::SessionId;

use super::{RouterLog, dials_for, fire, wait_until};
use crate::bench::args::BenchArgs;
use crate::bench::stats::Samples;
use crate::bench::system::System;

#[derive(Debug, Default)]
pub struct Expiry {
    pub lateness: Samples,
    /// Accepted sessions the router still had after the deadline and then some.
    pub not_expired: usize,
}

pub async fn run(system: &System, args: &BenchArgs) -> anyhow::Result<Expiry> {
    let accounts = system.enroll("exp-", args.expiries, 2_000_000).await?;
    let fired = fire(
        &system.router,
        dials_for(system, &accounts),
        f64::from(args.expiry_rate),
    )
    .await;
    let accepted: Vec<_> = fired
        .iter()
        .filter_map(|f| Some((f, f.session.as_deref()?.parse::<SessionId>().ok()?)))
        .collect();
    let mut log = RouterLog::default();
    let patience = args.confirm_timeout + Duration::from_secs(10);
    wait_until(patience, || {
        log.update(&system.router);
        accepted
            .iter()
            .all(|(f, _)| log.ended.contains_key(&f.dial.tunnel))
    })
    .await;

    let mut out = Expiry::default();
    for (f, id) in accepted {
        let Some(session) = system.store.session(id).await? else {
            out.not_expired += 1;
            continue;
        };
        match log.ended.get(&f.dial.tunnel) {
            Some(at) => {
                let late = system.wall(*at) - session.deadline;
                out.lateness
                    .push_ms(late.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
            }
            None => out.not_expired += 1,
        }
    }
    Ok(out)
}
