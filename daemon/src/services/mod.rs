//! Business rules over the store: validation, the task lifecycle, dispatch and the watchdog.

pub mod access;
pub mod console;
pub mod dispatch;
pub mod fleet;
pub mod group;
pub mod projects;
pub mod tasks;
