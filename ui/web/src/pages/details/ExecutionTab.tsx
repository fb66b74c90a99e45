// The Execution tab: a task's source, environment, container and output, with the Draft's edit form.
import { useState } from "react";
import { api, messageOf, type Schemas, type Task } from "../../api/client";
import { useToast } from "../../ui";
import { Field } from "./Field";

/** A Draft's source, entry point, requirements and container, edited in one form. */
function ExecutionForm({ task, onDone }: { task: Task; onDone(saved: boolean): void }) {
  const toast = useToast();
  const s = task.script;
  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const v = (k: string) => String(f.get(k) ?? "").trim() || null;
    const versions = ["tag", "branch", "commit"].filter((k) => v(k));
    if (versions.length > 1) return toast("Version: give a tag, a branch or a commit, not several", true);
    const body = {
      script: { ...s, repository: v("repository"), branch: v("branch"), tag: v("tag"), commit: v("commit"), working_dir: v("working_dir"), entry_point: v("entry_point"), requirements: v("requirements"), diff: v("diff") },
      container: { image: v("image"), arguments: v("arguments"), setup_script: v("setup_script") },
    } as unknown as Schemas["EditTask"];
    try {
      await api.PATCH("/api/v1/tasks/{id}", { params: { path: { id: task.id } }, body });
      onDone(true);
    } catch (err) {
      toast(messageOf(err), true);
    }
  }
  const input = (name: string, label: string, value: string | null | undefined) => (
    <label>
      {label}
      <input name={name} defaultValue={value ?? ""} />
    </label>
  );
  const area = (name: string, label: string, value: string | null | undefined) => (
    <label>
      {label}
      <textarea name={name} defaultValue={value ?? ""} rows={4} className="code" />
    </label>
  );
  return (
    <form className="form" onSubmit={submit} aria-label="Edit execution">
      {input("repository", "Repository", s.repository)}
      <div className="inline">
        {input("branch", "Branch", s.branch)}
        {input("tag", "Tag", s.tag)}
        {input("commit", "Commit", s.commit)}
      </div>
      <div className="inline">
        {input("working_dir", "Working directory", s.working_dir)}
        {input("entry_point", "Entry point", s.entry_point)}
      </div>
      {area("diff", "Uncommitted changes", s.diff)}
      {area("requirements", "Requirements", s.requirements)}
      {input("image", "Container image", task.container.image)}
      {input("arguments", "Container arguments", task.container.arguments)}
      {area("setup_script", "Container startup script", task.container.setup_script)}
      <footer>
        <button type="button" onClick={() => onDone(false)}>
          Cancel
        </button>
        <button className="primary">Save</button>
      </footer>
    </form>
  );
}

export function ExecutionTab({ task, onSaved }: { task: Task; onSaved(): void }) {
  const s = task.script;
  const e = task.environment;
  const [editing, setEditing] = useState(false);
  if (editing)
    return (
      <ExecutionForm
        task={task}
        onDone={(saved) => {
          setEditing(false);
          if (saved) onSaved();
        }}
      />
    );
  return (
    <div className="sections">
      <section>
        <h4>
          Source
          {task.status === "created" && (
            <button className="link" onClick={() => setEditing(true)} aria-label="Edit execution">
              Edit
            </button>
          )}
        </h4>
        <Field label="Repository">{s.repository}</Field>
        <Field label="Branch">{s.branch}</Field>
        <Field label="Tag">{s.tag}</Field>
        <Field label="Commit">{s.commit}</Field>
        <Field label="Working directory">{s.working_dir}</Field>
        <Field label="Entry point">{s.entry_point && `${s.entry_kind === "module" ? "-m " : ""}${s.entry_point}`}</Field>
        <Field label="Binary">{s.binary}</Field>
      </section>
      {s.code && (
        <section>
          <h4>Custom code</h4>
          <pre className="code">{s.code}</pre>
        </section>
      )}
      {s.diff && (
        <section>
          <h4>Uncommitted changes</h4>
          <pre className="code diff">{s.diff}</pre>
        </section>
      )}
      <section>
        <h4>Environment</h4>
        <Field label="Package manager">{e.poetry ? "poetry" : "pip"}</Field>
        <Field label="Preinstalled venv">{e.preinstalled_venv && `${e.preinstalled_venv} (${e.venv_mode})`}</Field>
        {Object.entries(e.variables ?? {}).map(([k, v]) => (
          <Field key={k} label={`$${k}`}>{v}</Field>
        ))}
        {(s.requirements || e.packages) && <pre className="code">{s.requirements || e.packages}</pre>}
      </section>
      {(task.container.image || task.container.setup_script) && (
        <section>
          <h4>Container</h4>
          <Field label="Image">{task.container.image}</Field>
          <Field label="Arguments">{task.container.arguments}</Field>
          {task.container.setup_script && <pre className="code">{task.container.setup_script}</pre>}
        </section>
      )}
      <section>
        <h4>Output</h4>
        <Field label="Destination">{task.execution.output_uri}</Field>
        <Field label="Queue">{task.execution.queue}</Field>
      </section>
    </div>
  );
}
