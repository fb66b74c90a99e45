// The Info tab: the task's id, project, owner, status, worker, queue, parent, times and tags.
import { Link } from "react-router";
import type { Task } from "../../api/client";
import { duration, exactTime } from "../../format";
import { Field } from "./Field";

export function InfoTab({ task }: { task: Task }) {
  const runtime = task.started ? ((task.completed ? Date.parse(task.completed) : Date.now()) - Date.parse(task.started)) / 1000 : null;
  return (
    <div className="sections">
      <section>
        <Field label="Id">{task.id}</Field>
        <Field label="Project">
          <Link to={`/projects/${task.project}/tasks`}>{task.project_name}</Link>
        </Field>
        <Field label="User">{task.user}</Field>
        <Field label="Status reason">{task.status_reason}</Field>
        <Field label="Status message">{task.status_message}</Field>
        <Field label="Worker">{task.worker && <Link to={`/workers/${encodeURIComponent(task.worker)}`}>{task.worker}</Link>}</Field>
        <Field label="Queue">{task.execution.queue && <Link to={`/queues/${encodeURIComponent(task.execution.queue)}`}>{task.execution.queue}</Link>}</Field>
        <Field label="Parent">{task.parent && <Link to={`/tasks/${task.parent}`}>{task.parent}</Link>}</Field>
        <Field label="Created">{exactTime(task.created)}</Field>
        <Field label="Started">{exactTime(task.started)}</Field>
        <Field label="Completed">{exactTime(task.completed)}</Field>
        <Field label="Last update">{exactTime(task.last_update)}</Field>
        <Field label="Run time">{duration(runtime)}</Field>
        <Field label="Iteration">{String(task.last_iteration)}</Field>
        <Field label="Tags">{task.tags.join(", ")}</Field>
        <Field label="Description">{task.comment}</Field>
      </section>
    </div>
  );
}
