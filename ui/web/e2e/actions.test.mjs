// Actions: the context menu enabled by state, the batch bar's counts, archive / restore /
// delete (only what applies to archived tasks offered in the archive), Retry asking for a queue
// when a task has none to go back to, and a custom action issued by the server.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createTasks, eventually, launch, screenshot, signedIn, startServer } from "./harness.mjs";

let server, browser, page, tasks, hook;
const calls = [];
const count = () => page.getByTestId("task-count").textContent();
const row = (t) => page.locator(`.grid-body .row[data-id="${t.id}"]`);

before(async () => {
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      calls.push({ method: req.method, url: req.url, body });
      res.end("noted");
    });
  });
  await new Promise((ok) => hook.listen(0, "127.0.0.1", ok));
  const { tmpdir } = await import("node:os");
  const file = join(tmpdir(), `runyard-actions-${process.pid}.toml`);
  writeFileSync(
    file,
    `[[action]]\nname = "notify"\nlabel = "Notify the team"\nstates = ["created"]\nurl = "http://127.0.0.1:${hook.address().port}/runs?tasks={ids}"\nbody = '{"tasks": {ids_json}}'\n`,
  );
  server = await startServer(["--actions-file", file]);
  tasks = await createTasks(server, "actions", ["a", "b", "c", "d", "e"].map((name) => ({ name })));
  await server.api("POST", `/api/v1/tasks/${tasks[4].id}/enqueue`, { queue: "default" });
  browser = await launch();
  page = await signedIn(browser, server, `/projects/${tasks[0].project}/tasks`);
  await eventually(async () => (await count()) === "5 tasks");
});
after(async () => {
  await browser?.close();
  await server?.stop();
  hook?.close();
});

test("the context menu enables only the actions valid in the task's state", async () => {
  await row(tasks[0]).click({ button: "right" });
  const menu = page.getByRole("menu", { name: "Task actions" });
  await eventually(async () => !(await menu.getByRole("menuitem", { name: "Enqueue" }).isDisabled()));
  for (const name of ["Abort", "Dequeue", "Reset", "Publish", "Manage queue", "View worker"]) {
    assert.ok(await menu.getByRole("menuitem", { name, exact: true }).isDisabled(), name);
  }
  for (const name of ["Archive", "Clone", "Add tag", "Move to project", "Details"]) {
    assert.ok(!(await menu.getByRole("menuitem", { name, exact: true }).isDisabled()), name);
  }
  await screenshot(page, "context-menu");
  await menu.getByRole("menuitem", { name: "Enqueue" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Enqueue" }).click();
  await eventually(async () => (await row(tasks[0]).locator("[data-status]").getAttribute("data-status")) === "queued", 10000, "queued");
});

test("the batch bar shows how many selected tasks each action applies to", async () => {
  // a (queued now), b, c (drafts), e (queued).
  for (const t of [tasks[0], tasks[1], tasks[2], tasks[4]]) await row(t).locator('input[type="checkbox"]').check();
  const bar = page.getByRole("toolbar", { name: "Batch actions" });
  const action = (name) => bar.locator(`[data-action="${name}"]`);
  await eventually(async () => (await action("enqueue").getAttribute("data-count")) === "2", 10000, "enqueue 2");
  // The counts follow the rows' statuses as they arrive.
  await eventually(async () => (await action("dequeue").getAttribute("data-count")) === "2", 10000, "dequeue 2");
  assert.equal(await action("archive").getAttribute("data-count"), "4");
  assert.equal(await action("abort").getAttribute("data-count"), "0");
  assert.ok(await action("abort").isDisabled());
  assert.match(await action("dequeue").getAttribute("title"), /applies to 2 of 4/);
  await screenshot(page, "batch-bar");
  // Icons are SVG the UI ships, not font glyphs a machine may lack.
  for (const button of await bar.locator("[data-action]").all()) {
    assert.equal(await button.locator("svg[data-icon]").count(), 1, await button.getAttribute("data-action"));
    assert.equal((await button.textContent()).trim(), await button.getAttribute("title").then((t) => t.split(":")[0]));
  }
  // Dequeue applies to the two queued ones only.
  await action("dequeue").click();
  await eventually(async () => (await page.locator('.grid-body [data-status="queued"]').count()) === 0, 10000, "none queued");
});

test("archive, then restore and delete in the archive", async () => {
  for (const t of [tasks[0], tasks[1], tasks[2]]) await row(t).locator('input[type="checkbox"]').check();
  const bar = page.getByRole("toolbar", { name: "Batch actions" });
  await eventually(async () => (await bar.locator('[data-action="archive"]').getAttribute("data-count")) === "3");
  await bar.locator('[data-action="archive"]').click();
  await eventually(async () => (await count()) === "2 tasks", 10000, "2 active");
  await page.getByRole("button", { name: "Open archive" }).click();
  await eventually(async () => (await count()) === "3 tasks", 10000, "3 archived");
  await screenshot(page, "archive");
  // In the archive only what applies to archived tasks is offered.
  await row(tasks[0]).click({ button: "right" });
  const archived = page.getByRole("menu", { name: "Task actions" });
  await eventually(async () => !(await archived.getByRole("menuitem", { name: "Restore" }).isDisabled()));
  for (const name of ["Enqueue", "Reset", "Retry", "Publish", "Clone", "Move to project"]) {
    assert.equal(await archived.getByRole("menuitem", { name, exact: true }).count(), 0, `${name} in the archive`);
  }
  // Restore one from its context menu.
  await page.getByRole("menuitem", { name: "Restore" }).click();
  await eventually(async () => (await count()) === "2 tasks", 10000, "2 archived");
  // Delete one, confirming.
  await row(tasks[1]).click({ button: "right" });
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await eventually(async () => (await count()) === "1 task", 10000, "1 archived");
  await assert.rejects(server.api("GET", `/api/v1/tasks/${tasks[1].id}`), /404/);
  await page.getByRole("button", { name: "Exit archive" }).click();
  await eventually(async () => (await count()) === "3 tasks", 10000, () => `3 active, not ${"?"}`);
});

test("selection menu: All selects every task in the project", async () => {
  await page.getByRole("button", { name: "Selection options" }).click();
  await page.getByRole("menuitem", { name: "All" }).click();
  const bar = page.getByRole("toolbar", { name: "Batch actions" });
  await bar.getByText("All tasks selected").waitFor();
  await eventually(async () => (await bar.locator('[data-action="add_tag"]').getAttribute("data-count")) === "3");
  await bar.locator('[data-action="add_tag"]').click();
  await page.getByRole("dialog").getByLabel("Tags (comma-separated)").fill("reviewed");
  await page.getByRole("dialog").getByRole("button", { name: "Add tag" }).click();
  await eventually(async () => (await page.locator(".grid-body .tag", { hasText: "reviewed" }).count()) === 3, 10000, "3 tagged");
});

test("a custom action is issued by the server for the tasks in its states", async () => {
  await row(tasks[3]).click({ button: "right" });
  await page.getByRole("menuitem", { name: "Notify the team" }).click();
  await page.getByRole("status").filter({ hasText: "Notify the team: 1 task" }).waitFor();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].url, `/runs?tasks=${tasks[3].id}`);
  assert.deepEqual(JSON.parse(calls[0].body), { tasks: [tasks[3].id] });
});

test("retry asks for a queue when the task has none to go back to", async () => {
  const clear = page.getByRole("button", { name: "Clear selection" });
  if (await clear.count()) await clear.click();
  const [lone] = await createTasks(server, "actions", [{ name: "never queued" }]);
  await server.api("POST", `/api/v1/tasks/${lone.id}/started`, {});
  await server.api("POST", `/api/v1/tasks/${lone.id}/failed`, {});
  await eventually(async () => (await row(lone).locator("[data-status]").getAttribute("data-status")) === "failed", 10000, "failed");
  await row(lone).click({ button: "right" });
  const menu = page.getByRole("menu", { name: "Task actions" });
  await eventually(async () => !(await menu.getByRole("menuitem", { name: "Retry" }).isDisabled()));
  await menu.getByRole("menuitem", { name: "Retry" }).click();
  const dialog = page.getByRole("dialog");
  await eventually(async () => (await dialog.textContent()).includes("1 task has no previous queue"), 5000, "the dialog says why");
  await screenshot(page, "retry-asks-queue");
  await dialog.getByRole("button", { name: "Retry" }).click();
  await eventually(async () => (await row(lone).locator("[data-status]").getAttribute("data-status")) === "queued", 10000, "queued");
});
