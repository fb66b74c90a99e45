//! End-to-end scenarios: the real `runyard` binary on loopback, each run on SQLite and on a
//! throwaway PostgreSQL 15 server.

mod access;
mod agent;
mod agent_death;
mod auth;
mod bad_input;
mod batch;
mod changes;
mod clearml;
mod clearml_access;
mod clearml_automation;
mod clearml_bad_input;
mod clearml_files;
mod clearml_metrics;
mod clearml_reads;
mod cli;
mod dispatch;
mod docker;
mod fencing;
mod floats;
mod harness;
mod isolation;
mod lifecycle;
mod limits;
mod projects;
mod property;
mod table;
mod tracking;
