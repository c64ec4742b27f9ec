//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the
//! migration files at compile time, and without this a new file alone would
//! not trigger a rebuild, so the binary would run without it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
