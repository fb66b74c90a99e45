/** The column chooser: show/hide, and metric (last/min/max), hyperparameter and property columns. */
import { useEffect, useState } from "react";
import { raw, type Schemas } from "../api/client";
import { Popup } from "../ui";
import { BUILTINS, columnLabel, isCustom, metricColumn, paramColumn, propColumn, type TableState } from "./query";

type Tab = "columns" | "metrics" | "hyperparameters";

export function ColumnsMenu({ state, setState, x, y, onClose }: { state: TableState; setState(s: TableState): void; x: number; y: number; onClose(): void }) {
  const [tab, setTab] = useState<Tab>("columns");
  const [catalogue, setCatalogue] = useState<Schemas["ColumnCatalogue"] | null>(null);
  const [search, setSearch] = useState("");
  const [open, setOpen] = useState<Set<string>>(new Set());
  useEffect(() => {
    const p = new URLSearchParams();
    if (state.project) p.set("project", state.project);
    raw<Schemas["ColumnCatalogue"]>("GET", `/api/v1/table/catalogue?${p}`).then(setCatalogue).catch(() => {});
  }, [state.project]);

  const has = (id: string) => state.columns.some((c) => c.id === id);
  const toggleColumn = (id: string) => {
    const existing = state.columns.find((c) => c.id === id);
    if (!existing) setState({ ...state, columns: [...state.columns, { id, hidden: false }] });
    else if (isCustom(id) && tab !== "columns") setState({ ...state, columns: state.columns.filter((c) => c.id !== id) });
    else setState({ ...state, columns: state.columns.map((c) => (c.id === id ? { ...c, hidden: !c.hidden } : c)) });
  };
  const remove = (id: string) => setState({ ...state, columns: state.columns.filter((c) => c.id !== id) });
  const expand = (key: string) => {
    const next = new Set(open);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setOpen(next);
  };
  const q = search.toLowerCase();
  const listed = [...state.columns.map((c) => c.id), ...BUILTINS.filter((b) => !has(b))];

  return (
    <Popup x={x} y={y} onClose={onClose} className="columns-menu">
      <div className="segmented">
        {(["columns", "metrics", "hyperparameters"] as Tab[]).map((t) => (
          <button key={t} className={tab === t ? "on" : ""} onClick={() => setTab(t)}>
            {t === "columns" ? "Columns" : t === "metrics" ? "+ Metrics" : "+ Hyperparameters"}
          </button>
        ))}
      </div>
      <input placeholder="Search" value={search} onChange={(e) => setSearch(e.target.value)} />
      <div className="list">
        {tab === "columns" &&
          listed
            .filter((id) => columnLabel(id).toLowerCase().includes(q))
            .map((id) => {
              const spec = state.columns.find((c) => c.id === id);
              return (
                <label key={id} data-column={id}>
                  <input type="checkbox" checked={!!spec && !spec.hidden} onChange={() => toggleColumn(id)} />
                  <span>{columnLabel(id)}</span>
                  {isCustom(id) && (
                    <button className="icon" aria-label={`Remove ${columnLabel(id)}`} onClick={(e) => { e.preventDefault(); remove(id); }}>
                      ×
                    </button>
                  )}
                </label>
              );
            })}
        {tab === "metrics" &&
          Object.entries(catalogue?.metrics ?? {}).flatMap(([metric, variants]) =>
            (variants as string[])
              .filter((v) => `${metric} ${v}`.toLowerCase().includes(q))
              .map((variant) => {
                const key = `${metric}/${variant}`;
                return (
                  <div key={key} className="tree">
                    <button className="link" onClick={() => expand(key)} aria-expanded={open.has(key) || !!q}>
                      {open.has(key) || q ? "▾" : "▸"} {metric} › {variant}
                    </button>
                    {(open.has(key) || q) && (
                      <div className="aggs">
                        {(["last", "min", "max"] as const).map((agg) => {
                          const id = metricColumn(metric, variant, agg);
                          return (
                            <label key={agg} data-column={id}>
                              <input type="checkbox" checked={has(id)} onChange={() => toggleColumn(id)} />
                              {agg.toUpperCase()}
                            </label>
                          );
                        })}
                      </div>
                    )}
                  </div>
                );
              }),
          )}
        {tab === "hyperparameters" && (
          <>
            {Object.entries(catalogue?.hyperparams ?? {}).map(([section, names]) => (
              <div key={section} className="tree">
                <button className="link" onClick={() => expand(section)} aria-expanded={open.has(section) || !!q}>
                  {open.has(section) || q ? "▾" : "▸"} {section}
                </button>
                {(open.has(section) || q) &&
                  (names as string[])
                    .filter((n) => `${section} ${n}`.toLowerCase().includes(q))
                    .map((name) => {
                      const id = paramColumn(section, name);
                      return (
                        <label key={name} className="leaf" data-column={id}>
                          <input type="checkbox" checked={has(id)} onChange={() => toggleColumn(id)} />
                          {name}
                        </label>
                      );
                    })}
              </div>
            ))}
            {(catalogue?.properties ?? []).length > 0 && <p className="muted">User properties</p>}
            {(catalogue?.properties ?? [])
              .filter((n) => n.toLowerCase().includes(q))
              .map((name) => {
                const id = propColumn(name);
                return (
                  <label key={name} className="leaf" data-column={id}>
                    <input type="checkbox" checked={has(id)} onChange={() => toggleColumn(id)} />
                    {name}
                  </label>
                );
              })}
          </>
        )}
        {tab !== "columns" && !catalogue && <p className="muted">Loading…</p>}
      </div>
    </Popup>
  );
}
