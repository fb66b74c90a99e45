//! The table plugin: filters, sorts, custom columns and paging over real tasks and reported
//! metrics, on both backends.

use crate::harness::TestServer;
use crate::scenario;
use runyard_api::table::TableQuery;
use runyard_api::tracking::{Event, EventBatch, Float, ScalarEvent};
use runyard_api::{Client, ClientError, CreateTask, EditTask, Hyperparams, Param};
use serde_json::{json, Value};

fn params(pairs: &[(&str, &str)]) -> Hyperparams {
    let mut h = Hyperparams::new();
    for (key, value) in pairs {
        let (section, name) = key.split_once('/').unwrap();
        h.entry(section.into())
            .or_default()
            .insert(name.into(), Param { value: value.to_string(), kind: None, description: None });
    }
    h
}

async fn task(c: &Client, project: &str, name: &str, hp: &[(&str, &str)], tags: &[&str], loss: Option<f64>) -> String {
    let t = c
        .create_task(&CreateTask {
            name: name.into(),
            project: Some(project.into()),
            comment: format!("about {name}"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            hyperparams: params(hp),
            ..Default::default()
        })
        .await
        .unwrap();
    if let Some(loss) = loss {
        let events = (0..3)
            .map(|i| {
                Event::Scalar(ScalarEvent {
                    task: t.id.clone(),
                    metric: "loss".into(),
                    variant: "val".into(),
                    iteration: i,
                    value: Float(loss + (2 - i) as f64),
                    time: None,
                })
            })
            .collect();
        c.send_events(&EventBatch { events }).await.unwrap();
    }
    t.id
}

async fn query(c: &Client, q: &str) -> runyard_api::table::TablePage {
    c.table(&TableQuery::from_query_string(q).unwrap()).await.unwrap()
}

/// The names in a page (the query's first column must be `name`).
/// The names of every page of a query, following its cursors.
async fn every_page(c: &Client, q: &str) -> Vec<String> {
    let mut q = TableQuery::from_query_string(q).unwrap();
    let mut seen = Vec::new();
    loop {
        let page = c.table(&q).await.unwrap();
        seen.extend(names(&page));
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => return seen,
        }
    }
}

fn names(page: &runyard_api::table::TablePage) -> Vec<String> {
    page.rows.iter().map(|r| r.values[0].as_str().unwrap().to_string()).collect()
}

async fn table_queries(server: TestServer) {
    let c = server.client();
    task(&c, "lb", "a", &[("Args/lr", "0.1"), ("Args/batch", "16")], &["x", "keep"], Some(0.5)).await;
    task(&c, "lb", "b", &[("Args/lr", "0.01"), ("Args/batch", "128")], &["y"], Some(0.2)).await;
    task(&c, "lb/sub", "c", &[("Args/lr", "0.01"), ("Args/batch", "8")], &["x", "y"], Some(0.9)).await;
    task(&c, "lb", "d", &[("Args/lr", "auto"), ("Args/batch", "auto")], &[], Some(0.1)).await;
    let e = task(&c, "lb", "e", &[("Args/lr", "0.1")], &["x"], None).await;
    task(&c, "other", "f", &[("Args/lr", "0.1")], &["x"], Some(0.0)).await;

    // Value set on a hyperparameter + metric range + tag ANY, sorted by the metric.
    let page = query(
        &c,
        "project=lb&columns=name,metric:loss/val.last,param:Args/lr,tags&filter=param:Args/lr+in+0.1,0.01\
         &filter=metric:loss/val.last<0.95&filter=tags+any+x,y&sort=-metric:loss/val.last",
    )
    .await;
    assert_eq!(names(&page), ["c", "a", "b"], "{page:?}");
    assert_eq!(page.columns, ["name", "metric:loss/val.last", "param:Args/lr", "tags"]);
    assert_eq!(page.rows[0].values[1], json!(0.9));
    assert_eq!(page.rows[0].values[2], json!("0.01"));
    assert_eq!(page.rows[0].values[3], json!(["x", "y"]));
    // Without subprojects, and with a NOT tag.
    let page = query(&c, "project=lb&subprojects=false&columns=name&filter=tags+any+x,!keep&sort=name").await;
    assert_eq!(names(&page), ["e"]);
    let page = query(&c, "columns=name&filter=tags+all+x,y").await;
    assert_eq!(names(&page), ["c"]);

    // Tasks lacking the sort value come last, whichever the direction; numbers sort as
    // numbers, then text.
    for sort in ["metric:loss/val.last", "-metric:loss/val.last"] {
        let page = query(&c, &format!("project=lb&columns=name&sort={sort}")).await;
        assert_eq!(names(&page).last().unwrap(), "e", "{sort}");
    }
    let page = query(&c, "project=lb&columns=name,param:Args/batch&sort=param:Args/batch").await;
    assert_eq!(names(&page), ["c", "a", "b", "d", "e"]);
    let page = query(&c, "project=lb&columns=name&sort=-param:Args/batch").await;
    assert_eq!(names(&page), ["b", "a", "c", "d", "e"]);
    // Numeric range on a hyperparameter: text values do not match.
    let page = query(&c, "project=lb&columns=name&filter=param:Args/batch>=16&sort=name").await;
    assert_eq!(names(&page), ["a", "b"]);
    // Grouped by subproject: the project sorts first.
    let page = query(&c, "project=lb&group=true&columns=name,project&sort=name").await;
    assert_eq!(names(&page), ["a", "b", "d", "e", "c"]);

    // Search in names, descriptions and ids; value sets on built-in columns.
    assert_eq!(names(&query(&c, "columns=name&search=ABOUT+F").await), ["f"]);
    assert_eq!(names(&query(&c, &format!("columns=name&search={e}")).await), ["e"]);
    let page = query(&c, "columns=name,status&filter=status+in+draft&filter=project+not+in+other&sort=name").await;
    assert_eq!(names(&page), ["a", "b", "c", "d", "e"]);
    assert_eq!(page.rows[0].values[1], json!("created"));
    let page = query(&c, "columns=name&filter=created>=2020-01-01&filter=started=2020-01-01..2020-12-31").await;
    assert!(page.rows.is_empty(), "no task has started");
    let page = query(&c, "columns=name,runtime,user,queue&filter=runtime>=0&sort=-runtime,user,queue").await;
    assert!(page.rows.is_empty(), "no task has a run time");
    let page = query(&c, "project=lb&columns=name,user&filter=user+in+admin&sort=user,name").await;
    assert_eq!(names(&page), ["a", "b", "c", "d", "e"]);

    // A task's reported progress comes with its row.
    let runtime = [("progress".to_string(), json!(40))].into_iter().collect();
    c.edit_task(&e, &EditTask { runtime: Some(runtime), ..Default::default() }).await.unwrap();
    let page = query(&c, &format!("columns=name&ids={e}")).await;
    assert_eq!(page.rows[0].progress, Some(40.0));

    // Hyperparameter edits are indexed at once.
    c.edit_task(&e, &EditTask { hyperparams: Some(params(&[("Args/lr", "0.5")])), ..Default::default() })
        .await
        .unwrap();
    let page = query(&c, "columns=name&filter=param:Args/lr=0.5").await;
    assert_eq!(names(&page), ["e"]);

    // Paging: every row once, in the unpaged order, whatever the page size (a single metric
    // sort walks the metric's index; two keys scan).
    for sort in ["-metric:loss/val.last,name", "-metric:loss/val.last", "metric:loss/val.last"] {
        let all = names(&query(&c, &format!("columns=name&sort={sort}")).await);
        assert_eq!(all.len(), 6);
        for limit in [1, 2, 4] {
            let seen = every_page(&c, &format!("columns=name&sort={sort}&limit={limit}")).await;
            assert_eq!(seen, all, "{sort}, limit {limit}");
        }
    }
    // A task created meanwhile neither shifts nor repeats the rows after the cursor.
    let mut q = TableQuery::from_query_string("columns=name&limit=3").unwrap();
    let first = c.table(&q).await.unwrap();
    task(&c, "lb", "g", &[], &[], None).await;
    q.cursor = first.next.clone();
    let second = c.table(&q).await.unwrap();
    let mut seen = names(&first);
    seen.extend(names(&second));
    assert_eq!(seen, ["f", "e", "d", "c", "b", "a"], "newest first, g not in the pages already read");
    let count = c.table_count(&TableQuery::from_query_string("project=lb&filter=tags+any+x").unwrap()).await.unwrap();
    assert_eq!(count, 3);
    // Ties on the walked metric page by id, each task once.
    for name in ["t1", "t2", "t3"] {
        task(&c, "ties", name, &[], &[], Some(0.3)).await;
    }
    let seen = every_page(&c, "project=ties&columns=name&sort=-metric:loss/val.last&limit=1").await;
    assert_eq!(seen, ["t3", "t2", "t1"], "ties newest first");

    // Bad input: a 400 naming the parameter, never a silently ignored filter.
    let foreign = first.next.unwrap();
    for (q, param) in [
        ("columns=bogus", "columns"),
        ("filter=metric:loss/val.last<abc", "filter"),
        ("filter=iteration=9..1", "filter"),
        ("filter=name>3", "filter"),
        ("sort=tags", "sort"),
        ("limit=5000", "limit"),
        ("colour=red", "colour"),
        (&format!("sort=name&cursor={foreign}"), "cursor"),
        ("cursor=garbage", "cursor"),
    ] {
        let resp = server
            .http()
            .get(format!("{}/api/v1/table/tasks?{q}", server.url))
            .basic_auth(crate::harness::ACCESS_KEY, Some(crate::harness::SECRET_KEY))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(body["error"]["field"], param, "{q}: {body}");
    }
    let err = c.table(&TableQuery { project: Some("nowhere".into()), ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, ClientError::Api { status: 404, .. }), "{err}");
}
scenario!(queries, super::table_queries);

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let resp = server
        .http()
        .get(format!("{}/api/v1/table/{path}", server.url))
        .basic_auth(crate::harness::ACCESS_KEY, Some(crate::harness::SECRET_KEY))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn get_json(server: &TestServer, path: &str) -> Value {
    let (status, body) = get(server, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn table_tools(server: TestServer) {
    let c = server.client();
    let a = task(&c, "cat", "a", &[("Args/lr", "0.1"), ("properties/owner", "ann")], &["x"], Some(0.5)).await;
    let b = task(&c, "cat/sub", "b, \"quoted\"", &[("Args/lr", "0.01"), ("Args/depth", "3")], &["y"], Some(0.25)).await;
    let other = task(&c, "elsewhere", "z", &[("Other/k", "v")], &[], None).await;
    c.send_events(&EventBatch {
        events: vec![Event::Single(runyard_api::tracking::SingleEvent {
            task: a.clone(),
            name: "accuracy".into(),
            value: Float(0.9),
            time: None,
        })],
    })
    .await
    .unwrap();

    // Catalogues: what a project's tasks have (with subprojects), nothing of other projects.
    let cat = get_json(&server, "catalogue?project=cat").await;
    assert_eq!(cat["metrics"], json!({"loss": ["val"]}), "{cat}");
    assert_eq!(cat["hyperparams"], json!({"Args": ["depth", "lr"]}), "{cat}");
    assert_eq!(cat["properties"], json!(["owner"]), "{cat}");
    let only = get_json(&server, "catalogue?project=cat&subprojects=false").await;
    assert_eq!(only["hyperparams"], json!({"Args": ["lr"]}), "{only}");
    // Distinct values, counted, searchable and paged.
    let values = get_json(&server, "values?column=param:Args/lr&project=cat").await;
    assert_eq!(values["values"], json!([{"value": "0.01", "tasks": 1}, {"value": "0.1", "tasks": 1}]), "{values}");
    let page = get_json(&server, "values?column=tags&limit=1").await;
    assert_eq!((&page["values"][0]["value"], &page["next"]), (&json!("x"), &json!("x")), "{page}");
    let page = get_json(&server, "values?column=tags&limit=1&after=x").await;
    assert_eq!((&page["values"][0]["value"], &page["next"]), (&json!("y"), &Value::Null), "{page}");
    let found = get_json(&server, "values?column=name&search=QUOT").await;
    assert_eq!(found["values"][0]["value"], "b, \"quoted\"", "{found}");
    let (status, body) = get(&server, "values?column=metric:loss/val.last").await;
    assert_eq!(status, 400, "{body}");

    // CSV: the shown columns in order, RFC 4180 quoting, full precision, every row.
    let (status, body) =
        get(&server, "csv?project=cat&columns=name,metric:loss/val.last,param:Args/lr,tags&sort=name").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body, "name,metric:loss/val.last,param:Args/lr,tags\na,0.5,0.1,x\n\"b, \"\"quoted\"\"\",0.25,0.01,y\n",
        "{body}"
    );
    let mut file = Vec::new();
    let q = TableQuery::from_query_string(&format!("columns=id&ids={a},{other}")).unwrap();
    c.table_csv(&q, |chunk| {
        file.extend_from_slice(chunk);
        Ok(())
    })
    .await
    .unwrap();
    let text = String::from_utf8(file).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(&a) && text.contains(&other) && !text.contains(&b), "onscreen items only: {text}");

    // Selection: per action, how many of the selected tasks it applies to; then apply one.
    let summary = get_json(&server, "selection?project=cat").await;
    assert_eq!((&summary["total"], &summary["actions"]["enqueue"]), (&json!(2), &json!(2)), "{summary}");
    assert_eq!((&summary["actions"]["abort"], &summary["actions"]["archive"]), (&json!(0), &json!(2)), "{summary}");
    let resp = server
        .http()
        .post(format!("{}/api/v1/table/actions/archive?project=cat&filter=tags+any+y", server.url))
        .basic_auth(crate::harness::ACCESS_KEY, Some(crate::harness::SECRET_KEY))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let archived: Value = resp.json().await.unwrap();
    assert_eq!(archived["succeeded"], 1, "{archived}");
    assert_eq!(names(&query(&c, "archived=true&columns=name").await), ["b, \"quoted\""]);
    let summary = get_json(&server, "selection?archived=true").await;
    assert_eq!((&summary["actions"]["restore"], &summary["actions"]["archive"]), (&json!(1), &json!(0)), "{summary}");

    // Saved views: a valid state, a unique name per project, changed only by their owner.
    let resp = server
        .http()
        .post(format!("{}/api/v1/table/views", server.url))
        .basic_auth(crate::harness::ACCESS_KEY, Some(crate::harness::SECRET_KEY))
        .json(&json!({"name": "best", "project": "cat", "state": "sort=-metric:loss/val.last&columns=name"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let view: Value = resp.json().await.unwrap();
    let views = get_json(&server, "views?project=cat").await;
    assert_eq!(views[0]["name"], "best", "{views}");
    let bad = server
        .http()
        .post(format!("{}/api/v1/table/views", server.url))
        .basic_auth(crate::harness::ACCESS_KEY, Some(crate::harness::SECRET_KEY))
        .json(&json!({"name": "broken", "state": "filter=nonsense<1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let again = server
        .http()
        .post(format!("{}/api/v1/table/views", server.url))
        .basic_auth(crate::harness::ACCESS_KEY, Some(crate::harness::SECRET_KEY))
        .json(&json!({"name": "best", "project": "cat", "state": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let stranger = c
        .create_user(&runyard_api::CreateUser { name: "stranger".into(), role: runyard_api::Role::User })
        .await
        .unwrap();
    let (key, secret) = (stranger.access_key.clone(), stranger.secret_key.clone());
    let denied = server
        .http()
        .delete(format!("{}/api/v1/table/views/{}", server.url, view["id"].as_str().unwrap()))
        .basic_auth(key, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 403);

    // Comparison: one chart per metric/variant with both tasks on one x grid, single values as
    // one table, hyperparameter differences.
    let cmp = get_json(&server, &format!("compare/scalars?tasks={a},{b}&points=10")).await;
    assert_eq!(cmp["charts"][0]["metric"], "loss");
    assert_eq!(cmp["charts"][0]["lines"].as_array().unwrap().len(), 2, "{cmp}");
    assert_eq!(cmp["charts"][0]["range"], json!([0.0, 2.0]));
    assert_eq!(cmp["single_values"], json!({"names": ["accuracy"], "values": [[0.9], [null]]}), "{cmp}");
    let params = get_json(&server, &format!("compare/params?tasks={a},{b}")).await;
    let lr = params["hyperparams"].as_array().unwrap().iter().find(|v| v["name"] == "Args/lr").unwrap().clone();
    assert_eq!((&lr["values"], &lr["differs"]), (&json!(["0.1", "0.01"]), &json!(true)), "{params}");
    let by_query = get_json(&server, "compare/params?project=cat&archived=true").await;
    assert_eq!(by_query["tasks"].as_array().unwrap().len(), 1, "the first 100 of a query: {by_query}");
    let plots = get_json(&server, &format!("compare/plots?tasks={a}")).await;
    assert_eq!(plots["plots"], json!([]));
    let (status, body) = get(&server, &format!("compare/scalars?tasks={a}&project=cat")).await;
    assert_eq!(status, 400, "{body}");
}
scenario!(tools, super::table_tools);

/// Tags are stored exactly as given, however many, whichever creation path (the project
/// known already or not) and backend.
async fn tags_are_stored_exactly(server: TestServer) {
    let c = server.client();
    task(&c, "tagged", "first", &[], &["one"], None).await;
    for tags in [vec!["solo"], vec!["a", "b"], vec!["x", "y", "z"]] {
        let id = task(&c, "tagged", "t", &[("Args/lr", "0.1")], &tags, None).await;
        assert_eq!(c.get_task(&id).await.unwrap().tags, tags, "tags {tags:?}");
    }
}
scenario!(tags_exact, super::tags_are_stored_exactly);
