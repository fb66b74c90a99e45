//! Who may do what through ClearML's API: every endpoint the plugin serves, called as an admin,
//! as the owner of what it touches, as another user and as an agent, each on fresh fixtures,
//! each expecting the rule the native API keeps. The plugin's own list of endpoints is read
//! from its source, so a new endpoint cannot go without a row.

use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{Client, CreateUser, Role};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

// Allowed or refused (403) for admin, owner, other user and agent in turn, as in the native matrix.
use crate::access::{ADMIN, MACHINE, OWNER, PEOPLE, READ};

/// What each call acts on, made afresh by the owner (the queue by the admin, the worker by the
/// agent).
struct Fixture {
    project: String,
    draft: String,
    pending: String,
    queue: String,
    model: String,
    worker: String,
    unique: String,
}

/// One endpoint: its body on a fixture and who may call it.
fn rule(endpoint: &str, f: &Fixture) -> Option<(Value, [bool; 4])> {
    let task = json!({"task": f.draft});
    let model = json!({"model": f.model});
    Some(match endpoint {
        "projects.get_all"
        | "projects.get_all_ex"
        | "tasks.get_all"
        | "tasks.get_all_ex"
        | "tasks.get_by_id_ex"
        | "models.get_all"
        | "models.get_all_ex"
        | "queues.get_all"
        | "queues.get_all_ex"
        | "queues.get_default" => (json!({}), READ),
        "projects.get_by_id"
        | "projects.validate_delete"
        | "projects.get_unique_metric_variants"
        | "projects.get_task_parents" => (json!({"project": f.project}), READ),
        "workers.get_stats" => (
            json!({"from_date": 0, "to_date": 1e9, "interval": 1e8, "items": [{"key": "cpu_usage", "aggregation": "avg"}]}),
            READ,
        ),
        "workers.get_activity_report" => (json!({"from_date": 0, "to_date": 1e9, "interval": 1e8}), READ),
        "users.get_current_user"
        | "workers.get_metric_keys"
        | "workers.get_all"
        | "workers.get_count"
        | "tasks.get_types"
        | "models.get_frameworks" => (json!({}), READ),
        "users.get_by_id" => (json!({"user": f.unique}), READ),
        "projects.get_task_tags"
        | "projects.get_model_tags"
        | "projects.get_project_tags"
        | "projects.get_hyper_parameters"
        | "projects.get_model_metadata_keys"
        | "organization.get_tags" => (json!({"projects": [f.project], "project": f.project}), READ),
        "projects.get_hyperparam_values" => (json!({"projects": [f.project], "section": "Args", "name": "lr"}), READ),
        "projects.get_model_metadata_values" => (json!({"key": "k"}), READ),
        "queues.peek_task" => (json!({"queue": f.queue}), READ),
        "queues.get_queue_metrics" => (json!({"queue_ids": [f.queue], "from_date": 0, "to_date": 1e10}), READ),
        "queues.update" => (json!({"queue": f.queue, "tags": ["t"]}), ADMIN),
        "queues.add_or_update_metadata" => {
            (json!({"queue": f.queue, "metadata": [{"key": "k", "value": "v", "type": "str"}]}), ADMIN)
        }
        "queues.delete_metadata" => (json!({"queue": f.queue, "keys": ["k"]}), ADMIN),
        "queues.clear_queue" => (json!({"queue": f.queue}), OWNER),
        "tasks.update" => (json!({"task": f.draft, "comment": "changed"}), OWNER),
        "tasks.update_tags" => (json!({"ids": [f.draft], "add_tags": ["t"]}), OWNER),
        "models.update_tags" => (json!({"ids": [f.model], "add_tags": ["t"]}), OWNER),
        "models.delete_metadata" => (json!({"model": f.model, "keys": ["k"]}), OWNER),
        "models.publish_many" => (json!({"ids": [f.model]}), OWNER),
        "events.scalar_metrics_iter_raw" => (json!({"task": f.draft, "metric": {"metric": "m"}}), READ),
        "events.multi_task_scalar_metrics_iter_histogram" => (json!({"tasks": [f.draft]}), READ),
        "projects.delete" => (json!({"project": f.project, "force": true, "delete_contents": true}), OWNER),
        "tasks.archive" => (json!({"tasks": [f.draft]}), OWNER),
        "tasks.move" => (json!({"ids": [f.draft], "project_name": f.unique}), OWNER),
        "tasks.get_by_id"
        | "tasks.get_hyper_params"
        | "tasks.get_configurations"
        | "tasks.get_configuration_names"
        | "events.get_task_log"
        | "events.get_task_events"
        | "events.scalar_metrics_iter_histogram"
        | "events.get_task_single_value_metrics"
        | "events.get_task_plots"
        | "events.get_task_metrics"
        | "events.get_multi_task_metrics"
        | "events.get_multi_task_plots"
        | "events.get_task_latest_scalar_values" => (json!({"task": f.draft, "tasks": [f.draft]}), READ),
        "events.clear_task_log" => (json!({"task": f.draft, "exclude_metrics": ["m"]}), OWNER),
        "events.debug_images" | "events.plots" => (json!({"metrics": [{"task": f.draft}]}), READ),
        "events.get_plot_sample" | "events.get_debug_image_sample" => {
            (json!({"task": f.draft, "metric": "m", "variant": "v"}), READ)
        }
        // A scroll standing nowhere: hex of `null`.
        "events.next_plot_sample" | "events.next_debug_image_sample" => {
            (json!({"task": f.draft, "scroll_id": "6e756c6c"}), READ)
        }
        "tasks.validate" => (json!({"name": "t", "type": "training"}), READ),
        "models.move" => (json!({"ids": [f.model], "project": f.project}), OWNER),
        "tasks.delete_models" => (json!({"task": f.draft, "models": [{"name": "m", "type": "output"}]}), OWNER),
        "models.get_by_id" => (model, READ),
        "queues.get_by_id" | "queues.get_num_entries" => (json!({"queue": f.queue}), READ),
        "projects.create" => (json!({"name": f.unique, "description": ""}), PEOPLE),
        "projects.update" => (json!({"project": f.project, "description": "changed"}), PEOPLE),
        "projects.move" => (json!({"project": f.project, "new_location": f.unique}), PEOPLE),
        "projects.merge" => (json!({"project": f.project, "destination_project": f.project}), PEOPLE),
        "organization.get_entities_count" => (json!({"projects": {}, "tasks": {}, "models": {}}), READ),
        "tasks.create" => (json!({"name": "t", "type": "training", "project": f.project}), PEOPLE),
        "models.create" => (json!({"name": "m", "uri": "file:///m"}), PEOPLE),
        "tasks.clone" => (task, PEOPLE),
        "tasks.edit" => (json!({"task": f.draft, "comment": "changed"}), OWNER),
        "tasks.set_requirements" => (json!({"task": f.draft, "requirements": {"pip": "x"}}), OWNER),
        "tasks.add_or_update_artifacts" => {
            (json!({"task": f.draft, "artifacts": [{"key": "a", "type": "str", "uri": "file:///a"}]}), OWNER)
        }
        "tasks.delete_artifacts" => (json!({"task": f.draft, "artifacts": [{"key": "a"}]}), OWNER),
        "tasks.add_or_update_model" => {
            (json!({"task": f.draft, "model": f.model, "name": "m", "type": "output"}), OWNER)
        }
        "models.update_for_task" => (json!({"task": f.draft, "name": "m", "uri": "file:///n"}), OWNER),
        "models.edit" | "models.update" => (json!({"model": f.model, "comment": "changed"}), OWNER),
        "models.set_ready" | "models.delete" => (model, OWNER),
        "models.add_or_update_metadata" => {
            (json!({"model": f.model, "metadata": [{"key": "k", "value": "v", "type": "str"}]}), OWNER)
        }
        "tasks.started" | "tasks.ping" => (json!({"task": f.pending, "force": true}), OWNER),
        "tasks.completed" | "tasks.failed" | "tasks.stopped" => (json!({"task": f.pending, "force": true}), OWNER),
        "tasks.stop" | "tasks.reset" | "tasks.publish" | "tasks.delete" => {
            (json!({"task": f.draft, "force": true}), OWNER)
        }
        "tasks.enqueue" => (json!({"task": f.draft, "queue": f.queue}), OWNER),
        "tasks.dequeue" => (json!({"task": f.pending}), OWNER),
        "tasks.reset_many"
        | "tasks.delete_many"
        | "tasks.archive_many"
        | "tasks.unarchive_many"
        | "tasks.stop_many"
        | "tasks.publish_many"
        | "tasks.dequeue_many" => (json!({"ids": [f.draft], "force": true}), OWNER),
        "tasks.enqueue_many" => (json!({"ids": [f.draft], "queue": f.queue}), OWNER),
        "tasks.edit_hyper_params" => {
            (json!({"task": f.draft, "hyperparams": [{"section": "Args", "name": "lr", "value": "1"}]}), OWNER)
        }
        "tasks.delete_hyper_params" => (json!({"task": f.draft, "hyperparams": [{"section": "Args"}]}), OWNER),
        "tasks.edit_configuration" => {
            (json!({"task": f.draft, "configuration": [{"name": "c", "value": "v", "type": "str"}]}), OWNER)
        }
        "tasks.delete_configuration" => (json!({"task": f.draft, "configuration": ["c"]}), OWNER),
        "events.add" | "events.add_batch" => (
            json!({"task": f.draft, "type": "training_stats_scalar", "metric": "m", "variant": "v", "iter": 1, "value": 1.0}),
            OWNER,
        ),
        "queues.add_task" => (json!({"queue": f.queue, "task": f.draft}), OWNER),
        "queues.remove_task" => (json!({"queue": f.queue, "task": f.pending}), OWNER),
        "queues.move_task_forward"
        | "queues.move_task_backward"
        | "queues.move_task_to_front"
        | "queues.move_task_to_back" => (json!({"queue": f.queue, "task": f.pending, "count": 1}), OWNER),
        "queues.create" => (json!({"name": f.unique}), ADMIN),
        "queues.delete" => (json!({"queue": f.queue, "force": true}), ADMIN),
        "queues.get_next_task" => (json!({"queue": f.queue, "worker": f.worker}), MACHINE),
        "workers.register" => (json!({"worker": f.unique, "queues": [f.queue]}), MACHINE),
        "workers.set_runtime_properties" => (json!({"worker": f.worker, "runtime_properties": []}), MACHINE),
        "workers.unregister" | "workers.status_report" => {
            (json!({"worker": f.worker, "timestamp": 0, "machine_stats": {}}), MACHINE)
        }
        _ => return None,
    })
}

/// The endpoints the plugin dispatches, read from its source.
fn served() -> Vec<String> {
    let source = include_str!("../../../plugins/clearml/src/lib.rs");
    let dispatch = &source[source.find("async fn dispatch(").expect("the dispatcher")..];
    let dispatch = &dispatch[..dispatch.find("\n}\n").expect("its end")];
    let mut names: Vec<String> = dispatch
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.split_once('.').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !s.contains(' ')))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A ClearML call with `token`: the HTTP status and the answer.
async fn call(server: &TestServer, token: &str, endpoint: &str, body: &Value) -> (u16, Value) {
    let resp = server
        .http()
        .post(format!("{}/clearml/{endpoint}", server.url))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn data(server: &TestServer, token: &str, endpoint: &str, body: Value) -> Value {
    let (status, answer) = call(server, token, endpoint, &body).await;
    assert_eq!(status, 200, "{endpoint}: {answer}");
    answer["data"].clone()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

async fn fixture(server: &TestServer, admin: &str, owner: &str, agent: &str) -> Fixture {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let queue = data(server, admin, "queues.create", json!({"name": format!("cq{n}")})).await["id"].clone();
    let queue = queue.as_str().unwrap().to_string();
    let project = data(server, owner, "projects.create", json!({"name": format!("cp{n}"), "description": ""})).await;
    let project = project["id"].as_str().unwrap().to_string();
    let create = json!({"name": "t", "type": "training", "project": project});
    let draft = data(server, owner, "tasks.create", create.clone()).await["id"].as_str().unwrap().to_string();
    let pending = data(server, owner, "tasks.create", create).await["id"].as_str().unwrap().to_string();
    data(server, owner, "tasks.enqueue", json!({"task": pending, "queue": queue})).await;
    let model = data(server, owner, "models.create", json!({"name": "m", "uri": "file:///m"})).await["id"].clone();
    let worker = format!("cw{n}");
    data(server, agent, "workers.register", json!({"worker": worker, "queues": [queue]})).await;
    Fixture {
        project,
        draft,
        pending,
        queue,
        model: model.as_str().unwrap().to_string(),
        worker,
        unique: format!("cu{n}"),
    }
}

/// Whether an answer refuses the call for want of rights: a 403, or a batch that failed its
/// task for that reason, or events all rejected for it.
fn refused(status: u16, answer: &Value) -> bool {
    let text = answer.to_string();
    status == 403
        || ["belongs to another", "may not", "only an", "is not held by"].iter().any(|why| text.contains(why))
            && (answer["data"]["succeeded"].as_array().is_some_and(Vec::is_empty)
                || answer["data"]["added"] == json!(0)
                || answer["meta"]["result_subcode"] == json!(131))
}

async fn clearml_permission_matrix(server: TestServer) {
    let admin = server.client();
    let mut tokens = vec![admin.login().await.expect("login").token];
    for (name, role) in [("owner", Role::User), ("other", Role::User), ("box", Role::Agent)] {
        let c = admin.create_user(&CreateUser { name: name.into(), role }).await.expect("user");
        tokens.push(Client::new(&server.url, &c.access_key, &c.secret_key).login().await.expect("login").token);
    }
    let names = ["admin", "owner", "other user", "agent"];
    let (a, o, g) = (&tokens[0], &tokens[1], &tokens[3]);

    let probe = fixture(&server, a, o, g).await;
    let missing: Vec<String> = served().into_iter().filter(|e| rule(e, &probe).is_none()).collect();
    assert!(missing.is_empty(), "ClearML endpoints without a row in the permission matrix: {missing:?}");

    let mut wrong = Vec::new();
    for endpoint in served() {
        for (i, token) in tokens.iter().enumerate() {
            let f = fixture(&server, a, o, g).await;
            let (body, may) = rule(&endpoint, &f).expect("checked above");
            let (status, answer) = call(&server, token, &endpoint, &body).await;
            let no = refused(status, &answer);
            let ok = if may[i] { !no && status != 401 } else { no };
            if !ok {
                wrong.push(format!("{endpoint} as {}: {status} {answer}", names[i]));
            }
        }
    }
    assert!(wrong.is_empty(), "ClearML answers that break the rules:\n{}", wrong.join("\n"));
}

scenario!(every_clearml_endpoint_keeps_the_rules, super::clearml_permission_matrix);
