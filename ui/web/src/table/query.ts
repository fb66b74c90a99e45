/**
 * The task table's state and its text form: the same query string the API takes
 * (`GET /api/v1/table/tasks`) and the CLI's flags, so the page URL reproduces the table.
 */

export type ColumnKind = "text" | "number" | "date" | "tags" | "param";

export interface ColumnSpec {
  id: string;
  hidden: boolean;
  width?: number;
}

export interface TableState {
  /** Project id (absent: all projects). */
  project?: string;
  group: boolean;
  archived: boolean;
  search: string;
  /** Filter clauses (`status in queued,created`, `metric:loss/total.last<0.5`, …). */
  filters: string[];
  /** Column ids, `-` before a descending one. */
  sort: string[];
  columns: ColumnSpec[];
}

export const BUILTINS = [
  "id",
  "name",
  "type",
  "status",
  "project",
  "user",
  "tags",
  "started",
  "updated",
  "created",
  "completed",
  "iteration",
  "runtime",
  "description",
  "queue",
  "worker",
  "parent",
] as const;

export const DEFAULT_COLUMNS: ColumnSpec[] = [
  "type",
  "name",
  "tags",
  "status",
  "project",
  "user",
  "started",
  "updated",
  "iteration",
  "description",
  "runtime",
].map((id) => ({ id, hidden: ["user", "description", "runtime"].includes(id) }));

const DEFAULT_WIDTH: Record<string, number> = {
  type: 110,
  name: 260,
  tags: 160,
  status: 130,
  project: 160,
  user: 110,
  started: 110,
  updated: 110,
  iteration: 90,
  description: 220,
  runtime: 100,
  id: 140,
};

export function columnWidth(spec: ColumnSpec): number {
  return spec.width ?? DEFAULT_WIDTH[spec.id] ?? 140;
}

/** Characters escaped inside names in column ids and value lists (as the server does). */
const ESCAPED = new Set("%/.,:~!<>= ");

export function escapeName(name: string): string {
  let out = "";
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    if (ESCAPED.has(ch) || code < 0x20 || code === 0x7f || code > 0x7e) {
      for (const b of new TextEncoder().encode(ch)) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
    } else out += ch;
  }
  return out;
}

export function unescapeName(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export const metricColumn = (metric: string, variant: string, agg: "last" | "min" | "max") =>
  `metric:${escapeName(metric)}/${escapeName(variant)}.${agg}`;
export const paramColumn = (section: string, name: string) => `param:${escapeName(section)}/${escapeName(name)}`;
export const propColumn = (name: string) => `prop:${escapeName(name)}`;

export function columnKind(id: string): ColumnKind {
  if (id.startsWith("metric:")) return "number";
  if (id.startsWith("param:") || id.startsWith("prop:")) return "param";
  if (id === "tags") return "tags";
  if (["started", "updated", "created", "completed"].includes(id)) return "date";
  if (["iteration", "runtime"].includes(id)) return "number";
  return "text";
}

/** The header text of a column. */
export function columnLabel(id: string): string {
  if (id.startsWith("metric:")) {
    const rest = id.slice(7);
    const dot = rest.lastIndexOf(".");
    const [metric, variant] = rest.slice(0, dot).split("/");
    return `${unescapeName(metric)} › ${unescapeName(variant)} (${rest.slice(dot + 1).toUpperCase()})`;
  }
  if (id.startsWith("param:")) {
    const [section, name] = id.slice(6).split("/");
    return `${unescapeName(section)}/${unescapeName(name)}`;
  }
  if (id.startsWith("prop:")) return unescapeName(id.slice(5));
  return id === "runtime" ? "RUN TIME" : id.toUpperCase();
}

/** Custom columns (metrics, hyperparameters, properties) can be removed; built-ins only hidden. */
export const isCustom = (id: string) => id.includes(":");

export function parseColumns(text: string | null): ColumnSpec[] {
  if (!text) return DEFAULT_COLUMNS;
  return text
    .split(",")
    .filter(Boolean)
    .map((part) => {
      const hidden = part.startsWith("!");
      let rest = hidden ? part.slice(1) : part;
      let width: number | undefined;
      const tilde = rest.lastIndexOf("~");
      if (tilde > 0) {
        width = Number(rest.slice(tilde + 1)) || undefined;
        rest = rest.slice(0, tilde);
      }
      return { id: rest, hidden, width };
    });
}

export function columnsText(columns: ColumnSpec[]): string {
  return columns.map((c) => `${c.hidden ? "!" : ""}${c.id}${c.width ? `~${Math.round(c.width)}` : ""}`).join(",");
}

/** A filter clause split into its column, operator and value. */
export interface Clause {
  column: string;
  op: string;
  value: string;
}

const OPS = ["<=", ">=", "!=", "<", ">", "=", "not in ", "in ", "any ", "all "];

export function parseClause(text: string): Clause | null {
  const t = text.trim();
  const m = /[\s<>=!]/.exec(t);
  const end = m ? m.index : t.length;
  const column = t.slice(0, end);
  const rest = t.slice(end).trimStart();
  const op = OPS.find((o) => rest.startsWith(o));
  if (!op) return null;
  return { column, op: op.trim(), value: rest.slice(op.length).trim() };
}

export const splitList = (value: string) => value.split(",").filter((v) => v !== "").map(unescapeName);
export const joinList = (values: string[]) => values.map(escapeName).join(",");

export function filtersOf(state: TableState, column: string): Clause[] {
  return state.filters.map(parseClause).filter((c): c is Clause => c?.column === column);
}

export function withFilters(state: TableState, column: string, clauses: string[]): TableState {
  const others = state.filters.filter((f) => parseClause(f)?.column !== column);
  return { ...state, filters: [...others, ...clauses] };
}

/** The state's parameters for the API (and the URL), defaults left out. */
export function toParams(state: TableState, extra?: Record<string, string>): URLSearchParams {
  const p = new URLSearchParams();
  if (state.project) p.set("project", state.project);
  if (state.group) p.set("group", "true");
  if (state.archived) p.set("archived", "true");
  if (state.search) p.set("search", state.search);
  state.filters.forEach((f) => p.append("filter", f));
  if (state.sort.length) p.set("sort", state.sort.join(","));
  p.set("columns", columnsText(state.columns));
  for (const [k, v] of Object.entries(extra ?? {})) p.set(k, v);
  return p;
}

/** The parts of the state the page URL carries (the project is in the path). */
export function toUrl(state: TableState): URLSearchParams {
  const p = toParams({ ...state, project: undefined });
  if (columnsText(state.columns) === columnsText(DEFAULT_COLUMNS)) p.delete("columns");
  return p;
}

export function fromUrl(project: string | undefined, p: URLSearchParams): TableState {
  return {
    project,
    group: p.get("group") === "true",
    archived: p.get("archived") === "true",
    search: p.get("search") ?? "",
    filters: p.getAll("filter"),
    sort: (p.get("sort") ?? "").split(",").filter(Boolean),
    columns: parseColumns(p.get("columns")),
  };
}

/** What the browser keeps per project (grouped and flat views apart): layout, sort, filters. */
const storageKey = (project: string | undefined, group: boolean) =>
  `runyard.table.${project ?? "all"}.${group ? "grouped" : "flat"}`;

export function saveLayout(state: TableState) {
  const p = toUrl({ ...state, search: "", archived: false });
  localStorage.setItem(storageKey(state.project, state.group), p.toString());
}

export function savedLayout(project: string | undefined, group: boolean): URLSearchParams | null {
  const text = localStorage.getItem(storageKey(project, group));
  return text == null ? null : new URLSearchParams(text);
}

/** Whether the URL says anything of the table (else the saved layout applies). */
export const urlHasLayout = (p: URLSearchParams) =>
  ["columns", "sort", "filter", "search", "archived"].some((k) => p.has(k));
