//! Per-source rate limits on the public endpoints (router events, health,
//! metrics): a token bucket per client address, as [`client_ip`] sees it, so
//! behind nginx each forwarded client has its own. Over the limit a request
//! gets `429` with `Retry-After`. The watcher's and the admin API's calls are
//! authenticated by tokens and are never limited here: the watcher is one
//! source relaying every user's presses.
//!
//! Memory is bounded. A bucket that has refilled is the same as no bucket,
//! so each shard drops those once per refill time; and a shard never holds
//! more than [`SHARD_CAPACITY`] sources, dropping the longest idle when full.
//! IPv6 sources count per /64, the block one host usually holds, so a single
//! host cannot spray fresh addresses. Locks are std mutexes held for a few
//! arithmetic operations, never across `.await`, and spread over shards.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::hash::RandomState;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ApiState;
use crate::auth::client_ip;

const SHARDS: usize = 16;
/// Sources tracked per shard; 16 × 4096 buckets are a few MiB at most.
const SHARD_CAPACITY: usize = 4096;

pub struct RateLimiter {
    /// Tokens per second.
    rate: f64,
    burst: f64,
    /// How long an empty bucket takes to fill; also the sweep interval.
    refill: Duration,
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
}

struct Shard {
    buckets: HashMap<IpAddr, Bucket>,
    swept: Instant,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `None` when `rate` is 0, which turns limiting off.
    pub fn new(rate: u32, burst: u32) -> Option<RateLimiter> {
        if rate == 0 {
            return None;
        }
        let (rate, burst) = (f64::from(rate), f64::from(burst.max(1)));
        let now = Instant::now();
        Some(RateLimiter {
            rate,
            burst,
            refill: Duration::from_secs_f64(burst / rate).max(Duration::from_secs(1)),
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        swept: now,
                    })
                })
                .collect(),
        })
    }

    /// Takes a token for `source`; when there is none, how long until there
    /// is.
    pub fn check(&self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = bucket_key(source);
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_duration_since(shard.swept) >= self.refill {
            self.sweep(&mut shard, now);
        }
        if shard.buckets.len() >= SHARD_CAPACITY && !shard.buckets.contains_key(&key) {
            // Only a spray of sources fills a shard within a refill time;
            // the idlest of them loses its bucket.
            evict_idlest(&mut shard.buckets);
        }
        let bucket = shard.buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(bucket, now);
        bucket.at = now.max(bucket.at);
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let idle = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + idle * self.rate).min(self.burst)
    }

    /// Drops full buckets: a source coming back starts full anyway.
    fn sweep(&self, shard: &mut Shard, now: Instant) {
        shard
            .buckets
            .retain(|_, b| self.refilled(b, now) < self.burst);
        shard.swept = now;
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap().buckets.len())
            .sum()
    }
}

/// IPv6 addresses count per /64; IPv4 per address.
fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
            )),
        },
    }
}

fn evict_idlest(buckets: &mut HashMap<IpAddr, Bucket>) {
    if let Some(key) = buckets.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| *k) {
        buckets.remove(&key);
    }
}

/// Middleware for the public routes.
pub async fn limit(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(req).await;
    };
    // Without the peer (a test calling the router directly) every request
    // is one source.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(a)| a.ip());
    let source = client_ip(
        peer,
        req.headers(),
        &state.gate.config().server.trusted_proxies,
    );
    match limiter.check(source, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str());
            state.metrics.rate_limited(route);
            tracing::debug!(%source, ?wait, "rate limited");
            too_many(wait)
        }
    }
}

fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({ "error": "rate limited", "detail": { "retry_after": secs } })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_source_gets_its_burst_then_the_rate() {
        let limiter = RateLimiter::new(2, 3).unwrap();
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(limiter.check(a, t0), Ok(()));
        }
        let wait = limiter.check(a, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another source is not affected.
        assert_eq!(limiter.check(ip("192.0.2.2"), t0), Ok(()));
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check(a, t1), Ok(()));
        assert!(limiter.check(a, t1).is_err());
    }

    #[test]
    fn ipv6_sources_share_a_bucket_per_64() {
        let limiter = RateLimiter::new(1, 1).unwrap();
        let t0 = Instant::now();
        assert_eq!(limiter.check(ip("2001:db8:1:2::1"), t0), Ok(()));
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9"), t0).is_err());
        assert_eq!(limiter.check(ip("2001:db8:1:3::1"), t0), Ok(()));
        // An IPv4-mapped address is the IPv4 source.
        assert_eq!(limiter.check(ip("198.51.100.1"), t0), Ok(()));
        assert!(limiter.check(ip("::ffff:198.51.100.1"), t0).is_err());
    }

    #[test]
    fn idle_sources_are_forgotten_and_the_map_is_capped() {
        let limiter = RateLimiter::new(10, 10).unwrap();
        let t0 = Instant::now();
        for i in 0..1000u32 {
            limiter
                .check(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), t0)
                .unwrap();
        }
        assert_eq!(limiter.tracked(), 1000);
        // After a refill time every bucket is full again, so the next
        // request in each shard sweeps it.
        let later = t0 + Duration::from_secs(2);
        for i in 0..200u32 {
            limiter
                .check(IpAddr::from((0x0b00_0000 + i).to_be_bytes()), later)
                .unwrap();
        }
        assert_eq!(limiter.tracked(), 200);

        // A spray within the refill time stops at the cap.
        for i in 0..(SHARDS * SHARD_CAPACITY + 500) as u32 {
            let _ = limiter.check(IpAddr::from((0x0c00_0000 + i).to_be_bytes()), later);
        }
        assert!(limiter.tracked() <= SHARDS * SHARD_CAPACITY);
    }

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        let r = too_many(Duration::from_millis(10));
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = too_many(Duration::from_millis(2100));
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn disabled_at_zero() {
        assert!(RateLimiter::new(0, 100).is_none());
    }
}
