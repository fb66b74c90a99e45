//! One module per top-level subcommand.

pub mod admin;
pub mod agent;
pub mod bench;
pub mod server;
pub mod task;
