//! Prometheus metrics: the counting primitives, the text exposition writer,
//! and the process-wide series of the parts of core that talk to the outside
//! (router commands, Telegram calls). `docs/metrics.md` lists every series.
//!
//! Hand-written rather than the `prometheus-client` crate: tgate's label sets
//! are all known up front (fixed outcome words, plus router names known when
//! a router's client is built), so each series can be a plain atomic reached
//! by index, with no map and no lock on the hot path; `prometheus-client`
//! looks label sets up in a locked map on every increment. What remains, the
//! text format, is a few dozen lines.
//!
//! Router and Telegram series live in one process-wide [`global`] registry,
//! because the clients that feed them are built deep inside core. The API
//! keeps its own per-request series in its state and renders both.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use crate::domain::RouterName;
use crate::router::RouterError;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed upper bounds, in seconds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound plus one for `+Inf`; not cumulative, so an
    /// observation touches one bucket.
    buckets: Box<[AtomicU64]>,
    /// The sum's `f64` bits, updated by compare-and-swap.
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub fn observe(&self, seconds: f64) {
        let seconds = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
        let slot = self.bounds.partition_point(|b| *b < seconds);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + seconds).to_bits())
            });
    }

    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }
}

/// Writes the Prometheus text exposition format (version 0.0.4).
#[derive(Default)]
pub struct Exposition {
    out: String,
}

/// The `Content-Type` of [`Exposition::finish`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Exposition {
    /// Starts a family; its samples must follow before the next family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// A histogram's `_bucket`, `_sum` and `_count` samples.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0u64;
        for (i, bucket) in h.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = match h.bounds.get(i) {
                Some(bound) => format!("{bound}"),
                None => "+Inf".to_owned(),
            };
            let _ = write!(self.out, "{name}_bucket");
            write_labels(&mut self.out, labels, Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let _ = write!(self.out, "{name}_sum");
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", h.sum());
        let _ = write!(self.out, "{name}_count");
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {cumulative}");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (key, value) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{key}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Router commands, as [`crate::router::command::Command::kind`] names them,
/// and `bootstrap` for every query and change `tgate router bootstrap` sends.
pub const ROUTER_COMMANDS: [&str; 8] = [
    "add-address",
    "remove-address",
    "print-list",
    "print-ppp-active",
    "find-ppp-active",
    "remove-ppp-active",
    "identity",
    "bootstrap",
];

/// Why a router command failed, one word per [`RouterError`] from the router.
pub const ROUTER_ERRORS: [&str; 6] = [
    "unreachable",
    "timeout",
    "auth",
    "host_key",
    "permission",
    "command",
];

/// Round trips to a router: a few ms on a LAN, up to the command timeout.
const ROUTER_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The Bot API methods tgate's notifier calls.
pub const TELEGRAM_METHODS: [&str; 3] = ["sendMessage", "editMessageText", "getMe"];

/// Why a Telegram call failed: told to wait, no answer, a 5xx or garbage,
/// or a definite refusal.
pub const TELEGRAM_ERRORS: [&str; 4] = ["retry_after", "network", "server", "refused"];

const TELEGRAM_BUCKETS: &[f64] = &[0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// One router's series. Its client holds it, so recording is an index and
/// an atomic add.
#[derive(Debug)]
pub struct RouterMetrics {
    router: RouterName,
    commands: [Histogram; ROUTER_COMMANDS.len()],
    errors: [Counter; ROUTER_ERRORS.len()],
}

impl RouterMetrics {
    fn new(router: RouterName) -> RouterMetrics {
        RouterMetrics {
            router,
            commands: std::array::from_fn(|_| Histogram::new(ROUTER_BUCKETS)),
            errors: Default::default(),
        }
    }

    /// A command's round trip, whatever its result.
    pub fn observe(&self, command: &str, elapsed: Duration) {
        match ROUTER_COMMANDS.iter().position(|c| *c == command) {
            Some(i) => self.commands[i].observe_duration(elapsed),
            None => debug_assert!(false, "router command {command:?} has no metric"),
        }
    }

    /// A failed command; a request refused before it was sent is not counted.
    pub fn error(&self, error: &RouterError) {
        let kind = match error {
            RouterError::Unreachable { .. } => 0,
            RouterError::Timeout { .. } => 1,
            RouterError::Auth { .. } => 2,
            RouterError::HostKeyMismatch { .. } => 3,
            RouterError::Permission { .. } => 4,
            RouterError::Command { .. } => 5,
            RouterError::Invalid(_) => return,
        };
        self.errors[kind].inc();
    }

    /// Commands of this kind observed so far.
    pub fn count(&self, command: &str) -> u64 {
        ROUTER_COMMANDS
            .iter()
            .position(|c| *c == command)
            .map_or(0, |i| self.commands[i].count())
    }
}

/// One Bot API method's series.
#[derive(Debug)]
struct TelegramMethod {
    calls: Histogram,
    errors: [Counter; TELEGRAM_ERRORS.len()],
}

/// The outcome of one Telegram call, for [`CoreMetrics::telegram_call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelegramOutcome {
    Ok,
    RetryAfter,
    Network,
    Server,
    Refused,
}

/// The process-wide series of core's clients.
pub struct CoreMetrics {
    /// Registered when a router's client is built; read at scrape time.
    routers: Mutex<Vec<Arc<RouterMetrics>>>,
    telegram: [TelegramMethod; TELEGRAM_METHODS.len()],
}

static GLOBAL: LazyLock<CoreMetrics> = LazyLock::new(|| CoreMetrics {
    routers: Mutex::new(Vec::new()),
    telegram: std::array::from_fn(|_| TelegramMethod {
        calls: Histogram::new(TELEGRAM_BUCKETS),
        errors: Default::default(),
    }),
});

/// The process's registry.
pub fn global() -> &'static CoreMetrics {
    &GLOBAL
}

impl CoreMetrics {
    /// The series of `router`, shared by every client of that router in the
    /// process; cardinality is bounded by the configured routers.
    pub fn router(&self, router: &RouterName) -> Arc<RouterMetrics> {
        let mut routers = self.routers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = routers.iter().find(|m| &m.router == router) {
            return found.clone();
        }
        let created = Arc::new(RouterMetrics::new(router.clone()));
        routers.push(created.clone());
        created
    }

    /// One attempt of a Bot API call: its time and, if it failed, why.
    pub fn telegram_call(&self, method: &str, elapsed: Duration, outcome: TelegramOutcome) {
        let Some(m) = TELEGRAM_METHODS.iter().position(|x| *x == method) else {
            debug_assert!(false, "Telegram method {method:?} has no metric");
            return;
        };
        let m = &self.telegram[m];
        m.calls.observe_duration(elapsed);
        let kind = match outcome {
            TelegramOutcome::Ok => return,
            TelegramOutcome::RetryAfter => 0,
            TelegramOutcome::Network => 1,
            TelegramOutcome::Server => 2,
            TelegramOutcome::Refused => 3,
        };
        m.errors[kind].inc();
    }

    /// Writes every core series.
    pub fn render(&self, out: &mut Exposition) {
        out.family(
            "tgate_build_info",
            "gauge",
            "Always 1; the version label says which tgate is running.",
        );
        out.sample(
            "tgate_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );

        let mut routers: Vec<Arc<RouterMetrics>> = self
            .routers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        routers.sort_by(|a, b| a.router.as_str().cmp(b.router.as_str()));
        out.family(
            "tgate_router_command_seconds",
            "histogram",
            "Time from sending a command to a router to its answer, failures included.",
        );
        for r in &routers {
            for (command, h) in ROUTER_COMMANDS.iter().zip(&r.commands) {
                let labels = [("router", r.router.as_str()), ("command", *command)];
                out.histogram("tgate_router_command_seconds", &labels, h);
            }
        }
        out.family(
            "tgate_router_command_errors_total",
            "counter",
            "Router commands that failed, by why.",
        );
        for r in &routers {
            for (kind, c) in ROUTER_ERRORS.iter().zip(&r.errors) {
                let labels = [("router", r.router.as_str()), ("kind", *kind)];
                out.sample("tgate_router_command_errors_total", &labels, c.get());
            }
        }

        out.family(
            "tgate_telegram_call_seconds",
            "histogram",
            "Time of each Bot API request (each retry counts), failures included.",
        );
        for (method, m) in TELEGRAM_METHODS.iter().zip(&self.telegram) {
            out.histogram(
                "tgate_telegram_call_seconds",
                &[("method", method)],
                &m.calls,
            );
        }
        out.family(
            "tgate_telegram_errors_total",
            "counter",
            "Bot API requests that failed, by why.",
        );
        for (method, m) in TELEGRAM_METHODS.iter().zip(&self.telegram) {
            for (kind, c) in TELEGRAM_ERRORS.iter().zip(&m.errors) {
                let labels = [("method", *method), ("kind", *kind)];
                out.sample("tgate_telegram_errors_total", &labels, c.get());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let h = Histogram::new(&[1.0, 5.0]);
        h.observe(0.5);
        h.observe(1.0);
        h.observe(3.0);
        h.observe(100.0);
        let mut out = Exposition::default();
        out.family("x_seconds", "histogram", "test");
        out.histogram("x_seconds", &[("a", "b")], &h);
        let text = out.finish();
        let expected = "\
# HELP x_seconds test
# TYPE x_seconds histogram
x_seconds_bucket{a=\"b\",le=\"1\"} 2
x_seconds_bucket{a=\"b\",le=\"5\"} 3
x_seconds_bucket{a=\"b\",le=\"+Inf\"} 4
x_seconds_sum{a=\"b\"} 104.5
x_seconds_count{a=\"b\"} 4
";
        assert_eq!(text, expected);
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::default();
        out.sample("x", &[("v", "a\"b\\c\nd")], 1);
        assert_eq!(out.finish(), "x{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn one_router_series_per_name() {
        let name: RouterName = "metrics-unit-test".parse().unwrap();
        let a = global().router(&name);
        let b = global().router(&name);
        assert!(Arc::ptr_eq(&a, &b));
        a.observe("identity", Duration::from_millis(3));
        assert_eq!(b.count("identity"), 1);
    }
}
