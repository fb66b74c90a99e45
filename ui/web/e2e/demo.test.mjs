// `runyard demo` as a newcomer sees it: a dozen tasks run for real by an agent, then the table
// with its metric columns, a task's details and the comparison, light and dark.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { BIN, eventually, launch, screenshot, signedIn, startServer } from "./harness.mjs";

let server, browser, page, leaderboard;
before(async () => {
  server = await startServer();
  server.startAgent(["default"]);
  await eventually(async () => (await server.api("GET", "/api/v1/workers")).length === 1, 20000, "the agent registered");
  const demo = spawn(BIN, ["--server", server.url, "demo", "--wait"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUNYARD_ACCESS_KEY: server.accessKey, RUNYARD_SECRET_KEY: server.secretKey, RUNYARD_LOG: "warn" },
  });
  let output = "";
  demo.stdout.on("data", (d) => (output += d));
  demo.stderr.on("data", (d) => (output += d));
  const code = await new Promise((ok) => demo.on("exit", ok));
  assert.equal(code, 0, output);
  leaderboard = /Open the leaderboard: (\S+)/.exec(output)?.[1];
  assert.ok(leaderboard?.startsWith(server.url), output);
  browser = await launch();
  page = await signedIn(browser, server, "/projects");
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The leaderboard `runyard demo` printed: the demo's tasks and its subprojects', with their
 * validation loss and hyperparameters as columns, best first. */
async function openDemo() {
  await page.goto(leaderboard);
  await eventually(async () => (await page.getByTestId("task-count").textContent()) === "12 tasks", 20000, "the demo's 12 tasks");
  const headers = await page.$$eval(".grid-head [role=columnheader]", (hs) => hs.map((h) => h.dataset.column));
  for (const c of ["metric:loss/validation.last", "param:Args/lr"]) assert.ok(headers.includes(c), headers.join(" "));
  assert.equal(await page.getAttribute('.grid-head [data-column="metric:loss/validation.last"]', "aria-sort"), "ascending");
}

for (const theme of ["light", "dark"]) {
  test(`the demo in the ${theme} theme: table, details, comparison`, async () => {
    if ((await page.evaluate(() => document.documentElement.dataset.theme ?? "light")) !== theme) {
      await page.getByRole("button", { name: "Switch theme" }).click();
    }
    await openDemo();
    // Every outcome a real project has: completed, failed, aborted, pending.
    const statuses = await page.$$eval(".grid-body [data-column=status] .status", (s) => s.map((x) => x.textContent));
    for (const s of ["Completed", "Failed", "Aborted", "Pending"]) assert.ok(statuses.includes(s), `${s} in ${statuses.join(", ")}`);
    await screenshot(page, `demo-table-${theme}`);
    // A sweep task's details: its loss and accuracy charted.
    await page.locator(".grid-body .row", { hasText: "lr 0.1 batch 32" }).dblclick();
    const details = page.getByRole("complementary", { name: "Task details" });
    await details.getByRole("tab", { name: "Scalars" }).click();
    await details.locator('[data-chart="loss"] canvas').waitFor();
    await screenshot(page, `demo-details-${theme}`);
    // The comparison of the whole demo.
    await page.getByRole("tab", { name: "Compare" }).click();
    const compare = page.getByRole("region", { name: "Comparison" });
    await compare.locator('[data-chart="loss › train"] canvas').waitFor();
    await compare.locator('[data-card="Summary"] .main-svg').first().waitFor({ timeout: 20000 });
    await screenshot(page, `demo-compare-${theme}`);
    await page.getByRole("tab", { name: "Table" }).click();
  });
}
