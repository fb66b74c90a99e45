//! Projects: a flat table of full paths; `a/b` is a subproject of `a`.

use super::{col, new_id, now_ms, to_time, Store};
use crate::error::{Error, Result};
use runyard_api::{is_valid_id, validate_project_name, Change, Project, UpdateProject};
use sqlx::{AnyConnection, Row};

impl Store {
    /// Finds the project `path`, creating it and its missing ancestors. Returns its id. The
    /// caller may remember it with [`Store::cache_project_id`] once its transaction committed.
    pub async fn ensure_project(&self, conn: &mut AnyConnection, path: &str, user_id: &str) -> Result<String> {
        validate_project_name(path).map_err(|m| Error::invalid("project", m))?;
        if let Some(id) = self.cached_project_id(path) {
            return Ok(id);
        }
        if let Some(id) = Self::project_id_by_name(conn, path).await? {
            return Ok(id);
        }
        let mut prefix = String::new();
        let mut id = String::new();
        for segment in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(segment);
            sqlx::query(
                "INSERT INTO projects (id, name, description, user_id, created) VALUES ($1, $2, '', $3, $4) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(new_id())
            .bind(&prefix)
            .bind(user_id)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
            id = Self::project_id_by_name(conn, &prefix).await?.expect("just inserted");
        }
        Ok(id)
    }

    async fn project_id_by_name(conn: &mut AnyConnection, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT id FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?
            .map(|r| r.get("id")))
    }

    /// Resolves a project given by id or by path to `(id, path)`.
    pub async fn resolve_project(&self, id_or_name: &str) -> Result<(String, String)> {
        Self::resolve_project_in(&mut *self.pool.acquire().await?, id_or_name).await
    }

    /// [`Store::resolve_project`] on a given connection (inside a transaction).
    pub async fn resolve_project_in(conn: &mut AnyConnection, id_or_name: &str) -> Result<(String, String)> {
        let row = sqlx::query("SELECT id, name FROM projects WHERE id = $1 OR name = $1")
            .bind(id_or_name)
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| Error::not_found("project", id_or_name))?;
        Ok((row.get("id"), row.get("name")))
    }

    pub async fn create_project(&self, name: &str, description: &str, user_id: &str) -> Result<Project> {
        validate_project_name(name).map_err(|m| Error::invalid("name", m))?;
        let mut tx = self.write().await?;
        if Self::project_id_by_name(&mut tx, name).await?.is_some() {
            return Err(Error::Conflict(format!("a project named '{name}' exists already")));
        }
        let id = self.ensure_project(&mut tx, name, user_id).await?;
        sqlx::query("UPDATE projects SET description = $1 WHERE id = $2")
            .bind(description)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        self.project(&id).await
    }

    /// Changes a project's description and/or renames it, its subprojects moving with it
    /// (missing parents of the new path are created). Tasks keep their project id.
    pub async fn update_project(&self, id_or_name: &str, update: &UpdateProject, user_id: &str) -> Result<Project> {
        let mut tx = self.write().await?;
        let (id, old) = Self::resolve_project_in(&mut tx, id_or_name).await?;
        if let Some(description) = &update.description {
            sqlx::query("UPDATE projects SET description = $1 WHERE id = $2")
                .bind(description)
                .bind(&id)
                .execute(&mut **tx)
                .await?;
        }
        if let Some(name) = update.name.as_deref().map(|n| n.trim_matches('/')).filter(|n| *n != old) {
            validate_project_name(name).map_err(|m| Error::invalid("name", m))?;
            if name.starts_with(&format!("{old}/")) {
                return Err(Error::invalid("name", format!("cannot move project '{old}' inside itself")));
            }
            let moved =
                sqlx::query("SELECT id, name FROM projects WHERE id = $1 OR substr(name, 1, CAST($2 AS INTEGER)) = $3")
                    .bind(&id)
                    .bind(old.len() as i64 + 1)
                    .bind(format!("{old}/"))
                    .fetch_all(&mut **tx)
                    .await?;
            for row in &moved {
                let path = format!("{name}{}", &row.get::<String, _>("name")[old.len()..]);
                if Self::project_id_by_name(&mut tx, &path).await?.is_some() {
                    return Err(Error::Conflict(format!("a project named '{path}' exists already")));
                }
            }
            if let Some((parent, _)) = name.rsplit_once('/') {
                self.ensure_project(&mut tx, parent, user_id).await?;
            }
            sqlx::query(
                "UPDATE projects SET name = $1 || substr(name, CAST($2 AS INTEGER)) \
                 WHERE id = $3 OR substr(name, 1, CAST($4 AS INTEGER)) = $5",
            )
            .bind(name)
            .bind(old.len() as i64 + 1)
            .bind(&id)
            .bind(old.len() as i64 + 1)
            .bind(format!("{old}/"))
            .execute(&mut **tx)
            .await?;
            for row in &moved {
                tx.changed(Change::Project { id: row.get("id") });
            }
        }
        tx.changed(Change::Project { id: id.clone() });
        tx.commit().await?;
        self.project(&id).await
    }

    /// A project (by id or path) and its subprojects, as `(id, path)`, the project first; and
    /// the id of the user who made it.
    pub async fn project_subtree(&self, id_or_name: &str) -> Result<(Vec<(String, String)>, Option<String>)> {
        let mut conn = self.pool.acquire().await?;
        let (id, path) = Self::resolve_project_in(&mut conn, id_or_name).await?;
        let owner: Option<String> = sqlx::query("SELECT user_id FROM projects WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *conn)
            .await?
            .try_get("user_id")?;
        let rows = sqlx::query("SELECT id, name FROM projects WHERE substr(name, 1, CAST($1 AS INTEGER)) = $2")
            .bind(path.len() as i64 + 1)
            .bind(format!("{path}/"))
            .fetch_all(&mut *conn)
            .await?;
        let mut subtree = vec![(id, path)];
        subtree.extend(rows.iter().map(|r| (r.get("id"), r.get("name"))));
        Ok((subtree, owner))
    }

    /// The tasks of the given projects, as `(id, archived)`.
    pub async fn tasks_in_projects(&self, projects: &[String]) -> Result<Vec<(String, bool)>> {
        let select = sea_query::Query::select()
            .columns([col("id"), col("archived")])
            .from(col("tasks"))
            .and_where(sea_query::Expr::col(col("project_id")).is_in(projects.iter().map(String::as_str)))
            .to_owned();
        let rows = super::fetch_all(&mut *self.pool.acquire().await?, &select).await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("archived")? != 0))).collect()
    }

    /// Deletes projects that hold no tasks; one that gained a task meanwhile is a conflict.
    pub async fn delete_projects(&self, ids: &[String]) -> Result<()> {
        let mut tx = self.write().await?;
        for id in ids {
            let held = sqlx::query("SELECT 1 FROM tasks WHERE project_id = $1 LIMIT 1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
            if held.is_some() {
                return Err(Error::Conflict(format!("project '{id}' gained a task meanwhile; try again")));
            }
            sqlx::query("DELETE FROM projects WHERE id = $1").bind(id).execute(&mut **tx).await?;
            tx.changed(Change::Project { id: id.clone() });
        }
        tx.commit().await
    }

    pub async fn project(&self, id_or_name: &str) -> Result<Project> {
        let key = if is_valid_id(id_or_name) { "p.id" } else { "p.name" };
        let sql = format!("{PROJECT_SELECT} WHERE {key} = $1");
        let row = sqlx::query(&sql)
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("project", id_or_name))?;
        Ok(project_from_row(&row))
    }

    pub async fn list_projects(&self) -> Result<Vec<Project>> {
        let sql = format!("{PROJECT_SELECT} ORDER BY p.name");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(project_from_row).collect())
    }
}

/// Each project's active tasks are counted on the `tasks (project_id, archived, …)` index: a
/// join grouped by project made SQLite read the whole tasks table (1 s at 100,000 tasks).
const PROJECT_SELECT: &str = "SELECT p.id, p.name, p.description, p.created, COALESCE(u.name, '') AS user_name, \
     (SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id AND t.archived = 0) AS task_count \
     FROM projects p LEFT JOIN users u ON u.id = p.user_id";

fn project_from_row(r: &sqlx::any::AnyRow) -> Project {
    Project {
        id: r.get("id"),
        name: r.get("name"),
        description: r.get("description"),
        created: to_time(r.get("created")),
        user: r.get("user_name"),
        task_count: r.get::<i64, _>("task_count") as u64,
    }
}
