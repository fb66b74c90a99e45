/** A task's details: the info panel beside the table, and the full-screen page. */
import { useCallback, useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { api, data, messageOf, raw, type Schemas, type Task } from "../api/client";
import { useChanges, useLive } from "../api/events";
import { ChartTools, ScalarChart, type ChartOptions } from "../charts/ScalarChart";
import { PlotlyFigure, type Figure } from "../charts/PlotlyFigure";
import { bytes, duration, exactTime, rounded } from "../format";
import { ActionMenu, useRunAction } from "../table/actions";
import { StatusBadge, useToast } from "../ui";

const TABS = ["execution", "configuration", "console", "scalars", "plots", "artifacts", "info"] as const;
type Tab = (typeof TABS)[number];

export function TaskDetails({ id, onClose, onFullScreen, onChanged, full }: { id: string; onClose?(): void; onFullScreen?(): void; onChanged?(): void; full?: boolean }) {
  const [tab, setTab] = useState<Tab>("execution");
  const [menu, setMenu] = useState<{ x: number; y: number } | null>(null);
  const { value: task, error, reload: load } = useLive(
    () => data(api.GET("/api/v1/tasks/{id}", { params: { path: { id } } })),
    (c) => c.kind === "task" && c.id === id,
    [id],
  );
  const { run, dialog } = useRunAction(() => {
    void load();
    onChanged?.();
  });
  if (error) return <aside className="details"><p className="error" role="alert">{error}</p></aside>;
  if (!task) return <aside className="details" />;
  const selection = new URLSearchParams({ ids: id });
  if (task.system_tags.includes("archived")) selection.set("archived", "true");
  return (
    <aside className={`details${full ? " full" : ""}`} aria-label="Task details" data-task={id}>
      <header>
        <div className="title">
          <h3 title={task.name}>{task.name}</h3>
          <StatusBadge status={task.status} progress={(task.runtime as Record<string, unknown>)?.progress as number | undefined} />
          <span className="muted">{task.type.replace(/_/g, " ")}</span>
        </div>
        <button className="icon" aria-label="Task menu" title="Actions" onClick={(e) => setMenu({ x: e.clientX - 200, y: e.clientY + 12 })}>
          ☰
        </button>
        {onFullScreen && (
          <button className="icon" aria-label="Full screen" title="Full screen" onClick={onFullScreen}>
            ⤢
          </button>
        )}
        {onClose && (
          <button className="icon" aria-label="Close details" onClick={onClose}>
            ×
          </button>
        )}
      </header>
      <nav className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "on" : ""} onClick={() => setTab(t)}>
            {t[0].toUpperCase() + t.slice(1)}
          </button>
        ))}
      </nav>
      <div className="tab-body">
        {tab === "execution" && <Execution task={task} onSaved={load} />}
        {tab === "configuration" && <Configuration task={task} onSaved={load} />}
        {tab === "console" && <Console id={id} status={task.status} />}
        {tab === "scalars" && <Scalars id={id} />}
        {tab === "plots" && <Plots id={id} />}
        {tab === "artifacts" && <Artifacts task={task} />}
        {tab === "info" && <Info task={task} />}
      </div>
      {menu && (
        <ActionMenu x={menu.x} y={menu.y} taskId={id} selection={selection} archived={task.system_tags.includes("archived")} onClose={() => setMenu(null)} run={run} />
      )}
      {dialog}
    </aside>
  );
}

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  if (children == null || children === "") return null;
  return (
    <div className="field">
      <span className="label">{label}</span>
      <span className="value">{children}</span>
    </div>
  );
}

/** A Draft's source, entry point, requirements and container, edited in one form. */
function ExecutionForm({ task, onDone }: { task: Task; onDone(saved: boolean): void }) {
  const toast = useToast();
  const s = task.script;
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const v = (k: string) => String(f.get(k) ?? "").trim() || null;
    const versions = ["tag", "branch", "commit"].filter((k) => v(k));
    if (versions.length > 1) return toast("Version: give a tag, a branch or a commit, not several", true);
    const body = {
      script: { ...s, repository: v("repository"), branch: v("branch"), tag: v("tag"), commit: v("commit"), working_dir: v("working_dir"), entry_point: v("entry_point"), requirements: v("requirements"), diff: v("diff") },
      container: { image: v("image"), arguments: v("arguments"), setup_script: v("setup_script") },
    } as unknown as Schemas["EditTask"];
    try {
      await api.PATCH("/api/v1/tasks/{id}", { params: { path: { id: task.id } }, body });
      onDone(true);
    } catch (err) {
      toast(messageOf(err), true);
    }
  }
  const input = (name: string, label: string, value: string | null | undefined) => (
    <label>
      {label}
      <input name={name} defaultValue={value ?? ""} />
    </label>
  );
  const area = (name: string, label: string, value: string | null | undefined) => (
    <label>
      {label}
      <textarea name={name} defaultValue={value ?? ""} rows={4} className="code" />
    </label>
  );
  return (
    <form className="form" onSubmit={submit} aria-label="Edit execution">
      {input("repository", "Repository", s.repository)}
      <div className="inline">
        {input("branch", "Branch", s.branch)}
        {input("tag", "Tag", s.tag)}
        {input("commit", "Commit", s.commit)}
      </div>
      <div className="inline">
        {input("working_dir", "Working directory", s.working_dir)}
        {input("entry_point", "Entry point", s.entry_point)}
      </div>
      {area("diff", "Uncommitted changes", s.diff)}
      {area("requirements", "Requirements", s.requirements)}
      {input("image", "Container image", task.container.image)}
      {input("arguments", "Container arguments", task.container.arguments)}
      {area("setup_script", "Container startup script", task.container.setup_script)}
      <footer>
        <button type="button" onClick={() => onDone(false)}>
          Cancel
        </button>
        <button className="primary">Save</button>
      </footer>
    </form>
  );
}

function Execution({ task, onSaved }: { task: Task; onSaved(): void }) {
  const s = task.script;
  const e = task.environment;
  const [editing, setEditing] = useState(false);
  if (editing)
    return (
      <ExecutionForm
        task={task}
        onDone={(saved) => {
          setEditing(false);
          if (saved) onSaved();
        }}
      />
    );
  return (
    <div className="sections">
      <section>
        <h4>
          Source
          {task.status === "created" && (
            <button className="link" onClick={() => setEditing(true)} aria-label="Edit execution">
              Edit
            </button>
          )}
        </h4>
        <Field label="Repository">{s.repository}</Field>
        <Field label="Branch">{s.branch}</Field>
        <Field label="Tag">{s.tag}</Field>
        <Field label="Commit">{s.commit}</Field>
        <Field label="Working directory">{s.working_dir}</Field>
        <Field label="Entry point">{s.entry_point && `${s.entry_kind === "module" ? "-m " : ""}${s.entry_point}`}</Field>
        <Field label="Binary">{s.binary}</Field>
      </section>
      {s.code && (
        <section>
          <h4>Custom code</h4>
          <pre className="code">{s.code}</pre>
        </section>
      )}
      {s.diff && (
        <section>
          <h4>Uncommitted changes</h4>
          <pre className="code diff">{s.diff}</pre>
        </section>
      )}
      <section>
        <h4>Environment</h4>
        <Field label="Package manager">{e.poetry ? "poetry" : "pip"}</Field>
        <Field label="Preinstalled venv">{e.preinstalled_venv && `${e.preinstalled_venv} (${e.venv_mode})`}</Field>
        {Object.entries(e.variables ?? {}).map(([k, v]) => (
          <Field key={k} label={`$${k}`}>{v}</Field>
        ))}
        {(s.requirements || e.packages) && <pre className="code">{s.requirements || e.packages}</pre>}
      </section>
      {(task.container.image || task.container.setup_script) && (
        <section>
          <h4>Container</h4>
          <Field label="Image">{task.container.image}</Field>
          <Field label="Arguments">{task.container.arguments}</Field>
          {task.container.setup_script && <pre className="code">{task.container.setup_script}</pre>}
        </section>
      )}
      <section>
        <h4>Output</h4>
        <Field label="Destination">{task.execution.output_uri}</Field>
        <Field label="Queue">{task.execution.queue}</Field>
      </section>
    </div>
  );
}

/** `name=value` lines, one per item, as a text to edit. */
function linesOf(items: [string, string][]): string {
  return items.map(([k, v]) => `${k}=${v}`).join("\n");
}

/** Reads `name=value` lines back; `key` checks a name (a message for a bad one). */
function parseLines(text: string, key: RegExp, what: string): [string, string][] | string {
  const out: [string, string][] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const eq = line.indexOf("=");
    const name = eq < 0 ? "" : line.slice(0, eq).trim();
    if (!key.test(name)) return `Line ${i + 1}: write ${what}=value`;
    out.push([name, line.slice(eq + 1)]);
  }
  return out;
}

/** A section shown as fields, edited as `name=value` lines when `editable`. */
function EditableSection(props: { title: string; items: [string, string][]; editable: boolean; hint: string; keyPattern: RegExp; keyName: string; save(items: [string, string][]): Promise<void> }) {
  const [text, setText] = useState<string | null>(null);
  const toast = useToast();
  async function save() {
    const parsed = parseLines(text ?? "", props.keyPattern, props.keyName);
    if (typeof parsed === "string") return toast(`${props.title}: ${parsed}`, true);
    try {
      await props.save(parsed);
      setText(null);
    } catch (e) {
      toast(messageOf(e), true);
    }
  }
  return (
    <section>
      <h4>
        {props.title}
        {props.editable && text === null && (
          <button className="link" onClick={() => setText(linesOf(props.items))} aria-label={`Edit ${props.title}`}>
            Edit
          </button>
        )}
      </h4>
      {text !== null ? (
        <div className="form">
          <textarea value={text} onChange={(e) => setText(e.target.value)} rows={Math.max(4, props.items.length + 2)} aria-label={props.title} className="code" placeholder={props.hint} />
          <footer>
            <button onClick={() => setText(null)}>Cancel</button>
            <button className="primary" onClick={() => void save()}>
              Save
            </button>
          </footer>
        </div>
      ) : props.items.length ? (
        props.items.map(([k, v]) => (
          <Field key={k} label={k}>
            {v}
          </Field>
        ))
      ) : (
        <p className="muted">None.</p>
      )}
    </section>
  );
}

/** Hyperparameters and configuration (editable on Drafts) and user properties (editable until published). */
function Configuration({ task, onSaved }: { task: Task; onSaved(): void }) {
  const draft = task.status === "created";
  const patch = async (body: Partial<Schemas["EditTask"]>) => {
    await api.PATCH("/api/v1/tasks/{id}", { params: { path: { id: task.id } }, body: body as Schemas["EditTask"] });
    onSaved();
  };
  const params = Object.entries(task.hyperparams ?? {}).filter(([section]) => section !== "properties");
  const paramItems = params.flatMap(([section, ps]) => Object.entries(ps).map(([name, p]) => [`${section}/${name}`, p.value] as [string, string]));
  const props = Object.entries(task.hyperparams?.properties ?? {}).map(([k, p]) => [k, p.value] as [string, string]);
  const config = Object.entries(task.configuration ?? {});
  return (
    <div className="sections">
      <EditableSection
        title="Hyperparameters"
        items={paramItems}
        editable={draft}
        hint="Args/lr=0.01"
        keyPattern={/^[^/]+\/.+$/}
        keyName="section/name"
        save={(items) => {
          const hyperparams: Schemas["BTreeMap"] = {};
          if (task.hyperparams?.properties) hyperparams.properties = task.hyperparams.properties;
          for (const [key, value] of items) {
            const [section, ...rest] = key.split("/");
            const name = rest.join("/");
            const old = task.hyperparams?.[section]?.[name];
            (hyperparams[section] ??= {})[name] = { value, type: old?.type ?? null, description: old?.description ?? null };
          }
          return patch({ hyperparams });
        }}
      />
      <EditableSection
        title="User properties"
        items={props}
        editable={task.status !== "published"}
        hint="dataset=imagenet"
        keyPattern={/^.+$/}
        keyName="name"
        save={(items) =>
          patch({ properties: Object.fromEntries(items.map(([k, v]) => [k, { value: v, type: null, description: task.hyperparams?.properties?.[k]?.description ?? null }])) })
        }
      />
      {config.map(([name, item]) => (
        <ConfigItem key={name} name={name} value={item.value} editable={draft} save={(value) => patch({ configuration: { ...task.configuration, [name]: { ...item, value } } })} />
      ))}
    </div>
  );
}

function ConfigItem({ name, value, editable, save }: { name: string; value: string; editable: boolean; save(value: string): Promise<void> }) {
  const [text, setText] = useState<string | null>(null);
  const toast = useToast();
  return (
    <section>
      <h4>
        {name}
        {editable && text === null && (
          <button className="link" onClick={() => setText(value)} aria-label={`Edit ${name}`}>
            Edit
          </button>
        )}
      </h4>
      {text === null ? (
        <pre className="code">{value}</pre>
      ) : (
        <div className="form">
          <textarea className="code" rows={10} value={text} onChange={(e) => setText(e.target.value)} aria-label={name} />
          <footer>
            <button onClick={() => setText(null)}>Cancel</button>
            <button
              className="primary"
              onClick={() =>
                void save(text)
                  .then(() => setText(null))
                  .catch((e) => toast(messageOf(e), true))
              }
            >
              Save
            </button>
          </footer>
        </div>
      )}
    </section>
  );
}

/** The console: the tail, then new output as it arrives; search and download. */
function Console({ id, status }: { id: string; status: string }) {
  const [entries, setEntries] = useState<Schemas["ConsoleEntry"][]>([]);
  const [search, setSearch] = useState("");
  const [follow, setFollow] = useState(true);
  const last = useRef(0);
  const box = useRef<HTMLPreElement>(null);
  const load = useCallback(async () => {
    const p = new URLSearchParams({ tail: "true", limit: "2000" });
    if (search) p.set("search", search);
    const page = await raw<Schemas["ConsolePage"]>("GET", `/api/v1/tasks/${id}/console?${p}`);
    setEntries(page.entries);
    last.current = page.last;
  }, [id, search]);
  const more = useCallback(async () => {
    const p = new URLSearchParams({ after: String(last.current), limit: "2000" });
    if (search) p.set("search", search);
    const page = await raw<Schemas["ConsolePage"]>("GET", `/api/v1/tasks/${id}/console?${p}`);
    if (page.entries.length) setEntries((e) => [...e, ...page.entries].slice(-20000));
    last.current = page.last;
  }, [id, search]);
  useEffect(() => void load().catch(() => {}), [load]);
  useChanges((c) => {
    if (c.kind === "console" && c.task === id) void more().catch(() => {});
  });
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [entries, follow]);
  const text = entries.map((e) => e.text).join("");
  return (
    <div className="console">
      <div className="chart-tools">
        <input type="search" placeholder="Search the console" value={search} onChange={(e) => setSearch(e.target.value)} aria-label="Search the console" />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <span className="spacer" />
        <button
          onClick={() => {
            const a = document.createElement("a");
            a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
            a.download = `${id}.log`;
            a.click();
            setTimeout(() => URL.revokeObjectURL(a.href), 1000);
          }}
        >
          ⤓ Download
        </button>
      </div>
      <pre ref={box} className="log" data-status={status}>
        {text || <span className="muted">No output yet.</span>}
      </pre>
    </div>
  );
}

function Scalars({ id }: { id: string }) {
  const [series, setSeries] = useState<Schemas["Series"][] | null>(null);
  const [singles, setSingles] = useState<Schemas["SingleValue"][]>([]);
  const [options, setOptions] = useState<ChartOptions>({ x: "iteration", smoothing: 0, log: false, raw: false });
  const load = useCallback(() => {
    raw<Schemas["ScalarSeries"]>("GET", `/api/v1/scalars?tasks=${id}&x=${options.x}&points=2000`).then((s) => setSeries(s.series)).catch(() => setSeries([]));
    raw<Schemas["TaskMetrics"]>("GET", `/api/v1/tasks/${id}/metrics`).then((m) => setSingles(m.single_values)).catch(() => {});
  }, [id, options.x]);
  useEffect(() => load(), [load]);
  useChanges((c) => {
    if (c.kind === "task" && c.id === id) load();
  });
  if (!series) return <p className="muted">Loading…</p>;
  const byMetric = new Map<string, Schemas["Series"][]>();
  for (const s of series) byMetric.set(s.metric, [...(byMetric.get(s.metric) ?? []), s]);
  return (
    <div>
      <ChartTools options={options} setOptions={setOptions} />
      {singles.length > 0 && (
        <table className="plain singles">
          <tbody>
            {singles.map((v) => (
              <tr key={v.name}>
                <td>{v.name}</td>
                <td title={String(v.value)}>{typeof v.value === "number" ? rounded(v.value) : v.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="charts">
        {[...byMetric].map(([metric, lines]) => (
          <ScalarChart key={metric} title={metric} options={options} lines={lines.map((l) => ({ label: l.variant, x: l.x, y: l.y }))} />
        ))}
      </div>
      {series.length === 0 && <p className="muted">No scalars reported.</p>}
    </div>
  );
}

function Plots({ id }: { id: string }) {
  const [plots, setPlots] = useState<Schemas["Plot"][] | null>(null);
  useEffect(() => {
    raw<Schemas["Plot"][]>("GET", `/api/v1/plots?tasks=${id}`).then(setPlots).catch(() => setPlots([]));
  }, [id]);
  if (!plots) return <p className="muted">Loading…</p>;
  if (plots.length === 0) return <p className="muted">No plots reported.</p>;
  return (
    <div className="charts">
      {plots.map((p) => (
        <PlotlyFigure key={`${p.metric}/${p.variant}`} title={`${p.metric} › ${p.variant} (iteration ${p.iteration})`} figure={p.figure as Figure} />
      ))}
    </div>
  );
}

/** A link that downloads a stored file through the daemon (or its own URL). */
function fileLink(uri: string | null | undefined): string | undefined {
  if (!uri) return undefined;
  const m = /\/api\/v1\/files\/(.*)$/.exec(uri);
  return m ? `/api/v1/files/${m[1]}` : uri;
}

function Artifacts({ task }: { task: Task }) {
  return (
    <div className="sections">
      <section>
        <h4>Artifacts</h4>
        {task.artifacts.length === 0 && <p className="muted">None.</p>}
        {task.artifacts.map((a) => (
          <div key={a.name} className="field">
            <span className="label">{a.name}</span>
            <span className="value">
              {fileLink(a.uri) ? <a href={fileLink(a.uri)} download>{a.uri}</a> : a.preview}
              {a.size != null && <span className="hint"> {bytes(a.size)}</span>}
            </span>
          </div>
        ))}
      </section>
      {(["input", "output"] as const).map((k) => (
        <section key={k}>
          <h4>{k === "input" ? "Input models" : "Output models"}</h4>
          {task.models[k].length === 0 && <p className="muted">None.</p>}
          {task.models[k].map((m) => (
            <div key={m.name} className="field">
              <span className="label">{m.name}</span>
              <span className="value">{fileLink(m.uri) ? <a href={fileLink(m.uri)} download>{m.uri}</a> : m.uri}</span>
            </div>
          ))}
        </section>
      ))}
    </div>
  );
}

function Info({ task }: { task: Task }) {
  const runtime = task.started ? ((task.completed ? Date.parse(task.completed) : Date.now()) - Date.parse(task.started)) / 1000 : null;
  return (
    <div className="sections">
      <section>
        <Field label="Id">{task.id}</Field>
        <Field label="Project">
          <Link to={`/projects/${task.project}/tasks`}>{task.project_name}</Link>
        </Field>
        <Field label="User">{task.user}</Field>
        <Field label="Status reason">{task.status_reason}</Field>
        <Field label="Status message">{task.status_message}</Field>
        <Field label="Worker">{task.worker && <Link to={`/workers/${encodeURIComponent(task.worker)}`}>{task.worker}</Link>}</Field>
        <Field label="Queue">{task.execution.queue && <Link to={`/queues/${encodeURIComponent(task.execution.queue)}`}>{task.execution.queue}</Link>}</Field>
        <Field label="Parent">{task.parent && <Link to={`/tasks/${task.parent}`}>{task.parent}</Link>}</Field>
        <Field label="Created">{exactTime(task.created)}</Field>
        <Field label="Started">{exactTime(task.started)}</Field>
        <Field label="Completed">{exactTime(task.completed)}</Field>
        <Field label="Last update">{exactTime(task.last_update)}</Field>
        <Field label="Run time">{duration(runtime)}</Field>
        <Field label="Iteration">{String(task.last_iteration)}</Field>
        <Field label="Tags">{task.tags.join(", ")}</Field>
        <Field label="Description">{task.comment}</Field>
      </section>
    </div>
  );
}
