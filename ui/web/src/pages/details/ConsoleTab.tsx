// The Console tab: the task's console output, followed live, with search and download.
import { useCallback, useEffect, useRef, useState } from "react";
import { raw, type Schemas } from "../../api/client";
import { useChanges } from "../../api/events";

/** The console: the tail, then new output as it arrives; search and download. */
export function ConsoleTab({ id, status }: { id: string; status: string }) {
  const [entries, setEntries] = useState<Schemas["ConsoleEntry"][]>([]);
  const [search, setSearch] = useState("");
  const [follow, setFollow] = useState(true);
  const last = useRef(0);
  const box = useRef<HTMLPreElement>(null);
  const load = useCallback(async () => {
    const p = new URLSearchParams({ tail: "true", limit: "2000" });
    if (search) p.set("search", search);
    const page = await raw<Schemas["ConsolePage"]>("GET", `/api/v1/tasks/${id}/console?${p}`);
    setEntries(page.entries);
    last.current = page.last;
  }, [id, search]);
  const more = useCallback(async () => {
    const p = new URLSearchParams({ after: String(last.current), limit: "2000" });
    if (search) p.set("search", search);
    const page = await raw<Schemas["ConsolePage"]>("GET", `/api/v1/tasks/${id}/console?${p}`);
    if (page.entries.length) setEntries((e) => [...e, ...page.entries].slice(-20000));
    last.current = page.last;
  }, [id, search]);
  useEffect(() => void load().catch(() => {}), [load]);
  useChanges((c) => {
    if (c.kind === "console" && c.task === id) void more().catch(() => {});
  });
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [entries, follow]);
  const text = entries.map((e) => e.text).join("");
  return (
    <div className="console">
      <div className="chart-tools">
        <input type="search" placeholder="Search the console" value={search} onChange={(e) => setSearch(e.target.value)} aria-label="Search the console" />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <span className="spacer" />
        <button
          onClick={() => {
            const a = document.createElement("a");
            a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
            a.download = `${id}.log`;
            a.click();
            setTimeout(() => URL.revokeObjectURL(a.href), 1000);
          }}
        >
          ⤓ Download
        </button>
      </div>
      <pre ref={box} className="log" data-status={status}>
        {text || <span className="muted">No output yet.</span>}
      </pre>
    </div>
  );
}
