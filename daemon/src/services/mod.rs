//! Business rules over the store: validation and the task lifecycle.

pub mod tasks;
