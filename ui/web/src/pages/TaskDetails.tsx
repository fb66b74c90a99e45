/** A task's details: the info panel beside the table, and the full-screen page (the header and tab bar; each tab lives in details/). */
import { useState } from "react";
import { api, data } from "../api/client";
import { useLive } from "../api/events";
import { ActionMenu, useRunAction } from "../table/actions";
import { StatusBadge } from "../ui";
import { ArtifactsTab } from "./details/ArtifactsTab";
import { ConfigurationTab } from "./details/ConfigurationTab";
import { ConsoleTab } from "./details/ConsoleTab";
import { ExecutionTab } from "./details/ExecutionTab";
import { InfoTab } from "./details/InfoTab";
import { PlotsTab } from "./details/PlotsTab";
import { ScalarsTab } from "./details/ScalarsTab";

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
        {tab === "execution" && <ExecutionTab task={task} onSaved={load} />}
        {tab === "configuration" && <ConfigurationTab task={task} onSaved={load} />}
        {tab === "console" && <ConsoleTab id={id} status={task.status} />}
        {tab === "scalars" && <ScalarsTab id={id} />}
        {tab === "plots" && <PlotsTab id={id} />}
        {tab === "artifacts" && <ArtifactsTab task={task} />}
        {tab === "info" && <InfoTab task={task} />}
      </div>
      {menu && (
        <ActionMenu x={menu.x} y={menu.y} taskId={id} selection={selection} archived={task.system_tags.includes("archived")} onClose={() => setMenu(null)} run={run} />
      )}
      {dialog}
    </aside>
  );
}
