/** A scalar chart (uPlot): several lines on one x axis, with smoothing, log scale and raw lines. */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type XKind = "iteration" | "time" | "relative";

export interface Line {
  label: string;
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

export function ScalarChart({ title, lines, options, height = 240 }: { title: string; lines: Line[]; options: ChartOptions; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
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
    const series: uPlot.Series[] = [{ label: options.x === "iteration" ? "iteration" : options.x === "time" ? "time" : "seconds" }];
    lines.forEach((l, i) => {
      const color = seriesColor(i);
      if (smoothed && options.raw) series.push({ label: `${l.label} (raw)`, stroke: color + "44", width: 1, spanGaps: true });
      series.push({ label: l.label, stroke: color, width: 1.5, spanGaps: true });
    });
    const dark = document.documentElement.dataset.theme === "dark";
    const axis = { stroke: dark ? "#aab" : "#555", grid: { stroke: dark ? "#333a" : "#0001" }, ticks: { stroke: dark ? "#333a" : "#0001" } };
    const plot = new uPlot(
      {
        title,
        width: el.clientWidth || 400,
        height,
        series,
        scales: { x: { time: options.x === "time" }, y: { distr: options.log ? 3 : 1 } },
        axes: [axis, axis],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [title, lines, options, height]);
  return <div className="chart" ref={box} data-chart={title} />;
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
