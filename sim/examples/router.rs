//! Runs the RouterOS simulator by itself so a person can poke it with
//! `ssh`: `cargo run -p tgate-sim --example router [pubkey-file]`.
//! Users: admin/admin, reader/reader, and `key` with the given public key.

use std::time::Duration;

use tgate_sim::{RouterSim, RouterSimConfig, SimAuth, SimUser};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = RouterSimConfig::default();
    if let Some(path) = std::env::args().nth(1) {
        config.users.push(SimUser {
            name: "key".into(),
            auth: SimAuth::PublicKey(std::fs::read_to_string(path)?),
            write: true,
        });
    }
    let sim = RouterSim::start(config).await?;
    sim.set_secret("alice", Some("12345"));
    sim.add_entry("tgate-permit", "10.0.0.5", None, Some("tgate: alice"));
    sim.add_entry(
        "tgate-ban",
        "203.0.113.66",
        Some(Duration::from_secs(3600)),
        None,
    );
    sim.connect_ppp("alice", "l2tp", "203.0.113.7", "10.10.0.5".parse()?)
        .await?;
    println!("listening on {}", sim.addr());
    println!("host key {}", sim.host_key_fingerprint());
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
