//! Business rules over the store: validation and the task lifecycle.

pub mod creator;
pub mod tasks;
