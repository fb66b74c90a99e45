/** The table's rows: keyset pages loaded as the grid scrolls, refreshed on live changes. */
import { useCallback, useEffect, useRef, useState } from "react";
import { messageOf, raw, type TablePage, type TableRow } from "../api/client";
import { useChanges } from "../api/events";
import { toParams, type TableState } from "./query";

const PAGE = 200;

export function useTableRows(state: TableState) {
  const [rows, setRows] = useState<TableRow[]>([]);
  const [columns, setColumns] = useState<string[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [count, setCount] = useState<number | null>(null);
  const query = toParams(state).toString();
  // Timers and live changes may call an older render's functions: they read the query here.
  const queryRef = useRef(query);
  queryRef.current = query;
  const generation = useRef(0);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;

  /** Reads the first `limit` rows again (a new query, or — `quiet`, no busy indicator — a
   * refresh keeping what was loaded). */
  const reload = useCallback(
    async (limit: number, quiet = false) => {
      const g = ++generation.current;
      const query = queryRef.current;
      if (!quiet) setLoading(true);
      try {
        // The rows show as soon as they come; the count (a slower query) follows.
        const counted = raw<{ count: number }>("GET", `/api/v1/table/count?${query}`).then((total) => {
          if (g === generation.current) setCount(total.count);
        });
        counted.catch(() => {}); // Reported below when this load is still current.
        const page = await raw<TablePage>("GET", `/api/v1/table/tasks?${query}&limit=${Math.min(1000, Math.max(PAGE, limit))}`);
        if (g !== generation.current) return;
        setRows(page.rows);
        setColumns(page.columns);
        setNext(page.next ?? null);
        setError("");
        await counted;
      } catch (e) {
        if (g === generation.current) setError(messageOf(e));
      } finally {
        if (g === generation.current) setLoading(false);
      }
    },
    [query],
  );

  // The rows shown stay until the new ones arrive: no flash, no layout shift.
  useEffect(() => {
    void reload(PAGE);
  }, [reload]);

  const loadMore = useCallback(async () => {
    if (!next) return;
    const g = generation.current;
    setLoading(true);
    try {
      const page = await raw<TablePage>("GET", `/api/v1/table/tasks?${query}&limit=${PAGE}&cursor=${encodeURIComponent(next)}`);
      if (g !== generation.current) return;
      setRows((r) => [...r, ...page.rows]);
      setNext(page.next ?? null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      if (g === generation.current) setLoading(false);
    }
  }, [next, query]);

  /** Patches the rows of the given tasks in place (a change that keeps the order). */
  const patch = useCallback(
    async (ids: string[]) => {
      const p = new URLSearchParams(queryRef.current);
      p.set("ids", ids.join(","));
      p.set("limit", "1000");
      try {
        const g = generation.current;
        const page = await raw<TablePage>("GET", `/api/v1/table/tasks?${p}`);
        if (g !== generation.current) return;
        const fresh = new Map(page.rows.map((r) => [r.id, r]));
        setRows((rs) => rs.map((r) => fresh.get(r.id) ?? r));
      } catch {
        // The next refresh tries again.
      }
    },
    [query],
  );

  // Live changes: debounced; rows already loaded are refreshed (the first 1000 re-read in
  // order, or just the changed ones when more are loaded).
  const pending = useRef<Set<string> | "all">(new Set());
  const timer = useRef<number | undefined>(undefined);
  const flush = useCallback(() => {
    const changed = pending.current;
    pending.current = new Set();
    timer.current = undefined;
    const loaded = rowsRef.current.length;
    if (changed !== "all" && loaded > 1000) {
      const known = [...changed].filter((id) => rowsRef.current.some((r) => r.id === id));
      if (known.length) void patch(known);
    } else void reload(loaded, true);
  }, [patch, reload]);
  useChanges((c) => {
    if (c.kind === "task") {
      if (pending.current !== "all") pending.current.add(c.id);
    } else if (c.kind === "resync" || c.kind === "project") pending.current = "all";
    else return;
    if (timer.current === undefined) timer.current = window.setTimeout(flush, 400);
  });
  // Metrics arrive without status changes: running tasks are re-read every few seconds.
  const running = rows.some((r) => r.status === "in_progress");
  useEffect(() => {
    if (!running) return;
    const t = window.setInterval(() => {
      pending.current = "all";
      flush();
    }, 5000);
    return () => window.clearInterval(t);
  }, [running, flush]);

  return { rows, columns, hasMore: next !== null, loading, error, count, loadMore, refresh: () => reload(rows.length) };
}
