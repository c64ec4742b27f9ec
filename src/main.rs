//! The `tgate` binary: the all-in-one server and the admin CLI.

fn main() {}
