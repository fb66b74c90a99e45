// The Plots tab: the task's reported Plotly figures.
import { useEffect, useState } from "react";
import { raw, type Schemas } from "../../api/client";
import { PlotlyFigure, type Figure } from "../../charts/PlotlyFigure";

export function PlotsTab({ id }: { id: string }) {
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
