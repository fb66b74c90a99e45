/**
 * The UI's icons, drawn as SVG so they render the same whatever fonts the machine has (a glyph
 * such as U+23F5 is an empty box in many default fonts). Each is a 16×16 outline in the text
 * colour.
 */
const PATHS = {
  enqueue: "M5 3l8 5-8 5z",
  dequeue: "M3 10l5-6 5 6z M3 13h10",
  reset: "M4.5 5.5A4.5 4.5 0 1 1 3.5 9 M4.5 2v3.5H8",
  abort: "M4 4h8v8H4z",
  abort_children: "M2 2h6v6H2z M10 10h4v4h-4z M5 8v4h5",
  retry: "M11.5 5.5A4.5 4.5 0 1 0 12.5 9 M11.5 2v3.5H8",
  publish: "M3 8.5l3 3 7-7",
  add_tag: "M6.5 2l-1 12 M10.5 2l-1 12 M2.5 6h11 M2 10h11",
  clone: "M6 6h8v8H6z M3 10V2h8",
  move: "M2 8h11 M9 4l4 4-4 4",
  archive: "M2 3h12v3H2z M3 6v7h10V6 M6.5 9h3",
  restore: "M8 12V3 M4 7l4-4 4 4 M3 14h10",
  delete: "M4 4l8 8 M12 4l-8 8",
  expand: "M2 6V2h4 M10 2h4v4 M14 10v4h-4 M6 14H2v-4",
  collapse: "M6 2v4H2 M14 6h-4V2 M10 14v-4h4 M2 10h4v4",
} as const;

export type IconName = keyof typeof PATHS;

/** A filled shape for the closed paths that read better solid (play, eject, stop). */
const FILLED = new Set<IconName>(["enqueue", "dequeue", "abort"]);

export function Icon({ name }: { name: IconName }) {
  const filled = FILLED.has(name);
  return (
    <svg className="icon-svg" data-icon={name} viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path
        d={PATHS[name]}
        fill={filled ? "currentColor" : "none"}
        stroke="currentColor"
        strokeWidth={filled ? 1 : 1.6}
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
}
