//! The task table's query model, shared by the API (`GET /api/v1/table/tasks`), the CLI
//! (`runyard task list --filter …`) and the web UI's URL: one text syntax, so a link, a
//! command line and a saved view say the same thing.
//!
//! **Columns** are named by ids: the built-in ones (`name`, `status`, `started`, …, see
//! [`Builtin`]), `metric:<metric>/<variant>.<last|min|max>`, `param:<section>/<name>` and
//! `prop:<name>` (a user property). Inside a name, the characters `% / . , : ~ ! < > =`, spaces
//! and control characters are percent-encoded (`metric:train%2Floss/value.last`).
//!
//! **Filters** are `<column> <op> <value>`:
//! - value sets: `status in completed,failed`, `param:Args/lr = 0.1,0.01`, `user not in bot`;
//! - ranges on numbers and dates: `metric:loss/val.last < 0.3`, `iteration >= 1000`,
//!   `started = 2026-11-01..2026-11-27`, `runtime > 3600` (seconds); several comparisons of
//!   one column narrow its range;
//! - tags: `tags any a,b,!c` (any of a, b; not c), `tags all a,b`.
//!
//! Values in a list are percent-encoded like names. **Sort** is a comma list of column ids,
//! `-` for descending (`-metric:acc/val.max,name`); tasks lacking a value come last, ties
//! fall back to the newest task first.
//!
//! `columns` names the columns, `query` is the query model, `pages` what the reads answer,
//! `views` saved states, `compare` the comparison data.

mod columns;
mod compare;
mod pages;
mod query;
mod views;

pub use columns::*;
pub use compare::*;
pub use pages::*;
pub use query::*;
pub use views::*;
