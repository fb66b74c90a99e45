/** A Plotly figure, with Plotly loaded only when a plot is first shown. */
import { useEffect, useRef, useState } from "react";

type Plotly = {
  react(el: HTMLElement, data: unknown[], layout: unknown, config: unknown): Promise<unknown>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
};
let loading: Promise<Plotly> | null = null;
const plotly = () => (loading ??= import("plotly.js-dist-min").then((m) => (m.default ?? m) as Plotly));

export interface Figure {
  data?: unknown[];
  layout?: Record<string, unknown>;
}

/** A title as Plotly 3 takes it: `{text}` (a bare string, as many figures carry, shows nothing). */
function titleOf(t: unknown): unknown {
  return typeof t === "string" ? { text: t } : t;
}

/** The layout with every title (the figure's, its axes') in Plotly 3's form. */
function withTitles(layout: Record<string, unknown>, title?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...layout, title: titleOf(title ?? layout.title) };
  for (const [key, value] of Object.entries(layout)) {
    if (/^[xyz]axis\d*$/.test(key) && value && typeof value === "object") {
      const axis = value as Record<string, unknown>;
      out[key] = { ...axis, title: titleOf(axis.title) };
    }
  }
  return out;
}

/** `title` names the figure (and titles it unless `untitled`, where a card's caption does). */
export function PlotlyFigure({ figure, title, height = 320, untitled = false }: { figure: Figure; title?: string; height?: number; untitled?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState("");
  const mounted = useRef(true);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const dark = document.documentElement.dataset.theme === "dark";
    const own = withTitles(figure.layout ?? {}, untitled ? undefined : title);
    const grid = dark ? { gridcolor: "#333a44", zerolinecolor: "#555b66", linecolor: "#555b66" } : {};
    const layout = {
      margin: { l: 50, r: 20, t: 40, b: 40 },
      ...own,
      xaxis: { ...grid, ...(own.xaxis as object) },
      yaxis: { ...grid, ...(own.yaxis as object) },
      autosize: true,
      height,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: dark ? "#dde" : "#222" },
    };
    // Drawn anew in place (Plotly.react), so a change such as a highlight does not flicker.
    plotly()
      .then((p) => mounted.current && p.react(el, figure.data ?? [], layout, { responsive: true, displaylogo: false }))
      .catch((e) => setError(String(e)));
  }, [figure, title, height, untitled]);
  useEffect(() => {
    const el = box.current;
    mounted.current = true;
    return () => {
      mounted.current = false;
      if (el) void plotly().then((p) => p.purge(el));
    };
  }, []);
  return (
    <div className="figure" data-plot={title}>
      {error && <p className="error">{error}</p>}
      <div ref={box} />
    </div>
  );
}
