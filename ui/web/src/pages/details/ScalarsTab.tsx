// The Scalars tab: the task's single values and one chart per reported metric.
import { useCallback, useEffect, useMemo, useState } from "react";
import { raw, type Schemas } from "../../api/client";
import { useChanges } from "../../api/events";
import { ChartGrid, type GridChart, type LegendEntry } from "../../charts/ChartGrid";
import { ChartTools, seriesColor, type ChartOptions } from "../../charts/ScalarChart";
import { rounded } from "../../format";

export function ScalarsTab({ id }: { id: string }) {
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
  // One chart per metric, its variants as lines; a variant keeps its colour in every chart.
  const { entries, charts } = useMemo(() => {
    const entries = new Map<string, LegendEntry>();
    const byMetric = new Map<string, GridChart>();
    for (const s of series ?? []) {
      let entry = entries.get(s.variant);
      if (!entry) entries.set(s.variant, (entry = { key: s.variant, label: s.variant, color: seriesColor(entries.size) }));
      const chart = byMetric.get(s.metric) ?? { title: s.metric, lines: [] };
      chart.lines.push({ key: entry.key, label: s.variant, color: entry.color, x: s.x, y: s.y });
      byMetric.set(s.metric, chart);
    }
    return { entries: [...entries.values()], charts: [...byMetric.values()] };
  }, [series]);
  if (!series) return <p className="muted">Loading…</p>;
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
      <ChartGrid entries={entries} charts={charts} options={options} />
      {series.length === 0 && <p className="muted">No scalars reported.</p>}
    </div>
  );
}
