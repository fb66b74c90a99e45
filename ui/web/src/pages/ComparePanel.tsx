/** The comparison view: scalars overlaid per metric (single values as a bar chart), plots, and a hyperparameter diff. */
import { useEffect, useMemo, useState } from "react";
import { messageOf, raw, type Schemas } from "../api/client";
import { PlotlyFigure, type Figure } from "../charts/PlotlyFigure";
import { ChartGrid, type GridChart, type LegendEntry } from "../charts/ChartGrid";
import { ChartTools, seriesColor, type ChartOptions, type SeriesFocus } from "../charts/ScalarChart";

type Tab = "scalars" | "plots" | "hyperparameters";

export function ComparePanel({ ids }: { ids: string[] }) {
  const [tab, setTab] = useState<Tab>("scalars");
  const key = ids.join(",");
  return (
    <section className="compare" aria-label="Comparison">
      <div className="toolbar">
        <select value={tab} onChange={(e) => setTab(e.target.value as Tab)} aria-label="Compare">
          <option value="scalars">Scalars</option>
          <option value="plots">Plots</option>
          <option value="hyperparameters">Hyperparameters</option>
        </select>
        <span className="muted">{ids.length} tasks</span>
      </div>
      {ids.length === 0 && <p className="empty">No tasks to compare.</p>}
      {ids.length > 0 && tab === "scalars" && <CompareScalars ids={key} />}
      {ids.length > 0 && tab === "plots" && <ComparePlots ids={key} />}
      {ids.length > 0 && tab === "hyperparameters" && <CompareParams ids={key} />}
    </section>
  );
}

function useCompare<T>(what: string, ids: string, extra = "") {
  const [result, setResult] = useState<T | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    setResult(null);
    raw<T>("GET", `/api/v1/table/compare/${what}?tasks=${ids}${extra}`)
      .then(setResult)
      .catch((e) => setError(messageOf(e)));
  }, [what, ids, extra]);
  return { result, error };
}

function CompareScalars({ ids }: { ids: string }) {
  const [options, setOptions] = useState<ChartOptions>({ x: "iteration", smoothing: 0, log: false, raw: false });
  const { result, error } = useCompare<Schemas["CompareScalars"]>("scalars", ids, `&x=${options.x}`);
  const [hiddenCharts, setHiddenCharts] = useState<Set<string>>(new Set());
  const [choosing, setChoosing] = useState(false);
  // One colour and one legend entry per task, the same in every chart.
  const entries = useMemo<LegendEntry[]>(() => result?.tasks.map((t, i) => ({ key: t.id, label: t.name, color: seriesColor(i) })) ?? [], [result]);
  const charts = useMemo<GridChart[]>(() => {
    const byId = new Map(entries.map((e) => [e.key, e]));
    return (result?.charts ?? [])
      .filter((c) => !hiddenCharts.has(chartKey(c)))
      .map((c) => ({
        title: chartKey(c),
        lines: c.lines.map((l) => ({ key: l.task, label: byId.get(l.task)?.label ?? l.task, color: byId.get(l.task)?.color, x: l.x, y: l.y })),
      }));
  }, [result, entries, hiddenCharts]);
  if (error) return <p className="error">{error}</p>;
  if (!result) return <p className="muted">Loading…</p>;
  const singles = result.single_values;
  // The single values as grouped bars, one colour per task; the grid's legend names them.
  const summary = (focus: SeriesFocus, height: number) => (
    <PlotlyFigure
      height={height}
      figure={{
        data: result.tasks.map((t, i) => ({
          type: "bar",
          name: t.name,
          visible: !focus.hidden.has(t.id),
          opacity: focus.highlight == null || focus.highlight === t.id ? 1 : 0.25,
          marker: { color: entries[i].color },
          x: singles.names,
          y: singles.values[i].map((v) => (typeof v === "number" ? v : null)),
        })),
        layout: { barmode: "group", showlegend: false, margin: { l: 50, r: 10, t: 10, b: 30 } },
      }}
      title="Summary"
      untitled
    />
  );
  return (
    <div>
      <div className="toolbar">
        <ChartTools options={options} setOptions={setOptions} />
        <button onClick={() => setChoosing(!choosing)} aria-expanded={choosing}>
          ⚙ Metrics
        </button>
      </div>
      {choosing && (
        <div className="chooser">
          {result.charts.map((c) => (
            <label key={chartKey(c)} className="check">
              <input
                type="checkbox"
                checked={!hiddenCharts.has(chartKey(c))}
                onChange={() => {
                  const next = new Set(hiddenCharts);
                  if (!next.delete(chartKey(c))) next.add(chartKey(c));
                  setHiddenCharts(next);
                }}
              />
              {chartKey(c)}
            </label>
          ))}
        </div>
      )}
      <ChartGrid entries={entries} charts={charts} options={options} lead={singles.names.length > 0 ? summary : undefined} />
      {result.charts.length === 0 && singles.names.length === 0 && <p className="muted">No scalars reported.</p>}
    </div>
  );
}

const chartKey = (c: Schemas["CompareChart"]) => `${c.metric} › ${c.variant}`;

function ComparePlots({ ids }: { ids: string }) {
  const { result, error } = useCompare<Schemas["ComparePlots"]>("plots", ids);
  if (error) return <p className="error">{error}</p>;
  if (!result) return <p className="muted">Loading…</p>;
  const names = new Map(result.tasks.map((t) => [t.id, t.name]));
  if (result.plots.length === 0) return <p className="muted">No plots reported.</p>;
  return (
    <div className="charts">
      {result.plots.map((p) => {
        const title = `${p.metric} › ${p.variant}`;
        if (p.mergeable) {
          // Line, scatter, bar and box traces of every task overlaid in one figure.
          const data = p.figures.flatMap((f) =>
            ((f.figure as Figure).data ?? []).map((trace) => {
              const t = trace as { name?: string };
              return { ...t, name: `${names.get(f.task) ?? f.task}${t.name ? ` · ${t.name}` : ""}` };
            }),
          );
          const layout = (p.figures[0]?.figure as Figure | undefined)?.layout;
          return <PlotlyFigure key={title} title={title} figure={{ data, layout }} />;
        }
        return (
          <div key={title} className="side-by-side">
            {p.figures.map((f) => (
              <PlotlyFigure key={f.task} title={`${title} — ${names.get(f.task) ?? f.task}`} figure={f.figure as Figure} />
            ))}
          </div>
        );
      })}
    </div>
  );
}

function CompareParams({ ids }: { ids: string }) {
  const { result, error } = useCompare<Schemas["CompareParams"]>("params", ids);
  const [onlyDiff, setOnlyDiff] = useState(false);
  if (error) return <p className="error">{error}</p>;
  if (!result) return <p className="muted">Loading…</p>;
  const rows = (values: Schemas["CompareValue"][]) =>
    values
      .filter((v) => !onlyDiff || v.differs)
      .map((v) => (
        <tr key={v.name} className={v.differs ? "differs" : ""}>
          <th>{v.name}</th>
          {v.values.map((x, i) => (
            <td key={i}>{x ?? <span className="muted">—</span>}</td>
          ))}
        </tr>
      ));
  return (
    <div className="params-diff">
      <label className="check">
        <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} />
        Only differences
      </label>
      <table className="plain">
        <thead>
          <tr>
            <th />
            {result.tasks.map((t) => (
              <th key={t.id}>{t.name}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows(result.hyperparams)}
          {result.configuration.length > 0 && (
            <tr>
              <th colSpan={result.tasks.length + 1}>Configuration</th>
            </tr>
          )}
          {rows(result.configuration)}
        </tbody>
      </table>
    </div>
  );
}
