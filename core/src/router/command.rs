//! RouterOS commands rendered from typed values. (Filled in with the SSH client.)
