//! The `peerpx` binary's library half: configuration, wiring and the CLI commands.
//!
//! Integration tests start nodes in-process through [`node::Node`] as well as through the
//! binary. Nothing here holds domain rules: they live in `peerpx-aggregates`.

pub mod cli;
pub mod config;
pub mod node;

pub use node::{Node, NodeConfig, Store};
