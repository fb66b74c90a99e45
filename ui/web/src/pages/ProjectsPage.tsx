/** Every project with its task count; a new project; into a project's task table. */
import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, data, messageOf, type Project } from "../api/client";
import { elapsed, exactTime } from "../format";

export function ProjectsPage() {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState("");
  const [creating, setCreating] = useState(false);
  const load = () =>
    data(api.GET("/api/v1/projects"))
      .then(setProjects)
      .catch((e) => setError(messageOf(e)));
  useEffect(() => void load(), []);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget).get("name")).trim();
    try {
      await api.POST("/api/v1/projects", { body: { name, description: "" } });
      setCreating(false);
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  }

  const sorted = [...(projects ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div className="page">
      <div className="toolbar">
        <h2>Projects</h2>
        <span className="spacer" />
        <button className="primary" onClick={() => setCreating(true)}>
          + New project
        </button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {creating && (
        <form className="inline-form" onSubmit={create}>
          <input name="name" placeholder="Name (a/b for a subproject)" required autoFocus />
          <button className="primary">Create</button>
          <button type="button" onClick={() => setCreating(false)}>
            Cancel
          </button>
        </form>
      )}
      {projects && projects.length === 0 && (
        <p className="empty">No projects yet. Tasks reported by the SDK or created here make one.</p>
      )}
      <table className="plain">
        <thead>
          <tr>
            <th>Name</th>
            <th>Tasks</th>
            <th>Description</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((p) => {
            const depth = p.name.split("/").length - 1;
            return (
              <tr key={p.id}>
                <td style={{ paddingLeft: 8 + depth * 18 }}>
                  <Link to={`/projects/${p.id}/tasks`}>{p.name.split("/").pop()}</Link>
                </td>
                <td>{p.task_count}</td>
                <td className="muted">{p.description}</td>
                <td title={exactTime(p.created)}>{elapsed(p.created)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
