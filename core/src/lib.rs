//! tgate's core: the domain (validated names, the session state machine), the
//! router client behind the [`router::Gateway`] trait, storage on SQLite and
//! PostgreSQL, and configuration. The HTTP API, the Telegram watcher and the
//! worker are thin layers over this crate.

pub mod config;
pub mod domain;
pub mod enroll;
pub mod gate;
pub mod http;
pub mod metrics;
pub mod router;
pub mod storage;
pub mod telegram;
