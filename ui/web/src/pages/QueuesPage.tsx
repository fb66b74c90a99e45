/** Queues: each queue's tasks in dispatch order (drag to reorder), its history and its workers. */
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, data, messageOf, type Schemas } from "../api/client";
import { useLive } from "../api/events";
import { HistoryChart, useHistory } from "../charts/HistoryChart";
import { elapsed, exactTime } from "../format";
import { useToast } from "../ui";

export function QueuesPage() {
  const { queue } = useParams();
  const navigate = useNavigate();
  const toast = useToast();
  const live = useLive(() => data(api.GET("/api/v1/queues")), (c) => c.kind === "queue" || c.kind === "worker", []);
  const [queues, error, load] = [live.value ?? [], live.error, live.reload];
  const current = queues.find((q) => q.id === queue || q.name === queue) ?? (queue ? undefined : queues[0]);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name")).trim();
    try {
      await api.POST("/api/v1/queues", { body: { name } });
      form.reset();
      await load();
      navigate(`/queues/${encodeURIComponent(name)}`);
    } catch (err) {
      toast(messageOf(err), true);
    }
  }

  return (
    <div className="page split">
      <aside className="list-pane">
        <h2>Queues</h2>
        {error && <p className="error">{error}</p>}
        <ul className="nav-list">
          {queues.map((q) => (
            <li key={q.id} className={current?.id === q.id ? "on" : ""}>
              <Link to={`/queues/${encodeURIComponent(q.name)}`}>
                <span>{q.name}</span>
                <span className="hint">{q.length}</span>
              </Link>
            </li>
          ))}
        </ul>
        <form className="inline-form" onSubmit={create}>
          <input name="name" placeholder="New queue" required aria-label="New queue name" />
          <button className="primary">Add</button>
        </form>
      </aside>
      {current ? <QueueDetail key={current.id} queue={current} onChanged={load} /> : queue && <p className="empty">No queue '{queue}'.</p>}
    </div>
  );
}

function QueueDetail({ queue, onChanged }: { queue: Schemas["Queue"]; onChanged(): void }) {
  const [dragged, setDragged] = useState<string | null>(null);
  const toast = useToast();
  const navigate = useNavigate();
  const { value: detail, reload: load } = useLive(
    () => data(api.GET("/api/v1/queues/{queue}", { params: { path: { queue: queue.id } } })),
    (c) => c.kind === "queue" && c.id === queue.id,
    [queue.id],
  );
  const history = useHistory(`/api/v1/queues/${queue.id}/history`, "queue", queue.id);

  async function move(task: string, body: Schemas["MoveEntry"]) {
    try {
      await api.POST("/api/v1/queues/{queue}/entries/{task}/move", { params: { path: { queue: queue.id, task } }, body });
      await load();
    } catch (e) {
      toast(messageOf(e), true);
    }
  }
  async function remove(task: string) {
    try {
      await api.DELETE("/api/v1/queues/{queue}/entries/{task}", { params: { path: { queue: queue.id, task } } });
      await load();
      onChanged();
    } catch (e) {
      toast(messageOf(e), true);
    }
  }
  async function deleteQueue() {
    if (!window.confirm(`Delete queue '${queue.name}'?`)) return;
    try {
      await api.DELETE("/api/v1/queues/{queue}", { params: { path: { queue: queue.id } } });
      onChanged();
      navigate("/queues");
    } catch (e) {
      toast(messageOf(e), true);
    }
  }

  const entries = detail?.entries ?? [];
  return (
    <section className="detail-pane" aria-label={`Queue ${queue.name}`}>
      <div className="toolbar">
        <h2>{queue.name}</h2>
        <span className="muted">
          {queue.length} pending{queue.oldest_entry ? `, oldest ${elapsed(queue.oldest_entry)}` : ""}
        </span>
        <span className="spacer" />
        <button className="danger" onClick={() => void deleteQueue()}>
          Delete queue
        </button>
      </div>
      <h4>Workers listening</h4>
      <p>
        {queue.workers.length === 0 && <span className="muted">None.</span>}
        {queue.workers.map((w) => (
          <Link key={w} className="chip" to={`/workers/${encodeURIComponent(w)}`}>
            {w}
          </Link>
        ))}
      </p>
      <h4>Tasks, in dispatch order</h4>
      <table className="plain queue-entries">
        <thead>
          <tr>
            <th>#</th>
            <th>Task</th>
            <th>Priority</th>
            <th>Added</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {entries.map((e, i) => (
            <tr
              key={e.task}
              data-task={e.task}
              draggable
              className={dragged === e.task ? "dragging" : ""}
              onDragStart={(ev) => {
                setDragged(e.task);
                ev.dataTransfer.setData("text/x-runyard-task", e.task);
              }}
              onDragEnd={() => setDragged(null)}
              onDragOver={(ev) => ev.preventDefault()}
              onDrop={(ev) => {
                ev.preventDefault();
                const task = ev.dataTransfer.getData("text/x-runyard-task");
                setDragged(null);
                if (task && task !== e.task) void move(task, { before: e.task, after: null, position: null, to: null });
              }}
            >
              <td className="grip" title="Drag to reorder">
                ⠿ {i + 1}
              </td>
              <td>
                <Link to={`/tasks/${e.task}`}>{e.name}</Link>
              </td>
              <td>{e.priority}</td>
              <td title={exactTime(e.added)}>{elapsed(e.added)}</td>
              <td className="actions">
                <button onClick={() => void move(e.task, { to: "top", after: null, before: null, position: null })} title="Move to top" aria-label="Move to top">
                  ⤒
                </button>
                <button onClick={() => void move(e.task, { to: "bottom", after: null, before: null, position: null })} title="Move to bottom" aria-label="Move to bottom">
                  ⤓
                </button>
                <button onClick={() => void remove(e.task)} title="Remove from the queue (back to Draft)" aria-label="Remove">
                  ✖
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries.length === 0 && <p className="muted">The queue is empty.</p>}
      <div className="charts two">
        <HistoryChart title="Pending tasks" points={history?.series["length"]} />
        <HistoryChart title="Wait time (s)" points={history?.series["oldest_wait_seconds"]} />
      </div>
    </section>
  );
}
