//! One module per top-level subcommand (`task_create` holds `task create`'s flags, `demo` the
//! demo project).

pub mod admin;
pub mod agent;
pub mod bench;
pub mod demo;
pub mod server;
pub mod task;
pub mod task_create;
