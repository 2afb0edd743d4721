//! End-to-end tests: real nodes over real HTTP. One binary, many modules (fast links).

// Tests state their expectations with `expect`: a failed one is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod harness;

mod accounts;
mod cli;
mod event_log;
mod federation_actors;
mod federation_blocks;
mod federation_delivery;
mod federation_departed;
mod federation_domain_blocks;
mod federation_fedify;
mod federation_follows;
mod federation_reblogs;
mod federation_signatures;
mod federation_statuses;
pub mod follows;
mod home_feed;
mod ipfs;
mod mastodon_py;
pub mod media;
mod oauth;
mod reblogs;
mod replay;
mod search;
pub mod statuses;
mod web;
mod web_e2e;
