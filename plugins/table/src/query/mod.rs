//! The task table's query engine: a [`TableQuery`] to a page of rows, in two steps. The first
//! statement selects and orders the page's task ids alone (filters as `IN (subquery)` over
//! indexed tables, sort keys as joined columns, keyset paging from the cursor); the second
//! loads the shown columns of just those tasks.
//!
//! `plan` turns the query into SQL and picks how to find the ids, `page` pages them by keyset
//! cursor, `rows` reads the shown columns.

mod page;
mod plan;
mod rows;

pub use page::{count, page_ids};
pub(crate) use plan::{agg_column, column_expr, AtomType};
pub use plan::{plan, Plan};
pub use rows::rows;

use runyard_api::table::{Column, TablePage, TableQuery};
use runyard_daemon::error::Result;
use runyard_daemon::store::Store;

/// One page of the table.
pub async fn page(store: &Store, q: &TableQuery) -> Result<TablePage> {
    let now = chrono::Utc::now().timestamp_millis();
    let plan = plan(store, q, now).await?;
    let (ids, next) = page_ids(store, &plan, q.cursor.as_deref(), q.limit).await?;
    let columns: Vec<&Column> = q.visible_columns().collect();
    let rows = rows(store, &ids, &columns, now).await?;
    Ok(TablePage { columns: columns.iter().map(|c| c.to_string()).collect(), rows, next })
}
