/**
 * A project's task table (or all tasks): table, details (table + info panel) and comparison
 * views; the table's state lives in the URL and, per project, in the browser.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { api, data, type Project } from "../api/client";
import { ActionMenu, BatchBar, useRunAction, type SelectionQuery } from "../table/actions";
import { ColumnsMenu } from "../table/ColumnsMenu";
import { fromUrl, saveLayout, savedLayout, toParams, toUrl, urlHasLayout, type TableState } from "../table/query";
import { useTableRows } from "../table/rows";
import { TaskGrid, type Selection } from "../table/TaskGrid";
import { ViewsMenu } from "../table/ViewsMenu";
import { Popup } from "../ui";
import { ComparePanel } from "./ComparePanel";
import { NewTaskModal } from "./NewTaskModal";
import { TaskDetails } from "./TaskDetails";

type Mode = "table" | "details" | "compare";

export function TasksPage() {
  const { project } = useParams();
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const mode = (params.get("view") as Mode) ?? "table";
  const activeTask = params.get("task") ?? undefined;

  // A URL without a layout takes the one this browser saved for the project.
  useEffect(() => {
    if (urlHasLayout(params)) return;
    const saved = savedLayout(project, params.get("group") === "true");
    if (saved && saved.toString()) {
      const merged = new URLSearchParams(saved);
      for (const k of ["view", "task", "group"]) if (params.has(k)) merged.set(k, params.get(k)!);
      setParams(merged, { replace: true });
    }
  }, [project]); // eslint-disable-line react-hooks/exhaustive-deps

  const state = useMemo(() => fromUrl(project, params), [project, params]);
  const setState = useCallback(
    (next: TableState) => {
      saveLayout(next);
      const p = toUrl(next);
      for (const k of ["view", "task"]) if (params.has(k)) p.set(k, params.get(k)!);
      setParams(p, { replace: true });
    },
    [params, setParams],
  );
  const setView = (view: Mode, task?: string) => {
    const p = new URLSearchParams(params);
    if (view === "table") p.delete("view");
    else p.set("view", view);
    if (task) p.set("task", task);
    setParams(p);
  };

  const { rows, columns, hasMore, loading, error, count, loadMore, refresh } = useTableRows(state);
  const [selection, setSelectionNow] = useState<Selection>({ mode: "ids", ids: new Set() });
  useEffect(() => setSelectionNow({ mode: "ids", ids: new Set() }), [project, state.archived]);
  // "All filtered" is the tasks the filters matched when it was chosen: a batch action acts on
  // those only, and a change of filter or search clears it.
  const setSelection = (s: Selection) =>
    setSelectionNow(s.mode === "filtered" && !s.query ? { mode: "filtered", query: filtered().toString() } : s);
  const filterKey = JSON.stringify([state.filters, state.search]);
  useEffect(() => setSelectionNow((s) => (s.mode === "filtered" ? { mode: "ids", ids: new Set() } : s)), [filterKey]);
  const [menu, setMenu] = useState<{ id: string; x: number; y: number } | null>(null);
  const [columnsAt, setColumnsAt] = useState<{ x: number; y: number } | null>(null);
  const [csvAt, setCsvAt] = useState<{ x: number; y: number } | null>(null);
  const onScreen = useRef<() => string[]>(() => rows.map((r) => r.id));
  const [creating, setCreating] = useState(false);
  const searchTimer = useRef<number | undefined>(undefined);
  const [projectInfo, setProjectInfo] = useState<Project | null>(null);
  const [hasSubprojects, setHasSubprojects] = useState(false);
  useEffect(() => {
    setProjectInfo(null);
    setHasSubprojects(false);
    if (!project) return;
    data(api.GET("/api/v1/projects"))
      .then((all) => {
        const me = all.find((p) => p.id === project) ?? null;
        setProjectInfo(me);
        setHasSubprojects(!!me && all.some((p) => p.name.startsWith(`${me.name}/`)));
      })
      .catch(() => {});
  }, [project]);
  const { run, dialog } = useRunAction(() => {
    setSelection({ mode: "ids", ids: new Set() });
    void refresh();
  });

  /** The query that selects what is selected. */
  const scope = (extra: Record<string, string> = {}): SelectionQuery => {
    const p = new URLSearchParams();
    if (state.project) p.set("project", state.project);
    if (state.archived) p.set("archived", "true");
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return p;
  };
  const filtered = (): SelectionQuery => {
    const p = toParams(state);
    p.delete("columns");
    p.delete("sort");
    return p;
  };
  const selectionQuery: SelectionQuery | null =
    selection.mode === "all"
      ? scope()
      : selection.mode === "filtered"
        ? new URLSearchParams(selection.query ?? filtered().toString())
        : selection.ids.size
          ? scope({ ids: [...selection.ids].join(",") })
          : null;
  const selectedCount = selection.mode === "ids" ? selection.ids.size : null;
  const selectionLabel =
    selection.mode === "all" ? "All tasks selected" : selection.mode === "filtered" ? "All filtered tasks selected" : `${selection.ids.size} selected`;

  const menuSelection = (id: string): SelectionQuery =>
    selectionQuery && selection.mode === "ids" && selection.ids.has(id) && selection.ids.size > 1 ? selectionQuery : selectionQuery && selection.mode !== "ids" ? selectionQuery : scope({ ids: id });

  const compareIds = (): string[] => (selection.mode === "ids" && selection.ids.size ? [...selection.ids] : rows.slice(0, 100).map((r) => r.id));

  function csv(all: boolean) {
    setCsvAt(null);
    const p = toParams(state);
    if (!all) p.set("ids", onScreen.current().join(","));
    // The server names the file after the project, the rows and the date.
    const a = document.createElement("a");
    a.href = `/api/v1/table/csv?${p}`;
    a.download = "";
    a.click();
  }

  const title = state.archived ? `${projectInfo?.name ?? "All tasks"} — archive` : projectInfo?.name ?? "All tasks";
  return (
    <div className={`tasks-page mode-${mode}`}>
      <div className="toolbar">
        <div className="segmented" role="tablist" aria-label="View">
          {(["table", "details", "compare"] as Mode[]).map((m) => (
            <button key={m} role="tab" aria-selected={mode === m} className={mode === m ? "on" : ""} onClick={() => setView(m, m === "details" ? activeTask ?? rows[0]?.id : undefined)}>
              {m === "table" ? "Table" : m === "details" ? "Details" : "Compare"}
            </button>
          ))}
        </div>
        <h2 title={title}>{title}</h2>
        <span className="count" data-testid="task-count">
          {count == null ? "" : `${count} task${count === 1 ? "" : "s"}`}
        </span>
        <span className="spacer" />
        <input
          type="search"
          placeholder="Search name, description, id"
          aria-label="Search tasks"
          defaultValue={state.search}
          key={state.project}
          onChange={(e) => {
            const v = e.target.value;
            window.clearTimeout(searchTimer.current);
            searchTimer.current = window.setTimeout(() => setState({ ...state, search: v }), 250);
          }}
        />
        {state.filters.length > 0 && (
          <button onClick={() => setState({ ...state, filters: [] })} title="Clear all filters" aria-label="Clear all filters">
            ⌫ Filters ({state.filters.length})
          </button>
        )}
        {hasSubprojects && (
          <label className="check" title="Show subprojects' tasks grouped by subproject">
            <input type="checkbox" checked={state.group} onChange={(e) => {
              const group = e.target.checked;
              const saved = savedLayout(project, group);
              const p = saved ? new URLSearchParams(saved) : new URLSearchParams();
              if (group) {
                // Grouping shows where each subproject starts: the project column is shown.
                const next = fromUrl(project, p);
                const columns = next.columns.some((c) => c.id === "project")
                  ? next.columns.map((c) => (c.id === "project" ? { ...c, hidden: false } : c))
                  : [...next.columns, { id: "project", hidden: false }];
                const q = toUrl({ ...next, columns });
                q.set("group", "true");
                setParams(q, { replace: true });
              } else setParams(p, { replace: true });
            }} />
            Group by subproject
          </label>
        )}
        <ViewsMenu state={state} project={project} apply={(q) => setParams(new URLSearchParams(q))} />
        <button onClick={(e) => setColumnsAt({ x: e.clientX - 260, y: e.clientY + 16 })} aria-label="Columns" title="Columns">
          ⚙ Columns
        </button>
        <button onClick={(e) => setCsvAt({ x: e.clientX - 180, y: e.clientY + 16 })} aria-label="Download CSV" title="Download CSV">
          ⤓ CSV
        </button>
        <button onClick={() => setState({ ...state, archived: !state.archived })}>{state.archived ? "Exit archive" : "Open archive"}</button>
        {!state.archived && (
          <button className="primary" onClick={() => setCreating(true)}>
            + New Task
          </button>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="tasks-body">
        {mode !== "compare" && (
          <TaskGrid
            state={state}
            setState={setState}
            columns={columns}
            rows={rows}
            hasMore={hasMore}
            loading={loading}
            loadMore={loadMore}
            selection={selection}
            setSelection={setSelection}
            active={activeTask}
            onActivate={(id) => {
              const p = new URLSearchParams(params);
              p.set("task", id);
              setParams(p, { replace: true });
            }}
            onOpen={(id) => setView("details", id)}
            onScreen={onScreen}
            onMenu={(id, x, y) => setMenu({ id, x, y })}
          />
        )}
        {mode === "details" && activeTask && (
          <TaskDetails id={activeTask} onClose={() => setView("table")} onFullScreen={() => navigate(`/projects/${project ?? "-"}/tasks/${activeTask}`)} onChanged={refresh} />
        )}
        {mode === "compare" && <ComparePanel ids={compareIds()} />}
      </div>
      {selectionQuery && (selectedCount == null || selectedCount > 1) && mode !== "compare" && (
        <BatchBar
          selection={selectionQuery}
          archived={state.archived}
          label={selectionLabel}
          onClear={() => setSelection({ mode: "ids", ids: new Set() })}
          onCompare={() => setView("compare")}
          run={run}
        />
      )}
      {menu && (
        <ActionMenu
          x={menu.x}
          y={menu.y}
          taskId={menu.id}
          ids={selection.mode === "ids" && selection.ids.has(menu.id) && selection.ids.size > 1 ? [...selection.ids] : undefined}
          selection={menuSelection(menu.id)}
          archived={state.archived}
          onClose={() => setMenu(null)}
          onDetails={() => setView("details", menu.id)}
          onFullScreen={() => navigate(`/projects/${project ?? "-"}/tasks/${menu.id}`)}
          onCompare={() => setView("compare")}
          run={run}
        />
      )}
      {columnsAt && <ColumnsMenu state={state} setState={setState} x={columnsAt.x} y={columnsAt.y} onClose={() => setColumnsAt(null)} />}
      {csvAt && (
        <Popup x={csvAt.x} y={csvAt.y} onClose={() => setCsvAt(null)} className="menu">
          <div role="menu">
            <button role="menuitem" onClick={() => csv(false)}>
              Download onscreen items
            </button>
            <button role="menuitem" onClick={() => csv(true)}>
              Download all items
            </button>
          </div>
        </Popup>
      )}
      {creating && (
        <NewTaskModal
          project={projectInfo?.name}
          onClose={() => setCreating(false)}
          onCreated={(id) => {
            setCreating(false);
            void refresh();
            setView("details", id);
          }}
        />
      )}
      {dialog}
    </div>
  );
}
