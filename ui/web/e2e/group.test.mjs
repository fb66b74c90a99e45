// Subprojects shown together or grouped, each view with its own saved layout.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTasks, eventually, launch, signedIn, startServer } from "./harness.mjs";

let server, browser, page;
before(async () => {
  server = await startServer();
  await createTasks(server, "nlp", [{ name: "root" }]);
  await createTasks(server, "nlp/bert", [{ name: "b1" }, { name: "b2" }]);
  await createTasks(server, "nlp/gpt", [{ name: "g1" }]);
  await createTasks(server, "nlp/bert", [{ name: "b3" }]);
  const nlp = (await server.api("GET", "/api/v1/projects")).find((p) => p.name === "nlp");
  browser = await launch();
  page = await signedIn(browser, server, `/projects/${nlp.id}/tasks`);
  await eventually(async () => (await page.getByTestId("task-count").textContent()) === "5 tasks");
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const projects = () => page.$$eval(".grid-body .row", (rows) => rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map((r) => r.querySelector('[data-column="project"]')?.textContent));

test("together (newest first), then grouped by subproject with a line where each starts", async () => {
  assert.deepEqual(await projects(), ["nlp/bert", "nlp/gpt", "nlp/bert", "nlp/bert", "nlp"]);
  await page.getByLabel("Group by subproject").click();
  await eventually(async () => (await projects()).join() === "nlp,nlp/bert,nlp/bert,nlp/bert,nlp/gpt", 10000, "grouped");
  assert.equal(await page.locator(".grid-body .row.group-start").count(), 2);
  // The grouped view keeps its own layout: hide a column there only.
  await page.getByRole("button", { name: "Columns" }).click();
  await page.locator('.columns-menu label[data-column="tags"] input').click();
  await page.keyboard.press("Escape");
  await page.locator('.grid-head [data-column="tags"]').waitFor({ state: "detached" });
  await page.getByLabel("Group by subproject").click();
  await page.locator('.grid-head [data-column="tags"]').waitFor();
  await page.getByLabel("Group by subproject").click();
  await page.locator('.grid-head [data-column="tags"]').waitFor({ state: "detached" });
});
