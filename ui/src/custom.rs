//! Custom context-menu actions: entries defined in the server's configuration (a label, the
//! statuses they apply to, an HTTP method and a URL template), issued by the server when a user
//! picks one, so credentials in them never reach the browser.
//!
//! ```toml
//! [[action]]
//! name = "notify"
//! label = "Notify the team"
//! states = ["completed", "failed"]        # any status when absent
//! method = "POST"                         # POST when absent
//! url = "https://hooks.example/runs?tasks={ids}"   # {ids}: the ids, comma-separated; {id}: one request per task
//! body = '{"tasks": {ids_json}}'          # optional; {ids_json}: the ids as a JSON array, {id} as above
//! headers = { Authorization = "Bearer …" }
//! ```

use runyard_api::ui::{CustomAction, CustomActionCall, CustomActionResult};
use runyard_api::TaskStatus;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::services::access;
use runyard_daemon::store::{Principal, Store};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One action as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub states: Vec<TaskStatus>,
    #[serde(default = "post")]
    pub method: String,
    pub url: String,
    pub body: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn post() -> String {
    "POST".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsFile {
    #[serde(default)]
    action: Vec<ActionConfig>,
}

/// Reads the `[[action]]` entries of a TOML file; the error names the file and the entry.
pub fn load_actions(path: &Path) -> anyhow::Result<Vec<ActionConfig>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let file: ActionsFile = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(file.action)
}

pub struct Actions {
    store: Arc<Store>,
    actions: Vec<ActionConfig>,
    client: reqwest::Client,
}

impl Actions {
    /// Checks every action (unique names, a known method, an http(s) URL).
    pub fn new(store: Arc<Store>, mut actions: Vec<ActionConfig>) -> anyhow::Result<Actions> {
        let mut names = std::collections::HashSet::new();
        for a in &mut actions {
            a.method = a.method.to_uppercase();
            anyhow::ensure!(
                !a.name.is_empty() && names.insert(a.name.clone()),
                "custom action '{}': names must be unique and non-empty",
                a.name
            );
            anyhow::ensure!(
                reqwest::Method::from_bytes(a.method.as_bytes()).is_ok(),
                "custom action '{}': method '{}' is not an HTTP method",
                a.name,
                a.method
            );
            anyhow::ensure!(
                a.url.starts_with("http://") || a.url.starts_with("https://"),
                "custom action '{}': the url must start with http:// or https://",
                a.name
            );
        }
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Actions { store, actions, client })
    }

    pub fn list(&self) -> Vec<CustomAction> {
        self.actions
            .iter()
            .map(|a| CustomAction { name: a.name.clone(), label: a.label.clone(), states: a.states.clone() })
            .collect()
    }

    /// Issues the action for the tasks in a status it applies to.
    /// Runs a custom action for the tasks `who` may change (their own; an admin's, any) in a
    /// status it applies to; the others are skipped.
    pub async fn run(&self, who: &Principal, name: &str, ids: &[String]) -> Result<CustomActionResult> {
        access::person(who, "run custom actions")?;
        let action = self
            .actions
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::NotFound { kind: "custom action", id: name.to_string() })?;
        if ids.is_empty() || ids.len() > 1000 {
            return Err(Error::invalid("ids", "give 1 to 1000 task ids"));
        }
        let (mut applied, mut skipped) = (Vec::new(), Vec::new());
        let valid: Vec<&str> = ids.iter().map(String::as_str).filter(|id| runyard_api::is_valid_id(id)).collect();
        let heads = self.store.read_heads(&valid).await?;
        for id in ids {
            if heads.get(id).is_some_and(|h| access::edit(who, &access::TaskAccess::of(h)).is_err()) {
                skipped.push(id.clone());
                continue;
            }
            match self.store.get_task(id).await {
                Ok(t) if action.states.is_empty() || action.states.contains(&t.status) => applied.push(id.clone()),
                Ok(_) | Err(Error::NotFound { .. }) => skipped.push(id.clone()),
                Err(e) => return Err(e),
            }
        }
        let mut calls = Vec::new();
        let per_task = action.url.contains("{id}") || action.body.as_deref().is_some_and(|b| b.contains("{id}"));
        if per_task {
            for id in &applied {
                calls.push(self.call(action, std::slice::from_ref(id), Some(id.clone())).await);
            }
        } else if !applied.is_empty() {
            calls.push(self.call(action, &applied, None).await);
        }
        Ok(CustomActionResult { action: name.to_string(), applied, skipped, calls })
    }

    async fn call(&self, action: &ActionConfig, ids: &[String], task: Option<String>) -> CustomActionCall {
        let fill = |template: &str| {
            template
                .replace("{ids_json}", &serde_json::to_string(ids).unwrap_or_default())
                .replace("{ids}", &ids.join(","))
                .replace("{id}", ids.first().map(String::as_str).unwrap_or(""))
        };
        let method = reqwest::Method::from_bytes(action.method.as_bytes()).expect("checked by Actions::new");
        let mut request = self.client.request(method, fill(&action.url));
        for (k, v) in &action.headers {
            request = request.header(k, v);
        }
        if let Some(body) = &action.body {
            request = request.header("content-type", "application/json").body(fill(body));
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut body = response.text().await.unwrap_or_default();
                let mut end = body.len().min(2000);
                while !body.is_char_boundary(end) {
                    end -= 1;
                }
                body.truncate(end);
                CustomActionCall { task, status: Some(status), body }
            }
            Err(e) => {
                tracing::warn!(action = %action.name, error = %e, "custom action request failed");
                CustomActionCall { task, status: None, body: e.to_string() }
            }
        }
    }
}
