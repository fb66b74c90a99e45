/**
 * Task actions for one task or a selection: the context menu, the info panel's menu and the
 * batch action bar. Which tasks an action applies to is the server's dry run
 * (`GET /api/v1/table/selection`), so the rules live in one place: the lifecycle.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router";
import { api, data, messageOf, raw, type Schemas } from "../api/client";
import { Icon, type IconName } from "../icons";
import { Modal, Popup, useToast } from "../ui";

export type ActionName = Schemas["Action"];

interface ActionInfo {
  name: ActionName;
  label: string;
  icon: IconName;
  /** Asked before applying: a confirmation, or a parameter. */
  ask?: "confirm" | "queue" | "tags" | "project";
  confirm?: string;
  /** Shown only in the archive (true) or only outside it (false). */
  archive?: boolean;
}

export const ACTIONS: ActionInfo[] = [
  { name: "enqueue", label: "Enqueue", icon: "enqueue", ask: "queue", archive: false },
  { name: "dequeue", label: "Dequeue", icon: "dequeue" },
  { name: "reset", label: "Reset", icon: "reset", ask: "confirm", archive: false, confirm: "Reset deletes the console, scalars, plots and output files of the previous run." },
  { name: "abort", label: "Abort", icon: "abort", ask: "confirm", confirm: "Abort stops the running process." },
  { name: "abort_children", label: "Abort all children", icon: "abort_children", ask: "confirm", confirm: "Abort every running task whose parent is selected." },
  { name: "retry", label: "Retry", icon: "retry", archive: false },
  { name: "publish", label: "Publish", icon: "publish", ask: "confirm", archive: false, confirm: "Published tasks are read-only for good." },
  { name: "add_tag", label: "Add tag", icon: "add_tag", ask: "tags" },
  { name: "clone", label: "Clone", icon: "clone", archive: false },
  { name: "move", label: "Move to project", icon: "move", ask: "project", archive: false },
  { name: "archive", label: "Archive", icon: "archive", archive: false },
  { name: "restore", label: "Restore", icon: "restore", archive: true },
  { name: "delete", label: "Delete", icon: "delete", ask: "confirm", archive: true, confirm: "Delete removes the tasks with their logs, results, artifacts and debug samples. This cannot be undone." },
];

/** The actions offered in the archive view, or outside it. */
export const actionsFor = (archived: boolean) => ACTIONS.filter((a) => a.archive === undefined || a.archive === archived);

/** Retry asks for a queue when some of the tasks have no previous queue to go back to. */
export function asked(a: ActionInfo, summary: Schemas["SelectionSummary"] | null): ActionInfo {
  const without = summary?.retry_without_queue ?? 0;
  if (a.name !== "retry" || without === 0) return a;
  const tasks = without === 1 ? "1 task has" : `${without} tasks have`;
  return { ...a, ask: "queue", confirm: `${tasks} no previous queue. Retry in:` };
}

/** An action's parameters (the selection travels in the query string). */
export const actionRequest = (p: Partial<Schemas["ActionRequest"]>) => ({ ids: [], tags: [], ...p }) as Schemas["ActionRequest"];

let customActions: Promise<Schemas["CustomAction"][]> | null = null;
/** The server's custom context-menu actions (read once). */
export function useCustomActions() {
  const [list, setList] = useState<Schemas["CustomAction"][]>([]);
  useEffect(() => {
    customActions ??= data(api.GET("/api/v1/ui/actions")).catch(() => []);
    void customActions.then(setList);
  }, []);
  return list;
}

/** A selection as the query parameters that select it. */
export type SelectionQuery = URLSearchParams;

export function useSummary(selection: SelectionQuery | null) {
  const [summary, setSummary] = useState<Schemas["SelectionSummary"] | null>(null);
  const key = selection?.toString() ?? "";
  useEffect(() => {
    setSummary(null);
    if (!selection) return;
    let live = true;
    raw<Schemas["SelectionSummary"]>("GET", `/api/v1/table/selection?${key}`)
      .then((s) => live && setSummary(s))
      .catch(() => live && setSummary(null));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return summary;
}

/** Runs an action after asking what it needs; reports the outcome. */
export function useRunAction(onDone: () => void) {
  const toast = useToast();
  const [asking, setAsking] = useState<{ action: ActionInfo; selection: SelectionQuery; count: number } | null>(null);

  async function apply(action: ActionInfo, selection: SelectionQuery, body: Schemas["ActionRequest"]) {
    try {
      const r = await raw<Schemas["ActionResponse"]>("POST", `/api/v1/table/actions/${action.name}?${selection}`, body);
      const skipped = r.skipped ? `, ${r.skipped} skipped` : "";
      const firstError = r.results.find((x) => !x.ok)?.error;
      toast(`${action.label}: ${r.succeeded} task${r.succeeded === 1 ? "" : "s"}${skipped}${firstError ? ` (${firstError})` : ""}`, r.succeeded === 0 && r.skipped > 0);
    } catch (e) {
      toast(`${action.label} failed: ${messageOf(e)}`, true);
    }
    onDone();
  }

  function run(action: ActionInfo, selection: SelectionQuery, count: number) {
    if (action.ask) setAsking({ action, selection, count });
    else void apply(action, selection, actionRequest({}));
  }

  const dialog = asking && (
    <AskDialog
      action={asking.action}
      count={asking.count}
      onCancel={() => setAsking(null)}
      onSubmit={(body) => {
        setAsking(null);
        void apply(asking.action, asking.selection, body);
      }}
    />
  );
  return { run, dialog };
}

function AskDialog({ action, count, onCancel, onSubmit }: { action: ActionInfo; count: number; onCancel(): void; onSubmit(body: Schemas["ActionRequest"]): void }) {
  const [queues, setQueues] = useState<Schemas["Queue"][]>([]);
  const [projects, setProjects] = useState<Schemas["Project"][]>([]);
  useEffect(() => {
    if (action.ask === "queue") data(api.GET("/api/v1/queues")).then(setQueues).catch(() => {});
    if (action.ask === "project") data(api.GET("/api/v1/projects")).then(setProjects).catch(() => {});
  }, [action.ask]);
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const body = actionRequest({});
    if (action.ask === "queue") body.queue = String(f.get("queue"));
    if (action.ask === "tags") body.tags = String(f.get("tags")).split(",").map((t) => t.trim()).filter(Boolean);
    if (action.ask === "project") body.project = String(f.get("project")).trim();
    onSubmit(body);
  }
  const what = `${count} task${count === 1 ? "" : "s"}`;
  let field: ReactNode = <p>{action.confirm}</p>;
  if (action.ask === "queue")
    field = (
      <label>
        {action.confirm && <p>{action.confirm}</p>}
        Queue
        <select name="queue" required defaultValue={queues[0]?.name}>
          {queues.map((q) => (
            <option key={q.id} value={q.name}>
              {q.name} ({q.length} pending)
            </option>
          ))}
        </select>
      </label>
    );
  if (action.ask === "tags")
    field = (
      <label>
        Tags (comma-separated)
        <input name="tags" required autoFocus />
      </label>
    );
  if (action.ask === "project")
    field = (
      <label>
        Project (an existing one, or a new path)
        <input name="project" list="project-names" required autoFocus />
        <datalist id="project-names">
          {projects.map((p) => (
            <option key={p.id} value={p.name} />
          ))}
        </datalist>
      </label>
    );
  return (
    <Modal title={`${action.label} ${what}`} onClose={onCancel}>
      <form onSubmit={submit} className="form">
        {field}
        <footer>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button className={action.ask === "confirm" ? "danger" : "primary"} autoFocus={action.ask === "confirm"}>
            {action.label}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** The context menu of a task or of the selection it belongs to. */
export function ActionMenu(props: {
  x: number;
  y: number;
  selection: SelectionQuery;
  archived: boolean;
  /** The task under the pointer. */
  taskId?: string;
  /** The selected task ids, for custom actions (absent: just the task under the pointer). */
  ids?: string[];
  onClose(): void;
  onDetails?(): void;
  onFullScreen?(): void;
  onCompare?(): void;
  run(action: ActionInfo, selection: SelectionQuery, count: number): void;
}) {
  const summary = useSummary(props.selection);
  const navigate = useNavigate();
  const [task, setTask] = useState<Schemas["Task"] | null>(null);
  useEffect(() => {
    if (props.taskId) data(api.GET("/api/v1/tasks/{id}", { params: { path: { id: props.taskId } } })).then(setTask).catch(() => {});
  }, [props.taskId]);
  const total = summary?.total ?? 0;
  const custom = useCustomActions();
  const toast = useToast();
  async function runCustom(a: Schemas["CustomAction"]) {
    const ids = props.ids ?? (props.taskId ? [props.taskId] : []);
    try {
      const r = await raw<Schemas["CustomActionResult"]>("POST", `/api/v1/ui/actions/${encodeURIComponent(a.name)}`, { ids });
      const failed = r.calls.filter((c) => c.status == null || c.status >= 400);
      const skipped = r.skipped.length ? `, ${r.skipped.length} skipped` : "";
      toast(
        failed.length ? `${a.label}: ${failed[0].status ?? "failed"} ${failed[0].body}` : `${a.label}: ${r.applied.length} task${r.applied.length === 1 ? "" : "s"}${skipped}`,
        failed.length > 0 || r.applied.length === 0,
      );
    } catch (e) {
      toast(`${a.label} failed: ${messageOf(e)}`, true);
    }
  }
  const item = (label: string, onClick: () => void, disabled = false, hint?: string) => (
    <button key={label} role="menuitem" disabled={disabled} onClick={() => { props.onClose(); onClick(); }}>
      <span>{label}</span>
      {hint && <span className="hint">{hint}</span>}
    </button>
  );
  return (
    <Popup x={props.x} y={props.y} onClose={props.onClose} className="menu">
      <div role="menu" aria-label="Task actions">
        {props.taskId && props.onDetails && item("Details", props.onDetails)}
        {props.taskId && props.onFullScreen && item("View full screen", props.onFullScreen)}
        {props.taskId &&
          item("Manage queue", () => navigate(`/queues/${encodeURIComponent(task?.execution.queue ?? "")}`), task?.status !== "queued" || !task?.execution.queue)}
        {props.taskId &&
          item("View worker", () => navigate(`/workers/${encodeURIComponent(task?.worker ?? "")}`), task?.status !== "in_progress" || !task?.worker)}
        {props.taskId && <hr />}
        {actionsFor(props.archived).map((a) => {
          const n = summary?.actions[a.name] ?? 0;
          return item(a.label, () => props.run(asked(a, summary), props.selection, n), n === 0, total > 1 ? `${n}/${total}` : undefined);
        })}
        {custom.length > 0 && <hr />}
        {custom.map((a) =>
          item(a.label, () => void runCustom(a), !!task && !props.ids && a.states.length > 0 && !a.states.includes(task.status)),
        )}
        {props.onCompare && <hr />}
        {props.onCompare && item("Compare", props.onCompare)}
      </div>
    </Popup>
  );
}

/** The bar at the bottom when several tasks are selected: each action with its count. */
export function BatchBar(props: {
  selection: SelectionQuery;
  archived: boolean;
  label: string;
  onClear(): void;
  onCompare(): void;
  run(action: ActionInfo, selection: SelectionQuery, count: number): void;
}) {
  const summary = useSummary(props.selection);
  const total = summary?.total ?? 0;
  return (
    <div className="batchbar" role="toolbar" aria-label="Batch actions">
      <span className="count">{props.label}</span>
      {actionsFor(props.archived).map((a) => {
        const n = summary?.actions[a.name] ?? 0;
        return (
          <button
            key={a.name}
            disabled={n === 0}
            title={`${a.label}: applies to ${n} of ${total} selected tasks`}
            data-action={a.name}
            data-count={n}
            onClick={() => props.run(asked(a, summary), props.selection, n)}
          >
            <Icon name={a.icon} /> {a.label}
          </button>
        );
      })}
      <button onClick={props.onCompare} title="Compare the selected tasks">
        Compare
      </button>
      <span className="spacer" />
      <button className="link" onClick={props.onClear}>
        Clear selection
      </button>
    </div>
  );
}
