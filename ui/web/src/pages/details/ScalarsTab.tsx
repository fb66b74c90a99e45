// The Scalars tab: the task's single values and one chart per reported metric.
import { useCallback, useEffect, useState } from "react";
import { raw, type Schemas } from "../../api/client";
import { useChanges } from "../../api/events";
import { ChartTools, ScalarChart, type ChartOptions } from "../../charts/ScalarChart";
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
