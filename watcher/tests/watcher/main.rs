//! The watcher's component tests, built as one binary: a real watcher on the
//! Bot API simulator, with a scripted fake of tgate's API behind it.

mod admin;
mod commands;
mod polling;
mod presses;
mod support;
