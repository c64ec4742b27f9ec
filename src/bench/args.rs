//! What a benchmark run can be asked to do. Every size, rate and delay is a
//! flag with the default the documented results were measured with, so a
//! run can be scaled down for a test or made to model a distant router.

use std::time::Duration;

use tgate_core::config::parse_duration;

/// `tgate bench`: measures tgate against both simulators on loopback.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// PostgreSQL server to measure on (`postgres://user@host/db`); the bench
    /// creates a scratch database beside the one named and drops it after.
    /// Default: a temporary SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,

    /// Connects per second while timing connect → prompt and confirm → permit
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// How many connects are timed (each is confirmed with "It's me")
    #[arg(long, default_value_t = 1000)]
    pub connects: u32,

    /// How many sessions are left unconfirmed to time their expiry
    #[arg(long, default_value_t = 200)]
    pub expiries: u32,
    /// Connects per second for the expiry scenario
    #[arg(long, default_value_t = 100)]
    pub expiry_rate: u32,

    /// Rates (connects/s) tried in turn for the sustained figure, until one fails
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "500,1000,1500,2000,2500,3000,4000"
    )]
    pub sustained_rates: Vec<u32>,
    /// How long each sustained rate is held
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub step: Duration,
    /// The p99 connect → prompt a sustained rate must stay under
    #[arg(long, value_parser = parse_duration, default_value = "50ms")]
    pub sustained_p99: Duration,

    /// Connect events in the storm
    #[arg(long, default_value_t = 10_000)]
    pub storm_events: u32,
    /// Distinct caller addresses in the storm
    #[arg(long, default_value_t = 1_000)]
    pub storm_callers: u32,
    /// Distinct VPN accounts in the storm
    #[arg(long, default_value_t = 500)]
    pub storm_accounts: u32,
    /// How long the storm's events are spread over
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub storm_duration: Duration,

    /// Added before every answer of the simulated router (e.g. 40ms)
    #[arg(long, value_parser = parse_duration, default_value = "0ms")]
    pub router_latency: Duration,
    /// Added before every answer of the simulated Bot API
    #[arg(long, value_parser = parse_duration, default_value = "0ms")]
    pub telegram_latency: Duration,
    /// policy.confirm_timeout of the tgate under test
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub confirm_timeout: Duration,
    /// policy.max_strikes of the tgate under test
    #[arg(long, default_value_t = 3)]
    pub max_strikes: u32,
    /// Bans in force while the scenarios run, each on an address no caller
    /// of the bench uses: every connect looks its caller up among them
    #[arg(long, default_value_t = 0)]
    pub bans: u32,
    /// Closed sessions of another account already stored at each tunnel
    /// address the connect → prompt scenario uses, as a PPP pool's
    /// addresses collect over months: every connect looks its address up
    /// among them
    #[arg(long, default_value_t = 0)]
    pub history: u32,
}

impl BenchArgs {
    /// Refuses sizes the scenarios cannot be built from.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.rate > 0 && self.expiry_rate > 0,
            "rates must be above 0"
        );
        anyhow::ensure!(
            self.sustained_rates.iter().all(|r| *r > 0),
            "--sustained-rates must be above 0"
        );
        anyhow::ensure!(
            self.storm_callers > 0 && self.storm_accounts > 0,
            "the storm needs callers and accounts"
        );
        // Each caller dials each account at most once, so that every blocked
        // connect is a strike (a redial from the pending caller is not).
        let per_caller = self.storm_events.div_ceil(self.storm_callers);
        anyhow::ensure!(
            per_caller <= self.storm_accounts,
            "--storm-events / --storm-callers ({per_caller}) must not exceed --storm-accounts"
        );
        anyhow::ensure!(self.max_strikes > 0, "--max-strikes must be above 0");
        anyhow::ensure!(
            self.bans <= 1 << 22,
            "--bans must not exceed 4194304 (the addresses of 100.64.0.0/10)"
        );
        anyhow::ensure!(
            self.history == 0
                || (u64::from(self.history) * u64::from(self.connects) <= 10_000_000
                    && self.connects <= 65_536),
            "--history × --connects must not exceed 10,000,000 sessions, and --connects 65,536 with --history"
        );
        anyhow::ensure!(
            self.confirm_timeout >= Duration::from_secs(1),
            "--confirm-timeout must be at least 1s"
        );
        Ok(())
    }

    /// The most accounts one sustained step needs.
    pub fn sustained_accounts(&self) -> u32 {
        let top = self.sustained_rates.iter().copied().max().unwrap_or(0);
        (f64::from(top) * self.step.as_secs_f64()).ceil() as u32
    }
}
