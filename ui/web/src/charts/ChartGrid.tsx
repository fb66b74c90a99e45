/**
 * Charts laid out to use the screen: a grid of one to three columns by its width, one compact
 * legend for every chart (filterable once there are many series; a click hides a series
 * everywhere), a series hovered in one chart or in the legend highlighted in all of them, and
 * each chart expandable to full screen.
 */
import { useEffect, useMemo, useState, type ReactNode } from "react";
import { Icon } from "../icons";
import { ScalarChart, type ChartOptions, type Line, type SeriesFocus } from "./ScalarChart";

export interface LegendEntry {
  key: string;
  label: string;
  color: string;
}

export interface GridChart {
  title: string;
  lines: Line[];
}

/** The legend's filter box shows once there are more series than this. */
const FILTER_FROM = 12;
const CHART_HEIGHT = 220;

export function ChartGrid({ entries, charts, options, lead }: { entries: LegendEntry[]; charts: GridChart[]; options: ChartOptions; lead?: (focus: SeriesFocus, height: number) => ReactNode }) {
  const [highlight, setHighlight] = useState<string | null>(null);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const focus = useMemo<SeriesFocus>(() => ({ highlight, hidden, onHover: setHighlight }), [highlight, hidden]);
  return (
    <div className="chart-grid-wrap">
      {entries.length > 1 && <Legend entries={entries} hidden={hidden} setHidden={setHidden} highlight={highlight} setHighlight={setHighlight} />}
      <div className="chart-grid">
        {lead && <ChartCard title="Summary">{(height) => lead(focus, height)}</ChartCard>}
        {charts.map((c) => (
          <ChartCard key={c.title} title={c.title}>
            {(height) => <ScalarChart title={c.title} lines={c.lines} options={options} height={height} focus={focus} />}
          </ChartCard>
        ))}
      </div>
    </div>
  );
}

/** A chart with its title and a full-screen toggle (Escape leaves full screen). */
function ChartCard({ title, children }: { title: string; children: (height: number) => ReactNode }) {
  const [full, setFull] = useState(false);
  const [viewport, setViewport] = useState(window.innerHeight);
  useEffect(() => {
    if (!full) return;
    const key = (e: KeyboardEvent) => e.key === "Escape" && setFull(false);
    const resize = () => setViewport(window.innerHeight);
    window.addEventListener("keydown", key);
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("keydown", key);
      window.removeEventListener("resize", resize);
    };
  }, [full]);
  return (
    <figure className={`chart-card${full ? " full" : ""}`} data-card={title} role={full ? "dialog" : undefined} aria-label={full ? title : undefined}>
      <figcaption>
        <span title={title}>{title}</span>
        <button className="icon" aria-label={full ? `Leave full screen: ${title}` : `Full screen: ${title}`} title={full ? "Leave full screen (Esc)" : "Full screen"} onClick={() => setFull(!full)}>
          <Icon name={full ? "collapse" : "expand"} />
        </button>
      </figcaption>
      {children(full ? Math.max(CHART_HEIGHT, viewport - 110) : CHART_HEIGHT)}
    </figure>
  );
}

/** The series of every chart, as compact chips: hover highlights, a click hides or shows. */
function Legend({
  entries,
  hidden,
  setHidden,
  highlight,
  setHighlight,
}: {
  entries: LegendEntry[];
  hidden: ReadonlySet<string>;
  setHidden(h: ReadonlySet<string>): void;
  highlight: string | null;
  setHighlight(key: string | null): void;
}) {
  const [filter, setFilter] = useState("");
  const needle = filter.trim().toLowerCase();
  const shown = needle ? entries.filter((e) => e.label.toLowerCase().includes(needle)) : entries;
  const toggle = (key: string) => {
    const next = new Set(hidden);
    if (!next.delete(key)) next.add(key);
    setHidden(next);
  };
  return (
    <div className="chart-legend" role="group" aria-label="Series">
      {entries.length > FILTER_FROM && (
        <div className="legend-tools">
          <input type="search" placeholder={`Filter ${entries.length} series`} aria-label="Filter series" value={filter} onChange={(e) => setFilter(e.target.value)} />
          {needle && shown.length > 0 && (
            <button onClick={() => setHidden(new Set(entries.filter((e) => !shown.includes(e)).map((e) => e.key)))}>Show only these {shown.length}</button>
          )}
          {hidden.size > 0 && <button onClick={() => setHidden(new Set())}>Show all</button>}
          <span className="muted">{hidden.size > 0 ? `${entries.length - hidden.size} of ${entries.length} shown` : ""}</span>
        </div>
      )}
      <ul>
        {shown.map((e) => (
          <li key={e.key}>
            <button
              className={`${hidden.has(e.key) ? "off" : ""}${highlight === e.key ? " hl" : ""}`}
              data-series={e.key}
              aria-pressed={!hidden.has(e.key)}
              title={hidden.has(e.key) ? `Show ${e.label}` : `Hide ${e.label}`}
              onMouseEnter={() => setHighlight(e.key)}
              onMouseLeave={() => setHighlight(null)}
              onClick={() => toggle(e.key)}
            >
              <i style={{ background: e.color }} />
              {e.label}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
