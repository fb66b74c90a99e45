/** A task in full screen (also where the SDK's results links land). */
import { Link, useNavigate, useParams } from "react-router";
import { TaskDetails } from "./TaskDetails";

export function TaskPage() {
  const { project, task } = useParams();
  const navigate = useNavigate();
  const back = project && project !== "-" ? `/projects/${project}/tasks?view=details&task=${task}` : `/tasks?view=details&task=${task}`;
  return (
    <div className="page task-page">
      <Link to={back}>← Back to the table</Link>
      <TaskDetails id={task!} full onClose={() => navigate(back)} />
    </div>
  );
}
