// The labelled field row (label and value) shared by the details tabs.

export function Field({ label, children }: { label: string; children: React.ReactNode }) {
  if (children == null || children === "") return null;
  return (
    <div className="field">
      <span className="label">{label}</span>
      <span className="value">{children}</span>
    </div>
  );
}
