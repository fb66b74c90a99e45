// "+ New Task": validation, then a task created in the modal runs on a real agent, its status
// and console following live.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually, launch, screenshot, signedIn, startServer } from "./harness.mjs";

let server, browser, page;
before(async () => {
  server = await startServer();
  await server.api("POST", "/api/v1/projects", { name: "demo", description: "" });
  const project = (await server.api("GET", "/api/v1/projects")).find((p) => p.name === "demo");
  server.startAgent(["default"]);
  browser = await launch();
  page = await signedIn(browser, server, `/projects/${project.id}/tasks`);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the modal names what is missing", async () => {
  await page.getByRole("button", { name: "+ New Task" }).click();
  const dialog = page.getByRole("dialog", { name: "Create Task" });
  await dialog.getByRole("button", { name: "Run" }).click();
  const problems = await dialog.getByRole("alert").textContent();
  assert.match(problems, /Task name: required/);
  assert.match(problems, /Script: required/);
  assert.match(problems, /Queue: choose where the task runs/);
  await dialog.getByLabel("Commit ID").fill("not-hex");
  await dialog.getByRole("button", { name: "Save as Draft" }).click();
  assert.match(await dialog.getByRole("alert").textContent(), /Commit ID: 4 to 40 hexadecimal digits/);
  await dialog.getByLabel("Commit ID").fill("");
  await screenshot(page, "new-task");
  await dialog.getByRole("button", { name: "Cancel" }).click();
});

test("a task created in the modal runs on the agent", async () => {
  await page.getByRole("button", { name: "+ New Task" }).click();
  const dialog = page.getByRole("dialog", { name: "Create Task" });
  await dialog.getByLabel("Task name").fill("hello from the UI");
  await dialog.locator('select[name="script_type"]').selectOption("shell");
  await dialog.locator('select[name="entry_kind"]').selectOption("code");
  await dialog.getByLabel("File name").fill("run.sh");
  await dialog.getByLabel("Content").fill('echo "hello $GREETING"');
  await dialog.getByRole("tab", { name: "Arguments" }).click();
  await dialog.getByRole("button", { name: "+ Add" }).click();
  await dialog.getByLabel("Name 1").fill("Args/epochs");
  await dialog.getByLabel("Value 1").fill("3");
  await dialog.getByRole("tab", { name: "Environment" }).click();
  await dialog.getByRole("button", { name: "+ Add" }).click();
  await dialog.getByLabel("Variable 1").fill("GREETING");
  await dialog.getByLabel("Variable value 1").fill("runyard");
  await dialog.getByRole("tab", { name: "Run" }).click();
  await dialog.locator('select[name="queue"]').selectOption("default");
  await dialog.getByRole("button", { name: "Run" }).click();
  const details = page.getByRole("complementary", { name: "Task details" });
  await details.getByText("hello from the UI").first().waitFor();
  await eventually(async () => (await details.locator(".status").first().getAttribute("data-status")) === "completed", 90000, "completed");
  await details.getByRole("tab", { name: "Console" }).click();
  await details.locator("pre.log", { hasText: "hello runyard" }).waitFor();
  await details.getByRole("tab", { name: "Configuration" }).click();
  await details.getByText("epochs").waitFor();
  // The table row followed the run live.
  const status = page.locator(".grid-body .row [data-status]").first();
  await eventually(async () => (await status.getAttribute("data-status")) === "completed", 10000, "the row completed");
  await screenshot(page, "run-completed");
});
