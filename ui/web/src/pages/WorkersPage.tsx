/** Workers: what each runs, its queues, CPU / memory / GPU history, and drain. */
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { api, data, messageOf, type Schemas } from "../api/client";
import { useLive } from "../api/events";
import { HistoryChart, useHistory } from "../charts/HistoryChart";
import { bytes, elapsed, exactTime } from "../format";
import { useToast } from "../ui";

export function WorkersPage() {
  const { worker } = useParams();
  const live = useLive(() => data(api.GET("/api/v1/workers")), (c) => c.kind === "worker", []);
  const [workers, error, load] = [live.value ?? [], live.error, live.reload];
  const current = workers.find((w) => w.id === worker) ?? (worker ? undefined : workers[0]);
  return (
    <div className="page split">
      <aside className="list-pane">
        <h2>Workers</h2>
        {error && <p className="error">{error}</p>}
        {workers.length === 0 && <p className="muted">No workers. Start one with `runyard agent --queue default`.</p>}
        <ul className="nav-list">
          {workers.map((w) => (
            <li key={w.id} className={current?.id === w.id ? "on" : ""}>
              <Link to={`/workers/${encodeURIComponent(w.id)}`}>
                <span>{w.id}</span>
                <span className="hint">{w.drained ? "drained" : w.task ? "busy" : "idle"}</span>
              </Link>
            </li>
          ))}
        </ul>
      </aside>
      {current ? <WorkerDetail key={current.id} worker={current} onChanged={load} /> : worker && <p className="empty">No worker '{worker}'.</p>}
    </div>
  );
}

function WorkerDetail({ worker, onChanged }: { worker: Schemas["Worker"]; onChanged(): void }) {
  const toast = useToast();
  const history = useHistory(`/api/v1/workers/${encodeURIComponent(worker.id)}/history`, "worker", worker.id);
  // The current task by its name.
  const [task, setTask] = useState<Schemas["Task"] | null>(null);
  useEffect(() => {
    setTask(null);
    if (worker.task) data(api.GET("/api/v1/tasks/{id}", { params: { path: { id: worker.task } } })).then(setTask).catch(() => {});
  }, [worker.task]);
  const r = worker.last_report;
  async function drain(on: boolean) {
    try {
      if (on) await api.POST("/api/v1/workers/{id}/drain", { params: { path: { id: worker.id } } });
      else await api.POST("/api/v1/workers/{id}/undrain", { params: { path: { id: worker.id } } });
      onChanged();
    } catch (e) {
      toast(messageOf(e), true);
    }
  }
  const gpus = worker.capabilities.gpus;
  return (
    <section className="detail-pane" aria-label={`Worker ${worker.id}`}>
      <div className="toolbar">
        <h2>{worker.id}</h2>
        <span className="muted" title={exactTime(worker.last_seen)}>
          seen {elapsed(worker.last_seen)}
        </span>
        <span className="spacer" />
        <button onClick={() => void drain(!worker.drained)}>{worker.drained ? "Resume" : "Drain"}</button>
      </div>
      <div className="fields">
        <div className="field">
          <span className="label">Current task</span>
          <span className="value">
            {worker.task ? (
              <Link to={`/tasks/${worker.task}`} title={worker.task}>
                {task ? `${task.name} (${task.project_name})` : worker.task}
              </Link>
            ) : (
              "idle"
            )}
          </span>
        </div>
        <div className="field">
          <span className="label">Queues</span>
          <span className="value">
            {worker.queues.map((q) => (
              <Link key={q} className="chip" to={`/queues/${encodeURIComponent(q)}`}>
                {q}
              </Link>
            ))}
          </span>
        </div>
        <div className="field">
          <span className="label">Machine</span>
          <span className="value">
            {worker.capabilities.cpus} CPUs, {bytes(worker.capabilities.memory_bytes)}
            {gpus.length > 0 && `, ${gpus.length} × ${gpus[0].model}`}
          </span>
        </div>
        <div className="field">
          <span className="label">Now</span>
          <span className="value">
            CPU {r.cpu_percent.toFixed(0)}%, memory {bytes(r.memory_used_bytes)} of {bytes(r.memory_total_bytes)}
            {r.gpus.map((g) => `, GPU${g.index} ${g.utilization_percent.toFixed(0)}%`).join("")}
          </span>
        </div>
      </div>
      <div className="charts two">
        <HistoryChart title="CPU (%)" points={history?.series["cpu_percent"]} />
        <HistoryChart title="Memory (GiB)" points={history?.series["memory_used_bytes"]} scale={1 / 2 ** 30} />
        {gpus.map((g) => (
          <HistoryChart key={g.index} title={`GPU ${g.index} (%)`} points={history?.series[`gpu${g.index}_utilization_percent`]} />
        ))}
        {gpus.map((g) => (
          <HistoryChart key={`m${g.index}`} title={`GPU ${g.index} memory (GiB)`} points={history?.series[`gpu${g.index}_memory_used_bytes`]} scale={1 / 2 ** 30} />
        ))}
      </div>
    </section>
  );
}
