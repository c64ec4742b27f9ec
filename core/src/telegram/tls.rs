//! One TLS set-up for every HTTP client in the process.
//!
//! Each reqwest client with native TLS builds its own OpenSSL context, and
//! building one reads and parses the system's root certificates: tgate's
//! three clients (the Bot API's, the long poll's and the watcher's client
//! of the API) did it three times over. Measured with callgrind over a short
//! bench run, that was a third of all the instructions tgate executed, and
//! each copy of the parsed certificates stays in memory. The clients now
//! share one context, built on first use.

use std::sync::OnceLock;

static SHARED: OnceLock<native_tls::TlsConnector> = OnceLock::new();

/// The process's TLS connector: built once, then shared (a clone refers
/// to the same OpenSSL context).
fn shared() -> anyhow::Result<native_tls::TlsConnector> {
    if let Some(tls) = SHARED.get() {
        return Ok(tls.clone());
    }
    let tls = native_tls::TlsConnector::new()?;
    // Two first uses at once build two; one is kept, the other dropped.
    Ok(SHARED.get_or_init(|| tls).clone())
}

/// Builds `builder` into a client that uses the shared TLS set-up.
pub fn http_client(builder: reqwest::ClientBuilder) -> anyhow::Result<reqwest::Client> {
    Ok(builder.use_preconfigured_tls(shared()?).build()?)
}
