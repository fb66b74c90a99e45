/** Small shared pieces: modal dialogs, menus, toasts, the status badge. */
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import type { TaskStatus } from "./api/client";
import { STATUS_LABEL } from "./format";

export function Modal({ title, onClose, children, wide }: { title: string; onClose(): void; children: ReactNode; wide?: boolean }) {
  useEffect(() => {
    const key = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [onClose]);
  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className={`modal${wide ? " wide" : ""}`} role="dialog" aria-label={title}>
        <header>
          <h3>{title}</h3>
          <button className="icon" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

/** A floating menu at a point, closed by a click elsewhere or Escape. */
export function Popup({ x, y, onClose, children, className }: { x: number; y: number; onClose(): void; children: ReactNode; className?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState({ left: x, top: y });
  useEffect(() => {
    const el = ref.current;
    if (el) {
      const r = el.getBoundingClientRect();
      setPos({
        left: Math.max(4, Math.min(x, window.innerWidth - r.width - 8)),
        top: Math.max(4, Math.min(y, window.innerHeight - r.height - 8)),
      });
    }
    const down = (e: MouseEvent) => ref.current && !ref.current.contains(e.target as Node) && onClose();
    const key = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    setTimeout(() => window.addEventListener("mousedown", down));
    window.addEventListener("keydown", key);
    return () => {
      window.removeEventListener("mousedown", down);
      window.removeEventListener("keydown", key);
    };
  }, [x, y, onClose]);
  return (
    <div ref={ref} className={`popup ${className ?? ""}`} style={pos} onContextMenu={(e) => e.preventDefault()}>
      {children}
    </div>
  );
}

export function StatusBadge({ status, progress }: { status: TaskStatus; progress?: number | null }) {
  const showProgress = progress != null && ["in_progress", "failed", "stopped"].includes(status);
  return (
    <span className={`status s-${status}`} data-status={status}>
      {STATUS_LABEL[status]}
      {showProgress && (
        <span className="progress" title={`${progress}%`}>
          <span style={{ width: `${Math.max(0, Math.min(100, progress!))}%` }} />
        </span>
      )}
    </span>
  );
}

type Toast = { id: number; text: string; error?: boolean };
const ToastContext = createContext<(text: string, error?: boolean) => void>(() => {});
export const useToast = () => useContext(ToastContext);

export function Toasts({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const push = useCallback((text: string, error?: boolean) => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t, { id, text, error }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), error ? 8000 : 4000);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast${t.error ? " error" : ""}`} role={t.error ? "alert" : "status"}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

/** The column filter icon (a funnel). */
export function FunnelIcon() {
  return (
    <svg width="11" height="11" viewBox="0 0 16 16" aria-hidden="true">
      <path d="M1 2h14l-5.5 6.5V14l-3-1.5V8.5z" fill="currentColor" />
    </svg>
  );
}
