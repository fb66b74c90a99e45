//! `last_metrics` with the stock SDK: each task's last, min and max of every scalar series, kept
//! as events arrive, read by `Task.get_last_scalar_metrics()`, projected by `only_fields` and
//! ranked by `order_by` the way the SDK's optimizer asks (MD5 keys), every value bit for bit;
//! clones go into the project given by id.

use crate::clearml::{printed, run_sdk, sdk_python};
use crate::harness::TestServer;
use crate::scenario;

const REPORT_AND_RANK: &str = r#"
import hashlib
from clearml import Task

# 1.8350735760110002 needs all 17 digits: it must come back as sent.
finals = {"a": 0.5, "b": 1.8350735760110002, "c": 0.25}
for name, final in finals.items():
    task = Task.init(project_name="ranked", task_name=name, reuse_last_task_id=False)
    logger = task.get_logger()
    for i, v in enumerate([3.0, 0.125, final]):
        logger.report_scalar("loss", "train", value=v, iteration=i)
    logger.flush()
    task.close()
    if name == "b":
        kept = Task.get_task(task_id=task.id)
        print("LAST", repr(kept.get_last_scalar_metrics()["loss"]["train"]))

key = lambda s: hashlib.md5(s.encode("utf-8")).hexdigest()
field = "last_metrics.%s.%s" % (key("loss"), key("train"))
project = Task.get_project_id("ranked")
for order in ["value", "-value"]:
    sign, what = ("-", order[1:]) if order.startswith("-") else ("", order)
    ranked = Task.get_tasks(project_name="ranked", task_filter={"order_by": ["%s%s.%s" % (sign, field, what)]})
    print("ORDER%s" % order, ",".join(t.name for t in ranked))
found = Task._query_tasks(project=[project], only_fields=["name", field])
print("PROJECTED", sorted((t.name, t.last_metrics[key("loss")][key("train")]["min_value"]) for t in found))

# The optimizer clones into a project given by id: that project, not a new one named by the id.
copy = Task.clone(source_task=found[0].id, name="copy", project=project)
print("CLONED_INTO", copy.get_project_name(), len(Task.get_projects()))
"#;

async fn last_metrics_with_the_sdk(server: TestServer) {
    let Some(python) = sdk_python() else { return };
    let out = run_sdk(&server, &python, REPORT_AND_RANK, &[]);
    assert_eq!(printed(&out, "LAST"), "{'last': 1.8350735760110002, 'min': 0.125, 'max': 3.0}", "{out}");
    assert_eq!(printed(&out, "ORDERvalue"), "c,a,b", "{out}");
    assert_eq!(printed(&out, "ORDER-value"), "b,a,c", "{out}");
    assert_eq!(printed(&out, "PROJECTED"), "[('a', 0.125), ('b', 0.125), ('c', 0.125)]", "{out}");
    assert_eq!(printed(&out, "CLONED_INTO"), "ranked 1", "{out}");
}
scenario!(last_metrics, super::last_metrics_with_the_sdk);
