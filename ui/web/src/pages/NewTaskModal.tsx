/** "+ New Task": code, arguments, environment, container and run settings; Save as Draft or Run. */
import { useEffect, useState, type FormEvent } from "react";
import { api, data, messageOf, type Schemas } from "../api/client";
import { Modal } from "../ui";

type Section = "code" | "arguments" | "environment" | "container" | "run";

interface Row {
  key: string;
  value: string;
}

/** Checks the form; each problem names its field. */
export function validate(f: FormData, args: Row[], vars: Row[], run: boolean): string[] {
  const problems: string[] = [];
  const s = (k: string) => String(f.get(k) ?? "").trim();
  if (!s("name")) problems.push("Task name: required");
  const versions = ["tag", "branch", "commit"].filter((k) => s(k));
  if (versions.length > 1) problems.push("Git version: give a tag, a branch or a commit, not several");
  if (versions.length && !s("repository")) problems.push("Repository URL: required when a version is given");
  if (s("commit") && !/^[0-9a-f]{4,40}$/i.test(s("commit"))) problems.push("Commit ID: 4 to 40 hexadecimal digits");
  const kind = s("entry_kind");
  if (kind === "code") {
    if (!s("entry_point")) problems.push("File name: required for custom code");
    if (!s("code")) problems.push("Content: the custom code is empty");
  } else if (!s("entry_point")) problems.push(kind === "module" ? "Module: required" : "Script: required");
  if (kind === "module" && s("script_type") === "shell") problems.push("Type: a module runs only with Python");
  for (const [i, a] of args.entries()) {
    if (!a.key.trim() && !a.value.trim()) continue;
    if (!/^[^/]+\/[^/]+$/.test(a.key.trim())) problems.push(`Arguments, row ${i + 1}: name it section/name (e.g. Args/lr)`);
  }
  for (const [i, v] of vars.entries()) {
    if (!v.key.trim() && !v.value.trim()) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.key.trim())) problems.push(`Environment variables, row ${i + 1}: '${v.key}' is not a variable name`);
  }
  if (s("preinstalled_venv") && f.get("poetry")) problems.push("Preinstalled venv: not with Poetry");
  if (run && !s("queue")) problems.push("Queue: choose where the task runs");
  return problems;
}

function Rows({ rows, setRows, keyLabel, valueLabel }: { rows: Row[]; setRows(r: Row[]): void; keyLabel: string; valueLabel: string }) {
  return (
    <div className="rows">
      {rows.map((r, i) => (
        <div key={i} className="row-edit">
          <input aria-label={`${keyLabel} ${i + 1}`} placeholder={keyLabel} value={r.key} onChange={(e) => setRows(rows.map((x, j) => (j === i ? { ...x, key: e.target.value } : x)))} />
          <input aria-label={`${valueLabel} ${i + 1}`} placeholder={valueLabel} value={r.value} onChange={(e) => setRows(rows.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))} />
          <button type="button" className="icon" aria-label="Remove row" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="link" onClick={() => setRows([...rows, { key: "", value: "" }])}>
        + Add
      </button>
    </div>
  );
}

export function NewTaskModal({ project, onClose, onCreated }: { project?: string; onClose(): void; onCreated(id: string): void }) {
  const [section, setSection] = useState<Section>("code");
  const [problems, setProblems] = useState<string[]>([]);
  const [args, setArgs] = useState<Row[]>([]);
  const [vars, setVars] = useState<Row[]>([]);
  const [kind, setKind] = useState("script");
  const [scriptType, setScriptType] = useState("python");
  const [poetry, setPoetry] = useState(false);
  const [code, setCode] = useState("");
  const [queues, setQueues] = useState<Schemas["Queue"][]>([]);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    data(api.GET("/api/v1/queues")).then(setQueues).catch(() => {});
  }, []);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const run = (e.nativeEvent as SubmitEvent).submitter?.getAttribute("value") === "run";
    const f = new FormData(e.currentTarget);
    f.set("code", code);
    const found = validate(f, args, vars, run);
    setProblems(found);
    if (found.length) return;
    const s = (k: string) => String(f.get(k) ?? "").trim() || null;
    const hyperparams: Schemas["BTreeMap"] = {};
    for (const a of args.filter((a) => a.key.trim())) {
      const [section, name] = a.key.trim().split("/");
      (hyperparams[section] ??= {})[name] = { value: a.value, type: null, description: null };
    }
    const body = {
      name: s("name")!,
      project: project ?? "default",
      script: {
        repository: s("repository"),
        tag: s("tag"),
        branch: s("branch"),
        commit: s("commit"),
        working_dir: s("working_dir"),
        entry_point: s("entry_point"),
        entry_kind: kind as Schemas["EntryKind"],
        binary: s("binary") ?? (scriptType === "shell" ? "bash" : "python3"),
        code: kind === "code" ? code : null,
        add_task_init: scriptType === "python" && !!f.get("add_task_init"),
        requirements: poetry || s("venv_mode") === "packages" ? null : s("requirements"),
      },
      environment: {
        poetry,
        preinstalled_venv: s("preinstalled_venv"),
        venv_mode: (s("venv_mode") ?? "skip") as Schemas["VenvMode"],
        packages: !poetry && s("venv_mode") === "packages" ? s("requirements") : null,
        variables: Object.fromEntries(vars.filter((v) => v.key.trim()).map((v) => [v.key.trim(), v.value])),
      },
      container: { image: s("image"), arguments: s("container_args"), setup_script: s("setup_script") },
      execution: { output_uri: s("output_uri"), queue: null },
      hyperparams,
      queue: run ? s("queue") : null,
    } as unknown as Schemas["CreateTask"];
    setBusy(true);
    try {
      const task = await data(api.POST("/api/v1/tasks", { body }));
      onCreated(task.id);
    } catch (err) {
      setProblems([messageOf(err)]);
    } finally {
      setBusy(false);
    }
  }

  const tab = (s: Section, label: string) => (
    <button type="button" role="tab" aria-selected={section === s} className={section === s ? "on" : ""} onClick={() => setSection(s)}>
      {label}
    </button>
  );
  const show = (s: Section) => ({ hidden: section !== s });
  return (
    <Modal title="Create Task" onClose={onClose} wide>
      <form className="form new-task" onSubmit={submit} noValidate>
        <nav className="tabs" role="tablist">
          {tab("code", "Code")}
          {tab("arguments", "Arguments")}
          {tab("environment", "Environment")}
          {tab("container", "Container")}
          {tab("run", "Run")}
        </nav>
        <fieldset {...show("code")}>
          <label>
            Task name
            <input name="name" autoFocus />
          </label>
          <h4>Git</h4>
          <label>
            Repository URL
            <input name="repository" placeholder="https://… or /path/to/repo" />
          </label>
          <div className="inline">
            <label>
              Tag
              <input name="tag" />
            </label>
            <label>
              Branch
              <input name="branch" />
            </label>
            <label>
              Commit ID
              <input name="commit" />
            </label>
          </div>
          <h4>Entry point</h4>
          <div className="inline">
            <label>
              Working directory
              <input name="working_dir" placeholder="." />
            </label>
            <label>
              Script type
              <select name="script_type" value={scriptType} onChange={(e) => setScriptType(e.target.value)}>
                <option value="python">Python</option>
                <option value="shell">Shell</option>
              </select>
            </label>
            <label>
              Binary
              <input name="binary" placeholder={scriptType === "shell" ? "bash" : "python3"} />
            </label>
          </div>
          <div className="inline">
            <label>
              Type
              <select name="entry_kind" value={kind} onChange={(e) => setKind(e.target.value)}>
                <option value="script">Script</option>
                <option value="module" disabled={scriptType === "shell"}>
                  Module
                </option>
                <option value="code">Custom code</option>
              </select>
            </label>
            <label>
              {kind === "module" ? "Module" : kind === "code" ? "File name" : "Script"}
              <input name="entry_point" placeholder={kind === "module" ? "package.train" : "train.py"} />
            </label>
          </div>
          {kind === "code" && (
            <label>
              Content
              <textarea name="code" rows={8} value={code} onChange={(e) => setCode(e.target.value)} className="code" />
              <input
                type="file"
                aria-label="Upload a file"
                onChange={async (e) => {
                  const file = e.target.files?.[0];
                  if (file) setCode(await file.text());
                }}
              />
            </label>
          )}
          {scriptType === "python" && (
            <label className="check">
              <input type="checkbox" name="add_task_init" /> Add Task.init call
            </label>
          )}
        </fieldset>
        <fieldset {...show("arguments")}>
          <p className="muted">Hyperparameters, named section/name (e.g. Args/lr).</p>
          <Rows rows={args} setRows={setArgs} keyLabel="Name" valueLabel="Value" />
        </fieldset>
        <fieldset {...show("environment")}>
          <h4>Python</h4>
          <label className="check">
            <input type="checkbox" name="poetry" checked={poetry} onChange={(e) => setPoetry(e.target.checked)} /> Use Poetry
          </label>
          {!poetry && (
            <>
              <div className="inline">
                <label>
                  Preinstalled venv
                  <input name="preinstalled_venv" placeholder="/opt/venvs/torch" />
                </label>
                <label>
                  Use it
                  <select name="venv_mode" defaultValue="skip">
                    <option value="skip">Skip (use as is)</option>
                    <option value="requirements">Install requirements.txt</option>
                    <option value="packages">Install these packages</option>
                  </select>
                </label>
              </div>
              <label>
                Packages / requirements
                <textarea name="requirements" rows={4} className="code" placeholder="numpy==2.1" />
              </label>
            </>
          )}
          <h4>Environment variables</h4>
          <Rows rows={vars} setRows={setVars} keyLabel="Variable" valueLabel="Variable value" />
        </fieldset>
        <fieldset {...show("container")}>
          <p className="muted">Used when the agent runs in Docker mode.</p>
          <label>
            Image
            <input name="image" placeholder="python:3.11" />
          </label>
          <label>
            Arguments
            <input name="container_args" placeholder="--shm-size=8g" />
          </label>
          <label>
            Startup script
            <textarea name="setup_script" rows={4} className="code" />
          </label>
        </fieldset>
        <fieldset {...show("run")}>
          <label>
            Queue
            <select name="queue" defaultValue="">
              <option value="">—</option>
              {queues.map((q) => (
                <option key={q.id} value={q.name}>
                  {q.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Output destination
            <input name="output_uri" placeholder="the daemon's file store" />
          </label>
        </fieldset>
        {problems.length > 0 && (
          <ul className="error problems" role="alert">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        <footer>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button name="submit" value="draft" disabled={busy}>
            Save as Draft
          </button>
          <button name="submit" value="run" className="primary" disabled={busy}>
            Run
          </button>
        </footer>
      </form>
    </Modal>
  );
}
