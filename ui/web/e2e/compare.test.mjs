// Details and comparison: scalar charts, plots (Plotly, loaded on demand), the summary bar
// chart and the hyperparameter diff.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually, launch, screenshot, signedIn, startServer } from "./harness.mjs";
import { seedProject } from "./fixtures.mjs";

let server, browser, page, tasks;
before(async () => {
  server = await startServer();
  tasks = await seedProject(server);
  browser = await launch();
  page = await signedIn(browser, server, `/projects/${tasks[0].project}/tasks`);
  await eventually(async () => (await page.getByTestId("task-count").textContent()) === "12 tasks");
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("details: double-click opens the info panel; scalars, plots, configuration, info", async () => {
  await page.locator(`.grid-body .row[data-id="${tasks[0].id}"]`).dblclick();
  const details = page.getByRole("complementary", { name: "Task details" });
  await details.getByText(tasks[0].name).first().waitFor();
  assert.match(page.url(), /view=details/);
  await details.getByRole("tab", { name: "Scalars" }).click();
  await details.locator('[data-chart="loss"] canvas').waitFor();
  await details.locator('[data-chart="accuracy"] canvas').waitFor();
  await details.getByRole("tab", { name: "Plots" }).click();
  await details.locator(".figure .main-svg").first().waitFor({ timeout: 20000 });
  await screenshot(page, "details-plots");
  await details.getByRole("tab", { name: "Configuration" }).click();
  await details.getByText("batch_size").waitFor();
  await details.getByRole("tab", { name: "Info" }).click();
  await details.getByText(tasks[0].id).waitFor();
  await details.getByRole("tab", { name: "Scalars" }).click();
  await details.locator('[data-chart="loss"] canvas').waitFor();
  await screenshot(page, "details");
});

test("comparison of the selected tasks: charts per metric, summary, plots, hyperparameters", async () => {
  await page.getByRole("tab", { name: "Table" }).click();
  // An agent's machine metric: charted after the tasks' own.
  const monitor = { type: "scalar", task: tasks[0].id, metric: ":monitor:machine", variant: "cpu_usage", iteration: 0, value: 50 };
  await server.api("POST", "/api/v1/events/batch", { events: [monitor] });
  for (const t of tasks.slice(0, 3)) await page.locator(`.grid-body .row[data-id="${t.id}"] input[type="checkbox"]`).check();
  await page.getByRole("toolbar", { name: "Batch actions" }).getByRole("button", { name: "Compare" }).click();
  const compare = page.getByRole("region", { name: "Comparison" });
  await compare.locator('[data-chart="loss › train"] canvas').waitFor();
  const charts = await compare.locator("[data-chart]").evaluateAll((cs) => cs.map((c) => c.dataset.chart));
  assert.equal(charts.at(-1), ":monitor:machine › cpu_usage", charts.join(" | "));
  await compare.locator('[data-chart="accuracy › val"] canvas').waitFor();
  // One entry per task in the charts' shared legend.
  assert.equal(await compare.getByRole("group", { name: "Series" }).locator("li").count(), 3);
  await compare.locator('[data-plot="Summary"] .main-svg').first().waitFor({ timeout: 20000 });
  await screenshot(page, "compare-scalars");
  await compare.getByLabel("Compare").selectOption("plots");
  await compare.locator('[data-plot="curves › roc"] .main-svg').first().waitFor({ timeout: 20000 });
  // Each plot is labelled with its metric and variant.
  await eventually(async () => (await compare.locator('[data-plot="curves › roc"] .gtitle').first().textContent()) === "curves › roc", 10000, "a titled plot");
  await screenshot(page, "compare-plots");
  await compare.getByLabel("Compare").selectOption("hyperparameters");
  const lr = compare.locator("tr", { hasText: "Args/lr" });
  await lr.waitFor();
  assert.match(await lr.getAttribute("class"), /differs/);
  await screenshot(page, "compare-hyperparameters");
});

test("with nothing selected, the first visible tasks are compared", async () => {
  await page.getByRole("tab", { name: "Table" }).click();
  await page.getByRole("button", { name: "Clear selection" }).click();
  await page.getByRole("tab", { name: "Compare" }).click();
  const compare = page.getByRole("region", { name: "Comparison" });
  await compare.getByText("12 tasks").waitFor();
  // Every task keeps a colour of its own, past the ten of a default palette: in the legend and
  // in the Summary's bars.
  const legend = compare.getByRole("group", { name: "Series" }).locator("li i");
  await eventually(async () => (await legend.count()) === 12, 20000, "12 tasks in the legend");
  const colours = await legend.evaluateAll((is) => is.map((i) => i.style.background));
  assert.equal(new Set(colours).size, 12, colours.join(" "));
  // The Summary's bars in the same colours, task by task.
  const bars = compare.locator('[data-plot="Summary"] .trace.bars');
  await eventually(async () => (await bars.count()) === 12, 20000, "12 tasks in the Summary");
  const fills = await bars.evaluateAll((ts) => ts.map((t) => t.querySelector("path")?.style.fill));
  assert.deepEqual(fills, colours, "bars coloured as their tasks in the legend");
});

test("a ClearML results link (…/tasks/<id>/output/log) opens the task", async () => {
  await page.goto(`${server.url}/projects/${tasks[5].project}/tasks/${tasks[5].id}/output/log`);
  const details = page.getByRole("complementary", { name: "Task details" });
  await details.getByText(tasks[5].name).first().waitFor();
  await page.getByRole("link", { name: "← Back to the table" }).click();
  await page.locator(`.grid-body .row.active[data-id="${tasks[5].id}"]`).waitFor();
});

test("a Draft's hyperparameters, configuration and user properties are edited in the panel", async () => {
  await server.api("PATCH", `/api/v1/tasks/${tasks[4].id}`, { configuration: { model: { value: "layers: 2", type: "yaml", description: null } } });
  await page.goto(`${server.url}/projects/${tasks[4].project}/tasks?view=details&task=${tasks[4].id}`);
  const details = page.getByRole("complementary", { name: "Task details" });
  await details.getByRole("tab", { name: "Configuration" }).click();
  await details.getByRole("button", { name: "Edit Hyperparameters" }).click();
  const text = details.getByLabel("Hyperparameters", { exact: true });
  assert.match(await text.inputValue(), /Args\/lr=0\.01/);
  await text.fill((await text.inputValue()).replace("Args/lr=0.01", "Args/lr=0.5") + "\nArgs/momentum=0.9");
  await details.getByRole("button", { name: "Save" }).click();
  await details.getByText("Args/momentum").waitFor();
  let task = await server.api("GET", `/api/v1/tasks/${tasks[4].id}`);
  assert.equal(task.hyperparams.Args.lr.value, "0.5");
  assert.equal(task.hyperparams.Args.lr.type, "float");
  assert.equal(task.hyperparams.Args.momentum.value, "0.9");
  // A line without "=" is refused with its line number, nothing saved.
  await details.getByRole("button", { name: "Edit User properties" }).click();
  await details.getByLabel("User properties", { exact: true }).fill("dataset=imagenet\nbroken");
  await details.getByRole("button", { name: "Save" }).click();
  await page.getByRole("alert").filter({ hasText: "Line 2: write name=value" }).waitFor();
  await details.getByLabel("User properties", { exact: true }).fill("dataset=imagenet");
  await details.getByRole("button", { name: "Save" }).click();
  await details.getByText("imagenet").waitFor();
  await details.getByRole("button", { name: "Edit model" }).click();
  await details.getByLabel("model", { exact: true }).fill("layers: 3");
  await details.getByRole("button", { name: "Save" }).click();
  await details.getByText("layers: 3").waitFor();
  // The source of the clone-edit-enqueue workflow: repository, branch, requirements, container.
  await details.getByRole("tab", { name: "Execution" }).click();
  await details.getByRole("button", { name: "Edit execution" }).click();
  const form = details.getByRole("form", { name: "Edit execution" });
  await form.getByLabel("Repository").fill("https://git.example/vision.git");
  await form.getByLabel("Branch").fill("feature/wider");
  await form.getByLabel("Tag").fill("v1");
  await form.getByRole("button", { name: "Save" }).click();
  await page.getByRole("alert").filter({ hasText: "not several" }).waitFor();
  await form.getByLabel("Tag").fill("");
  await form.getByLabel("Entry point").fill("train.py");
  await form.getByLabel("Requirements").fill("numpy==2.1");
  await form.getByLabel("Container image").fill("python:3.11");
  await form.getByRole("button", { name: "Save" }).click();
  await details.getByText("feature/wider").waitFor();
  task = await server.api("GET", `/api/v1/tasks/${tasks[4].id}`);
  assert.equal(task.script.repository, "https://git.example/vision.git");
  assert.equal(task.script.branch, "feature/wider");
  assert.equal(task.script.entry_point, "train.py");
  assert.equal(task.script.requirements, "numpy==2.1");
  assert.equal(task.container.image, "python:3.11");
  assert.equal(task.hyperparams.properties.dataset.value, "imagenet");
  assert.equal(task.configuration.model.value, "layers: 3");
  assert.equal(task.hyperparams.Args.momentum.value, "0.9");
});
