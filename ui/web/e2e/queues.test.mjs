// The queue page: tasks in dispatch order, reordered by drag, moved to the top, removed; the
// workers page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTasks, eventually, launch, screenshot, signedIn, startServer } from "./harness.mjs";

let server, browser, page, tasks;
const order = async () => (await server.api("GET", "/api/v1/queues/gpu")).entries.map((e) => e.name);

before(async () => {
  server = await startServer();
  await server.api("POST", "/api/v1/queues", { name: "gpu" });
  tasks = await createTasks(server, "queued", ["first", "second", "third"].map((name) => ({ name, queue: "gpu" })));
  browser = await launch();
  page = await signedIn(browser, server, "/queues/gpu");
  await page.locator(".queue-entries tbody tr").nth(2).waitFor();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("drag to reorder, move to top, remove", async () => {
  assert.deepEqual(await order(), ["first", "second", "third"]);
  await screenshot(page, "queue");
  const row = (name) => page.locator(".queue-entries tbody tr", { hasText: name });
  await row("third").dragTo(row("first"));
  await eventually(async () => (await order()).join() === "third,first,second", 10000, "third first");
  await eventually(async () => (await row("third").locator(".grip").textContent()).includes("1"), 10000, "the page follows");
  await row("second").getByRole("button", { name: "Move to top" }).click();
  await eventually(async () => (await order()).join() === "second,third,first", 10000, "second on top");
  await row("first").getByRole("button", { name: "Remove" }).click();
  await eventually(async () => (await order()).join() === "second,third", 10000, "first removed");
  assert.equal((await server.api("GET", `/api/v1/tasks/${tasks[0].id}`)).status, "created");
});

test("workers: a registered worker with its queues, drain", async () => {
  await server.api("POST", "/api/v1/workers", { id: "box-1", queues: ["gpu"] });
  await page.goto(`${server.url}/workers/box-1`);
  const pane = page.getByRole("region", { name: "Worker box-1" });
  await pane.getByRole("link", { name: "gpu" }).waitFor();
  await pane.getByRole("button", { name: "Drain" }).click();
  await eventually(async () => (await server.api("GET", "/api/v1/workers/box-1")).drained, 10000, "drained");
  await pane.getByRole("button", { name: "Resume" }).waitFor();
  // The task it runs, by name.
  const [job] = await createTasks(server, "fleet", [{ name: "on box-1" }]);
  await server.api("POST", "/api/v1/queues", { name: "box-only" });
  await server.api("POST", `/api/v1/tasks/${job.id}/enqueue`, { queue: "box-only" });
  await pane.getByRole("button", { name: "Resume" }).click();
  const popped = await server.api("POST", "/api/v1/queues/pop", { queues: ["box-only"], worker: "box-1", wait_seconds: 5 });
  assert.equal(popped.task?.id, job.id);
  await server.api("POST", `/api/v1/tasks/${job.id}/started`, { worker: "box-1" });
  await server.api("POST", "/api/v1/workers/box-1/report", { task: job.id });
  await pane.getByRole("link", { name: "on box-1 (fleet)" }).waitFor({ timeout: 10000 });
  await screenshot(page, "worker");
});
