/** Per-column filters: value sets, numeric and date ranges, tags with ANY/ALL and NOT. */
import { useEffect, useState } from "react";
import { raw, type Schemas } from "../api/client";
import { STATUS_LABEL } from "../format";
import { Popup } from "../ui";
import { columnKind, filtersOf, joinList, splitList, type TableState } from "./query";

/** Columns whose distinct values make a useful checklist. */
const VALUE_SET = new Set(["status", "type", "user", "project", "queue", "worker", "tags"]);

export function filterable(id: string): boolean {
  const kind = columnKind(id);
  return VALUE_SET.has(id) || kind === "number" || kind === "date" || kind === "param";
}

export function isFiltered(state: TableState, id: string): boolean {
  return filtersOf(state, id).length > 0;
}

function label(column: string, value: string): string {
  if (column === "status") return STATUS_LABEL[value as keyof typeof STATUS_LABEL] ?? value;
  if (column === "type") return value.replace(/_/g, " ");
  return value === "" ? "(empty)" : value;
}

export function FilterPopup(props: {
  column: string;
  state: TableState;
  x: number;
  y: number;
  onClose(): void;
  onApply(clauses: string[]): void;
}) {
  const { column, state } = props;
  const kind = columnKind(column);
  const clauses = filtersOf(state, column);
  const useRange = kind === "number" || kind === "date" || (kind === "param" && clauses.some((c) => c.op !== "in" && c.op !== "not in"));
  const [mode, setMode] = useState<"values" | "range">(useRange ? "range" : "values");
  return (
    <Popup x={props.x} y={props.y} onClose={props.onClose} className="filter">
      {kind === "param" && (
        <div className="segmented">
          <button className={mode === "values" ? "on" : ""} onClick={() => setMode("values")}>
            Values
          </button>
          <button className={mode === "range" ? "on" : ""} onClick={() => setMode("range")}>
            Range
          </button>
        </div>
      )}
      {kind === "tags" ? (
        <TagsFilter {...props} />
      ) : mode === "range" ? (
        <RangeFilter {...props} date={kind === "date"} />
      ) : (
        <ValuesFilter {...props} />
      )}
    </Popup>
  );
}

type Props = Parameters<typeof FilterPopup>[0];

function useValues(column: string, project: string | undefined, search: string) {
  const [values, setValues] = useState<Schemas["ColumnValue"][]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    const p = new URLSearchParams({ column, limit: "200" });
    if (project) p.set("project", project);
    if (search) p.set("search", search);
    const t = setTimeout(
      () =>
        raw<Schemas["ColumnValues"]>("GET", `/api/v1/table/values?${p}`)
          .then((v) => {
            setValues(v.values);
            setError("");
          })
          .catch((e) => setError(String(e.message ?? e))),
      search ? 150 : 0,
    );
    return () => clearTimeout(t);
  }, [column, project, search]);
  return { values, error };
}

function ValuesFilter({ column, state, onApply }: Props) {
  const current = filtersOf(state, column).find((c) => c.op === "in" || c.op === "not in");
  const [chosen, setChosen] = useState<Set<string>>(new Set(current && current.op === "in" ? splitList(current.value) : []));
  const [search, setSearch] = useState("");
  const { values, error } = useValues(column, state.project, search);
  const apply = (next: Set<string>) => {
    setChosen(next);
    onApply(next.size ? [`${column} in ${joinList([...next])}`] : []);
  };
  return (
    <div className="values" data-filter={column}>
      <input placeholder="Search values" value={search} onChange={(e) => setSearch(e.target.value)} autoFocus />
      {error && <p className="error">{error}</p>}
      <div className="list">
        {values.map((v) => (
          <label key={v.value}>
            <input
              type="checkbox"
              checked={chosen.has(v.value)}
              onChange={() => {
                const next = new Set(chosen);
                if (next.has(v.value)) next.delete(v.value);
                else next.add(v.value);
                apply(next);
              }}
            />
            <span>{label(column, v.value)}</span>
            <span className="hint">{v.tasks}</span>
          </label>
        ))}
        {values.length === 0 && !error && <p className="muted">No values</p>}
      </div>
      <button className="link" onClick={() => apply(new Set())}>
        Clear
      </button>
    </div>
  );
}

/** A range's bound as the input shows it (dates as local datetime-local values). */
function boundText(value: string, date: boolean): string {
  if (!date || value === "") return value;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) return value;
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function RangeFilter({ column, state, onApply, date }: Props & { date: boolean }) {
  let lo = "";
  let hi = "";
  for (const c of filtersOf(state, column)) {
    if (c.op === "=" && c.value.includes("..")) [lo, hi] = c.value.split("..");
    if (c.op === ">=" || c.op === ">") lo = c.value;
    if (c.op === "<=" || c.op === "<") hi = c.value;
  }
  const [min, setMin] = useState(boundText(lo, date));
  const [max, setMax] = useState(boundText(hi, date));
  const toServer = (v: string) => (date && v ? new Date(v).toISOString() : v.trim());
  const apply = () => {
    const out: string[] = [];
    if (min.trim()) out.push(`${column}>=${toServer(min)}`);
    if (max.trim()) out.push(`${column}<=${toServer(max)}`);
    onApply(out);
  };
  const type = date ? "datetime-local" : "text";
  return (
    <form
      className="range"
      data-filter={column}
      onSubmit={(e) => {
        e.preventDefault();
        apply();
      }}
    >
      <label>
        {date ? "From" : "Min"}
        <input type={type} inputMode={date ? undefined : "decimal"} value={min} onChange={(e) => setMin(e.target.value)} autoFocus name="min" />
      </label>
      <label>
        {date ? "To" : "Max"}
        <input type={type} inputMode={date ? undefined : "decimal"} value={max} onChange={(e) => setMax(e.target.value)} name="max" />
      </label>
      <footer>
        <button
          type="button"
          className="link"
          onClick={() => {
            setMin("");
            setMax("");
            onApply([]);
          }}
        >
          Clear
        </button>
        <button className="primary">Apply</button>
      </footer>
    </form>
  );
}

/** Tags: a first click includes a tag, a second excludes it (NOT), a third clears it. */
function TagsFilter({ column, state, onApply }: Props) {
  const current = filtersOf(state, column)[0];
  const initial = new Map<string, "in" | "out">();
  if (current) for (const t of splitList(current.value)) initial.set(t.replace(/^!/, ""), t.startsWith("!") ? "out" : "in");
  const [marks, setMarks] = useState(initial);
  const [all, setAll] = useState(current?.op === "all");
  const [search, setSearch] = useState("");
  const { values } = useValues(column, state.project, search);
  const apply = (next: Map<string, "in" | "out">, everyOf: boolean) => {
    setMarks(next);
    setAll(everyOf);
    const text = [...next].map(([t, m]) => `${m === "out" ? "!" : ""}${joinList([t])}`).join(",");
    onApply(next.size ? [`${column} ${everyOf ? "all" : "any"} ${text}`] : []);
  };
  return (
    <div className="values" data-filter={column}>
      <div className="segmented">
        <button className={!all ? "on" : ""} onClick={() => apply(marks, false)} title="Tasks with any of the tags">
          ANY
        </button>
        <button className={all ? "on" : ""} onClick={() => apply(marks, true)} title="Tasks with all of the tags">
          ALL
        </button>
      </div>
      <input placeholder="Search tags" value={search} onChange={(e) => setSearch(e.target.value)} />
      <div className="list">
        {values.map((v) => {
          const m = marks.get(v.value);
          const cycle = () => {
            const next = new Map(marks);
            if (!m) next.set(v.value, "in");
            else if (m === "in") next.set(v.value, "out");
            else next.delete(v.value);
            apply(next, all);
          };
          // The whole row toggles: the box, the tag's name and its count.
          return (
            <label
              key={v.value}
              className={m === "out" ? "excluded" : ""}
              onClick={(e) => {
                e.preventDefault();
                cycle();
              }}
            >
              <span
                role="checkbox"
                aria-checked={m === "in" ? "true" : m === "out" ? "mixed" : "false"}
                className={`tri ${m ?? ""}`}
                tabIndex={0}
                onKeyDown={(e) => {
                  if (e.key === " " || e.key === "Enter") {
                    e.preventDefault();
                    cycle();
                  }
                }}
              >
                {m === "in" ? "✓" : m === "out" ? "✕" : ""}
              </span>
              <span>{v.value}</span>
              <span className="hint">{v.tasks}</span>
            </label>
          );
        })}
      </div>
      <button className="link" onClick={() => apply(new Map(), all)}>
        Clear
      </button>
    </div>
  );
}
