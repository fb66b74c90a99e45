/** A history series of a queue or worker (avg per interval, with its max) as a small time chart. */
import { raw, type Schemas } from "../api/client";
import { useLive } from "../api/events";
import { ScalarChart, type ChartOptions } from "./ScalarChart";

const OPTIONS: ChartOptions = { x: "time", smoothing: 0, log: false, raw: false };

/** Every series of `path` (a queue's or worker's history) over the last hour. */
export function useHistory(path: string, kind: "queue" | "worker", id: string) {
  return useLive(() => raw<Schemas["History"]>("GET", path), (c) => c.kind === kind && c.id === id, [path]).value;
}

export function HistoryChart({ title, points, scale = 1 }: { title: string; points: Schemas["HistoryPoint"][] | undefined; scale?: number }) {
  const p = points ?? [];
  const x = p.map((h) => Date.parse(h.t));
  return (
    <ScalarChart
      title={title}
      height={160}
      options={OPTIONS}
      lines={[
        { label: "avg", x, y: p.map((h) => h.avg * scale) },
        { label: "max", x, y: p.map((h) => h.max * scale) },
      ]}
    />
  );
}
