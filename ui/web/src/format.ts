/** How values look on screen: status names, elapsed times, rounded numbers. */
import type { TaskStatus } from "./api/client";

export const STATUS_LABEL: Record<TaskStatus, string> = {
  created: "Draft",
  queued: "Pending",
  in_progress: "Running",
  stopped: "Aborted",
  completed: "Completed",
  failed: "Failed",
  published: "Published",
};

export const TASK_TYPES = [
  "training",
  "testing",
  "inference",
  "data_processing",
  "application",
  "monitor",
  "controller",
  "optimizer",
  "service",
  "qc",
  "custom",
] as const;

/** "3m ago", "2h ago", "5d ago" for a time in the past. */
export function elapsed(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "";
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 86400 * 30) return `${Math.floor(s / 86400)}d ago`;
  return new Date(iso).toLocaleDateString();
}

/** A local date and time with seconds, for tooltips. */
export function exactTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : "";
}

/** A duration in seconds as "1h 02m", "3m 05s", "12s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A number rounded for display (the precise value goes in the tooltip). */
export function rounded(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** The precise text of a value (JSON numbers keep full precision). */
export function precise(v: unknown): string {
  if (v == null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return v.join(", ");
  return JSON.stringify(v);
}

/** Bytes as "1.2 GiB". */
export function bytes(n: number | null | undefined): string {
  if (n == null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
