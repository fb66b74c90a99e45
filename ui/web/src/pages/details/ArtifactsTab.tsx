// The Artifacts tab: the task's artifacts and its input and output models, with download links.
import type { Task } from "../../api/client";
import { bytes } from "../../format";

/** A link that downloads a stored file through the daemon (or its own URL). */
function fileLink(uri: string | null | undefined): string | undefined {
  if (!uri) return undefined;
  const m = /\/api\/v1\/files\/(.*)$/.exec(uri);
  return m ? `/api/v1/files/${m[1]}` : uri;
}

export function ArtifactsTab({ task }: { task: Task }) {
  return (
    <div className="sections">
      <section>
        <h4>Artifacts</h4>
        {task.artifacts.length === 0 && <p className="muted">None.</p>}
        {task.artifacts.map((a) => (
          <div key={a.name} className="field">
            <span className="label">{a.name}</span>
            <span className="value">
              {fileLink(a.uri) ? <a href={fileLink(a.uri)} download>{a.uri}</a> : a.preview}
              {a.size != null && <span className="hint"> {bytes(a.size)}</span>}
            </span>
          </div>
        ))}
      </section>
      {(["input", "output"] as const).map((k) => (
        <section key={k}>
          <h4>{k === "input" ? "Input models" : "Output models"}</h4>
          {task.models[k].length === 0 && <p className="muted">None.</p>}
          {task.models[k].map((m) => (
            <div key={m.name} className="field">
              <span className="label">{m.name}</span>
              <span className="value">{fileLink(m.uri) ? <a href={fileLink(m.uri)} download>{m.uri}</a> : m.uri}</span>
            </div>
          ))}
        </section>
      ))}
    </div>
  );
}
