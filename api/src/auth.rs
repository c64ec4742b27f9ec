//! Who is calling. Router scripts present their router's bearer token,
//! compared in constant time. tik2fa's unchanged scripts send no token, so
//! the compatibility endpoints believe only the compat router's own address:
//! the TCP peer, or the client address a trusted proxy (nginx) forwards.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tgate_core::config::Config;
use tgate_core::domain::RouterName;

pub struct CallerAuth {
    tokens: Vec<(RouterName, SecretString)>,
    compat: Option<(RouterName, Vec<IpAddr>)>,
    trusted_proxies: Vec<IpNet>,
}

impl CallerAuth {
    pub async fn from_config(config: &Config) -> anyhow::Result<CallerAuth> {
        let tokens = config
            .routers
            .iter()
            .map(|r| (r.name.clone(), r.token.clone()))
            .collect();
        let compat = match config.routers.iter().find(|r| r.compat) {
            None => None,
            Some(r) => {
                let addrs: Vec<IpAddr> = match r.host.parse::<IpAddr>() {
                    Ok(ip) => vec![ip],
                    Err(_) => tokio::net::lookup_host((r.host.as_str(), 0))
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!("resolving router {} host {}: {e}", r.name, r.host)
                        })?
                        .map(|sa| sa.ip())
                        .collect(),
                };
                Some((r.name.clone(), addrs))
            }
        };
        Ok(CallerAuth {
            tokens,
            compat,
            trusted_proxies: config.server.trusted_proxies.clone(),
        })
    }

    /// The router whose token the `Authorization: Bearer` header carries.
    pub fn router_by_token(&self, headers: &HeaderMap) -> Option<RouterName> {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim()
            .as_bytes();
        // Compare with every token, so the time taken does not tell which
        // router's token was close.
        let mut found = None;
        for (name, token) in &self.tokens {
            if bool::from(token.expose_secret().as_bytes().ct_eq(presented)) {
                found = Some(name.clone());
            }
        }
        found
    }

    /// The compat router, when the request comes from its address.
    pub fn compat_router(&self, peer: IpAddr, headers: &HeaderMap) -> Option<RouterName> {
        let (name, addrs) = self.compat.as_ref()?;
        let client = client_ip(peer, headers, &self.trusted_proxies);
        addrs.contains(&client).then(|| name.clone())
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy,
/// in which case its `X-Real-IP`, or else the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(real) = header("x-real-ip").and_then(|v| v.trim().parse().ok()) {
        return real;
    }
    if let Some(forwarded) = header("x-forwarded-for") {
        for hop in forwarded.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if is_trusted(&ip) => continue,
                Ok(ip) => return ip,
                Err(_) => break,
            }
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let h = headers(&[("x-real-ip", "192.0.2.1")]);
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        // The same header from an untrusted peer is ignored.
        let stranger: IpAddr = "198.51.100.3".parse().unwrap();
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
        // X-Forwarded-For: the right-most untrusted hop; the left is spoofable.
        let h = headers(&[("x-forwarded-for", "192.0.2.99, 192.0.2.1, 127.0.0.1")]);
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(client_ip(proxy, &h, &trusted), proxy);
    }
}
