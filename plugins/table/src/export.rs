//! CSV export: the rows a query selects (or the given `ids`), with exactly its visible
//! columns in their order, streamed page by page (no row limit), RFC 4180 quoting, numbers at
//! full precision.

use crate::query::{self, Plan};
use bytes::Bytes;
use futures::stream::{self, Stream};
use runyard_api::table::{Column, TableQuery, TableRow};
use runyard_daemon::error::Result;
use runyard_daemon::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// Rows fetched per page while streaming.
const PAGE: u32 = 5000;

/// A cell as CSV text: numbers as given (shortest round-trip form), lists joined by `, `,
/// missing values empty.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn encode(header: Option<&[String]>, rows: &[TableRow]) -> std::io::Result<Bytes> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 128));
    if let Some(h) = header {
        w.write_record(h)?;
    }
    for r in rows {
        w.write_record(r.values.iter().map(cell))?;
    }
    w.into_inner().map(Bytes::from).map_err(|e| e.into_error())
}

struct State {
    store: Arc<Store>,
    plan: Plan,
    columns: Vec<Column>,
    header: Option<Vec<String>>,
    cursor: Option<String>,
    done: bool,
}

/// The query's CSV: the plan is built first (so a bad query is refused before anything is
/// sent), then each page is read as the client consumes the previous one.
pub async fn csv(store: Arc<Store>, q: &TableQuery) -> Result<impl Stream<Item = std::io::Result<Bytes>>> {
    let now = chrono::Utc::now().timestamp_millis();
    let plan = query::plan(&store, q, now).await?;
    let columns: Vec<Column> = q.visible_columns().cloned().collect();
    let header = Some(columns.iter().map(ToString::to_string).collect());
    let state = State { store, plan, columns, header, cursor: q.cursor.clone(), done: false };
    Ok(stream::unfold(state, move |mut s| async move {
        if s.done {
            return None;
        }
        let page: Result<(Vec<TableRow>, Option<String>)> = async {
            let (ids, next) = query::page_ids(&s.store, &s.plan, s.cursor.as_deref(), PAGE).await?;
            let refs: Vec<&Column> = s.columns.iter().collect();
            let rows = query::rows(&s.store, &ids, &refs, now).await?;
            Ok((rows, next))
        }
        .await;
        let chunk = match page {
            Ok((rows, next)) => {
                s.done = next.is_none();
                s.cursor = next;
                encode(s.header.take().as_deref(), &rows)
            }
            Err(e) => {
                // The status line is sent already: end the body early, so the client sees a
                // truncated transfer rather than a complete-looking file.
                s.done = true;
                tracing::error!(error = %e, "CSV export failed part-way");
                Err(std::io::Error::other(e.to_string()))
            }
        };
        Some((chunk, s))
    }))
}
