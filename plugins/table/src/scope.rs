//! The project a table query is scoped to.

use crate::sql::Sql;
use runyard_daemon::error::Result;
use runyard_daemon::store::Store;

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
    pub fn on(&self, column: &str) -> Sql {
        let mut sql = Sql::new(column);
        if self.subprojects {
            sql.push(" IN (SELECT id FROM projects WHERE name = ")
                .bind(self.path.as_str())
                .push(" OR substr(name, 1, CAST(")
                .bind(self.path.len() as i64 + 1)
                .push(" AS INTEGER)) = ")
                .bind(format!("{}/", self.path))
                .push(")");
        } else {
            sql.push(" = ").bind(self.id.as_str());
        }
        sql
    }
}
