//! HTTP clients for the process: the Bot API's, the long poll's, the
//! watcher's client of the API, and the demo's. They all share one TLS
//! set-up. Each reqwest client with native TLS would otherwise build its
//! own OpenSSL context, reading and parsing the system's root certificates
//! again and keeping its own copy of them (the cost is measured in
//! docs/benchmarks-history.md, change 37).

use std::sync::OnceLock;

static SHARED: OnceLock<native_tls::TlsConnector> = OnceLock::new();

/// The process's TLS connector: built once, then shared (a clone refers
/// to the same OpenSSL context).
fn shared_tls() -> anyhow::Result<native_tls::TlsConnector> {
    if let Some(tls) = SHARED.get() {
        return Ok(tls.clone());
    }
    let tls = native_tls::TlsConnector::new()?;
    // Two first uses at once build two; one is kept, the other dropped.
    Ok(SHARED.get_or_init(|| tls).clone())
}

/// Builds `builder` into a client that uses the shared TLS set-up.
pub fn client(builder: reqwest::ClientBuilder) -> anyhow::Result<reqwest::Client> {
    Ok(builder.use_preconfigured_tls(shared_tls()?).build()?)
}
