/**
 * The virtualised task grid: columns from the table state (order, widths, visibility), header
 * sorting, filters, drag to reorder, drag to resize (double-click fits), selection, keyboard
 * navigation. Rows come from the server already filtered, sorted and paged.
 */
import { getCoreRowModel, useReactTable, type ColumnDef, type ColumnSizingState } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent } from "react";
import type { TableRow } from "../api/client";
import { duration, elapsed, exactTime, precise, rounded } from "../format";
import { FunnelIcon, StatusBadge } from "../ui";
import { FilterPopup, filterable, isFiltered } from "./filters";
import { columnKind, columnLabel, columnWidth, withFilters, type TableState } from "./query";

export const ROW_HEIGHT = 34;

/** What is selected: ticked ids, every task of the view, or every task the filters matched
 * when the selection was made (`query`: that query, kept). */
export type Selection = { mode: "ids"; ids: Set<string> } | { mode: "all" } | { mode: "filtered"; query?: string };

export function isSelected(selection: Selection, id: string) {
  return selection.mode !== "ids" || selection.ids.has(id);
}

interface Props {
  state: TableState;
  setState(next: TableState): void;
  columns: string[];
  rows: TableRow[];
  hasMore: boolean;
  loading: boolean;
  loadMore(): void;
  selection: Selection;
  setSelection(s: Selection): void;
  active?: string;
  onActivate(id: string): void;
  onOpen(id: string): void;
  onMenu(id: string, x: number, y: number): void;
  /** Set to a function that gives the ids of the rows on screen at the time of the call. */
  onScreen?: { current: () => string[] };
}

/** A cell's display text and tooltip. */
function cellText(id: string, v: unknown, exact: boolean): { text: string; title?: string; numeric?: boolean } {
  if (v == null) return { text: "" };
  const kind = columnKind(id);
  if (kind === "date") return { text: elapsed(v as string), title: exactTime(v as string) };
  if (id === "runtime") return { text: duration(v as number), title: `${v} s` };
  if (id === "type") return { text: String(v).replace(/_/g, " ") };
  if (typeof v === "number") {
    const text = exact || Number.isInteger(v) ? String(v) : rounded(v);
    return { text, title: String(v), numeric: true };
  }
  return { text: precise(v), title: precise(v) };
}

const Cell = memo(function Cell({ id, value, row, exact, onExpand }: { id: string; value: unknown; row: TableRow; exact: boolean; onExpand(): void; tick: number }) {
  if (id === "status") return <StatusBadge status={row.status} progress={row.progress} />;
  if (id === "tags")
    return (
      <span className="tags">
        {((value as string[]) ?? []).map((t) => (
          <span key={t} className="tag" style={{ background: tagColor(t) }}>
            {t}
          </span>
        ))}
      </span>
    );
  const { text, title, numeric } = cellText(id, value, exact);
  const float = numeric && typeof value === "number" && !Number.isInteger(value);
  return (
    <span className={numeric ? "num" : undefined} title={title}>
      {text}
      {float && !exact && (
        <button className="expand" title="Show precise values in this column" aria-label="Show precise values" onClick={(e) => { e.stopPropagation(); onExpand(); }}>
          ⤢
        </button>
      )}
    </span>
  );
});

interface RowColumn {
  id: string;
  width: number;
  index: number;
  exact: boolean;
}

interface RowHandlers {
  activate(id: string): void;
  open(id: string): void;
  menu(id: string, x: number, y: number): void;
  toggle(id: string): void;
  expand(column: string): void;
}

/** One row; re-rendered only when its task, selection, focus or the columns change. */
const GridRow = memo(function GridRow(props: { row: TableRow; top: number; selected: boolean; active: boolean; groupStart: boolean; cols: RowColumn[]; on: RowHandlers; tick: number }) {
  const { row, top, selected, active, groupStart, cols, on, tick } = props;
  return (
    <div
      role="row"
      data-id={row.id}
      aria-selected={selected}
      className={`row${selected ? " selected" : ""}${active ? " active" : ""}${groupStart ? " group-start" : ""}`}
      style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
      onClick={() => on.activate(row.id)}
      onDoubleClick={() => on.open(row.id)}
      onContextMenu={(e) => {
        e.preventDefault();
        on.menu(row.id, e.clientX, e.clientY);
      }}
    >
      <div className="cell check" onClick={(e) => e.stopPropagation()}>
        <input type="checkbox" aria-label="Select task" checked={selected} onChange={() => on.toggle(row.id)} />
      </div>
      {cols.map((c) => (
        <div key={c.id} className="cell" role="gridcell" data-column={c.id} style={{ width: c.width }}>
          <Cell id={c.id} value={row.values[c.index]} row={row} exact={c.exact} onExpand={() => on.expand(c.id)} tick={tick} />
        </div>
      ))}
      <div className="cell dots">
        <button
          aria-label="Task menu"
          onClick={(e) => {
            e.stopPropagation();
            on.menu(row.id, e.clientX, e.clientY);
          }}
        >
          ⋮
        </button>
      </div>
    </div>
  );
});

/** A stable colour per tag. */
export function tagColor(tag: string): string {
  let h = 0;
  for (const c of tag) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h} 55% 42%)`;
}

const measure = document.createElement("canvas").getContext("2d");

export function TaskGrid(props: Props) {
  const { state, setState, rows, selection } = props;
  const [filterAt, setFilterAt] = useState<{ id: string; x: number; y: number } | null>(null);
  const [exact, setExact] = useState<Set<string>>(new Set());
  const [dragged, setDragged] = useState<string | null>(null);
  const [selectMenu, setSelectMenu] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);
  // A new selection or order starts at the top.
  const selectionKey = JSON.stringify([state.project, state.group, state.archived, state.search, state.filters, state.sort]);
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [selectionKey]);
  // Elapsed times ("3m ago") move on by themselves.
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const t = window.setInterval(() => setTick((n) => n + 1), 30000);
    return () => window.clearInterval(t);
  }, []);

  const visible = state.columns.filter((c) => !c.hidden);
  const defs = useMemo<ColumnDef<TableRow>[]>(
    () =>
      visible.map((c) => ({
        id: c.id,
        size: columnWidth(c),
        minSize: 48,
        maxSize: 4000,
      })),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [state.columns],
  );
  const sizing: ColumnSizingState = Object.fromEntries(visible.map((c) => [c.id, columnWidth(c)]));
  const table = useReactTable({
    data: rows,
    columns: defs,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (r) => r.id,
    columnResizeMode: "onEnd",
    state: { columnSizing: sizing },
    onColumnSizingChange: (update) => {
      const next = typeof update === "function" ? update(sizing) : update;
      setState({ ...state, columns: state.columns.map((c) => (next[c.id] && next[c.id] !== columnWidth(c) ? { ...c, width: Math.round(next[c.id]) } : c)) });
    },
  });
  const totalWidth = table.getTotalSize() + 40 + 36;

  const virtual = useVirtualizer({
    count: rows.length + (props.hasMore ? 1 : 0),
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtual.getVirtualItems();
  const last = items[items.length - 1];
  if (props.onScreen)
    props.onScreen.current = () => {
      const el = scroller.current;
      if (!el) return [];
      // Rows lie below the sticky header; a row partly in view counts.
      const head = el.querySelector<HTMLElement>(".grid-head")?.offsetHeight ?? 0;
      const [top, bottom] = [el.scrollTop, el.scrollTop + el.clientHeight - head];
      return virtual
        .getVirtualItems()
        .filter((i) => i.index < rows.length && i.end > top && i.start < bottom)
        .map((i) => rows[i.index].id);
    };
  useEffect(() => {
    if (last && last.index >= rows.length - 25 && props.hasMore && !props.loading) props.loadMore();
  }, [last?.index, rows.length, props.hasMore, props.loading]); // eslint-disable-line react-hooks/exhaustive-deps

  function sortBy(id: string, e: ReactMouseEvent) {
    const current = state.sort.find((s) => s.replace(/^-/, "") === id);
    const next = !current ? id : current.startsWith("-") ? null : `-${id}`;
    const others = e.shiftKey ? state.sort.filter((s) => s.replace(/^-/, "") !== id) : [];
    setState({ ...state, sort: next ? [...others, next] : others });
  }

  function reorder(from: string, to: string) {
    if (from === to) return;
    const cols = state.columns.filter((c) => c.id !== from);
    const at = cols.findIndex((c) => c.id === to);
    cols.splice(at, 0, state.columns.find((c) => c.id === from)!);
    setState({ ...state, columns: cols });
  }

  /** Widens (or narrows) a column to its content; `exactOnes`: the columns shown precisely. */
  function autofit(id: string, exactOnes = exact) {
    if (!measure) return;
    measure.font = getComputedStyle(scroller.current ?? document.body).font;
    const index = props.columns.indexOf(id);
    let width = measure.measureText(columnLabel(id)).width + 56;
    for (const r of rows.slice(0, 500)) {
      const text = id === "tags" ? ((r.values[index] as string[]) ?? []).join("    ") : cellText(id, r.values[index], exactOnes.has(id)).text;
      width = Math.max(width, measure.measureText(text).width + (id === "status" ? 60 : 24));
    }
    setState({ ...state, columns: state.columns.map((c) => (c.id === id ? { ...c, width: Math.min(800, Math.ceil(width)) } : c)) });
  }

  const toggle = (id: string) => {
    const ids = new Set(selection.mode === "ids" ? selection.ids : rows.map((r) => r.id));
    if (ids.has(id)) ids.delete(id);
    else ids.add(id);
    props.setSelection({ mode: "ids", ids });
  };
  const allVisibleSelected = rows.length > 0 && rows.every((r) => isSelected(selection, r.id));
  const someSelected = selection.mode !== "ids" || selection.ids.size > 0;

  // The focused row moves at once on each key (the URL, and so `active`, follows a little later).
  const activeRef = useRef(props.active);
  const requested = useRef<string | null>(null);
  useEffect(() => {
    // Intermediate values of a quick run of keys arrive late: only the last one counts.
    if (requested.current === null || requested.current === props.active) {
      activeRef.current = props.active;
      requested.current = null;
    }
  }, [props.active]);
  function onKey(e: React.KeyboardEvent) {
    const at = rows.findIndex((r) => r.id === activeRef.current);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = Math.max(0, Math.min(rows.length - 1, at + (e.key === "ArrowDown" ? 1 : -1)));
      if (rows[next]) {
        activeRef.current = rows[next].id;
        requested.current = rows[next].id;
        props.onActivate(rows[next].id);
        virtual.scrollToIndex(next);
      }
    } else if (e.key === "Enter" && at >= 0) props.onOpen(rows[at].id);
    else if (e.key === " " && at >= 0) {
      e.preventDefault();
      toggle(rows[at].id);
    }
  }

  const headers = table.getHeaderGroups()[0].headers;
  // Grouped by subproject: a line where the project changes.
  const groupAt = state.group ? props.columns.indexOf("project") : -1;
  const widths = headers.map((h) => `${h.column.id}~${h.getSize()}`).join(",");
  const cols = useMemo<RowColumn[]>(
    () => headers.map((h) => ({ id: h.column.id, width: h.getSize(), index: props.columns.indexOf(h.column.id), exact: exact.has(h.column.id) })),
    [widths, props.columns, exact], // eslint-disable-line react-hooks/exhaustive-deps
  );
  // Handlers that never change identity (so rows stay memoised), calling the latest props.
  const latest = useRef({ props, toggle, exact, autofit });
  latest.current = { props, toggle, exact, autofit };
  const handlers = useMemo<RowHandlers>(
    () => ({
      activate: (id) => latest.current.props.onActivate(id),
      open: (id) => latest.current.props.onOpen(id),
      menu: (id, x, y) => latest.current.props.onMenu(id, x, y),
      toggle: (id) => latest.current.toggle(id),
      // Precise values are longer: the column widens to show them whole.
      expand: (column) => {
        const next = new Set(latest.current.exact).add(column);
        setExact(next);
        latest.current.autofit(column, next);
      },
    }),
    [],
  );
  const sizingInfo = table.getState().columnSizingInfo;
  return (
    <div className="grid" role="grid" aria-rowcount={rows.length} aria-busy={props.loading} tabIndex={0} onKeyDown={onKey} ref={scroller}>
      {props.loading && <div className="busy" aria-hidden="true" />}
      <div className="grid-head" role="row" style={{ width: totalWidth }}>
        <div className="cell check">
          <input
            type="checkbox"
            aria-label="Select visible tasks"
            checked={allVisibleSelected}
            ref={(el) => {
              if (el) el.indeterminate = someSelected && !allVisibleSelected;
            }}
            onChange={() => props.setSelection(allVisibleSelected || someSelected ? { mode: "ids", ids: new Set() } : { mode: "ids", ids: new Set(rows.map((r) => r.id)) })}
          />
          <button className="caret" aria-label="Selection options" onClick={() => setSelectMenu(!selectMenu)}>
            ▾
          </button>
          {selectMenu && (
            <div className="popup menu select-menu" role="menu" onMouseLeave={() => setSelectMenu(false)}>
              <button role="menuitem" onClick={() => { props.setSelection({ mode: "all" }); setSelectMenu(false); }}>All</button>
              <button role="menuitem" onClick={() => { props.setSelection({ mode: "ids", ids: new Set() }); setSelectMenu(false); }}>None</button>
              <button role="menuitem" onClick={() => { props.setSelection({ mode: "filtered" }); setSelectMenu(false); }}>Filtered</button>
            </div>
          )}
        </div>
        {headers.map((h) => {
          const id = h.column.id;
          const sortAt = state.sort.findIndex((s) => s.replace(/^-/, "") === id);
          const desc = sortAt >= 0 && state.sort[sortAt].startsWith("-");
          const filtered = isFiltered(state, id);
          return (
            <div
              key={id}
              className={`cell head${dragged === id ? " dragging" : ""}`}
              role="columnheader"
              data-column={id}
              aria-sort={sortAt < 0 ? "none" : desc ? "descending" : "ascending"}
              style={{ width: h.getSize() }}
              draggable
              onDragStart={(e) => {
                setDragged(id);
                e.dataTransfer.setData("text/x-runyard-column", id);
                e.dataTransfer.effectAllowed = "move";
              }}
              onDragEnd={() => setDragged(null)}
              onDragOver={(e) => e.preventDefault()}
              onDrop={(e) => {
                e.preventDefault();
                const from = e.dataTransfer.getData("text/x-runyard-column");
                if (from) reorder(from, id);
                setDragged(null);
              }}
            >
              <button className="label" onClick={(e) => sortBy(id, e)} title={`${columnLabel(id)} — click to sort, shift-click to add to the sort`}>
                {columnLabel(id)}
                {sortAt >= 0 && (
                  <span className="sort">
                    {desc ? "↓" : "↑"}
                    {state.sort.length > 1 ? sortAt + 1 : ""}
                  </span>
                )}
              </button>
              {filterable(id) && (
                <button
                  className={`filter-btn${filtered ? " on" : ""}`}
                  aria-label={`Filter ${columnLabel(id)}`}
                  title={filtered ? "Filtered" : "Filter"}
                  onClick={(e) => setFilterAt({ id, x: e.clientX - 20, y: e.clientY + 14 })}
                >
                  <FunnelIcon />
                </button>
              )}
              <div
                className={`resizer${h.column.getIsResizing() ? " active" : ""}`}
                onMouseDown={(e) => {
                  // Not the header's drag to reorder.
                  e.preventDefault();
                  e.stopPropagation();
                  h.getResizeHandler()(e);
                }}
                onDoubleClick={() => autofit(id)}
                onClick={(e) => e.stopPropagation()}
                style={h.column.getIsResizing() ? { transform: `translateX(${sizingInfo.deltaOffset ?? 0}px)` } : undefined}
              />
            </div>
          );
        })}
      </div>
      <div className="grid-body" style={{ height: virtual.getTotalSize(), width: totalWidth }}>
        {items.map((v) => {
          const row = rows[v.index];
          if (!row)
            return (
              <div key="more" className="row loading" style={{ transform: `translateY(${v.start}px)` }}>
                Loading…
              </div>
            );
          return (
            <GridRow
              key={row.id}
              row={row}
              top={v.start}
              selected={isSelected(selection, row.id)}
              active={props.active === row.id}
              groupStart={groupAt >= 0 && v.index > 0 && rows[v.index - 1].values[groupAt] !== row.values[groupAt]}
              cols={cols}
              on={handlers}
              tick={tick}
            />
          );
        })}
      </div>
      {rows.length === 0 && !props.loading && <p className="empty">No tasks match.</p>}
      {filterAt && (
        <FilterPopup
          column={filterAt.id}
          state={state}
          x={filterAt.x}
          y={filterAt.y}
          onClose={() => setFilterAt(null)}
          onApply={(clauses) => setState(withFilters(state, filterAt.id, clauses))}
        />
      )}
    </div>
  );
}
