// A project of tasks that exercises every column type: statuses, tags, users' hyperparameters,
// metrics with last/min/max, single values, plots.
import { createTasks, reportScalars } from "./harness.mjs";

/** 12 tasks in "vision/resnet": lr and batch size varied, a loss curve each, tags. */
export async function seedProject(server, project = "vision/resnet") {
  const specs = Array.from({ length: 12 }, (_, i) => ({
    name: `train-${String(i).padStart(2, "0")}`,
    type: i % 4 === 3 ? "testing" : "training",
    tags: [i % 2 ? "odd" : "even", ...(i % 3 === 0 ? ["best"] : [])],
    comment: `run ${i}`,
    hyperparams: {
      Args: {
        lr: { value: String([0.1, 0.01, 0.001][i % 3]), type: "float", description: null },
        batch_size: { value: String(32 * (1 + (i % 4))), type: "int", description: null },
      },
    },
  }));
  const tasks = await createTasks(server, project, specs);
  await reportScalars(
    server,
    tasks.flatMap((t, i) => [
      { task: t.id, metric: "loss", variant: "train", values: Array.from({ length: 20 }, (_, k) => 1 / (k + 1) + i * 0.01) },
      { task: t.id, metric: "accuracy", variant: "val", values: Array.from({ length: 20 }, (_, k) => Math.min(1, 0.5 + k * 0.02 + i * 0.003)) },
    ]),
  );
  await server.api("POST", "/api/v1/events/batch", {
    events: [
      ...tasks.slice(0, 3).map((t, i) => ({ type: "single", task: t.id, name: "test_accuracy", value: 0.9 + i * 0.01 })),
      ...tasks.slice(0, 2).map((t, i) => ({
        type: "plot",
        task: t.id,
        metric: "curves",
        variant: "roc",
        iteration: 19,
        figure: { data: [{ type: "scatter", mode: "lines", x: [0, 0.5, 1], y: [0, 0.7 + i * 0.1, 1], name: "roc" }], layout: { title: "ROC" } },
      })),
    ],
  });
  return tasks;
}
