/** The daemon's live change stream (server-sent events), shared by every view. */
import { useEffect, useRef } from "react";
import type { Schemas } from "./client";

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
