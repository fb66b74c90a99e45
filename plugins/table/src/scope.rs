//! The project a table query is scoped to.

use crate::sql::{c, col};
use runyard_daemon::error::Result;
use runyard_daemon::store::Store;
use sea_query::{Expr, ExprTrait, Func, Query, SimpleExpr};

/// A project with (or without) its subprojects, resolved once, rendered as a condition on
/// any column holding a project id.
pub struct ProjectScope {
    id: String,
    path: String,
    subprojects: bool,
}

impl ProjectScope {
    /// `None` for all projects; a 404 for an unknown one.
    pub async fn resolve(store: &Store, project: Option<&str>, subprojects: bool) -> Result<Option<ProjectScope>> {
        let Some(project) = project else { return Ok(None) };
        let (id, path) = store.resolve_project(project).await?;
        Ok(Some(ProjectScope { id, path, subprojects }))
    }

    /// `column` within the scope.
    pub fn on(&self, column: SimpleExpr) -> SimpleExpr {
        if !self.subprojects {
            return column.eq(self.id.as_str());
        }
        // The project itself, or a name under `path/`.
        let prefix = Func::cust(col("substr")).args([
            c("name"),
            Expr::val(1).into(),
            Func::cast_as(self.path.len() as i64 + 1, col("INTEGER")).into(),
        ]);
        let projects = Query::select()
            .column(col("id"))
            .from(col("projects"))
            .and_where(c("name").eq(self.path.as_str()).or(SimpleExpr::from(prefix).eq(format!("{}/", self.path))))
            .to_owned();
        column.in_subquery(projects)
    }
}
