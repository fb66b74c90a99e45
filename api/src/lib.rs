//! The Runyard wire contract.
//!
//! **API Boundary.** Everything that crosses the network is a type in this crate: the task
//! model and its requests ([`model`]), the error body ([`error`]), and the task lifecycle
//! ([`lifecycle`]), which is pure code. [`client`] is a typed HTTP client over them.
//!
//! Architecture invariant: this crate does no IO of its own except through [`client::Client`],
//! and depends on no other crate of the workspace.

pub mod client;
pub mod console;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod lifecycle;
pub mod model;
pub mod projects;
pub mod rules;
pub mod table;
pub mod tracking;
pub mod ui;

pub use client::{Client, ClientError};
pub use console::*;
pub use dispatch::*;
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use events::{Change, EventsQuery};
pub use lifecycle::{transition, Action, InvalidTransition, TaskState, TaskStatus, Transition};
pub use model::*;
pub use projects::*;
