//! Parsing RouterOS's printed output and error wording. (Filled in with the SSH client.)
