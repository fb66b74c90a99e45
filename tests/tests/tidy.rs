//! The architecture's invariants (ARCHITECTURE.md), checked by reading the source tree: where
//! axum and SQL may appear, who writes a task's status, the crate graph, no module import
//! circles, file sizes, and no fixed sleeps in the end-to-end tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

/// Every tracked source file under `dirs`, relative to the root, with its text.
fn sources(dirs: &[&str], extensions: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| root().join(d)).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !["target", "node_modules", "dist"].contains(&name.as_str()) && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if extensions.iter().any(|e| name.ends_with(e)) {
                let relative = path.strip_prefix(root()).expect("inside the root").to_string_lossy().to_string();
                out.push((relative, std::fs::read_to_string(&path).expect("readable source")));
            }
        }
    }
    out.sort();
    out
}

const CRATE_SOURCES: &[&str] = &["api/src", "daemon/src", "plugins", "ui/src", "agent/src", "cli/src", "tests/src"];

/// Comments dropped (a doc comment may name axum or SQL freely).
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn outside(files: Vec<(String, String)>, allowed: &[(&str, &str)], found: impl Fn(&str) -> bool) -> Vec<String> {
    files
        .into_iter()
        .filter(|(path, text)| found(&code(text)) && !allowed.iter().any(|(prefix, _)| path.starts_with(prefix)))
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn axum_only_where_requests_are_served() {
    let allowed = [
        ("daemon/src/http/", "the daemon's router, extractors and error responses"),
        ("daemon/src/lib.rs", "serves the router"),
        ("daemon/src/plugin.rs", "the routes a plugin mounts"),
        ("plugins/tracking/src/http.rs", "the tracking routes"),
        ("plugins/table/src/http.rs", "the table routes"),
        ("plugins/clearml/src/lib.rs", "ClearML's transport: its routes are its API"),
        ("plugins/clearml/src/envelope.rs", "ClearML's transport: the {meta, data} response"),
        ("plugins/clearml/src/files.rs", "ClearML's files server"),
        ("plugins/clearml/src/workers.rs", "reads the X-ClearML-Worker header"),
        ("ui/src/assets.rs", "serves the web app's files"),
        ("ui/src/http.rs", "the UI's routes"),
    ];
    let stray = outside(sources(CRATE_SOURCES, &[".rs"]), &allowed, |c| c.contains("axum"));
    assert!(stray.is_empty(), "axum outside the http modules: {stray:?}");
}

#[test]
fn sql_only_in_the_store_modules() {
    let allowed = [
        ("daemon/src/store/", "the store"),
        ("plugins/tracking/src/store.rs", "the tracking plugin's store"),
        ("plugins/tracking/src/files/", "the file store's bookkeeping (task_files, user_files, file_removals)"),
        ("plugins/clearml/src/models.rs", "the ClearML plugin's model registry"),
        ("plugins/clearml/src/extras.rs", "the ClearML plugin's attributes of queues and projects"),
        ("plugins/table/src/", "the table plugin is a query engine over the store's tables"),
        ("cli/src/commands/bench/", "benchmarks seed large data sets straight into the database"),
    ];
    let sql = regex::Regex::new(r#""[^"]*\b(SELECT|INSERT INTO|DELETE FROM|UPDATE \w+ SET)\b"#).unwrap();
    let stray = outside(sources(CRATE_SOURCES, &[".rs"]), &allowed, |c| {
        sql.is_match(c) || c.contains("sqlx::query") || c.contains("sea_query::Query")
    });
    assert!(stray.is_empty(), "SQL outside the store modules: {stray:?}");
}

#[test]
fn status_is_written_only_by_the_task_service() {
    // A status is set through a `TaskPatch` the task service built from `transition`, or in SQL.
    let allowed = [
        ("daemon/src/services/tasks/", "the task service: every status change it writes comes from transition()"),
        ("daemon/src/store/patch.rs", "turns a patch into columns"),
        ("daemon/src/store/tasks.rs", "writes a created task's row and the patches it is given"),
        ("plugins/table/src/", "reads statuses in its filters"),
        ("cli/src/commands/bench/", "seeds tasks in given statuses"),
    ];
    let write = regex::Regex::new(r"(?i)status: Some\(TaskStatus|SET status\s*=|status = 'stopped'").unwrap();
    let stray = outside(sources(CRATE_SOURCES, &[".rs"]), &allowed, |c| write.is_match(c));
    assert!(stray.is_empty(), "a status written outside the task service: {stray:?}");
}

/// The workspace crates and their workspace dependencies, as `cargo metadata` reports them.
fn crate_graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut graph = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let deps = package["dependencies"].as_array().expect("dependencies");
        let workspace: BTreeSet<String> = deps
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|n| n.starts_with("runyard-"))
            .map(str::to_string)
            .collect();
        graph.insert(package["name"].as_str().expect("name").to_string(), workspace);
    }
    graph
}

#[test]
fn crate_graph_is_the_one_architecture_md_draws() {
    assert_eq!(drawn_graph("crates"), crate_graph(), "ARCHITECTURE.md's crate graph differs from Cargo's");
}

/// The use-paths of a use tree, braces expanded: `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else { return vec![tree.split(" as ").next().unwrap().trim().to_string()] };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').expect("closing brace")];
    let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).flat_map(|p| expand(&format!("{prefix}{}", p.trim()))).collect()
}

/// The module path of a source file inside its crate's `src`.
fn module_of(file: &str) -> Vec<String> {
    let rel = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The file a module path names (its longest prefix that is a file of `files`).
fn file_of(path: &[String], files: &BTreeSet<String>) -> Option<String> {
    for n in (0..=path.len()).rev() {
        let base = path[..n].join("/");
        let candidates = if n == 0 {
            vec!["lib.rs".to_string(), "main.rs".to_string()]
        } else {
            vec![format!("{base}.rs"), format!("{base}/mod.rs")]
        };
        if let Some(found) = candidates.into_iter().find(|c| files.contains(c)) {
            return Some(found);
        }
    }
    None
}

/// `file -> files it imports` inside one crate: `crate::`, `super::` and `self::` paths, and
/// with `parts` also paths through a submodule the file declares (a module using its own parts).
/// Re-exports and `mod` declarations are the module tree, not imports; unit-test modules, at
/// the end of a file, are left out.
fn module_graph(src: &Path, parts: bool) -> BTreeMap<String, BTreeSet<String>> {
    let prefix = src.strip_prefix(root()).unwrap().to_string_lossy().to_string();
    let texts: BTreeMap<String, String> = sources(&[&prefix], &[".rs"])
        .into_iter()
        .map(|(path, text)| {
            let text = code(&text);
            let body = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
            (path[prefix.len() + 1..].to_string(), body)
        })
        .collect();
    let files: BTreeSet<String> = texts.keys().cloned().collect();
    let uses = regex::Regex::new(r"(?m)^\s*(pub(\([a-z]+\))?\s+)?use\s+([^;]+);").unwrap();
    let inline = regex::Regex::new(r"\b(\w+)((::\w+)+)").unwrap();
    let declared = regex::Regex::new(r"(?m)^\s*(pub(\([a-z]+\))?\s+)?mod\s+(\w+);").unwrap();
    let mut graph = BTreeMap::new();
    for (file, text) in &texts {
        let module = module_of(file);
        // Submodules declared here, reachable by a path without `crate::` or `self::`.
        let children: BTreeSet<&str> = declared.captures_iter(text).map(|c| c.get(3).unwrap().as_str()).collect();
        let mut paths: Vec<String> = Vec::new();
        for cap in uses.captures_iter(text) {
            if cap.get(1).is_none() {
                paths.extend(expand(&cap[3]));
            }
        }
        let rest = uses.replace_all(text, "");
        paths.extend(inline.find_iter(&rest).map(|m| m.as_str().to_string()));
        let mut targets = BTreeSet::new();
        for path in paths {
            let mut segments: Vec<&str> = path.split("::").map(str::trim).collect();
            let mut base: Vec<String> = match segments.first() {
                Some(&"crate") => Vec::new(),
                Some(&"super") => module.clone(),
                Some(&"self") => {
                    segments[0] = "";
                    module.clone()
                }
                Some(first) if parts && children.contains(first) => module.clone(),
                _ => continue,
            };
            segments.retain(|s| !s.is_empty());
            if segments.first() == Some(&"crate") {
                segments.remove(0);
            }
            while segments.first() == Some(&"super") {
                segments.remove(0);
                // `super` from a file `a/b.rs` (module a::b) is `a`; from `a/mod.rs` (module a) is the root.
                base.pop();
            }
            base.extend(segments.iter().map(|s| s.to_string()));
            if let Some(target) = file_of(&base, &files) {
                if &target != file {
                    targets.insert(target);
                }
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// Files that import each other, directly or through others.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components.
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[w].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    assert_eq!(circles(&graph).len(), 1);
    assert_eq!(expand("crate::{a::b, c::{d, e as f}}"), ["crate::a::b", "crate::c::d", "crate::c::e"]);
    assert_eq!(module_of("store/mod.rs"), ["store"]);
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let mut found = Vec::new();
    for src in ["api/src", "daemon/src", "plugins/tracking/src", "plugins/table/src", "plugins/clearml/src", "ui/src"]
        .into_iter()
        .chain(["agent/src", "cli/src"])
    {
        let graph = module_graph(&root().join(src), false);
        assert!(graph.len() > 1, "{src} was read");
        found.extend(circles(&graph).into_iter().map(|c| format!("{src}: {}", c.join(" <-> "))));
    }
    assert!(found.is_empty(), "import circles: {found:#?}");
}

/// A ```NAME block of ARCHITECTURE.md: `node -> nodes` lines.
fn drawn_graph(name: &str) -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let block = doc
        .split(&format!("```{name}\n"))
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("a ```{name} block in ARCHITECTURE.md"));
    block
        .lines()
        .filter(|l| l.contains("->"))
        .map(|l| {
            let (node, targets) = l.split_once("->").unwrap();
            (node.trim().to_string(), targets.split_whitespace().map(str::to_string).collect())
        })
        .collect()
}

#[test]
fn daemon_module_graph_is_the_one_architecture_md_draws() {
    // Files folded into their top-level module (`store/tasks.rs` is `store`; `lib.rs` is `lib`).
    let top = |file: &str| file.split('/').next().unwrap().trim_end_matches(".rs").to_string();
    let mut folded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, targets) in module_graph(&root().join("daemon/src"), true) {
        let from = top(&file);
        let entry = folded.entry(from.clone()).or_default();
        entry.extend(targets.iter().map(|t| top(t)).filter(|t| *t != from));
    }
    let drawn = drawn_graph("daemon-modules");
    let lines: Vec<String> =
        folded.iter().map(|(m, ts)| format!("{m} -> {}", ts.iter().cloned().collect::<Vec<_>>().join(" "))).collect();
    assert_eq!(drawn, folded, "ARCHITECTURE.md's daemon module graph differs from the code's:\n{}", lines.join("\n"));
}

#[test]
fn files_stay_under_600_lines() {
    // Files that still do two jobs would be listed here, each with what its split waits on.
    let allowed: [(&str, &str); 0] = [];
    let all = sources(
        &["api", "daemon", "plugins", "ui/src", "ui/web/src", "ui/web/e2e", "agent", "cli", "tests"],
        &[".rs", ".ts", ".tsx", ".mjs"],
    );
    let long: Vec<String> = all
        .iter()
        .filter(|(path, _)| !path.ends_with(".d.ts")) // generated from the OpenAPI document
        .filter(|(path, text)| text.lines().count() > 600 && !allowed.iter().any(|(p, _)| p == path))
        .map(|(path, text)| format!("{path} ({} lines)", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "files over 600 lines doing two jobs: {long:?}");
}

#[test]
fn end_to_end_tests_wait_for_conditions_not_fixed_sleeps() {
    // Suites wait through the harness (`harness/wait.rs`): for a condition, with a deadline and a
    // message saying what never happened.
    let sleep = regex::Regex::new(r"(tokio::time|thread)::sleep\(").unwrap();
    let fixed: Vec<String> = sources(&["tests/tests/e2e"], &[".rs"])
        .into_iter()
        .filter(|(path, _)| !path.contains("/harness/"))
        .filter(|(_, text)| sleep.is_match(&code(text)))
        .map(|(path, _)| path)
        .collect();
    assert!(fixed.is_empty(), "fixed sleeps outside the harness: {fixed:?}");
}
