/** A scalar chart (uPlot): several lines on one x axis, with smoothing, log scale and raw lines. */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { tickLabels } from "./ticks";

export type XKind = "iteration" | "time" | "relative";

export interface Line {
  /** Names the series across the charts of a grid (a task's id); the label by default. */
  key?: string;
  label: string;
  /** The series' colour; by its place in the chart otherwise. */
  color?: string;
  x: number[];
  /** Numbers, or NaN/±Inf as strings (not drawn). */
  y: (number | string | null)[];
}

export interface ChartOptions {
  x: XKind;
  /** Exponential smoothing weight, 0 (none) to 0.99. */
  smoothing: number;
  log: boolean;
  /** With smoothing: the raw lines drawn faintly under the smoothed ones. */
  raw: boolean;
}

export const PALETTE = ["#2f6fed", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#e67700", "#5c940d", "#862e9c", "#1864ab"];

/** `#rrggbb` of a hue (degrees), saturation and lightness (0–1). */
function hsl(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))))
      .toString(16)
      .padStart(2, "0");
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

/** The colour of the i-th series: the palette, then hues a golden angle apart at three
 * lightnesses, so a comparison of a hundred tasks repeats none. */
export function seriesColor(i: number): string {
  if (i < PALETTE.length) return PALETTE[i];
  const n = i - PALETTE.length;
  return hsl((n * 137.508 + 20) % 360, 0.65, [0.45, 0.58, 0.35][Math.floor(n / 7) % 3]);
}

const num = (v: number | string | null) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** TensorBoard's debiased exponential moving average. */
export function smooth(y: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return y;
  let last = 0;
  let n = 0;
  return y.map((v) => {
    if (v == null) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

/** Focus shared by the charts of a grid: the series under the pointer, the series hidden from
 * the legend. Series are known by their `Line.key`. */
export interface SeriesFocus {
  highlight: string | null;
  hidden: ReadonlySet<string>;
  onHover(key: string | null): void;
}

/** What each uPlot series (after the x series) draws. */
interface SeriesMeta {
  key: string;
  label: string;
  color: string;
  raw: boolean;
}

const precise6 = (v: number) => String(Number(v.toPrecision(6)));

/** A tooltip in the plot area: the hovered x, then the focused series and those nearest the
 * pointer with their values there. */
function tooltip(meta: SeriesMeta[], xLabel: (x: number) => string, focused: { key: string | null }): uPlot.Plugin {
  let tip: HTMLDivElement;
  const row = (m: SeriesMeta, value: number, focused: boolean) => {
    const line = document.createElement("div");
    line.className = focused ? "focused" : "";
    const swatch = document.createElement("i");
    swatch.style.background = m.color;
    const name = document.createElement("span");
    name.textContent = m.label;
    const v = document.createElement("b");
    v.textContent = precise6(value);
    line.append(swatch, name, v);
    return line;
  };
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement("div");
        tip.className = "chart-tip";
        tip.hidden = true;
        u.over.appendChild(tip);
      },
      setCursor: (u) => {
        const { idx, left, top } = u.cursor;
        if (idx == null || left == null || top == null || left < 0) {
          tip.hidden = true;
          return;
        }
        const at = u.posToVal(top, "y");
        const values = meta
          .map((m, i) => ({ m, i: i + 1, v: u.data[i + 1][idx] }))
          .filter((r): r is { m: SeriesMeta; i: number; v: number } => !r.m.raw && u.series[r.i].show !== false && typeof r.v === "number");
        if (!values.length) {
          tip.hidden = true;
          return;
        }
        const first = values.find((r) => r.m.key === focused.key);
        const nearest = values.filter((r) => r !== first).sort((a, b) => Math.abs(a.v - at) - Math.abs(b.v - at));
        const shown = [...(first ? [first] : []), ...nearest.slice(0, first ? 5 : 6)];
        const head = document.createElement("div");
        head.className = "x";
        head.textContent = xLabel(u.data[0][idx]);
        tip.replaceChildren(head, ...shown.map((r) => row(r.m, r.v, r === first)));
        if (values.length > shown.length) {
          const more = document.createElement("div");
          more.className = "more";
          more.textContent = `+${values.length - shown.length} more`;
          tip.append(more);
        }
        tip.hidden = false;
        const right = left > u.over.clientWidth / 2;
        tip.style.left = `${right ? left - 12 : left + 12}px`;
        tip.style.top = `${Math.min(top + 12, Math.max(0, u.over.clientHeight - tip.offsetHeight))}px`;
        tip.style.transform = right ? "translateX(-100%)" : "";
      },
    },
  };
}

/**
 * One uPlot chart. Alone it carries uPlot's own legend; in a `ChartGrid` the grid's legend
 * replaces it (`focus`): the series under the pointer is reported and highlighted in every
 * chart of the grid, hidden series are hidden everywhere, and a tooltip gives the values at the
 * hovered x.
 */
export function ScalarChart({ title, lines, options, height = 240, focus }: { title: string; lines: Line[]; options: ChartOptions; height?: number; focus?: SeriesFocus }) {
  const box = useRef<HTMLDivElement>(null);
  const plotRef = useRef<{ plot: uPlot; meta: SeriesMeta[]; focused: { key: string | null } } | null>(null);
  const hover = useRef(focus?.onHover);
  hover.current = focus?.onHover;
  const grid = focus != null;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const scale = options.x === "time" ? 1 / 1000 : options.x === "relative" ? 1 / 1000 : 1;
    const tables = lines.map((l) => {
      const y = l.y.map(num).map((v) => (options.log && v != null && v <= 0 ? null : v));
      return [l.x.map((x) => x * scale), y] as uPlot.AlignedData;
    });
    const smoothed = options.smoothing > 0;
    const data: uPlot.AlignedData = tables.length
      ? uPlot.join(
          tables.flatMap((t) => (smoothed && options.raw ? [t, [t[0], smooth(t[1] as (number | null)[], options.smoothing)]] : smoothed ? [[t[0], smooth(t[1] as (number | null)[], options.smoothing)]] : [t])) as uPlot.AlignedData[],
        )
      : [[]];
    const xName = options.x === "iteration" ? "iteration" : options.x === "time" ? "time" : "seconds";
    const series: uPlot.Series[] = [{ label: xName }];
    const meta: SeriesMeta[] = [];
    lines.forEach((l, i) => {
      const color = l.color ?? seriesColor(i);
      const key = l.key ?? l.label;
      if (smoothed && options.raw) {
        series.push({ label: `${l.label} (raw)`, stroke: color + "44", width: 1, spanGaps: true });
        meta.push({ key, label: l.label, color, raw: true });
      }
      series.push({ label: l.label, stroke: color, width: 1.5, spanGaps: true });
      meta.push({ key, label: l.label, color, raw: false });
    });
    const xLabel = (x: number) =>
      options.x === "iteration" ? `iteration ${x}` : options.x === "time" ? new Date(x * 1000).toLocaleString(undefined, { hour12: false }) : `${precise6(x)} s`;
    const focused = { key: null as string | null };
    const dark = document.documentElement.dataset.theme === "dark";
    const axis = { stroke: dark ? "#aab" : "#555", grid: { stroke: dark ? "#333a" : "#0001" }, ticks: { stroke: dark ? "#333a" : "#0001" } };
    const yAxis: uPlot.Axis = options.log
      ? axis
      : {
          ...axis,
          size: (_u, values) => Math.max(44, 22 + 7 * Math.max(0, ...(values ?? []).map((v) => v.length))),
          values: (_u, ticks, _axis, _space, step) => {
            const labels = tickLabels(ticks, step);
            el.dataset.yticks = labels.join("|");
            return labels;
          },
        };
    const plot = new uPlot(
      {
        title: grid ? undefined : title,
        width: el.clientWidth || 400,
        height,
        series,
        scales: { x: { time: options.x === "time" }, y: { distr: options.log ? 3 : 1 } },
        axes: [axis, yAxis],
        legend: { show: !grid, live: true },
        cursor: { drag: { x: true, y: false }, focus: { prox: 24 } },
        focus: { alpha: grid ? 0.2 : 1 },
        plugins: grid ? [tooltip(meta, xLabel, focused)] : [],
        hooks: {
          setSeries: [
            (_u, i, opts) => {
              // uPlot passes the change it made: a focus change, or a series shown or hidden.
              if ((opts as { focus?: boolean }).focus == null) return;
              focused.key = i == null ? null : meta[i - 1]?.key ?? null;
              hover.current?.(focused.key);
            },
          ],
        },
      },
      data,
      el,
    );
    plotRef.current = { plot, meta, focused };
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plotRef.current = null;
      plot.destroy();
    };
  }, [title, lines, options, height, grid]);
  // The grid's hidden series and highlighted one, applied without drawing the chart anew.
  const hidden = focus?.hidden;
  const highlight = focus?.highlight ?? null;
  useEffect(() => {
    const current = plotRef.current;
    if (!current || !hidden) return;
    current.plot.batch(() =>
      current.meta.forEach((m, i) => {
        const show = !hidden.has(m.key);
        if (current.plot.series[i + 1].show !== show) current.plot.setSeries(i + 1, { show }, false);
      }),
    );
  }, [hidden, lines, options, height]);
  useEffect(() => {
    const current = plotRef.current;
    if (!current || !grid) return;
    const i = highlight == null ? -1 : current.meta.map((m) => m.key).lastIndexOf(highlight);
    current.focused.key = i < 0 ? null : highlight;
    current.plot.setSeries(i < 0 ? null : i + 1, { focus: true }, false);
    if (box.current) box.current.dataset.highlight = i < 0 ? "" : highlight ?? "";
  }, [highlight, grid, lines, options, height]);
  return <div className={grid ? "plot" : "chart"} ref={box} data-chart={title} />;
}

export function ChartTools({ options, setOptions }: { options: ChartOptions; setOptions(o: ChartOptions): void }) {
  return (
    <div className="chart-tools">
      <label>
        X axis
        <select value={options.x} onChange={(e) => setOptions({ ...options, x: e.target.value as XKind })} aria-label="X axis">
          <option value="iteration">Iterations</option>
          <option value="time">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label>
        Smoothing
        <input type="range" min={0} max={0.99} step={0.01} value={options.smoothing} onChange={(e) => setOptions({ ...options, smoothing: Number(e.target.value) })} />
        <span className="hint">{options.smoothing.toFixed(2)}</span>
      </label>
      <label className="check">
        <input type="checkbox" checked={options.raw} onChange={(e) => setOptions({ ...options, raw: e.target.checked })} />
        Show raw
      </label>
      <label className="check">
        <input type="checkbox" checked={options.log} onChange={(e) => setOptions({ ...options, log: e.target.checked })} />
        Log scale
      </label>
    </div>
  );
}
