/** Saved views: named table states kept on the server, shared with everyone who sees the project. */
import { useEffect, useState } from "react";
import { messageOf, raw, type Schemas } from "../api/client";
import { useAuth } from "../auth";
import { Popup, useToast } from "../ui";
import { toUrl, type TableState } from "./query";

export function ViewsMenu({ state, project, apply }: { state: TableState; project?: string; apply(query: string): void }) {
  const [at, setAt] = useState<{ x: number; y: number } | null>(null);
  const [views, setViews] = useState<Schemas["SavedView"][]>([]);
  const toast = useToast();
  const { user } = useAuth();
  const load = () =>
    raw<Schemas["SavedView"][]>("GET", `/api/v1/table/views${project ? `?project=${encodeURIComponent(project)}` : ""}`)
      .then(setViews)
      .catch(() => setViews([]));
  useEffect(() => {
    if (at) void load();
  }, [at, project]); // eslint-disable-line react-hooks/exhaustive-deps

  async function save() {
    const name = window.prompt("Name of the view");
    if (!name?.trim()) return;
    try {
      await raw("POST", "/api/v1/table/views", { name: name.trim(), project: project ?? null, state: toUrl(state).toString() });
      toast(`Saved view "${name.trim()}"`);
      await load();
    } catch (e) {
      toast(messageOf(e), true);
    }
  }
  async function remove(v: Schemas["SavedView"]) {
    try {
      await raw("DELETE", `/api/v1/table/views/${v.id}`);
      await load();
    } catch (e) {
      toast(messageOf(e), true);
    }
  }
  return (
    <>
      <button onClick={(e) => setAt({ x: e.clientX - 200, y: e.clientY + 16 })}>★ Views</button>
      {at && (
        <Popup x={at.x} y={at.y} onClose={() => setAt(null)} className="menu views-menu">
          <div role="menu" aria-label="Saved views">
            {views.map((v) => (
              <div key={v.id} className="view-item">
                <button role="menuitem" onClick={() => { apply(v.state); setAt(null); }} title={`Saved by ${v.owner}`}>
                  {v.name}
                </button>
                {(v.owner === user?.name || user?.role === "admin") && (
                  <button className="icon" aria-label={`Delete view ${v.name}`} onClick={() => void remove(v)}>
                    ×
                  </button>
                )}
              </div>
            ))}
            {views.length === 0 && <p className="muted">No saved views</p>}
            <hr />
            <button role="menuitem" onClick={() => void save()}>
              Save current view…
            </button>
          </div>
        </Popup>
      )}
    </>
  );
}
