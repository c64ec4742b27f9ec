// The migrations are embedded at compile time (`sqlx::migrate!`); without
// this, a new migration file alone would not rebuild the crate, and the
// binary would run without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
