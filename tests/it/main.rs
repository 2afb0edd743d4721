//! End-to-end tests: real nodes over real HTTP. One binary, many modules (fast links).

// Tests state their expectations with `expect`: a failed one is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod harness;

mod accounts;
mod cli;
mod event_log;
mod ipfs;
mod mastodon_py;
mod oauth;
mod replay;
