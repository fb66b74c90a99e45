/** The daemon's live change stream (server-sent events), shared by every view. */
import { useCallback, useEffect, useRef, useState } from "react";
import { messageOf, type Schemas } from "./client";

export type Change = Schemas["Change"];
type Listener = (change: Change) => void;

const listeners = new Set<Listener>();
let source: EventSource | null = null;

function connect() {
  if (source) return;
  source = new EventSource("/api/v1/events");
  for (const kind of ["task", "queue", "worker", "console", "project", "resync"]) {
    source.addEventListener(kind, (e) => {
      const change = JSON.parse((e as MessageEvent).data) as Change;
      listeners.forEach((l) => l(change));
    });
  }
  // A reconnect may have missed changes: everyone re-reads.
  source.onopen = () => listeners.forEach((l) => l({ kind: "resync" } as Change));
}

/** Calls `f` for every committed change while the component is mounted. */
export function useChanges(f: Listener) {
  const ref = useRef(f);
  ref.current = f;
  useEffect(() => {
    const l: Listener = (c) => ref.current(c);
    listeners.add(l);
    connect();
    return () => {
      listeners.delete(l);
      if (listeners.size === 0 && source) {
        source.close();
        source = null;
      }
    };
  }, []);
}

/**
 * Data read by `load` and read again on every change `affects` selects (and on a resync):
 * the value, its error (a readable message) and `reload`.
 */
export function useLive<T>(load: () => Promise<T>, affects: (change: Change) => boolean, deps: unknown[]) {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState("");
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const reload = useCallback(
    () =>
      load()
        .then((v) => {
          setValue(v);
          setError("");
        })
        .catch((e) => setError(messageOf(e))),
    deps,
  );
  useEffect(() => void reload(), [reload]);
  useChanges((c) => {
    if (c.kind === "resync" || affects(c)) void reload();
  });
  return { value, error, reload };
}
